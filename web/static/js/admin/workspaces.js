/**
 * Workspaces (admins): VNC, RDP and SSH targets, and containers. Target
 * credentials are write-only: the API only says whether some are stored,
 * and the form sends new ones only when the admin types them.
 */

import { api } from '../api.js';
import { el, showMessage } from '../ui/dom.js';
import { Editor, InputError, checkbox, confirmButton, editorForm, field, formError, intValue, select } from '../ui/form.js';
import { Pager } from '../ui/pager.js';
import { actions, table } from '../ui/table.js';
import { policyFieldset, policySummary } from './policy.js';

const PAGE_SIZE = 50;
const KINDS = [['vnc', 'VNC'], ['rdp', 'RDP'], ['ssh', 'SSH'], ['container', 'Container (a desktop per session)']];
const DEFAULT_PORTS = { vnc: 5900, rdp: 3389, ssh: 22 };

/** The kind-dependent parts of the form and how to read them back. */
function workspaceFields(w) {
  const isNew = !w.id;
  const name = field({ label: 'Name', name: 'name', value: w.name, required: true,
    hint: 'Letters, digits, spaces, dots, dashes or underscores; at most 64.', attrs: { maxlength: 64 } });
  const kind = select({ label: 'Kind', name: 'kind', options: KINDS, value: w.kind || 'vnc' });

  const host = field({ label: 'Host', name: 'host', value: (w.target && w.target.host) || '', required: true,
    hint: 'Host name or IP address of the target, as the gateway reaches it.', attrs: { maxlength: 253, autocapitalize: 'none' } });
  const port = field({ label: 'Port', name: 'port', value: (w.target && w.target.port) || DEFAULT_PORTS[w.kind || 'vnc'],
    required: true, attrs: { inputmode: 'numeric' } });
  const zone = field({ label: 'Zone', name: 'target.zone', value: (w.target && w.target.zone) || '',
    hint: 'The zone whose network the target is in: its connection proxy serves it. Empty: this installation\'s gateway.',
    attrs: { maxlength: 64, autocapitalize: 'none' } });
  const target = el('fieldset', { className: 'field-group', 'data-field': 'target' },
    el('legend', { text: 'Target' }), el('div', { className: 'field-grid' }, host.row, port.row, zone.row));

  const credUser = field({ label: 'Username', name: 'cred.username', autocomplete: 'off', attrs: { maxlength: 256, autocapitalize: 'none' } });
  const credPassword = field({ label: 'Password', name: 'cred.password', type: 'password', autocomplete: 'new-password', attrs: { maxlength: 1024 } });
  const credKey = field({ label: 'Private key (OpenSSH or PEM)', name: 'cred.private_key', type: 'textarea', attrs: { maxlength: 16384 } });
  const credDomain = field({ label: 'Domain', name: 'cred.domain', autocomplete: 'off', attrs: { maxlength: 256 } });
  const removeCreds = w.has_credentials ? checkbox({ label: 'Remove the stored credentials', name: 'cred.remove' }) : null;
  const credState = el('p', { className: 'hint credentials-state', 'data-credentials': w.has_credentials ? 'set' : 'none',
    text: w.has_credentials
      ? 'Credentials set. They are never shown; type new ones to replace all of them, or leave these fields empty to keep them.'
      : 'No credentials stored: the user signs in to the target. Type some to have Oriel sign in for them.' });
  const credentials = el('fieldset', { className: 'field-group', 'data-field': 'credentials' },
    el('legend', { text: 'Credentials for the target (write-only)' }), credState,
    el('div', { className: 'field-grid' }, credUser.row, credPassword.row, credDomain.row), credKey.row,
    removeCreds && removeCreds.row);

  const identity = field({ label: 'Pinned identity', name: 'identity', value: w.identity || '',
    placeholder: 'SHA256:…', attrs: { autocapitalize: 'none', maxlength: 60 },
    hint: 'Fingerprint of the target\'s certificate (RDP) or host key (SSH). Empty: recorded at the first connection and checked after.' });

  const c = w.container || {};
  const image = field({ label: 'Image', name: 'container.image', value: c.image || '', required: true, attrs: { autocapitalize: 'none', maxlength: 256 } });
  const cpus = field({ label: 'CPUs', name: 'container.cpus', value: c.cpus ?? 1, attrs: { inputmode: 'decimal' } });
  const memory = field({ label: 'Memory (MiB)', name: 'container.memory_mb', value: c.memory_mb ?? 2048, attrs: { inputmode: 'numeric' } });
  const pids = field({ label: 'Processes', name: 'container.pids', value: c.pids ?? 512, attrs: { inputmode: 'numeric' } });
  const egress = select({ label: 'Network access', name: 'container.egress', value: c.egress || 'none',
    options: [['none', 'None'], ['internet', 'Internet']] });
  const width = field({ label: 'Desktop width', name: 'container.width', value: c.width ?? 1600, attrs: { inputmode: 'numeric' } });
  const height = field({ label: 'Desktop height', name: 'container.height', value: c.height ?? 900, attrs: { inputmode: 'numeric' } });
  const container = el('fieldset', { className: 'field-group', 'data-field': 'container' },
    el('legend', { text: 'Container' }),
    image.row, el('div', { className: 'field-grid' }, cpus.row, memory.row, pids.row, egress.row, width.row, height.row));

  const policy = policyFieldset(w.policy || {});

  /** Shows what the kind uses; a new workspace's port follows the kind. */
  const showKind = () => {
    const k = kind.input.value;
    const isContainer = k === 'container';
    target.hidden = isContainer;
    container.hidden = !isContainer;
    credentials.hidden = isContainer;
    identity.row.hidden = !(k === 'rdp' || k === 'ssh');
    credKey.row.hidden = k !== 'ssh';
    credDomain.row.hidden = k !== 'rdp';
    credUser.row.hidden = k === 'vnc';
    if (isNew && DEFAULT_PORTS[k] && Object.values(DEFAULT_PORTS).includes(Number(port.input.value))) {
      port.input.value = DEFAULT_PORTS[k];
    }
  };
  kind.input.addEventListener('change', showKind);
  showKind();

  const body = () => {
    const k = kind.input.value;
    const out = { name: name.input.value.trim(), kind: k, policy: policy.value() };
    if (!out.name) throw new InputError('Enter a name.', 'name');
    if (k === 'container') {
      const cpuCount = Number(cpus.input.value);
      if (!image.input.value.trim()) throw new InputError('Enter the container image.', 'container.image');
      if (!Number.isFinite(cpuCount) || cpuCount <= 0) throw new InputError('CPUs must be a positive number.', 'container.cpus');
      out.container = {
        image: image.input.value.trim(),
        cpus: cpuCount,
        memory_mb: intValue(memory.input, 'Memory', { min: 64, max: 262144 }) ?? 2048,
        pids: intValue(pids.input, 'Processes', { min: 16, max: 65536 }) ?? 512,
        egress: egress.input.value,
        width: intValue(width.input, 'Desktop width', { min: 320, max: 7680 }) ?? 1600,
        height: intValue(height.input, 'Desktop height', { min: 200, max: 4320 }) ?? 900,
      };
      return out;
    }
    const portNumber = intValue(port.input, 'Port', { min: 1, max: 65535 });
    if (!host.input.value.trim()) throw new InputError('Enter the target host.', 'host');
    if (portNumber === null) throw new InputError('Enter the target port.', 'port');
    out.target = { host: host.input.value.trim(), port: portNumber };
    if (zone.input.value.trim()) out.target.zone = zone.input.value.trim();
    if ((k === 'rdp' || k === 'ssh') && identity.input.value.trim()) out.identity = identity.input.value.trim();
    const creds = {};
    const add = (key, input, used) => {
      if (used && input.value !== '') creds[key] = key === 'password' || key === 'private_key' ? input.value : input.value.trim();
    };
    add('username', credUser.input, k !== 'vnc');
    add('password', credPassword.input, true);
    add('private_key', credKey.input, k === 'ssh');
    add('domain', credDomain.input, k === 'rdp');
    if (Object.keys(creds).length) out.credentials = creds;
    else if (removeCreds && removeCreds.input.checked) out.credentials = null;
    return out;
  };
  return { rows: [name.row, kind.row, target, credentials, identity.row, container, policy.row], body };
}

export function render(root, ctx) {
  const editor = new Editor('workspace-editor');
  const listError = formError();
  const list = el('div', { id: 'workspaces-list', 'aria-live': 'polite' });
  const pager = new Pager((after) => load(after), 'Pages of workspaces');

  async function load(after = pager.current) {
    try {
      const page = await api.listWorkspaces({ limit: PAGE_SIZE, after });
      if (!ctx.alive()) return;
      showMessage(listError, '');
      list.replaceChildren(workspacesTable(Array.isArray(page.items) ? page.items : []));
      pager.loaded(page.next);
    } catch (err) {
      if (ctx.alive()) ctx.handleError(err, listError);
    }
  }

  function openEditor(w) {
    const fields = workspaceFields(w || { policy: {} });
    const form = editorForm({
      id: w ? 'workspace-edit-form' : 'workspace-create-form',
      rows: fields.rows,
      submitLabel: w ? 'Save' : 'Create workspace',
      handleError: ctx.handleError,
      onCancel: () => editor.close(),
      onSubmit: async () => {
        const body = fields.body();
        const saved = w ? await api.updateWorkspace(w.id, body) : await api.createWorkspace(body);
        editor.close();
        ctx.toast(`Workspace ${saved.name} ${w ? 'saved' : 'created'}.`);
        await load();
      },
    });
    editor.open(w ? `Edit ${w.name}` : 'New workspace', form);
  }

  function rowActions(w) {
    return actions(
      el('button', { type: 'button', className: 'button secondary small edit', text: 'Edit', 'aria-label': `Edit ${w.name}`, onClick: () => openEditor(w) }),
      confirmButton({
        label: 'Delete', confirmLabel: `Delete ${w.name}`, ariaLabel: `Delete ${w.name}`, className: 'button danger small delete',
        onError: (err) => ctx.handleError(err, listError),
        action: async () => {
          await api.deleteWorkspace(w.id);
          ctx.toast(`Workspace ${w.name} deleted.`);
          await load();
        },
      }));
  }

  function where(w) {
    if (w.kind === 'container') {
      const c = w.container || {};
      return el('span', { className: 'mono', text: `${c.image || '?'} · ${c.cpus ?? '?'} CPU · ${c.memory_mb ?? '?'} MiB` });
    }
    return el('span', { className: 'mono', text: w.target ? `${w.target.host}:${w.target.port}` : '–' });
  }

  function workspacesTable(items) {
    return table({
      caption: 'Workspaces',
      empty: 'No workspaces yet.',
      rows: items,
      rowProps: (w) => ({ 'data-workspace-id': w.id, 'data-workspace-name': w.name }),
      columns: [
        { label: 'Name', className: 'name', cell: (w) => w.name },
        { label: 'Kind', cell: (w) => el('span', { className: 'badge', text: String(w.kind || '').toUpperCase() }) },
        { label: 'Target', cell: where },
        { label: 'Credentials', className: 'credentials', cell: (w) => (w.kind === 'container' ? '–' : w.has_credentials ? 'credentials set' : 'none') },
        { label: 'Identity', cell: (w) => (w.identity ? el('span', { className: 'mono fingerprint', text: w.identity }) : '–') },
        { label: 'Policy', cell: (w) => policySummary(w.policy || {}) },
        { label: 'Actions', className: 'actions-cell', cell: rowActions },
      ],
    });
  }

  const create = el('button', { type: 'button', id: 'workspace-new', className: 'button primary', text: 'New workspace', onClick: () => openEditor(null) });
  root.replaceChildren(
    el('div', { className: 'section-head' }, el('h1', { tabIndex: -1, text: 'Workspaces' }), create),
    editor.element, listError, list, pager.element);
  load(null);
}
