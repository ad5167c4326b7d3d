/**
 * Setting up a second factor (TOTP): the QR code and the key to type, a
 * code to confirm, then the recovery codes, shown once, until the user says
 * they saved them. Used by the forced enrolment after login (a group
 * requires it) and by the account page.
 *
 * The QR code arrives as an SVG document; it is shown as an `<img>` from a
 * `data:` URL, never inserted into the page (an image cannot run scripts).
 */

import { api, describeError } from './api.js';
import { el, showMessage, uniqueId } from './ui/dom.js';
import { formError, showFormError, withBusy } from './ui/form.js';

/** The SVG as an image address; null unless it looks like an SVG document. */
function svgDataUrl(svg) {
  if (typeof svg !== 'string' || !svg.trimStart().startsWith('<svg')) return null;
  const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
  if (doc.documentElement.nodeName !== 'svg' || doc.getElementsByTagName('parsererror').length) return null;
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

/** The key in groups of four, easier to type from. */
function groupedSecret(secret) {
  return secret.replace(/(.{4})(?=.)/g, '$1 ');
}

function recoveryStep(container, codes, onDone) {
  const list = el('ol', { id: 'recovery-codes', className: 'recovery-codes' },
    codes.map((code) => el('li', {}, el('code', { text: code }))));
  const text = `Oriel recovery codes (each works once)\n\n${codes.join('\n')}\n`;
  const download = el('a', {
    className: 'button secondary',
    download: 'oriel-recovery-codes.txt',
    href: URL.createObjectURL(new Blob([text], { type: 'text/plain' })),
    text: 'Download as a file',
  });
  const copied = el('span', { className: 'muted', role: 'status' });
  const copy = el('button', {
    type: 'button',
    className: 'button secondary',
    text: 'Copy',
    onClick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        copied.textContent = 'Copied.';
      } catch {
        copied.textContent = 'Copying is not allowed here: select the codes instead.';
      }
    },
  });
  const saved = el('button', { type: 'button', id: 'recovery-saved', className: 'button primary', text: 'I saved them' });
  saved.addEventListener('click', () => {
    URL.revokeObjectURL(download.href);
    onDone();
  });
  const heading = el('h2', { id: uniqueId('recovery-title'), tabIndex: -1, text: 'Save your recovery codes' });
  container.replaceChildren(el('div', { className: 'enroll-step', 'data-step': 'recovery' },
    heading,
    el('p', { text: 'Two-factor authentication is on. If you lose your phone, log in with one of these codes instead of a code from the app. Each code works once. They are shown only now: keep them somewhere safe.' }),
    list,
    el('div', { className: 'actions' }, copy, download, copied),
    el('div', { className: 'actions' }, saved)));
  heading.focus();
}

/**
 * Renders the enrolment into `container`. `onDone()` runs after the user
 * saved the recovery codes; `onError(err)` may take errors that concern the
 * whole page (an expired login) and returns true when it did.
 */
export async function renderEnrollment(container, { onDone, onError = () => false }) {
  container.replaceChildren(el('p', { className: 'muted', role: 'status', text: 'Preparing a new key…' }));
  let enrolment;
  try {
    enrolment = await api.totpEnroll();
  } catch (err) {
    if (onError(err)) return;
    const retry = el('button', { type: 'button', className: 'button secondary', text: 'Try again',
      onClick: () => renderEnrollment(container, { onDone, onError }) });
    container.replaceChildren(el('p', { className: 'error', role: 'alert', text: `Cannot start the set-up: ${describeError(err)}` }), retry);
    return;
  }
  const secret = typeof enrolment.secret === 'string' ? enrolment.secret : '';
  const src = svgDataUrl(enrolment.qr_svg);
  const codeId = uniqueId('totp-code');
  const code = el('input', {
    id: codeId, name: 'code', type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code',
    pattern: '[0-9 ]*', maxlength: 7, required: true, className: 'code-input', spellcheck: 'false',
  });
  const error = formError();
  const confirm = el('button', { type: 'submit', id: 'totp-confirm', className: 'button primary', text: 'Turn on' });
  const form = el('form', { className: 'enroll-form', noValidate: true },
    el('label', { for: codeId, text: 'Code shown by the app' }), code, error, confirm);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = code.value.replace(/\s/g, '');
    if (!/^\d{6}$/.test(value)) {
      showFormError(error, 'Enter the 6-digit code shown by the app.');
      code.focus();
      return;
    }
    showMessage(error, '');
    try {
      const answer = await withBusy(confirm, 'Checking…', () => api.totpConfirm(value));
      const codes = Array.isArray(answer && answer.recovery_codes) ? answer.recovery_codes.map(String) : [];
      recoveryStep(container, codes, onDone);
    } catch (err) {
      if (onError(err)) return;
      showFormError(error, err);
      code.select();
    }
  });
  container.replaceChildren(el('div', { className: 'enroll-step', 'data-step': 'scan' },
    el('ol', { className: 'enroll-steps' },
      el('li', { text: 'Install an authenticator app on your phone (for example FreeOTP, Aegis, Google Authenticator or Microsoft Authenticator).' }),
      el('li', { text: 'In the app, add an account by scanning this QR code.' }),
      el('li', { text: 'Enter the 6-digit code the app shows to finish.' })),
    el('div', { className: 'enroll-qr' },
      src ? el('img', { id: 'totp-qr', src, alt: 'QR code to scan with your authenticator app', width: 200, height: 200 })
        : el('p', { className: 'muted', text: 'The QR code cannot be shown: enter the key instead.' }),
      el('div', { className: 'enroll-key' },
        el('p', { text: 'Cannot scan? Enter this key in the app (time-based, 6 digits, every 30 seconds):' }),
        el('code', { id: 'totp-secret', className: 'secret', 'data-secret': secret, text: groupedSecret(secret) }))),
    form));
  code.focus();
}
