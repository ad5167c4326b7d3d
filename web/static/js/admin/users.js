/**
 * Users (admins): a paged list; create with a role and groups; edit role,
 * groups and state; reset the password or the second factor; delete.
 */

import { api, listAll } from '../api.js';
import { el, showMessage, timeEl } from '../ui/dom.js';
import {
  Editor, InputError, checkList, checkbox, confirmButton, editorForm, field, formError, select,
} from '../ui/form.js';
import { Pager } from '../ui/pager.js';
import { actions, table } from '../ui/table.js';

const PAGE_SIZE = 50;
const ROLES = [['user', 'User: launches the workspaces of their groups'], ['admin', 'Admin: manages everything'], ['auditor', 'Auditor: reads everything, changes nothing']];

export function render(container, ctx) {
  const editor = new Editor('user-editor');
  const listError = formError();
  const list = el('div', { id: 'users-list', 'aria-live': 'polite' });
  const pager = new Pager((after) => load(after), 'Pages of users');

  async function load(after = pager.current) {
    try {
      const page = await api.listUsers({ limit: PAGE_SIZE, after });
      if (!ctx.alive()) return;
      showMessage(listError, '');
      list.replaceChildren(usersTable(Array.isArray(page.items) ? page.items : []));
      pager.loaded(page.next);
    } catch (err) {
      if (ctx.alive()) ctx.handleError(err, listError);
    }
  }

  /** Every group, for the check boxes (admins only reach this view). */
  async function allGroups() {
    const groups = await listAll('/groups');
    return groups.map((g) => ({ value: g.id, label: g.name }));
  }

  async function openCreate() {
    let groups;
    try {
      groups = await allGroups();
    } catch (err) {
      ctx.handleError(err, listError);
      return;
    }
    const username = field({ label: 'Username', name: 'username', required: true, autocomplete: 'off',
      hint: 'Letters, digits, dots, dashes, underscores or @; at most 64.', attrs: { autocapitalize: 'none', maxlength: 64 } });
    const password = field({ label: 'Initial password', name: 'password', type: 'password', required: true, autocomplete: 'new-password',
      hint: 'At least 12 characters, not containing the username. Give it to the user over a safe channel.' });
    const role = select({ label: 'Role', name: 'role', options: ROLES, value: 'user' });
    const memberOf = checkList({ legend: 'Groups', name: 'groups', items: groups, empty: 'There are no groups yet.' });
    const form = editorForm({
      id: 'user-create-form',
      rows: [username.row, password.row, role.row, memberOf.row],
      aliases: { name: 'username' },
      submitLabel: 'Create user',
      busyLabel: 'Creating…',
      handleError: ctx.handleError,
      onCancel: () => editor.close(),
      onSubmit: async () => {
        const name = username.input.value.trim();
        if (!name) throw new InputError('Enter a username.', 'username');
        if (!password.input.value) throw new InputError('Enter an initial password.', 'password');
        const user = await api.createUser({ username: name, password: password.input.value, role: role.input.value, groups: memberOf.values() });
        editor.close();
        ctx.toast(`User ${user.username} created.`);
        await load();
      },
    });
    editor.open('New user', form);
  }

  async function openEdit(user) {
    let groups;
    try {
      groups = await allGroups();
    } catch (err) {
      ctx.handleError(err, listError);
      return;
    }
    const role = select({ label: 'Role', name: 'role', options: ROLES, value: user.role });
    const disabled = checkbox({ label: 'Disabled (cannot log in; current logins end)', name: 'disabled', checked: user.disabled });
    const current = new Set((user.groups || []).map((g) => g.id));
    const memberOf = checkList({ legend: 'Groups', name: 'groups', items: groups, checked: current, empty: 'There are no groups yet.' });
    const resetTotp = user.totp_enabled
      ? checkbox({ label: 'Remove the second factor (the user sets it up again)', name: 'reset_totp' })
      : null;
    const form = editorForm({
      id: 'user-edit-form',
      rows: [role.row, disabled.row, memberOf.row, resetTotp && resetTotp.row],
      submitLabel: 'Save',
      handleError: ctx.handleError,
      onCancel: () => editor.close(),
      onSubmit: async () => {
        const body = { role: role.input.value, disabled: disabled.input.checked, groups: memberOf.values() };
        if (resetTotp && resetTotp.input.checked) body.reset_totp = true;
        await api.updateUser(user.id, body);
        editor.close();
        ctx.toast(`User ${user.username} saved.`);
        await load();
      },
    });
    editor.open(`Edit ${user.username}`, form);
  }

  function openPasswordReset(user) {
    const password = field({ label: 'New password', name: 'password', type: 'password', required: true, autocomplete: 'new-password',
      hint: 'The user\'s logins end; give them the new password over a safe channel.' });
    const again = field({ label: 'New password again', name: 'again', type: 'password', required: true, autocomplete: 'new-password' });
    const form = editorForm({
      id: 'user-password-form',
      rows: [password.row, again.row],
      submitLabel: 'Set password',
      handleError: ctx.handleError,
      onCancel: () => editor.close(),
      onSubmit: async () => {
        if (!password.input.value) throw new InputError('Enter the new password.', 'password');
        if (password.input.value !== again.input.value) throw new InputError('The passwords differ.', 'again');
        await api.updateUser(user.id, { role: user.role, disabled: user.disabled, password: password.input.value });
        editor.close();
        ctx.toast(`Password of ${user.username} reset.`);
        await load();
      },
    });
    editor.open(`Reset the password of ${user.username}`, form);
  }

  async function setDisabled(user, disabled) {
    try {
      await api.updateUser(user.id, { role: user.role, disabled });
      ctx.toast(`User ${user.username} ${disabled ? 'disabled' : 'enabled'}.`);
      await load();
    } catch (err) {
      ctx.handleError(err, listError);
    }
  }

  function rowActions(user) {
    const name = user.username;
    const small = 'button secondary small';
    return actions(
      el('button', { type: 'button', className: `${small} edit`, text: 'Edit', 'aria-label': `Edit ${name}`, onClick: () => openEdit(user) }),
      el('button', { type: 'button', className: `${small} reset-password`, text: 'Reset password', 'aria-label': `Reset the password of ${name}`, onClick: () => openPasswordReset(user) }),
      el('button', { type: 'button', className: `${small} toggle-disabled`, text: user.disabled ? 'Enable' : 'Disable',
        'aria-label': `${user.disabled ? 'Enable' : 'Disable'} ${name}`, onClick: () => setDisabled(user, !user.disabled) }),
      confirmButton({
        label: 'Delete', confirmLabel: `Delete ${name}`, ariaLabel: `Delete ${name}`, className: 'button danger small delete',
        onError: (err) => ctx.handleError(err, listError),
        action: async () => {
          await api.deleteUser(user.id);
          ctx.toast(`User ${name} deleted.`);
          await load();
        },
      }));
  }

  function usersTable(items) {
    const me = ctx.me();
    return table({
      caption: 'Users',
      empty: 'No users.',
      rows: items,
      rowProps: (u) => ({ 'data-user-id': u.id, 'data-username': u.username }),
      columns: [
        { label: 'Username', className: 'name', cell: (u) => el('span', {}, u.username, u.id === me.id ? el('span', { className: 'muted', text: ' (you)' }) : null) },
        { label: 'Role', cell: (u) => u.role },
        { label: 'Groups', cell: (u) => (u.groups || []).map((g) => String(g.name)).sort((x, y) => x.localeCompare(y)).join(', ') || '–' },
        { label: 'Two-factor', cell: (u) => (u.totp_enabled ? 'on' : 'off') },
        { label: 'State', className: 'state', cell: (u) => el('span', { className: `badge ${u.disabled ? 'bad' : 'good'}`, text: u.disabled ? 'disabled' : 'active' }) },
        { label: 'Origin', cell: (u) => u.origin || 'local' },
        { label: 'Created', cell: (u) => timeEl(u.created_at) },
        { label: 'Actions', className: 'actions-cell', cell: rowActions },
      ],
    });
  }

  const create = el('button', { type: 'button', id: 'user-new', className: 'button primary', text: 'New user', onClick: openCreate });
  container.replaceChildren(
    el('div', { className: 'section-head' }, el('h1', { tabIndex: -1, text: 'Users' }), create),
    editor.element, listError, list, pager.element);
  load(null);
}
