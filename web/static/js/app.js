/**
 * The index page: the login form and, once logged in, the workspace list
 * (launch a session) and the user's running sessions (open or end them).
 *
 * All text goes through `textContent`; nothing from the server is parsed as
 * HTML. Any 401 from the API brings the login form back.
 */

import { api, ApiError, describeError, viewerUrl } from './api.js';

const $ = (id) => document.getElementById(id);

let currentUser = null;
/** Incremented on every (re)load so that late answers of an old load are dropped. */
let loadGeneration = 0;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'className') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('data-') || key.startsWith('aria-') || key === 'type' || key === 'datetime') {
      node.setAttribute(key, value);
    } else node[key] = value;
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function showMessage(node, message) {
  node.textContent = message || '';
  node.hidden = !message;
}

function setPageStatus(message) {
  showMessage($('page-status'), message);
}

// ---------------------------------------------------------------------------
// Login

function showLogin(message) {
  currentUser = null;
  loadGeneration += 1;
  setPageStatus('');
  $('user-area').hidden = true;
  $('home-view').hidden = true;
  $('login-view').hidden = false;
  $('workspaces').replaceChildren();
  $('sessions').replaceChildren();
  showMessage($('login-error'), message);
  const username = $('username');
  (username.value ? $('password') : username).focus();
}

async function onLoginSubmit(event) {
  event.preventDefault();
  const username = $('username').value.trim();
  const password = $('password').value;
  if (!username || !password) {
    showMessage($('login-error'), 'Enter your username and password.');
    return;
  }
  const button = $('login-button');
  button.disabled = true;
  button.textContent = 'Logging in…';
  showMessage($('login-error'), '');
  try {
    const answer = await api.login(username, password);
    $('password').value = '';
    enterHome(answer && answer.user ? answer.user : { username });
  } catch (err) {
    const message = err instanceof ApiError && err.status === 401
      ? 'Wrong username or password.'
      : describeError(err);
    showMessage($('login-error'), message);
    $('password').select();
  } finally {
    button.disabled = false;
    button.textContent = 'Log in';
  }
}

async function onLogout() {
  const button = $('logout-button');
  button.disabled = true;
  try {
    await api.logout();
    showLogin('');
  } catch (err) {
    if (err instanceof ApiError && err.unauthorized) showLogin('');
    else showMessage($('workspaces-error'), `Could not log out: ${describeError(err)}`);
  } finally {
    button.disabled = false;
  }
}

/** Handles an error of a home-page call: 401 goes back to the login form. */
function handleHomeError(err, node, prefix) {
  if (err instanceof ApiError && err.unauthorized) {
    showLogin('Your login has expired. Please log in again.');
    return;
  }
  showMessage(node, `${prefix}${describeError(err)}`);
}

// ---------------------------------------------------------------------------
// Home: workspaces and sessions

function enterHome(user) {
  currentUser = user;
  setPageStatus('');
  $('login-view').hidden = true;
  $('current-user').textContent = user.username || '';
  $('user-area').hidden = false;
  $('home-view').hidden = false;
  loadHome();
}

function loadHome() {
  const generation = ++loadGeneration;
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
  const button = el('button', { type: 'button', className: 'launch button primary', text: 'Launch' });
  button.setAttribute('aria-label', `Launch ${ws.name}`);
  button.addEventListener('click', () => launch(ws, button, error));
  const meta = el('p', { className: 'workspace-meta' },
    el('span', { className: 'badge', text: String(ws.kind || '').toUpperCase() }),
    target ? el('span', { className: 'target', text: target }) : null);
  const notes = el('p', { className: 'workspace-notes muted',
    text: policyText(ws.policy) + (ws.has_credentials ? ' · signs in for you' : '') });
  return el('li', { className: 'workspace card', 'data-workspace-name': ws.name, 'data-workspace-id': ws.id },
    el('div', { className: 'workspace-info' }, el('h3', { className: 'workspace-name', text: ws.name }), meta, notes),
    button, error);
}

async function loadWorkspaces(generation) {
  const list = $('workspaces');
  showMessage($('workspaces-error'), '');
  try {
    const page = await api.listWorkspaces();
    if (generation !== loadGeneration) return;
    const items = Array.isArray(page && page.items) ? page.items : [];
    list.replaceChildren(...items.map(workspaceItem));
    $('workspaces-empty').hidden = items.length > 0;
  } catch (err) {
    if (generation !== loadGeneration) return;
    $('workspaces-empty').hidden = true;
    handleHomeError(err, $('workspaces-error'), 'Could not load the workspaces: ');
  }
}

function formatTime(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value || '') : date.toLocaleString();
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
  const open = el('button', { type: 'button', className: 'open button primary', text: 'Open' });
  open.setAttribute('aria-label', `Open the session on ${name}`);
  open.addEventListener('click', () => window.location.assign(viewerUrl(session.id)));
  const end = el('button', { type: 'button', className: 'end button danger', text: 'End' });
  end.setAttribute('aria-label', `End the session on ${name}`);
  end.addEventListener('click', () => endSession(session, end, error));
  const time = el('time', { datetime: session.created_at || '', text: formatTime(session.created_at) });
  return el('li', { className: 'session card', 'data-session-id': session.id },
    el('div', { className: 'session-info' },
      el('h3', { className: 'session-name', text: name }),
      el('p', { className: 'muted' }, el('span', { className: 'badge state', text: session.state || 'running' }),
        document.createTextNode(' started '), time)),
    el('div', { className: 'actions' }, open, end), error);
}

async function loadSessions(generation) {
  showMessage($('sessions-error'), '');
  try {
    const page = await api.listSessions();
    if (generation !== loadGeneration) return;
    const items = (Array.isArray(page && page.items) ? page.items : []).filter(isRunning);
    $('sessions').replaceChildren(...items.map(sessionItem));
    $('sessions-empty').hidden = items.length > 0;
  } catch (err) {
    if (generation !== loadGeneration) return;
    $('sessions-empty').hidden = true;
    handleHomeError(err, $('sessions-error'), 'Could not load your sessions: ');
  }
}

// ---------------------------------------------------------------------------
// Start

async function start() {
  $('login-form').addEventListener('submit', onLoginSubmit);
  $('logout-button').addEventListener('click', onLogout);
  $('refresh-button').addEventListener('click', () => loadHome());
  const refreshIfHome = () => {
    if (currentUser && document.visibilityState === 'visible') loadHome();
  };
  document.addEventListener('visibilitychange', refreshIfHome);
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) refreshIfHome();
  });
  try {
    enterHome(await api.me());
  } catch (err) {
    if (err instanceof ApiError && err.unauthorized) showLogin('');
    else showLogin(describeError(err));
  }
}

start();
