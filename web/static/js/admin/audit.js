/**
 * The audit log (admins and auditors): newest first, filtered by actor,
 * action, outcome and time; "Export JSONL" downloads what the filters
 * select through `/api/v1/audit/export`.
 */

import { api, auditExportUrl } from '../api.js';
import { el, showMessage, timeEl } from '../ui/dom.js';
import { field, formError, isoOf, select, showFormError } from '../ui/form.js';
import { Pager } from '../ui/pager.js';
import { table } from '../ui/table.js';

const PAGE_SIZE = 100;

/** Actions the control plane writes (suggestions; any action or prefix ending in `.` works). */
const ACTIONS = [
  'auth.', 'auth.login', 'auth.logout', 'auth.totp.enable', 'auth.totp.disable',
  'user.', 'user.create', 'user.update', 'user.delete', 'user.password',
  'group.', 'group.create', 'group.update', 'group.delete',
  'workspace.', 'workspace.create', 'workspace.update', 'workspace.delete', 'workspace.identity',
  'session.', 'session.launch', 'session.start', 'session.end', 'session.fail',
  'token.', 'token.create', 'token.revoke', 'audit.export',
  'file.', 'file.upload', 'file.download', 'recording.', 'share_link.',
];

function detailsCell(e) {
  const details = e.details && typeof e.details === 'object' && Object.keys(e.details).length ? JSON.stringify(e.details) : '';
  if (!details) return '–';
  if (details.length <= 80) return el('code', { className: 'details', text: details });
  return el('details', {}, el('summary', { text: `${details.slice(0, 60)}…` }), el('code', { className: 'details', text: details }));
}

function targetCell(e) {
  if (!e.target_type) return '–';
  return `${e.target_type}: ${e.target_name || e.target_id || ''}`;
}

export function render(container, ctx) {
  const listError = formError();
  const filterError = formError();
  const list = el('div', { id: 'audit-list', 'aria-live': 'polite' });
  const pager = new Pager((after) => load(after), 'Pages of the audit log');
  let filters = {};

  const actor = field({ label: 'Actor', name: 'actor', placeholder: 'user name', attrs: { autocapitalize: 'none' } });
  const actionList = el('datalist', { id: 'audit-actions' }, ACTIONS.map((a) => el('option', { value: a })));
  const action = field({ label: 'Action', name: 'action', placeholder: 'e.g. auth.login or session.', attrs: { list: 'audit-actions', autocapitalize: 'none' } });
  const outcome = select({ label: 'Outcome', name: 'outcome', value: '',
    options: [['', 'Any'], ['success', 'Success'], ['failure', 'Failure']] });
  const since = field({ label: 'Since', name: 'since', type: 'datetime-local' });
  const until = field({ label: 'Until', name: 'until', type: 'datetime-local' });
  const apply = el('button', { type: 'submit', className: 'button primary', text: 'Apply filters' });
  const clear = el('button', { type: 'button', className: 'button secondary clear', text: 'Clear filters' });
  const exportLink = el('a', { id: 'audit-export', className: 'button secondary', download: 'oriel-audit.jsonl', text: 'Export JSONL' });
  const form = el('form', { id: 'audit-filters', className: 'filters', noValidate: true, role: 'search', 'aria-label': 'Audit log filters' },
    el('div', { className: 'field-grid' }, actor.row, action.row, outcome.row, since.row, until.row),
    actionList, filterError, el('div', { className: 'actions' }, apply, clear, exportLink));

  function readFilters() {
    return {
      actor: actor.input.value.trim(),
      action: action.input.value.trim(),
      outcome: outcome.input.value,
      since: isoOf(since.input, 'Since'),
      until: isoOf(until.input, 'Until'),
    };
  }

  function setExport() {
    exportLink.href = auditExportUrl(filters);
  }

  async function load(after = pager.current) {
    try {
      const page = await api.listAudit({ ...filters, limit: PAGE_SIZE, after });
      if (!ctx.alive()) return;
      showMessage(listError, '');
      list.replaceChildren(auditTable(Array.isArray(page.items) ? page.items : []));
      list.dataset.filters = JSON.stringify(filters);
      pager.loaded(page.next);
    } catch (err) {
      if (ctx.alive()) ctx.handleError(err, listError);
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    try {
      filters = readFilters();
    } catch (err) {
      showFormError(filterError, err);
      return;
    }
    showMessage(filterError, '');
    setExport();
    pager.reset();
    load(null);
  });
  clear.addEventListener('click', () => {
    for (const input of [actor.input, action.input, since.input, until.input]) input.value = '';
    outcome.input.value = '';
    filters = {};
    showMessage(filterError, '');
    setExport();
    pager.reset();
    load(null);
  });

  function auditTable(items) {
    return table({
      caption: 'Audit log entries',
      empty: 'No entries match.',
      rows: items,
      className: 'audit-table',
      rowProps: (e) => ({ 'data-entry-id': e.id, 'data-actor': e.actor, 'data-action': e.action, 'data-outcome': e.outcome }),
      columns: [
        { label: 'Time', cell: (e) => timeEl(e.at) },
        { label: 'Actor', className: 'actor', cell: (e) => e.actor },
        { label: 'Action', className: 'action', cell: (e) => e.action },
        { label: 'Target', cell: targetCell },
        { label: 'Outcome', className: 'outcome', cell: (e) => el('span', { className: `badge ${e.outcome === 'success' ? 'good' : 'bad'}`, text: e.outcome }) },
        { label: 'From', cell: (e) => e.source || '–' },
        { label: 'Details', className: 'details-cell', cell: detailsCell },
      ],
    });
  }

  container.replaceChildren(
    el('h1', { tabIndex: -1, text: 'Audit log' }),
    form, listError, list, pager.element);
  setExport();
  load(null);
}
