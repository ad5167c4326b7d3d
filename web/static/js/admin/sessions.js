/**
 * Live sessions (admins end them; auditors only look; admins and members
 * of a group granting `shadow_sessions` watch or take control of them):
 * everyone's sessions, active ones by default (only those for a member
 * who is neither admin nor auditor), newest first, refreshed every few
 * seconds while shown.
 */

import { api, shadowUrl } from '../api.js';
import { el, showMessage, timeEl } from '../ui/dom.js';
import { confirmButton, formError, select } from '../ui/form.js';
import { Pager } from '../ui/pager.js';
import { table } from '../ui/table.js';

const PAGE_SIZE = 50;
/** How often the shown list is refreshed. */
const REFRESH_MS = 10000;
const ACTIVE = new Set(['requested', 'starting', 'running', 'ending']);

export function render(container, ctx) {
  const me = ctx.me();
  const canEnd = me.role === 'admin';
  const canWatch = me.role === 'admin' || me.may_shadow === true;
  const reader = me.role === 'admin' || me.role === 'auditor';
  const listError = formError();
  const list = el('div', { id: 'sessions-list', 'aria-live': 'polite' });
  const pager = new Pager((after) => load(after), 'Pages of sessions');
  const state = select({ label: 'Show', name: 'state', value: 'active',
    options: reader ? [['active', 'Active sessions'], ['all', 'All sessions, ended ones too']] : [['active', 'Active sessions']] });

  async function load(after = pager.current) {
    try {
      const page = await api.listSessions({ scope: 'all', state: state.input.value, limit: PAGE_SIZE, after });
      if (!ctx.alive()) return;
      showMessage(listError, '');
      list.replaceChildren(sessionsTable(Array.isArray(page.items) ? page.items : []));
      pager.loaded(page.next);
    } catch (err) {
      if (ctx.alive()) ctx.handleError(err, listError);
    }
  }

  function endButton(s) {
    if (!canEnd || !ACTIVE.has(s.state) || s.state === 'ending') return '–';
    const label = `End the session of ${s.username} on ${s.workspace_name}`;
    return confirmButton({
      label: 'End', confirmLabel: 'End it', ariaLabel: label, className: 'button danger small end',
      onError: (err) => ctx.handleError(err, listError),
      action: async () => {
        await api.endSession(s.id);
        ctx.toast(`Session of ${s.username} on ${s.workspace_name} ended.`);
        await load();
      },
    });
  }

  /** Those who may shadow watch (or take control of) a live session in a new viewer tab. */
  function watchLinks(s) {
    if (!canWatch || s.user_id === me.id || !['starting', 'running'].includes(s.state)) return null;
    const link = (text, control, cls) => el('a', {
      className: `button secondary small ${cls}`, text, href: shadowUrl(s.id, control), target: '_blank', rel: 'noopener',
      'aria-label': `${text}: the session of ${s.username} on ${s.workspace_name}`,
    });
    return [link('Watch', false, 'watch'), link('Take control', true, 'take-control')];
  }

  function actions(s) {
    const watch = watchLinks(s);
    const end = endButton(s);
    return watch ? el('span', { className: 'row-actions' }, ...watch, end === '–' ? null : end) : end;
  }

  function sessionsTable(items) {
    const columns = [
      { label: 'User', className: 'user', cell: (s) => s.username },
      { label: 'Workspace', className: 'workspace', cell: (s) => s.workspace_name },
      { label: 'State', className: 'state', cell: (s) => el('span', { className: `badge state-${s.state}`, text: s.state }) },
      { label: 'Started', cell: (s) => timeEl(s.running_at || s.starting_at || s.requested_at) },
      { label: 'Ends at the latest', cell: (s) => timeEl(s.deadline) },
      { label: 'Ended', cell: (s) => timeEl(s.ended_at) },
      { label: 'From', cell: (s) => s.source || '–' },
    ];
    if (canEnd || canWatch) columns.push({ label: 'Actions', className: 'actions-cell', cell: actions });
    return table({
      caption: 'Sessions',
      empty: state.input.value === 'active' ? 'No active sessions.' : 'No sessions.',
      rows: items,
      rowProps: (s) => ({ 'data-session-id': s.id, 'data-state': s.state }),
      columns,
    });
  }

  state.input.addEventListener('change', () => {
    pager.reset();
    load(null);
  });
  const refresh = el('button', { type: 'button', id: 'sessions-refresh', className: 'button secondary', text: 'Refresh', onClick: () => load() });
  container.replaceChildren(...[
    el('div', { className: 'section-head' }, el('h1', { tabIndex: -1, text: 'Live sessions' }), refresh),
    canEnd ? null : el('p', { className: 'muted', text: canWatch
      ? 'You may watch and take control of these sessions; each is audited, and the user is told unless the workspace allows silent monitoring.'
      : 'Read-only: auditors see sessions but cannot end them.' }),
    el('div', { className: 'filters' }, state.row),
    listError, list, pager.element].filter(Boolean));
  load(null);

  // Live: the list refreshes itself while shown, unless an "End" is being
  // confirmed, a row has the keyboard focus or the tab is in the background.
  const timer = setInterval(() => {
    if (!ctx.alive() || !container.isConnected) {
      clearInterval(timer);
      return;
    }
    if (document.visibilityState !== 'visible' || list.querySelector('.confirm-yes') || list.contains(document.activeElement)) return;
    load();
  }, REFRESH_MS);
}
