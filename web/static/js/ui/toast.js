/**
 * Short notices at the bottom of the page: successes go away by themselves,
 * errors stay until closed. Announced to screen readers (`role="status"`
 * for notices, `role="alert"` for errors).
 */

import { el } from './dom.js';

const NOTICE_MS = 5000;

function region() {
  let node = document.getElementById('toasts');
  if (!node) {
    node = el('div', { id: 'toasts', className: 'toasts' });
    document.body.append(node);
  }
  return node;
}

/** Shows `message`; `kind` is 'info' or 'error'. */
export function toast(message, kind = 'info') {
  const close = el('button', { type: 'button', className: 'toast-close', text: '×', 'aria-label': 'Close this message' });
  const item = el('div', { className: `toast-item ${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    el('span', { text: message }), close);
  close.addEventListener('click', () => item.remove());
  region().append(item);
  if (kind !== 'error') setTimeout(() => item.remove(), NOTICE_MS);
  return item;
}

/** Removes every notice (e.g. when the user logs out). */
export function clearToasts() {
  region().replaceChildren();
}
