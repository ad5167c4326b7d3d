/**
 * The account page: who I am, changing my password, and turning the second
 * factor (TOTP) on or off.
 */

import { api, ApiError } from './api.js';
import { renderEnrollment } from './enroll.js';
import { el, showMessage } from './ui/dom.js';
import {
  InputError, clearFieldErrors, field, formError, markFieldError, showFormError, withBusy,
} from './ui/form.js';

function profileCard(me) {
  const groups = Array.isArray(me.groups) ? me.groups.map((g) => g.name).join(', ') : '';
  return el('section', { className: 'card panel', 'aria-labelledby': 'profile-title' },
    el('h2', { id: 'profile-title', text: 'Profile' }),
    el('dl', { className: 'facts' },
      el('dt', { text: 'Username' }), el('dd', { text: me.username || '' }),
      el('dt', { text: 'Role' }), el('dd', { text: me.role || '' }),
      el('dt', { text: 'Groups' }), el('dd', { text: groups || 'none' })));
}

function passwordCard(me, ctx) {
  if (me.origin && me.origin !== 'local') {
    return el('section', { className: 'card panel', 'aria-labelledby': 'password-title' },
      el('h2', { id: 'password-title', text: 'Password' }),
      el('p', { 'data-password-state': 'external',
        text: 'You log in through your organisation\'s identity provider: change your password there.' }));
  }
  const current = field({ label: 'Current password', name: 'current', type: 'password', autocomplete: 'current-password', required: true });
  const next = field({ label: 'New password', name: 'new', type: 'password', autocomplete: 'new-password', required: true,
    hint: 'At least 12 characters, not containing your username.' });
  const again = field({ label: 'New password again', name: 'again', type: 'password', autocomplete: 'new-password', required: true });
  const error = formError();
  const submit = el('button', { type: 'submit', className: 'button primary', text: 'Change password' });
  const form = el('form', { id: 'password-form', noValidate: true },
    // Lets password managers tie the new password to the account.
    el('input', { type: 'text', name: 'username', autocomplete: 'username', value: me.username || '', hidden: true, readOnly: true }),
    current.row, next.row, again.row, error, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showMessage(error, '');
    clearFieldErrors(form);
    try {
      if (!current.input.value) throw new InputError('Enter your current password.', 'current');
      if (!next.input.value) throw new InputError('Enter the new password.', 'new');
      if (next.input.value !== again.input.value) throw new InputError('The new passwords differ.', 'again');
      await withBusy(submit, 'Changing…', () => api.changePassword(current.input.value, next.input.value));
      ctx.loggedOut('Your password was changed and every login ended. Log in with the new password.');
    } catch (err) {
      if (err instanceof ApiError && err.code === 'invalid_credentials') {
        // The current password is wrong: not a lost login.
        showFormError(error, 'The current password is wrong.');
        markFieldError(form, new InputError('The current password is wrong.', 'current'));
        current.input.select();
        return;
      }
      if (!ctx.handleError(err, error)) return;
      if (!markFieldError(form, err, { password: 'new' }, error)) current.input.focus();
    }
  });
  return el('section', { className: 'card panel', 'aria-labelledby': 'password-title' },
    el('h2', { id: 'password-title', text: 'Password' }),
    el('p', { className: 'muted', text: 'Changing it logs you out everywhere, here included.' }),
    form);
}

function totpCard(me, ctx, rerender) {
  const body = el('div', { id: 'totp-panel' });
  const card = el('section', { className: 'card panel', 'aria-labelledby': 'totp-title' },
    el('h2', { id: 'totp-title', text: 'Two-factor authentication' }), body);
  if (!me.totp_enabled) {
    const start = el('button', { type: 'button', id: 'totp-setup', className: 'button primary', text: 'Set up two-factor authentication' });
    start.addEventListener('click', () => {
      renderEnrollment(body, {
        onDone: async () => {
          ctx.toast('Two-factor authentication is on.');
          await rerender();
        },
        onError: (err) => ctx.handlePageError(err),
      });
    });
    body.append(...[
      el('p', { 'data-totp-state': 'off', text: 'Off: you log in with your password only.' }),
      me.totp_required ? el('p', { className: 'warning', text: 'A group you belong to requires it.' }) : null,
      start].filter(Boolean));
    return card;
  }
  body.append(el('p', { 'data-totp-state': 'on', text: 'On: you log in with your password and a code of your authenticator app (or a recovery code).' }));
  if (me.totp_required) {
    body.append(el('p', { className: 'muted', text: 'A group you belong to requires it, so it cannot be turned off.' }));
    return card;
  }
  const code = field({ label: 'Current code of the app', name: 'code', autocomplete: 'one-time-code', required: true, attrs: { inputmode: 'numeric', maxlength: 7 } });
  const error = formError();
  const submit = el('button', { type: 'submit', className: 'button danger', text: 'Turn off' });
  const form = el('form', { id: 'totp-disable-form', noValidate: true }, code.row, error, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = code.input.value.replace(/\s/g, '');
    if (!/^\d{6}$/.test(value)) {
      showFormError(error, 'Enter the 6-digit code shown by the app.');
      code.input.focus();
      return;
    }
    try {
      await withBusy(submit, 'Turning off…', () => api.totpDisable(value));
      ctx.toast('Two-factor authentication is off.');
      await rerender();
    } catch (err) {
      if (ctx.handleError(err, error)) code.input.select();
    }
  });
  body.append(form);
  return card;
}

/** Renders the account page into `container`. */
export async function render(container, ctx) {
  const rerender = async () => {
    await ctx.refreshMe();
    if (ctx.alive()) render(container, ctx);
  };
  const me = ctx.me();
  container.replaceChildren(
    el('h1', { tabIndex: -1, text: 'Account' }),
    el('div', { className: 'panels' }, profileCard(me), passwordCard(me, ctx), totpCard(me, ctx, rerender)));
}
