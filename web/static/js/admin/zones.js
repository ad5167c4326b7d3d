/**
 * Zones (admins): where sessions run and how users reach them. A zone may
 * have a dedicated proxy (its users stream through it), a connection proxy
 * (the gateway reaching targets inside its network) and may let its users'
 * container sessions fall back to other zones when it is full. Agents join
 * a zone by their own setting; users by their groups' zone.
 */

import { api } from '../api.js';
import { el, showMessage } from '../ui/dom.js';
import { Editor, InputError, checkbox, confirmButton, editorForm, field, formError } from '../ui/form.js';
import { actions, table } from '../ui/table.js';

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

export function render(container, ctx) {
  const editor = new Editor('zone-editor');
  const listError = formError();
  const list = el('div', { id: 'zones-list', 'aria-live': 'polite' });

  async function load() {
    try {
      const page = await api.listZones();
      if (!ctx.alive()) return;
      showMessage(listError, '');
      list.replaceChildren(zonesTable(Array.isArray(page.items) ? page.items : []));
    } catch (err) {
      if (ctx.alive()) ctx.handleError(err, listError);
    }
  }

  /** Opens the editor for a new zone (`zone` null) or an existing one. */
  function openEditor(zone) {
    const z = zone || { name: '', description: '', fallback: false, proxy_url: null, connection_proxy: null };
    const cp = z.connection_proxy || {};
    const name = field({ label: 'Name', name: 'name', value: z.name, required: true,
      hint: 'Letters, digits, dots, dashes or underscores; at most 64. Agents and groups name it; it cannot change.',
      attrs: { maxlength: 64, autocapitalize: 'none', ...(zone ? { readOnly: true } : {}) } });
    const description = field({ label: 'Description', name: 'description', value: z.description, attrs: { maxlength: 1000 } });
    const fallback = checkbox({ label: 'When full, its users\' container sessions may run in other zones', name: 'fallback',
      checked: Boolean(z.fallback) });
    const proxyUrl = field({ label: 'Dedicated proxy URL', name: 'proxy_url', value: z.proxy_url || '',
      placeholder: 'https://proxy.eu.example.com', hint: 'Users of this zone stream through it. Empty: none.',
      attrs: { maxlength: 512, autocapitalize: 'none' } });
    const cpId = field({ label: 'Gateway id', name: 'connection_proxy.id', value: cp.id || '',
      hint: 'Its gateway.id (oriel gateway --id).', attrs: { maxlength: 128, autocapitalize: 'none' } });
    const cpUrl = field({ label: 'URL', name: 'connection_proxy.url', value: cp.url || '',
      placeholder: 'https://gw.site.example.com', attrs: { maxlength: 512, autocapitalize: 'none' } });
    const cpCert = field({ label: 'Certificate SHA-256', name: 'connection_proxy.cert_sha256', value: cp.cert_sha256 || '',
      hint: '64 hex digits: openssl x509 -in tls.crt -outform der | sha256sum', attrs: { maxlength: 64, autocapitalize: 'none' } });
    const cpKey = field({ label: 'Sealing key', name: 'connection_proxy.sealing_key', value: cp.sealing_key || '',
      hint: 'The content of its keys/gateway-sealing.pub: target credentials are sealed to it.', attrs: { maxlength: 64, autocapitalize: 'none' } });
    const connection = el('fieldset', { className: 'field-group', 'data-field': 'connection_proxy' },
      el('legend', { text: 'Connection proxy (reaches the targets of this zone\'s network; all empty: none)' }),
      el('div', { className: 'field-grid' }, cpId.row, cpUrl.row, cpCert.row, cpKey.row));
    const form = editorForm({
      id: zone ? 'zone-edit-form' : 'zone-create-form',
      rows: [name.row, description.row, fallback.row, proxyUrl.row, connection],
      submitLabel: zone ? 'Save' : 'Create zone',
      handleError: ctx.handleError,
      onCancel: () => editor.close(),
      onSubmit: async () => {
        const zoneName = name.input.value.trim();
        if (!NAME_RE.test(zoneName)) throw new InputError('Enter a name of letters, digits, dots, dashes or underscores.', 'name');
        const parts = [cpId, cpUrl, cpCert, cpKey].map((f) => f.input.value.trim());
        let connectionProxy = null;
        if (parts.some((p) => p !== '')) {
          const missing = [cpId, cpUrl, cpCert, cpKey].find((f) => f.input.value.trim() === '');
          if (missing) throw new InputError('Fill in every field of the connection proxy, or none.', missing.input.name);
          connectionProxy = { id: parts[0], url: parts[1], cert_sha256: parts[2], sealing_key: parts[3] };
        }
        const body = {
          name: zoneName,
          description: description.input.value.trim(),
          fallback: fallback.input.checked,
          proxy_url: proxyUrl.input.value.trim() || null,
          connection_proxy: connectionProxy,
        };
        const saved = zone ? await api.updateZone(zone.name, body) : await api.createZone(body);
        editor.close();
        ctx.toast(`Zone ${saved.name} ${zone ? 'saved' : 'created'}.`);
        await load();
      },
    });
    editor.open(zone ? `Edit zone ${zone.name}` : 'New zone', form);
  }

  function rowActions(z) {
    const edit = el('button', { type: 'button', className: 'button secondary small edit', text: 'Edit',
      'aria-label': `Edit ${z.name}`, onClick: () => openEditor(z) });
    if (z.name === 'default') return actions(edit);
    return actions(edit,
      confirmButton({
        label: 'Delete', confirmLabel: `Delete ${z.name}`, ariaLabel: `Delete ${z.name}`, className: 'button danger small delete',
        onError: (err) => ctx.handleError(err, listError),
        action: async () => {
          await api.deleteZone(z.name);
          ctx.toast(`Zone ${z.name} deleted.`);
          await load();
        },
      }));
  }

  function zonesTable(items) {
    return table({
      caption: 'Zones',
      empty: 'No zones.',
      rows: items,
      rowProps: (z) => ({ 'data-zone-name': z.name }),
      columns: [
        { label: 'Name', className: 'name', cell: (z) => z.name },
        { label: 'Description', cell: (z) => z.description || '–' },
        { label: 'Dedicated proxy', className: 'proxy', cell: (z) => el('span', { className: 'mono', text: z.proxy_url || '–' }) },
        { label: 'Connection proxy', className: 'connection-proxy',
          cell: (z) => el('span', { className: 'mono', text: z.connection_proxy ? `${z.connection_proxy.id} ${z.connection_proxy.url}` : '–' }) },
        { label: 'Fallback', className: 'fallback', cell: (z) => (z.fallback ? 'to other zones' : '–') },
        { label: 'Actions', className: 'actions-cell', cell: rowActions },
      ],
    });
  }

  const create = el('button', { type: 'button', id: 'zone-new', className: 'button primary', text: 'New zone', onClick: () => openEditor(null) });
  container.replaceChildren(
    el('div', { className: 'section-head' }, el('h1', { tabIndex: -1, text: 'Zones' }), create),
    editor.element, listError, list);
  load();
}
