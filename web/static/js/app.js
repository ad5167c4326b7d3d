/**
 * The index page: login (with a second factor and single sign-on, see
 * login.js), the forced second-factor set-up some groups require, and once
 * logged in a small hash-routed application:
 *
 * - `#/` the user's workspaces (launch a session) and running sessions;
 * - `#/account`, `#/tokens` for everyone;
 * - `#/users`, `#/groups`, `#/workspaces` for admins;
 * - `#/sessions`, `#/audit` for admins and (read-only) auditors; Live
 *   sessions also for members of a group granting `shadow_sessions`
 *   (`may_shadow`), to watch them.
 *
 * The navigation shows only what the role may use; the server checks
 * everything again. All text goes through `textContent`; nothing from the
 * server is parsed as HTML. Any 401 from the API brings the login form back.
 */

import { api, ApiError, describeError, viewerUrl } from './api.js';
import { initLogin, loadSignInMethods, loginErrorCode, resetLogin, ssoErrorMessage } from './login.js';
import { renderEnrollment } from './enroll.js';
import * as account from './account.js';
import * as tokens from './admin/tokens.js';
import * as users from './admin/users.js';
import * as groups from './admin/groups.js';
import * as workspaces from './admin/workspaces.js';
import * as sessions from './admin/sessions.js';
import * as audit from './admin/audit.js';
import * as recordings from './admin/recordings.js';
import * as zones from './admin/zones.js';
import { el, formatTime, showMessage } from './ui/dom.js';
import { showFormError } from './ui/form.js';
import { clearToasts, toast } from './ui/toast.js';

const $ = (id) => document.getElementById(id);

const ALL = ['admin', 'user', 'auditor'];

/** Routes: hash path → title, roles that see it, and the view module. */
const ROUTES = [
  { path: '', nav: 'My workspaces', title: 'Workspaces', roles: ALL, home: true },
  { path: 'users', nav: 'Users', roles: ['admin'], view: users },
  { path: 'groups', nav: 'Groups', roles: ['admin'], view: groups },
  { path: 'workspaces', nav: 'Workspaces', title: 'Manage workspaces', roles: ['admin'], view: workspaces },
  { path: 'zones', nav: 'Zones', roles: ['admin'], view: zones },
  { path: 'sessions', nav: 'Live sessions', roles: ['admin', 'auditor'], shadowers: true, view: sessions },
  { path: 'recordings', nav: 'Recordings', roles: ['admin', 'auditor'], view: recordings },
  { path: 'audit', nav: 'Audit log', roles: ['admin', 'auditor'], view: audit },
  { path: 'tokens', nav: 'API tokens', roles: ALL, view: tokens, side: true },
  { path: 'account', nav: 'Account', roles: ALL, view: account, side: true },
];

let currentUser = null;
/** Incremented on every (re)load or route change so that late answers of an old one are dropped. */
let loadGeneration = 0;

function setPageStatus(message) {
  showMessage($('page-status'), message);
}

function hideViews() {
  for (const id of ['login-view', 'enroll-view', 'home-view', 'app-view']) $(id).hidden = true;
}

// ---------------------------------------------------------------------------
// Login, logout and the forced second-factor set-up

function showLogin(message) {
  currentUser = null;
  loadGeneration += 1;
  setPageStatus('');
  hideViews();
  $('user-area').hidden = true;
  $('main-nav').hidden = true;
  $('nav-links').replaceChildren();
  $('workspaces').replaceChildren();
  $('sessions').replaceChildren();
  $('app-view').replaceChildren();
  $('enroll-container').replaceChildren();
  document.title = 'Oriel';
  $('login-view').hidden = false;
  resetLogin(message);
  loadSignInMethods();
}

/** Back to the login form; the next user starts on the home page. */
function loggedOut(message) {
  clearToasts();
  if (window.location.hash) window.history.replaceState(null, '', window.location.pathname);
  showLogin(message);
}

async function onLogout() {
  const button = $('logout-button');
  button.disabled = true;
  try {
    await api.logout();
    loggedOut('');
  } catch (err) {
    if (err instanceof ApiError && err.unauthorized) loggedOut('');
    else toast(`Could not log out: ${describeError(err)}`, 'error');
  } finally {
    button.disabled = false;
  }
}

function showUser(user) {
  $('current-user').textContent = user.username || '';
  $('user-area').hidden = false;
}

/** A group of the user requires a second factor: nothing else works until it is set up. */
function showEnrollment(user) {
  currentUser = user;
  loadGeneration += 1;
  setPageStatus('');
  hideViews();
  $('main-nav').hidden = true;
  showUser(user);
  document.title = 'Set up two-factor authentication · Oriel';
  $('enroll-view').hidden = false;
  renderEnrollment($('enroll-container'), {
    onDone: () => refreshAndEnter(),
    onError: (err) => handlePageError(err),
  });
}

async function refreshAndEnter() {
  try {
    enterApp(await api.me());
  } catch (err) {
    if (!handlePageError(err)) showLogin(describeError(err));
  }
}

/**
 * Errors that concern the whole page: an expired login (back to the form)
 * and a second factor still to set up. Returns true when it took the error.
 */
function handlePageError(err) {
  if (!(err instanceof ApiError)) return false;
  // A wrong password or code (401 `invalid_credentials`) is the form's business, not a lost login.
  if (err.unauthorized && err.code !== 'invalid_credentials' && err.code !== 'totp_required') {
    loggedOut('Your login has expired. Please log in again.');
    return true;
  }
  if (err.status === 403 && err.code === 'totp_enrollment_required') {
    refreshAndEnter();
    return true;
  }
  return false;
}

/**
 * An error of a view: page-level ones are taken care of (returns false:
 * the view is gone); others go into `node` (a form's error line) or a
 * toast (returns true).
 */
function handleError(err, node) {
  if (handlePageError(err)) return false;
  if (node) showFormError(node, err);
  else toast(describeError(err), 'error');
  return true;
}

// ---------------------------------------------------------------------------
// The logged-in application

function enterApp(user) {
  if (user && user.stage === 'totp_enroll') {
    showEnrollment(user);
    return;
  }
  currentUser = user;
  setPageStatus('');
  $('login-view').hidden = true;
  $('enroll-view').hidden = true;
  showUser(user);
  renderNav();
  route();
}

function allowed(r) {
  return Boolean(currentUser) && (r.roles.includes(currentUser.role) || (Boolean(r.shadowers) && currentUser.may_shadow === true));
}

function renderNav() {
  const link = (r) => el('li', { className: r.side ? 'side' : '' },
    el('a', { href: `#/${r.path}`, 'data-route': r.path || 'home', text: r.nav }));
  $('nav-links').replaceChildren(...ROUTES.filter(allowed).map(link));
  $('main-nav').hidden = false;
}

/** The route of the current hash; null for a hash that is not a route (e.g. `#main`). */
function currentPath() {
  const hash = window.location.hash;
  if (hash === '' || hash === '#' || hash === '#/') return '';
  if (!hash.startsWith('#/')) return null;
  return hash.slice(2).split(/[/?]/)[0];
}

/** Shows the view of the current hash; `moveFocus` after a navigation. */
function route(moveFocus = false) {
  if (!currentUser || currentUser.stage === 'totp_enroll') return;
  let path = currentPath();
  if (path === null) return;
  if (path === 'login') {
    // The login page's own address (`#/login?error=…` after a failed single
    // sign-on): once logged in, it is the home page (saying what failed).
    const code = loginErrorCode();
    if (code) toast(ssoErrorMessage(code), 'error');
    window.history.replaceState(null, '', `${window.location.pathname}#/`);
    path = '';
  }
  const generation = ++loadGeneration;
  const r = ROUTES.find((x) => x.path === path);
  for (const a of $('nav-links').querySelectorAll('a')) {
    if (a.dataset.route === (path || 'home')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  hideViews();
  const container = $('app-view');
  container.replaceChildren();
  if (!r || !allowed(r)) {
    document.title = 'Oriel';
    container.hidden = false;
    container.append(
      el('h1', { tabIndex: -1, text: r ? 'Not allowed' : 'Not found' }),
      el('p', { id: 'route-refused', className: 'error', role: 'alert',
        text: r ? 'Your role does not give access to this page.' : 'There is no such page.' }),
      el('p', {}, el('a', { href: '#/', text: 'Back to your workspaces' })));
    return;
  }
  document.title = `${r.title || r.nav} · Oriel`;
  if (r.home) {
    $('home-view').hidden = false;
    if (moveFocus) $('workspaces-title').focus({ preventScroll: true });
    loadHome(generation);
    return;
  }
  container.hidden = false;
  container.dataset.view = r.path;
  r.view.render(container, viewContext(generation));
  const heading = container.querySelector('h1');
  if (heading && (moveFocus || document.activeElement === document.body)) heading.focus({ preventScroll: true });
}

/** What a view module gets: the user, error handling, notices. */
function viewContext(generation) {
  return {
    me: () => currentUser,
    alive: () => generation === loadGeneration,
    refreshMe: async () => {
      currentUser = await api.me();
      showUser(currentUser);
      return currentUser;
    },
    handleError,
    handlePageError,
    loggedOut,
    toast,
  };
}

// ---------------------------------------------------------------------------
// Home: workspaces and sessions

function loadHome(generation = ++loadGeneration) {
  return Promise.all([loadWorkspaces(generation), loadSessions(generation)]);
}

function policyText(policy) {
  const up = Boolean(policy && policy.clipboard_up);
  const down = Boolean(policy && policy.clipboard_down);
  if (up && down) return 'Clipboard: both ways';
  if (up) return 'Clipboard: to the remote only';
  if (down) return 'Clipboard: from the remote only';
  return 'Clipboard: off';
}

/** Accepts only a same-origin path for navigation. */
function safeViewerUrl(session) {
  const url = session && session.viewer_url;
  if (typeof url === 'string' && url.startsWith('/') && !url.startsWith('//')) return url;
  return viewerUrl(session.id);
}

/** Handles an error of a home-page call: 401 goes back to the login form. */
function handleHomeError(err, node, prefix) {
  if (handlePageError(err)) return;
  showMessage(node, `${prefix}${describeError(err)}`);
}

async function launch(workspace, button, errorNode) {
  button.disabled = true;
  button.textContent = 'Launching…';
  showMessage(errorNode, '');
  try {
    const session = await api.createSession(workspace.id ?? workspace.name);
    window.location.assign(safeViewerUrl(session));
  } catch (err) {
    button.disabled = false;
    button.textContent = 'Launch';
    handleHomeError(err, errorNode, `Could not launch ${workspace.name}: `);
  }
}

function workspaceItem(ws) {
  const target = ws.target && ws.target.host ? `${ws.target.host}:${ws.target.port}` : '';
  const error = el('p', { className: 'error', 'aria-live': 'polite', hidden: true });
  // Auditors read everything and launch nothing.
  const canLaunch = !currentUser || currentUser.role !== 'auditor';
  const button = canLaunch
    ? el('button', { type: 'button', className: 'launch button primary', text: 'Launch', 'aria-label': `Launch ${ws.name}` })
    : null;
  if (button) button.addEventListener('click', () => launch(ws, button, error));
  const meta = el('p', { className: 'workspace-meta' },
    el('span', { className: 'badge', text: String(ws.kind || '').toUpperCase() }),
    target ? el('span', { className: 'target', text: target }) : null);
  const notes = el('p', { className: 'workspace-notes muted',
    text: policyText(ws.policy) + (ws.has_credentials ? ' · signs in for you' : '') });
  return el('li', { className: 'workspace card', 'data-workspace-name': ws.name, 'data-workspace-id': ws.id },
    el('div', { className: 'workspace-info' }, el('h3', { className: 'workspace-name', text: ws.name }), meta, notes),
    button, error);
}

/** Cards per page of the home lists; "Show more" follows the API's `next` cursor. */
const HOME_PAGE = 50;
const homeCursors = { workspaces: null, sessions: null };

/** Shows the "Show more" button of a home list when the API has another page. */
function setMore(list, next) {
  homeCursors[list] = typeof next === 'string' && next ? next : null;
  $(`${list}-more`).hidden = !homeCursors[list];
}

async function loadWorkspaces(generation, after = null) {
  const list = $('workspaces');
  showMessage($('workspaces-error'), '');
  try {
    const page = await api.listWorkspaces({ limit: HOME_PAGE, after });
    if (generation !== loadGeneration) return;
    const items = Array.isArray(page && page.items) ? page.items : [];
    if (after) list.append(...items.map(workspaceItem));
    else list.replaceChildren(...items.map(workspaceItem));
    $('workspaces-empty').hidden = list.childElementCount > 0;
    setMore('workspaces', page && page.next);
  } catch (err) {
    if (generation !== loadGeneration) return;
    $('workspaces-empty').hidden = true;
    handleHomeError(err, $('workspaces-error'), 'Could not load the workspaces: ');
  }
}

function isRunning(session) {
  if (session.ended_at || session.state === 'ended' || session.state === 'failed') return false;
  return !currentUser || !session.username || !currentUser.username || session.username === currentUser.username;
}

async function endSession(session, button, errorNode) {
  button.disabled = true;
  showMessage(errorNode, '');
  try {
    await api.endSession(session.id);
    await loadSessions(loadGeneration);
  } catch (err) {
    button.disabled = false;
    if (err instanceof ApiError && err.status === 404) await loadSessions(loadGeneration);
    else handleHomeError(err, errorNode, 'Could not end the session: ');
  }
}

function sessionItem(session) {
  const name = session.workspace_name || session.workspace_id || session.id;
  const error = el('p', { className: 'error', 'aria-live': 'polite', hidden: true });
  const open = el('button', { type: 'button', className: 'open button primary', text: 'Open', 'aria-label': `Open the session on ${name}` });
  open.addEventListener('click', () => window.location.assign(viewerUrl(session.id)));
  const end = el('button', { type: 'button', className: 'end button danger', text: 'End', 'aria-label': `End the session on ${name}` });
  end.addEventListener('click', () => endSession(session, end, error));
  const started = session.running_at || session.requested_at || session.created_at || '';
  const time = el('time', { datetime: started, text: formatTime(started) });
  return el('li', { className: 'session card', 'data-session-id': session.id },
    el('div', { className: 'session-info' },
      el('h3', { className: 'session-name', text: name }),
      el('p', { className: 'muted' }, el('span', { className: 'badge state', text: session.state || 'running' }),
        ' started ', time)),
    el('div', { className: 'actions' }, open, end), error);
}

async function loadSessions(generation, after = null) {
  showMessage($('sessions-error'), '');
  try {
    const page = await api.listSessions({ state: 'active', limit: HOME_PAGE, after });
    if (generation !== loadGeneration) return;
    const items = (Array.isArray(page && page.items) ? page.items : []).filter(isRunning);
    if (after) $('sessions').append(...items.map(sessionItem));
    else $('sessions').replaceChildren(...items.map(sessionItem));
    $('sessions-empty').hidden = $('sessions').childElementCount > 0;
    setMore('sessions', page && page.next);
  } catch (err) {
    if (generation !== loadGeneration) return;
    $('sessions-empty').hidden = true;
    handleHomeError(err, $('sessions-error'), 'Could not load your sessions: ');
  }
}

/** "Show more": the next page of a home list, appended; focus stays on the button or moves to the first new card. */
async function showMore(list) {
  const button = $(`${list}-more`);
  const before = $(list).childElementCount;
  button.disabled = true;
  try {
    if (list === 'workspaces') await loadWorkspaces(loadGeneration, homeCursors.workspaces);
    else await loadSessions(loadGeneration, homeCursors.sessions);
  } finally {
    button.disabled = false;
  }
  const first = $(list).children[before];
  const target = first && first.querySelector('button');
  if (target && button.hidden) target.focus();
}

// ---------------------------------------------------------------------------
// Start

async function onLoggedIn(answer) {
  if (answer && answer.stage === 'totp_enroll') {
    showEnrollment(answer.user || {});
    return;
  }
  await refreshAndEnter();
}

async function start() {
  initLogin(onLoggedIn);
  $('logout-button').addEventListener('click', onLogout);
  $('refresh-button').addEventListener('click', () => loadHome());
  $('workspaces-more').addEventListener('click', () => showMore('workspaces'));
  $('sessions-more').addEventListener('click', () => showMore('sessions'));
  $('skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    $('main').focus();
  });
  window.addEventListener('hashchange', () => {
    if (currentUser) route(true);
    else if (loginErrorCode()) resetLogin(ssoErrorMessage(loginErrorCode()));
  });
  const refreshIfHome = () => {
    if (currentUser && !$('home-view').hidden && document.visibilityState === 'visible') loadHome();
  };
  document.addEventListener('visibilitychange', refreshIfHome);
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) refreshIfHome();
  });
  try {
    enterApp(await api.me());
  } catch (err) {
    const code = loginErrorCode();
    if (code) showLogin(ssoErrorMessage(code));
    else if (err instanceof ApiError && err.unauthorized) showLogin('');
    else showLogin(describeError(err));
  }
}

start();
