/**
 * DOM building without HTML parsing: every text goes through `textContent`
 * or an attribute, so nothing from the server is ever interpreted as markup.
 */

/** Attributes set with `setAttribute` (the rest are properties). */
const ATTRIBUTES = new Set([
  'type', 'datetime', 'for', 'role', 'name', 'autocomplete', 'inputmode', 'pattern', 'scope',
  'download', 'list', 'min', 'max', 'step', 'maxlength', 'minlength', 'rows', 'colspan', 'spellcheck',
  'autocapitalize', 'enterkeyhint', 'tabindex', 'rel',
]);

/**
 * Creates `<tag>` with `props` and `children` (nodes or strings; falsy ones
 * are skipped). Props: `className`, `text` (textContent), `on<Event>`
 * handlers, `data-*`/`aria-*` and common attributes; anything else is a
 * property (`id`, `value`, `checked`, `disabled`, `hidden`, `href`, …).
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === 'className') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (/^on[A-Z]/.test(key)) node.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key.startsWith('data-') || key.startsWith('aria-') || ATTRIBUTES.has(key)) {
      if (value !== false) node.setAttribute(key, value === true ? '' : String(value));
    } else node[key] = value;
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false || child === '') continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Sets a message element's text and hides it when there is none. */
export function showMessage(node, message) {
  node.textContent = message || '';
  node.hidden = !message;
}

/** A local date and time for an RFC 3339 value ('' for none). */
export function formatTime(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

/** A `<time>` element for an RFC 3339 value, or a dash. */
export function timeEl(value) {
  if (!value) return el('span', { className: 'muted', text: '–' });
  return el('time', { datetime: value, text: formatTime(value) });
}

/** Bytes for people: 1048576 → "1 MiB". */
export function formatBytes(n) {
  const value = Number(n);
  if (!Number.isFinite(value)) return '';
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = value;
  let i = 0;
  while (v >= 1024 && i < units.length - 1 && Number.isInteger(v / 1024)) {
    v /= 1024;
    i += 1;
  }
  return `${v} ${units[i]}`;
}

/** Seconds for people: 0 → "none", 3600 → "1 h". */
export function formatSecs(n) {
  const v = Number(n) || 0;
  if (v === 0) return 'none';
  if (v % 3600 === 0) return `${v / 3600} h`;
  if (v % 60 === 0) return `${v / 60} min`;
  return `${v} s`;
}

let uniqueCounter = 0;
/** A page-unique element id with a readable prefix. */
export function uniqueId(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

/** Same-origin path check for anything the page navigates to. */
export function isSameOriginPath(value) {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.includes('\\')) {
    return false;
  }
  try {
    return new URL(value, window.location.origin).origin === window.location.origin;
  } catch {
    return false;
  }
}
