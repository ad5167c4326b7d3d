/**
 * Data tables: a caption for screen readers, column headers with `scope`,
 * cells built by each column's `cell(row)` (a node or a string, never HTML),
 * and a wrapper that scrolls sideways on narrow screens.
 */

import { el } from './dom.js';

/**
 * `columns`: `[{label, cell(row), className}]`; `rowProps(row)`: extra
 * props of each `<tr>` (e.g. `data-*`). Returns the wrapper element.
 */
export function table({ caption, columns, rows, rowProps = () => ({}), empty = 'Nothing to show.', className = '' }) {
  if (!rows.length) return el('p', { className: 'muted empty', text: empty });
  const head = el('thead', {}, el('tr', {},
    columns.map((c) => el('th', { scope: 'col', className: c.className || '', text: c.label }))));
  const body = el('tbody', {}, rows.map((row) => el('tr', rowProps(row),
    columns.map((c) => {
      const value = c.cell(row);
      return el('td', { className: c.className || '', 'data-label': c.label },
        value instanceof Node ? value : String(value ?? ''));
    }))));
  return el('div', { className: 'table-wrap' },
    el('table', { className: `data-table ${className}`.trim() },
      caption ? el('caption', { className: 'visually-hidden', text: caption }) : null, head, body));
}

/** A row of small action buttons for a table cell. */
export function actions(...buttons) {
  return el('div', { className: 'row-actions' }, buttons);
}
