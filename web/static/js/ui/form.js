/**
 * Labelled form fields, a form's error line, busy buttons and two-step
 * confirmations. Every field has a `<label for>`; hints are tied to their
 * field with `aria-describedby`; errors are announced (`role="alert"`)
 * next to the form, which keeps what the user typed.
 */

import { el, showMessage, uniqueId } from './dom.js';
import { describeError, sentence } from '../api.js';

function hintFor(input, hint, className = 'hint') {
  if (!hint) return null;
  const id = uniqueId('hint');
  input.setAttribute('aria-describedby', id);
  return el('p', { id, className, text: hint });
}

/**
 * A text-like field: `{label, name, type = 'text', value, required, hint,
 * autocomplete, placeholder, attrs}`. Returns `{row, input}`.
 */
export function field({ label, name, type = 'text', value = '', required = false, hint = '', autocomplete = 'off', placeholder = '', attrs = {} }) {
  const id = uniqueId(`f-${name}`);
  const input = el(type === 'textarea' ? 'textarea' : 'input', {
    id, name, autocomplete, placeholder, required,
    ...(type === 'textarea' ? { rows: 4 } : { type }),
    spellcheck: type === 'text' || type === 'textarea' ? 'false' : undefined,
    ...attrs,
  });
  input.value = value === undefined || value === null ? '' : String(value);
  const row = el('div', { className: 'field', 'data-field': name },
    el('label', { for: id, text: label }), input, hintFor(input, hint));
  return { row, input };
}

/** A checkbox with its label after it. Returns `{row, input}`. */
export function checkbox({ label, name, checked = false, hint = '' }) {
  const id = uniqueId(`f-${name}`);
  const input = el('input', { id, name, type: 'checkbox', checked: Boolean(checked) });
  const row = el('div', { className: 'field check', 'data-field': name },
    input, el('label', { for: id, text: label }), hintFor(input, hint));
  return { row, input };
}

/**
 * RFC 3339 of a `datetime-local` input's value (the browser's time zone),
 * or '' when empty; throws InputError naming `label` when not a time.
 */
export function isoOf(input, label) {
  if (!input.value) return '';
  const date = new Date(input.value);
  if (Number.isNaN(date.getTime())) throw new InputError(`${label} is not a valid time.`);
  return date.toISOString();
}

/** A `<select>`: `options` is `[[value, label], …]`. Returns `{row, input}`. */
export function select({ label, name, options, value = '', hint = '' }) {
  const id = uniqueId(`f-${name}`);
  const input = el('select', { id, name },
    ...options.map(([v, text]) => el('option', { value: v, text })));
  input.value = value;
  const row = el('div', { className: 'field', 'data-field': name },
    el('label', { for: id, text: label }), input, hintFor(input, hint));
  return { row, input };
}

/**
 * A fieldset of checkboxes, one per `items` entry `{value, label}`; `checked`
 * is a set of values. Returns `{row, values()}`.
 */
export function checkList({ legend, name, items, checked = new Set(), empty = 'None yet.', hint = '' }) {
  const boxes = items.map((item) => {
    const box = checkbox({ label: item.label, name, checked: checked.has(item.value) });
    box.input.value = item.value;
    box.input.dataset.value = item.value;
    return box;
  });
  const row = el('fieldset', { className: 'field check-list', 'data-field': name },
    el('legend', { text: legend }),
    hint ? el('p', { className: 'hint', text: hint }) : null,
    boxes.length ? el('div', { className: 'check-grid' }, boxes.map((b) => b.row)) : el('p', { className: 'muted', text: empty }));
  return { row, values: () => boxes.filter((b) => b.input.checked).map((b) => b.input.value) };
}

/** The error line of a form (announced when it changes). */
export function formError() {
  return el('p', { className: 'error form-error', role: 'alert', hidden: true });
}

/**
 * A value the user typed that the form refuses before asking the server;
 * `field` names the form field at fault (its `data-field`), when one is.
 */
export class InputError extends Error {
  constructor(message, field = null) {
    super(message);
    this.field = field;
  }
}

/**
 * The request field an API error is about, or null, read from its message
 * (for errors without `error.field`, e.g. 409 conflicts): the control plane
 * starts it with the field's path ("target.host must
 * be …", "name must be …", "description too long"), or speaks of the
 * password or of an existing name. This reads that path back.
 */
export function apiErrorField(err) {
  if (!err || !(err.status === 422 || err.status === 409)) return null;
  const message = typeof err.detail === 'string' ? err.detail : err.message;
  if (typeof message !== 'string') return null;
  if (err.status === 409 && /already exists/.test(message)) return 'name';
  if (/\bpassword\b/.test(message) && !/^[a-z_.]+ must\b/.test(message)) return 'password';
  if (/^no group with id/.test(message)) return 'groups';
  const ids = /^an id in the group's (user|workspace)s does not exist/.exec(message);
  if (ids) return ids[1] === 'user' ? 'members' : 'workspaces';
  if (/^container limits/.test(message)) return 'container';
  if (/^container desktop size/.test(message)) return 'container.width';
  if (/^this installation cannot serve/.test(message)) return 'kind';
  const path = /^([a-z_]+(?:\.[a-z_]+)*) (?:must|too|is|has)\b/.exec(message);
  return path ? path[1] : null;
}

/**
 * The element of `form` that a field path names: its `[data-field]` row,
 * trying the path itself, then `aliases[path]`, then the path without its
 * leading object (`target.host` → `host`, `settings.policy.x` →
 * `override.x`), then its last part.
 */
function fieldRow(form, path, aliases = {}) {
  const parts = path.split('.');
  const candidates = [
    path,
    aliases[path],
    path.replace(/^settings\.policy\./, 'override.'),
    parts.slice(1).join('.'),
    parts[parts.length - 1],
  ];
  for (const name of candidates) {
    if (!name) continue;
    const row = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (row) return row;
  }
  return null;
}

/** Removes the marks `markFieldError` left in `form`. */
export function clearFieldErrors(form) {
  for (const node of form.querySelectorAll('.field-error')) node.remove();
  for (const input of form.querySelectorAll('[aria-invalid]')) {
    input.removeAttribute('aria-invalid');
    const ids = (input.getAttribute('aria-describedby') || '').split(' ')
      .filter((id) => id && !id.startsWith('field-error-'));
    if (ids.length) input.setAttribute('aria-describedby', ids.join(' '));
    else input.removeAttribute('aria-describedby');
  }
  for (const row of form.querySelectorAll('.invalid')) row.classList.remove('invalid');
}

/** The visible name of a field row: its label or legend. */
function rowLabel(row) {
  const label = row.querySelector(':scope > label, :scope > legend');
  return label ? label.textContent.trim() : '';
}

/**
 * The message to show at a field: the server's path replaced by the
 * field's own label ("target.host must be …" → "Host must be …"), as a
 * sentence.
 */
function fieldMessage(err, path, row) {
  if (err instanceof InputError || typeof err.detail !== 'string') return err.message;
  const label = rowLabel(row);
  const text = label && err.detail.startsWith(`${path} `) ? label + err.detail.slice(path.length) : err.detail;
  return sentence(text);
}

/**
 * Shows `err` (an InputError with a field, or an API validation error)
 * beside the field it is about: the message under it, the input marked
 * `aria-invalid` and described by the message, and focused; the form's
 * error line (`errorNode`), if given, says the same. Returns the field's
 * name, or null when the error is about no field of the form (the form's
 * error line says it all then).
 */
export function markFieldError(form, err, aliases = {}, errorNode = null) {
  // The server's own `error.field` first; else the path read from its message.
  const named = err instanceof InputError ? null : err && err.field;
  const namedRow = named ? fieldRow(form, named, aliases) : null;
  const path = namedRow ? named : err instanceof InputError ? err.field : apiErrorField(err);
  if (!path) return null;
  const row = namedRow || fieldRow(form, path, aliases);
  if (!row) return null;
  // A hidden row (e.g. a fieldset of another kind) cannot take focus.
  if (row.closest('[hidden]')) return null;
  const text = fieldMessage(err, path, row);
  const id = uniqueId('field-error');
  const message = el('p', { id, className: 'field-error', text });
  row.classList.add('invalid');
  const inputs = [...row.querySelectorAll('input, select, textarea')];
  for (const input of inputs) {
    input.setAttribute('aria-invalid', 'true');
    const ids = (input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
    input.setAttribute('aria-describedby', [...ids, id].join(' '));
  }
  if (row.tagName === 'FIELDSET') {
    const legend = row.querySelector(':scope > legend');
    if (legend) legend.after(message);
    else row.prepend(message);
  } else row.append(message);
  if (errorNode) showMessage(errorNode, text);
  const first = inputs.find((input) => !input.disabled && !input.closest('[hidden]'));
  if (first) first.focus();
  return path;
}

/** Shows an error (an ApiError, an InputError or a string) in a form's error line. */
export function showFormError(node, err) {
  let message;
  if (typeof err === 'string') message = err;
  else if (err instanceof InputError) message = err.message;
  else message = describeError(err);
  showMessage(node, message);
}

/**
 * Runs `action` with `button` disabled and labelled `busyText`; restores it
 * afterwards. Returns what `action` returns (or rethrows).
 */
export async function withBusy(button, busyText, action) {
  const text = button.textContent;
  button.disabled = true;
  button.textContent = busyText;
  button.setAttribute('aria-busy', 'true');
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.textContent = text;
    button.removeAttribute('aria-busy');
  }
}

/**
 * A button that asks again before acting: the first click turns it into
 * "confirm" and "cancel" buttons (keyboard focus moves to "confirm").
 * `action()` runs on confirmation; a rejection is passed to `onError`.
 */
export function confirmButton({ label, confirmLabel, ariaLabel, className = 'button danger small', action, onError }) {
  const wrap = el('span', { className: 'confirm' });
  const first = el('button', { type: 'button', className, text: label, 'aria-label': ariaLabel || label });
  const yes = el('button', { type: 'button', className: 'button danger small confirm-yes', text: confirmLabel });
  const no = el('button', { type: 'button', className: 'button secondary small', text: 'Cancel' });
  const reset = () => {
    wrap.replaceChildren(first);
  };
  first.addEventListener('click', () => {
    wrap.replaceChildren(yes, no);
    yes.focus();
  });
  no.addEventListener('click', () => {
    reset();
    first.focus();
  });
  yes.addEventListener('click', async () => {
    try {
      await withBusy(yes, 'Working…', action);
    } catch (err) {
      reset();
      if (onError) onError(err);
    }
  });
  wrap.append(first);
  return wrap;
}

/** A non-negative whole number from an input, `null` when empty; throws a message when invalid. */
export function intValue(input, label, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  const text = input.value.trim();
  if (text === '') return null;
  const pattern = min < 0 ? /^-?\d+$/ : /^\d+$/;
  if (!pattern.test(text)) throw new InputError(`${label} must be a whole number.`, input.name || null);
  const n = Number(text);
  if (n < min || n > max) throw new InputError(`${label} must be between ${min} and ${max}.`, input.name || null);
  return n;
}

/** Focuses the first field of `container` that takes input. */
export function focusFirst(container) {
  const first = container.querySelector('input:not([type="hidden"]):not([disabled]), select, textarea');
  if (first) first.focus();
}

/**
 * An editing panel above a list: `open(title, ...content)` shows it and
 * moves focus into it; `close()` hides it and gives focus back to what
 * opened it. Escape closes it.
 */
export class Editor {
  constructor(id) {
    this.titleId = uniqueId(`${id}-title`);
    this.element = el('section', { id, className: 'card editor', hidden: true, 'aria-labelledby': this.titleId });
    this.opener = null;
    this.element.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        this.close();
      }
    });
  }

  get isOpen() {
    return !this.element.hidden;
  }

  open(title, ...content) {
    if (!this.isOpen) this.opener = document.activeElement;
    this.element.replaceChildren(el('h2', { id: this.titleId, tabIndex: -1, text: title }), ...content);
    this.element.hidden = false;
    this.element.scrollIntoView({ block: 'nearest' });
    focusFirst(this.element);
  }

  close() {
    this.element.hidden = true;
    this.element.replaceChildren();
    if (this.opener && this.opener.isConnected) this.opener.focus();
    this.opener = null;
  }
}

/**
 * A form with an error line and Save/Cancel buttons. `onSubmit()` may throw
 * an InputError or an ApiError: `handleError(err, errorNode)` shows it and
 * everything typed stays.
 */
export function editorForm({ id, rows, submitLabel, busyLabel = 'Saving…', onSubmit, onCancel, handleError, aliases = {} }) {
  const error = formError();
  const submit = el('button', { type: 'submit', className: 'button primary', text: submitLabel });
  const cancel = el('button', { type: 'button', className: 'button secondary', text: 'Cancel', onClick: onCancel });
  const form = el('form', { id, className: 'editor-form', noValidate: true },
    rows, error, el('div', { className: 'actions' }, submit, cancel));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showMessage(error, '');
    clearFieldErrors(form);
    try {
      await withBusy(submit, busyLabel, onSubmit);
    } catch (err) {
      if (handleError(err, error) !== false && form.isConnected) markFieldError(form, err, aliases, error);
    }
  });
  return form;
}
