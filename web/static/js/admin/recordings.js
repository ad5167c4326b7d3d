/**
 * Recordings (admins and auditors): the session recordings the control
 * plane keeps, newest first, with their verdict (complete, incomplete,
 * tampered), filtered by kind, time, the text an SSH session printed,
 * session, user or workspace; each opens in the player or downloads (SSH
 * ones also as asciicast); admins delete them.
 */

import { api, listAll, playerUrl, recordingCastUrl, recordingFileUrl } from '../api.js';
import { el, formatBytes, showMessage, timeEl } from '../ui/dom.js';
import { confirmButton, field, formError, isoOf, select } from '../ui/form.js';
import { Pager } from '../ui/pager.js';
import { table } from '../ui/table.js';

const PAGE_SIZE = 50;

function duration(ms) {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

export function render(container, ctx) {
  const canDelete = ctx.me().role === 'admin';
  const listError = formError();
  const list = el('div', { id: 'recordings-list', 'aria-live': 'polite' });
  const pager = new Pager((after) => load(after), 'Pages of recordings');
  const session = field({ label: 'Session id', name: 'session', type: 'text' });
  // Users and workspaces are chosen by name where the lists can be read
  // (ids otherwise: a recording outlives a deleted user or workspace).
  let user = field({ label: 'User id', name: 'user', type: 'text' });
  let workspace = field({ label: 'Workspace id', name: 'workspace', type: 'text' });
  const byName = async (path, label, name, nameOf, current) => {
    try {
      const items = await listAll(path);
      if (!ctx.alive() || !items.length) return current;
      const chosen = select({ label, name, value: '',
        options: [['', 'Any'], ...items.map((i) => [i.id, nameOf(i)]).sort((a, b) => a[1].localeCompare(b[1]))] });
      current.row.replaceWith(chosen.row);
      return chosen;
    } catch (err) {
      return current;
    }
  };
  const kind = select({ label: 'Kind', name: 'kind', value: '',
    options: [['', 'Any'], ['vnc', 'VNC'], ['rdp', 'RDP'], ['ssh', 'SSH'], ['container', 'Container']] });
  const since = field({ label: 'Running since', name: 'since', type: 'datetime-local' });
  const until = field({ label: 'Started before', name: 'until', type: 'datetime-local' });
  const text = field({ label: 'Text (SSH)', name: 'text', type: 'search', placeholder: 'a command or its output',
    hint: 'What an SSH session printed, in any case.', attrs: { maxLength: 200 } });

  async function load(after = pager.current) {
    try {
      const page = await api.listRecordings({
        session: session.input.value.trim(), user: user.input.value.trim(),
        workspace: workspace.input.value.trim(), kind: kind.input.value,
        since: isoOf(since.input, 'Running since'), until: isoOf(until.input, 'Started before'),
        text: text.input.value.trim(), limit: PAGE_SIZE, after,
      });
      if (!ctx.alive()) return;
      showMessage(listError, '');
      list.replaceChildren(recordingsTable(Array.isArray(page.items) ? page.items : []));
      pager.loaded(page.next);
    } catch (err) {
      if (ctx.alive()) ctx.handleError(err, listError);
    }
  }

  function actions(r) {
    const cells = [
      el('a', { className: 'button secondary small play', href: playerUrl(r.id), text: 'Play' }),
      el('a', { className: 'button secondary small download', href: recordingFileUrl(r.id), text: 'Download' }),
    ];
    if (r.kind === 'ssh') {
      cells.push(el('a', { className: 'button secondary small cast', href: recordingCastUrl(r.id), text: 'asciicast',
        title: 'The terminal text, for asciinema and other terminal players' }));
    }
    if (canDelete) {
      cells.push(confirmButton({
        label: 'Delete', confirmLabel: 'Delete it', ariaLabel: `Delete the recording of ${r.username} on ${r.workspace_name}`,
        className: 'button danger small delete',
        onError: (err) => ctx.handleError(err, listError),
        action: async () => {
          await api.deleteRecording(r.id);
          ctx.toast(`Recording of ${r.username} on ${r.workspace_name} deleted.`);
          await load();
        },
      }));
    }
    return el('div', { className: 'actions' }, ...cells);
  }

  function recordingsTable(items) {
    return table({
      caption: 'Recordings',
      empty: 'No recordings.',
      rows: items,
      rowProps: (r) => ({ 'data-recording-id': r.id, 'data-session-id': r.session_id, 'data-verdict': r.verdict }),
      columns: [
        { label: 'User', className: 'user', cell: (r) => r.username },
        { label: 'Workspace', className: 'workspace', cell: (r) => `${r.workspace_name} (${r.kind})` },
        { label: 'Started', cell: (r) => timeEl(r.started_at) },
        { label: 'Length', cell: (r) => duration(r.duration_ms) },
        { label: 'Size', cell: (r) => formatBytes(r.bytes) },
        { label: 'Integrity', className: 'verdict', cell: (r) => el('span', { className: `badge verdict-${r.verdict}`, text: r.verdict, title: r.verdict_detail || '' }) },
        { label: 'Kept until', cell: (r) => (r.retain_until ? timeEl(r.retain_until) : 'kept') },
        { label: 'Actions', className: 'actions-cell', cell: actions },
      ],
    });
  }

  const apply = el('button', { type: 'submit', className: 'button secondary', text: 'Filter' });
  const filters = el('form', { className: 'filters', id: 'recordings-filters', noValidate: true, role: 'search', 'aria-label': 'Recording filters' },
    el('div', { className: 'field-grid' }, kind.row, since.row, until.row, text.row, session.row, user.row, workspace.row), apply);
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    pager.reset();
    load(null);
  });
  container.replaceChildren(...[
    el('div', { className: 'section-head' }, el('h1', { tabIndex: -1, text: 'Recordings' })),
    canDelete ? null : el('p', { className: 'muted', text: 'Read-only: auditors play and download recordings but cannot delete them.' }),
    filters, listError, list, pager.element].filter(Boolean));
  load(null);
  byName('/users', 'User', 'user', (u) => u.username, user).then((f) => { user = f; });
  byName('/workspaces', 'Workspace', 'workspace', (w) => `${w.name} (${w.kind})`, workspace).then((f) => { workspace = f; });
}
