/**
 * API tokens (`oriel_pat_…`) for scripts: create one's own with scopes (the
 * secret is shown once), list them a page at a time (admins and auditors
 * may list everyone's, with the owner), revoke (owners and admins).
 */

import { api, listAll } from '../api.js';
import { el, showMessage, timeEl } from '../ui/dom.js';
import { Editor, InputError, checkList, confirmButton, editorForm, field, formError, intValue, select } from '../ui/form.js';
import { Pager } from '../ui/pager.js';
import { table } from '../ui/table.js';

const PAGE_SIZE = 25;

const SCOPES = [
  { value: 'read', label: 'read: read what you may read' },
  { value: 'sessions', label: 'sessions: read, and launch and end your sessions' },
  { value: 'admin', label: 'admin: everything your role allows' },
];

function status(t) {
  if (t.revoked_at) return ['revoked', 'bad'];
  if (t.expires_at && new Date(t.expires_at).getTime() <= Date.now()) return ['expired', 'bad'];
  return ['active', 'good'];
}

export function render(container, ctx) {
  const me = ctx.me();
  // Admins and auditors may list everyone's tokens (`scope=all`); only
  // owners and admins may revoke one.
  const canSeeAll = me.role === 'admin' || me.role === 'auditor';
  const mayRevoke = (t) => t.user_id === me.id || me.role === 'admin';
  const editor = new Editor('token-editor');
  const listError = formError();
  const list = el('div', { id: 'tokens-list', 'aria-live': 'polite' });
  const pager = new Pager((after) => load(after), 'Pages of API tokens');
  const scope = canSeeAll
    ? select({ label: 'Show', name: 'scope', value: 'own',
      options: [['own', 'Your tokens'], ['all', "Everyone's tokens"]] })
    : null;
  const showAll = () => Boolean(scope) && scope.input.value === 'all';
  /** User names by id, for the owner column of everyone's tokens. */
  const usernames = new Map([[me.id, me.username]]);
  /** When the user list was last read (0: never); an unknown owner reads it again, at most every 30 s. */
  let usersReadAt = 0;
  /** Only the answer to the latest request is shown (a quick switch of scope races). */
  let loads = 0;

  async function ownerNames(items) {
    if (items.every((t) => usernames.has(t.user_id)) || Date.now() - usersReadAt < 30000) return;
    usersReadAt = Date.now();
    try {
      for (const u of await listAll('/users')) usernames.set(u.id, u.username);
    } catch {
      // The owner's id is shown instead.
    }
  }

  async function load(after = pager.current) {
    const seq = ++loads;
    const all = showAll();
    try {
      const page = await api.listTokens({ scope: all ? 'all' : 'own', limit: PAGE_SIZE, after });
      const items = Array.isArray(page.items) ? page.items : [];
      if (all) await ownerNames(items);
      if (!ctx.alive() || seq !== loads) return;
      if (!items.length && after) {
        // The page emptied (its tokens were removed elsewhere): back to the first.
        pager.reset();
        await load(null);
        return;
      }
      showMessage(listError, '');
      list.replaceChildren(tokensTable(items, all));
      pager.loaded(page.next);
    } catch (err) {
      if (ctx.alive() && seq === loads) ctx.handleError(err, listError);
    }
  }

  function showSecret(token) {
    const secretId = 'token-secret';
    const secret = el('input', { id: secretId, type: 'text', readOnly: true, value: token.token, className: 'mono secret-input', spellcheck: 'false' });
    const copied = el('span', { className: 'muted', role: 'status' });
    const copy = el('button', {
      type: 'button', className: 'button secondary', text: 'Copy',
      onClick: async () => {
        try {
          await navigator.clipboard.writeText(secret.value);
          copied.textContent = 'Copied.';
        } catch {
          secret.select();
          copied.textContent = 'Select the token and copy it.';
        }
      },
    });
    const done = el('button', { type: 'button', id: 'token-done', className: 'button primary', text: 'Done',
      onClick: () => {
        secret.value = '';
        editor.close();
      } });
    editor.open(`Token ${token.name} created`,
      el('p', { className: 'warning', text: 'Copy the token now: it is shown only once. Send it as "Authorization: Bearer <token>".' }),
      el('label', { for: secretId, text: 'Token' }), secret,
      el('div', { className: 'actions' }, copy, done, copied));
    secret.select();
  }

  function openCreate() {
    const name = field({ label: 'Name', name: 'name', required: true, hint: 'What it is for, e.g. "nightly report".', attrs: { maxlength: 128 } });
    const scopes = checkList({ legend: 'Scopes', name: 'scopes',
      items: SCOPES.filter((s) => s.value !== 'admin' || me.role === 'admin'), checked: new Set(['read']) });
    const days = field({ label: 'Expires after (days)', name: 'expires_in_days', placeholder: 'never',
      hint: '1 to 3650; empty: never.', attrs: { inputmode: 'numeric' } });
    const form = editorForm({
      id: 'token-create-form',
      rows: [name.row, scopes.row, days.row],
      submitLabel: 'Create token',
      busyLabel: 'Creating…',
      handleError: ctx.handleError,
      onCancel: () => editor.close(),
      onSubmit: async () => {
        const body = { name: name.input.value.trim(), scopes: scopes.values() };
        if (!body.name) throw new InputError('Enter a name.', 'name');
        if (!body.scopes.length) throw new InputError('Choose at least one scope.', 'scopes');
        const expires = intValue(days.input, 'Expires after', { min: 1, max: 3650 });
        if (expires !== null) body.expires_in_days = expires;
        const token = await api.createToken(body);
        showSecret(token);
        // Newest first: the new token is at the top of the first page.
        pager.reset();
        await load(null);
      },
    });
    editor.open('New API token', form);
  }

  function revokeCell(t) {
    if (t.revoked_at || !mayRevoke(t)) return '–';
    return confirmButton({
      label: 'Revoke', confirmLabel: `Revoke ${t.name}`, ariaLabel: `Revoke ${t.name}`, className: 'button danger small revoke',
      onError: (err) => ctx.handleError(err, listError),
      action: async () => {
        await api.revokeToken(t.id);
        ctx.toast(`Token ${t.name} revoked.`);
        await load();
      },
    });
  }

  function owner(t) {
    if (t.user_id === me.id) return `${me.username} (you)`;
    return usernames.get(t.user_id) || t.user_id;
  }

  function tokensTable(items, all) {
    const columns = [
      { label: 'Name', className: 'name', cell: (t) => t.name },
      all ? { label: 'Owner', className: 'owner', cell: owner } : null,
      { label: 'Scopes', cell: (t) => (t.scopes || []).join(', ') },
      { label: 'Created', cell: (t) => timeEl(t.created_at) },
      { label: 'Expires', cell: (t) => (t.expires_at ? timeEl(t.expires_at) : 'never') },
      { label: 'Last used', cell: (t) => timeEl(t.last_used_at) },
      { label: 'State', className: 'state', cell: (t) => { const [text, kind] = status(t); return el('span', { className: `badge ${kind}`, text }); } },
      { label: 'Actions', className: 'actions-cell', cell: revokeCell },
    ].filter(Boolean);
    return table({
      caption: all ? "Everyone's API tokens" : 'Your API tokens',
      empty: all ? 'There are no API tokens.' : 'You have no API tokens.',
      rows: items,
      rowProps: (t) => ({ 'data-token-id': t.id, 'data-token-name': t.name, 'data-user-id': t.user_id }),
      columns,
    });
  }

  if (scope) {
    scope.input.addEventListener('change', () => {
      pager.reset();
      load(null);
    });
  }
  const create = el('button', { type: 'button', id: 'token-new', className: 'button primary', text: 'New token', onClick: openCreate });
  container.replaceChildren(...[
    el('div', { className: 'section-head' }, el('h1', { tabIndex: -1, text: 'API tokens' }), create),
    el('p', { className: 'muted', text: 'Tokens let scripts use the API as you, limited by their scopes and your role.' }),
    editor.element,
    scope ? el('div', { className: 'filters' }, scope.row) : null,
    listError, list, pager.element].filter(Boolean));
  load(null);
}
