/**
 * Groups (admins): members, the workspaces a group grants, whether members
 * need a second factor, and overrides of the granted workspaces' policy.
 */

import { api, listAll } from '../api.js';
import { el, showMessage } from '../ui/dom.js';
import { Editor, InputError, checkList, checkbox, confirmButton, editorForm, field, formError, select } from '../ui/form.js';
import { Pager } from '../ui/pager.js';
import { actions, table } from '../ui/table.js';
import { overridesFieldset, policySummary } from './policy.js';

const PAGE_SIZE = 50;

export function render(container, ctx) {
  const editor = new Editor('group-editor');
  const listError = formError();
  const list = el('div', { id: 'groups-list', 'aria-live': 'polite' });
  const pager = new Pager((after) => load(after), 'Pages of groups');

  async function load(after = pager.current) {
    try {
      const page = await api.listGroups({ limit: PAGE_SIZE, after });
      if (!ctx.alive()) return;
      showMessage(listError, '');
      list.replaceChildren(groupsTable(Array.isArray(page.items) ? page.items : []));
      pager.loaded(page.next);
    } catch (err) {
      if (ctx.alive()) ctx.handleError(err, listError);
    }
  }

  /** Opens the editor for a new group (`group` null) or an existing one. */
  async function openEditor(group) {
    let users;
    let workspaces;
    let zones;
    try {
      [users, workspaces, zones] = await Promise.all([listAll('/users'), listAll('/workspaces'), api.listZones()]);
    } catch (err) {
      ctx.handleError(err, listError);
      return;
    }
    if (!ctx.alive()) return;
    const g = group || { name: '', description: '', settings: {}, members: [], workspaces: [] };
    const settings = g.settings || {};
    const name = field({ label: 'Name', name: 'name', value: g.name, required: true,
      hint: 'Letters, digits, spaces, dots, dashes or underscores; at most 64.', attrs: { maxlength: 64 } });
    const description = field({ label: 'Description', name: 'description', value: g.description, attrs: { maxlength: 1024 } });
    const requireTotp = checkbox({ label: 'Members must use two-factor authentication', name: 'require_totp',
      checked: Boolean(settings.require_totp), hint: 'Members without it are asked to set it up at their next login.' });
    const shadow = checkbox({ label: 'Members may watch and take control of anyone\'s live session', name: 'shadow_sessions',
      checked: Boolean(settings.shadow_sessions), hint: 'As admins may (Live sessions); audited, and the user is told unless the workspace allows silent monitoring.' });
    const zoneNames = (Array.isArray(zones.items) ? zones.items : []).map((z) => z.name);
    const zone = select({ label: 'Zone of the members', name: 'zone', value: settings.zone || '',
      options: [['', '– (each user\'s own)'], ...zoneNames.map((n) => [n, n])],
      hint: 'Where their container sessions run and which proxy their streams enter by. The first group by name with a zone decides.' });
    const members = checkList({
      legend: 'Members', name: 'members',
      items: users.map((u) => ({ value: u.id, label: u.username })),
      checked: new Set((g.members || []).map((m) => m.id)),
      empty: 'There are no users yet.',
    });
    const grants = checkList({
      legend: 'Workspaces granted', name: 'workspaces',
      items: workspaces.map((w) => ({ value: w.id, label: `${w.name} (${w.kind})` })),
      checked: new Set((g.workspaces || []).map((w) => w.id)),
      empty: 'There are no workspaces yet.',
    });
    const overrides = overridesFieldset(settings.policy || {});
    const form = editorForm({
      id: group ? 'group-edit-form' : 'group-create-form',
      rows: [name.row, description.row, requireTotp.row, shadow.row, zone.row, members.row, grants.row, overrides.row],
      submitLabel: group ? 'Save' : 'Create group',
      handleError: ctx.handleError,
      onCancel: () => editor.close(),
      onSubmit: async () => {
        const groupName = name.input.value.trim();
        if (!groupName) throw new InputError('Enter a name.', 'name');
        const body = {
          name: groupName,
          description: description.input.value.trim(),
          settings: { require_totp: requireTotp.input.checked, shadow_sessions: shadow.input.checked, policy: overrides.value(),
            ...(zone.input.value ? { zone: zone.input.value } : {}) },
          members: members.values(),
          workspaces: grants.values(),
        };
        const saved = group ? await api.updateGroup(group.id, body) : await api.createGroup(body);
        editor.close();
        ctx.toast(`Group ${saved.name} ${group ? 'saved' : 'created'}.`);
        await load();
      },
    });
    editor.open(group ? `Edit ${group.name}` : 'New group', form);
  }

  function rowActions(g) {
    return actions(
      el('button', { type: 'button', className: 'button secondary small edit', text: 'Edit', 'aria-label': `Edit ${g.name}`, onClick: () => openEditor(g) }),
      confirmButton({
        label: 'Delete', confirmLabel: `Delete ${g.name}`, ariaLabel: `Delete ${g.name}`, className: 'button danger small delete',
        onError: (err) => ctx.handleError(err, listError),
        action: async () => {
          await api.deleteGroup(g.id);
          ctx.toast(`Group ${g.name} deleted.`);
          await load();
        },
      }));
  }

  const names = (items, key) => (items || []).map((x) => String(x[key])).sort((x, y) => x.localeCompare(y)).join(', ') || '–';

  function groupsTable(items) {
    return table({
      caption: 'Groups',
      empty: 'No groups yet.',
      rows: items,
      rowProps: (g) => ({ 'data-group-id': g.id, 'data-group-name': g.name }),
      columns: [
        { label: 'Name', className: 'name', cell: (g) => g.name },
        { label: 'Description', cell: (g) => g.description || '–' },
        { label: 'Two-factor', cell: (g) => (g.settings && g.settings.require_totp ? 'required' : '–') },
        { label: 'Zone', className: 'zone', cell: (g) => (g.settings && g.settings.zone) || '–' },
        { label: 'Members', className: 'members', cell: (g) => names(g.members, 'username') },
        { label: 'Workspaces', className: 'grants', cell: (g) => names(g.workspaces, 'name') },
        { label: 'Overrides', cell: (g) => policySummary((g.settings && g.settings.policy) || {}, { overrides: true }) },
        { label: 'Actions', className: 'actions-cell', cell: rowActions },
      ],
    });
  }

  const create = el('button', { type: 'button', id: 'group-new', className: 'button primary', text: 'New group', onClick: () => openEditor(null) });
  container.replaceChildren(
    el('div', { className: 'section-head' }, el('h1', { tabIndex: -1, text: 'Groups' }), create),
    editor.element, listError, list, pager.element);
  load(null);
}
