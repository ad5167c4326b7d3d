/**
 * The viewer page: wires the stream session (stream.js), the framebuffer
 * (render.js), input capture (input.js), the clipboard panel and the files
 * panel (files-panel.js) to the toolbar, status bar, toasts and the end
 * overlay of viewer.html.
 *
 * For automated tests, `window.orielViewer` mirrors the session's state:
 * { state, framesDrawn, lastFrameId, width, height, lastEnd, connectCount }
 * (plus name, policy, rttMs, fps, and `files`, the files panel's status).
 * It never holds the token.
 */

import { api, ApiError, describeError } from './api.js';
import { SharePanel } from './share-panel.js';
import { CAP_WEBP, CAP_PRESENCE, NoticeKind, POLICY_VIEW_ONLY } from './wire.js';
import { Framebuffer, canDecodeWebp } from './render.js';
import { StreamSession } from './stream.js';
import { InputCapture } from './input.js';
import { ClipboardPanel } from './clipboard-panel.js';
import { FilesPanel } from './files-panel.js';

const $ = (id) => document.getElementById(id);
const RESIZE_DEBOUNCE_MS = 300;
const TOAST_MS = 5000;
const MAX_SIDE = 8192;
const MAX_AREA = 7680 * 4320;

const STATE_LABELS = {
  connecting: 'Connecting…',
  preparing: 'Starting your desktop…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  ended: 'Ended',
  error: 'Error',
};

const viewer = {
  state: 'connecting',
  framesDrawn: 0,
  lastFrameId: 0,
  width: 0,
  height: 0,
  lastEnd: null,
  connectCount: 0,
  name: '',
  policy: null,
  rttMs: null,
  fps: 0,
  /** Who watches besides the owner (NOTICE 4), '' when nobody. */
  watchers: '',
  /** This viewer only watches (HELLO's VIEW_ONLY bit, NOTICE 5/6). */
  viewOnly: false,
};
window.orielViewer = viewer;

const canvas = $('screen');
const container = $('screen-container');
const params = new URLSearchParams(window.location.search);
/**
 * How this page watches: `owner` (`?session=<id>`), `share` (a share
 * link's guest: `?share=1#<link>`, the link in the fragment, never sent to
 * a server but to the join API) or `shadow` (an admin:
 * `?session=<id>&watch=view|control`).
 */
const mode = params.has('share') ? 'share' : params.has('watch') ? 'shadow' : 'owner';
const shareLink = mode === 'share' ? window.location.hash.slice(1) : '';
const shadowControl = params.get('watch') === 'control';
let sessionId = mode === 'share' ? null : params.get('session');
viewer.mode = mode;

// -- preferences -------------------------------------------------------------

function loadPref(name, fallback) {
  try {
    const v = window.localStorage.getItem(`oriel.viewer.${name}`);
    return v === null ? fallback : v === 'true';
  } catch {
    return fallback;
  }
}

function savePref(name, value) {
  try {
    window.localStorage.setItem(`oriel.viewer.${name}`, String(value));
  } catch {
    // Private mode: the preference lasts for this page only.
  }
}

const prefs = { fit: loadPref('fit', true), resizeRemote: loadPref('resizeRemote', false) };

// -- small UI pieces -----------------------------------------------------------

let toastTimer = 0;
let toastIsReconnect = false;
function toast(message, isReconnect = false) {
  const node = $('notice');
  node.textContent = message;
  node.hidden = false;
  toastIsReconnect = isReconnect;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, TOAST_MS);
}

function setTitle(name) {
  if (!name) return;
  viewer.name = name;
  $('session-title').textContent = name;
  document.title = `${name} — Oriel`;
}

function showStatus(state, message) {
  viewer.state = state;
  const status = $('status');
  status.dataset.state = state;
  status.textContent = STATE_LABELS[state] || state;
  status.title = message || '';
  const final = state === 'ended' || state === 'error';
  $('end-overlay').hidden = !final;
  if (final) {
    $('end-title').textContent = state === 'ended' ? 'Session ended' : 'Connection error';
    if (message) $('end-message').textContent = message;
    $('reconnect-button').hidden = state !== 'error' || !sessionId;
    $('end-back').focus();
  } else if (state === 'reconnecting' && message) {
    toast(message, true);
  } else if (state === 'connected' && toastIsReconnect) {
    $('notice').hidden = true;
  }
  clipboard.setConnected(state === 'connected');
}

/** Who watches this session besides its owner (NOTICE 4): shown for as long as anyone does. */
function showWatchers(line) {
  viewer.watchers = line;
  const node = $('watchers');
  node.textContent = line ? `Watching this session: ${line}` : '';
  node.hidden = !line;
}

/** A share link's guest or a shadowing admin only watches until handed control. */
function setViewOnly(on) {
  viewer.viewOnly = on;
  $('view-only').hidden = !on;
}

let bellTimer = 0;
function flashBell() {
  container.classList.remove('bell');
  void container.offsetWidth; // restart the animation
  container.classList.add('bell');
  clearTimeout(bellTimer);
  bellTimer = setTimeout(() => container.classList.remove('bell'), 400);
}

function setCursor(msg) {
  if (msg.width === 0 || msg.height === 0 || msg.png.length === 0) {
    canvas.style.cursor = 'none';
    return;
  }
  let binary = '';
  for (let i = 0; i < msg.png.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, msg.png.subarray(i, i + 0x8000));
  }
  const hx = Math.min(msg.hotspotX, msg.width - 1);
  const hy = Math.min(msg.hotspotY, msg.height - 1);
  canvas.style.cursor = `url("data:image/png;base64,${btoa(binary)}") ${hx} ${hy}, auto`;
}

// -- layout ----------------------------------------------------------------------

/** Scales the canvas with CSS: fit (never upscaled) or 1:1, aspect kept. */
function layout() {
  const w = canvas.width;
  const h = canvas.height;
  let scale = 1;
  if (prefs.fit) {
    const cw = container.clientWidth;
    const ch = container.clientHeight;
    if (cw > 0 && ch > 0) scale = Math.min(1, cw / w, ch / h);
  }
  canvas.style.width = `${Math.max(1, Math.floor(w * scale))}px`;
  canvas.style.height = `${Math.max(1, Math.floor(h * scale))}px`;
  container.classList.toggle('fit', prefs.fit);
}

/** The desktop size wished for in "resize remote" mode: the viewport in device pixels. */
function wantedSize() {
  const dpr = window.devicePixelRatio || 1;
  let width = Math.round(container.clientWidth * dpr);
  let height = Math.round(container.clientHeight * dpr);
  if (width * height > MAX_AREA) {
    const k = Math.sqrt(MAX_AREA / (width * height));
    width = Math.floor(width * k);
    height = Math.floor(height * k);
  }
  return {
    width: Math.max(1, Math.min(MAX_SIDE, width)),
    height: Math.max(1, Math.min(MAX_SIDE, height)),
  };
}

function sendResizeNow() {
  if (!prefs.resizeRemote || !stream.ready) return;
  const { width, height } = wantedSize();
  if (width !== canvas.width || height !== canvas.height) stream.sendResize(width, height);
}

let resizeTimer = 0;
function onViewportChange() {
  layout();
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(sendResizeNow, RESIZE_DEBOUNCE_MS);
}

function updateToggles() {
  const fit = $('fit-toggle');
  fit.textContent = prefs.fit ? 'Fit' : '1:1';
  fit.dataset.mode = prefs.fit ? 'fit' : '1:1';
  fit.setAttribute('aria-label', prefs.fit ? 'Scaling: fit to the window' : 'Scaling: 1:1');
  $('resize-toggle').setAttribute('aria-pressed', String(prefs.resizeRemote));
}

// -- the session -------------------------------------------------------------------

const framebuffer = new Framebuffer(canvas);
const clipboard = new ClipboardPanel({ send: (text) => stream.sendClipboard(text), toast });
const files = new FilesPanel({ send: (bytes) => stream.sendInput(bytes), toast, layoutChanged: () => onViewportChange() });
viewer.files = files.status;
let webp = false;
let framesThisSecond = 0;

function backToLogin() {
  if (mode === 'share') {
    // A link for members of some groups: sign in, then open it again.
    stream.markEnded('Sign in first: this share link is only for members of some groups.');
    return;
  }
  window.location.assign('/index.html');
}

/**
 * A token for the session. A container session has none until its agent
 * has started the desktop: the server answers `{state, retry_after_ms}`
 * meanwhile, and this keeps asking (the launch fails on the server if it
 * takes too long, which ends the wait with its reason).
 */
async function waitForToken() {
  if (mode !== 'owner') {
    const grant = mode === 'share' ? await api.joinShare(shareLink) : await api.shadowSession(sessionId, shadowControl);
    sessionId = grant.session_id;
    setTitle(`${grant.workspace_name} — ${grant.owner}`);
    return grant;
  }
  for (;;) {
    const grant = await api.sessionToken(sessionId);
    if (grant && grant.token) return grant;
    if (viewer.state === 'connecting') showStatus('preparing', '');
    const wait = Math.min(Math.max(Number(grant && grant.retry_after_ms) || 250, 100), 2000);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

const stream = new StreamSession({
  framebuffer,
  fetchToken: waitForToken,
  capabilities: () => (webp ? CAP_WEBP : 0) | CAP_PRESENCE,
  viewport: () => (prefs.resizeRemote ? wantedSize() : { width: 0, height: 0 }),
  hooks: {
    state: showStatus,
    connected: (count) => {
      files.reset();
      viewer.connectCount = count;
      input.reset();
    },
    hello: (hello) => {
      viewer.policy = hello.policy;
      viewer.lastFrameId = 0;
      setViewOnly((hello.policy & POLICY_VIEW_ONLY) !== 0);
      showWatchers('');
      if (!viewer.name) setTitle(hello.name);
      clipboard.setPolicy(hello.policy, hello.clipboardMaxBytes);
    },
    resized: (width, height) => {
      viewer.width = width;
      viewer.height = height;
      layout();
      if (document.activeElement === document.body) canvas.focus({ preventScroll: true });
    },
    frame: (frame) => {
      viewer.framesDrawn += 1;
      viewer.lastFrameId = frame.frameId;
      framesThisSecond += 1;
    },
    cursor: setCursor,
    clipboard: (text) => clipboard.showRemote(text),
    bell: flashBell,
    notice: (msg) => {
      if (msg.kind === NoticeKind.WATCHERS) return showWatchers(msg.message);
      if (msg.kind === NoticeKind.CONTROL_GRANTED) setViewOnly(false);
      if (msg.kind === NoticeKind.CONTROL_TAKEN) setViewOnly(true);
      return toast(msg.message);
    },
    file: (msg) => files.onMessage(msg),
    rtt: (ms) => {
      viewer.rttMs = Math.round(ms);
      $('rtt').textContent = `RTT ${viewer.rttMs} ms`;
    },
    end: (info) => {
      viewer.lastEnd = { code: info.code, klass: info.klass, retryable: info.retryable, message: info.message };
      $('end-message').textContent = info.message || 'The session ended.';
    },
    unauthorized: backToLogin,
  },
});

const input = new InputCapture(canvas, {
  key: (down, keysym, scancode) => stream.sendKey(down, keysym, scancode),
  locks: (caps, num, scroll) => stream.sendLocks(caps, num, scroll),
  pointer: (x, y, buttons) => stream.sendPointer(x, y, buttons),
  wheel: (x, y, dx, dy) => stream.sendWheel(x, y, dx, dy),
  paste: () => clipboard.pasteFromLocal(),
});

async function endSession() {
  const button = $('end-session-button');
  button.disabled = true;
  try {
    await api.endSession(sessionId);
    stream.markEnded('You ended the session.');
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      stream.markEnded('The session had already ended.');
    } else if (err instanceof ApiError && err.unauthorized) {
      backToLogin();
    } else {
      button.disabled = false;
      toast(`Could not end the session: ${describeError(err)}`);
    }
  }
}

/** Best effort: the workspace's name for the title (HELLO's desktop name otherwise). */
async function loadSessionName() {
  try {
    const page = await api.listSessions();
    const mine = (page && Array.isArray(page.items) ? page.items : []).find((s) => s.id === sessionId);
    if (mine && mine.workspace_name) setTitle(mine.workspace_name);
  } catch {
    // The title falls back to the desktop name.
  }
}

function wireToolbar() {
  $('fit-toggle').addEventListener('click', () => {
    prefs.fit = !prefs.fit;
    savePref('fit', prefs.fit);
    updateToggles();
    layout();
    canvas.focus({ preventScroll: true });
  });
  $('resize-toggle').addEventListener('click', () => {
    prefs.resizeRemote = !prefs.resizeRemote;
    savePref('resizeRemote', prefs.resizeRemote);
    updateToggles();
    sendResizeNow();
    canvas.focus({ preventScroll: true });
  });
  $('refresh-screen').addEventListener('click', () => {
    stream.sendRefresh();
    canvas.focus({ preventScroll: true });
  });
  $('end-session-button').addEventListener('click', endSession);
  $('reconnect-button').addEventListener('click', () => stream.reconnectNow());
  $('clipboard-panel').addEventListener('toggle', onViewportChange);
  canvas.addEventListener('click', () => canvas.focus({ preventScroll: true }));
  window.addEventListener('resize', onViewportChange);
  if (typeof ResizeObserver === 'function') new ResizeObserver(() => layout()).observe(container);
  window.addEventListener('pagehide', () => stream.close());
  window.addEventListener('pageshow', (event) => {
    // Back from the page cache: the stream was closed on the way out.
    if (event.persisted && sessionId && viewer.state !== 'ended' && viewer.state !== 'error') stream.reconnectNow();
  });
  setInterval(() => {
    viewer.fps = framesThisSecond;
    framesThisSecond = 0;
    $('fps').textContent = `${viewer.fps} fps`;
  }, 1000);
}

async function main() {
  wireToolbar();
  updateToggles();
  layout();
  canvas.focus({ preventScroll: true });
  if (mode === 'share' ? !shareLink : !sessionId) {
    stream.finish('error', mode === 'share'
      ? 'This share link is incomplete: copy the whole address you were given.'
      : 'No session was given. Go back to the workspaces and launch one.');
    return;
  }
  if (mode === 'owner') {
    setTitle(`Session ${sessionId}`);
    viewer.name = '';
    loadSessionName();
    new SharePanel({ sessionId, toast, layoutChanged: () => onViewportChange() }).start();
  } else {
    // Watchers neither end the session nor share it.
    $('end-session-button').hidden = true;
    if (mode === 'share') $('back-button').hidden = true;
  }
  webp = await Promise.race([canDecodeWebp(), new Promise((r) => setTimeout(() => r(false), 1000))]);
  stream.start();
}

main();
