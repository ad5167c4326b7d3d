/**
 * One viewer's stream session over WebSocket (docs/protocol.md §1, §4, §5):
 * token, HELLO, frames drawn strictly in order and acknowledged, PING/PONG,
 * END, and reconnection with a fresh token and exponential backoff.
 *
 * The session owns the protocol; the page owns the UI. It reports through
 * the `hooks` given to the constructor (all optional):
 *   state(state, message)   'connecting' | 'connected' | 'reconnecting' | 'ended' | 'error'
 *   hello(hello)            the gateway's HELLO (desktop size, policy, name)
 *   connected(count)        a WebSocket opened (count of opens so far)
 *   frame(frame)            a frame was drawn and acknowledged
 *   resized(width, height)  the framebuffer changed size
 *   cursor(msg) clipboard(text) bell() notice(msg) rtt(ms)
 *   file(msg)               a file transfer message (§2.3: files, file_listing, ...)
 *   end(info)               {code, klass, retryable, message}: END, or an
 *                           equivalent for a close without END or a client error
 *   unauthorized()          the control plane answered 401 (login expired)
 * The token of a connection the gateway admitted is kept in memory (never
 * stored) for one purpose: when the control plane cannot be reached (a
 * network error or a 5xx) a reconnection presents it again — the gateway
 * admits it only from this address, within its reconnection window and a
 * bounded number of times (docs/protocol.md §5) — so a viewer comes back
 * while the control plane is away. A refusal of it forgets it.
 */

import {
  SUBPROTOCOL, CLOSE_CODES, CAP_ALL, VERSION, ErrorClass,
  decodeServerMessage, encodeHello, encodeAck, encodePing, encodeKey, encodeLocks, encodePointer,
  encodeWheel, encodeClipboard, encodeResize, encodeRefresh,
} from './wire.js';
import { closeBitmaps } from './render.js';

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 8000;
const GIVE_UP_AFTER_MS = 60000;
/** How long after its first use a held token is tried again (the gateway's window decides). */
const HELD_TOKEN_MS = 5 * 60000;
const PING_INTERVAL_MS = 5000;
const CLOSE_WAIT_MS = 5000;
const CLIENT_ERROR_CODE = 4008;

/** The WebSocket URL for a `stream_url` that may be relative or http(s). */
export function webSocketUrl(streamUrl, base) {
  const url = new URL(streamUrl, base);
  if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol !== 'wss:' && url.protocol !== 'ws:') throw new Error(`unusable stream URL scheme ${url.protocol}`);
  return url.href;
}

export class StreamSession {
  /**
   * @param {object} opts
   * @param {() => Promise<{token: string, stream_url: string}>} opts.fetchToken
   * @param {import('./render.js').Framebuffer} opts.framebuffer
   * @param {() => number} [opts.capabilities] capability bits to offer
   * @param {() => {width: number, height: number}} [opts.viewport] HELLO viewport wish
   * @param {object} [opts.hooks]
   */
  constructor({ fetchToken, framebuffer, capabilities, viewport, hooks }) {
    this.fetchToken = fetchToken;
    this.framebuffer = framebuffer;
    this.capabilities = capabilities || (() => 0);
    this.viewport = viewport || (() => ({ width: 0, height: 0 }));
    this.hooks = hooks || {};
    this.state = 'connecting';
    this.stopped = false;
    this.conn = null;
    this.attemptId = 0;
    this.connectCount = 0;
    this.retry = null;
    this.retryTimer = 0;
    this.pingTimer = 0;
    this.pingNonce = 0;
    this.pings = new Map();
    this.queue = Promise.resolve();
    /** The admitted token, for reconnecting while the control plane is away. */
    this.held = null;
  }

  emit(name, ...args) {
    const hook = this.hooks[name];
    if (hook) hook(...args);
  }

  setState(state, message = '') {
    this.state = state;
    this.emit('state', state, message);
  }

  /** The gateway said HELLO on the current socket, which is open. */
  get ready() {
    return Boolean(this.conn && this.conn.hello && this.conn.ws.readyState === WebSocket.OPEN);
  }

  /** The gateway's HELLO of the current connection, or null. */
  get hello() {
    return this.conn ? this.conn.hello : null;
  }

  start() {
    this.setState('connecting', 'Connecting…');
    this.connect();
  }

  async connect() {
    if (this.stopped) return;
    const attempt = ++this.attemptId;
    let grant;
    try {
      grant = await this.fetchToken();
    } catch (err) {
      if (attempt !== this.attemptId || this.stopped) return;
      grant = this.heldGrant(err);
      if (!grant) {
        this.tokenFailed(err);
        return;
      }
    }
    if (attempt !== this.attemptId || this.stopped) return;
    let ws;
    try {
      ws = new WebSocket(webSocketUrl(grant.stream_url, window.location.href), [SUBPROTOCOL]);
    } catch (err) {
      this.finish('error', `Cannot open the stream: ${err.message}`);
      return;
    }
    ws.binaryType = 'arraybuffer';
    const conn = { ws, hello: null, end: null, closeTimer: 0 };
    const helloBytes = this.buildHello(grant.token, conn);
    conn.grant = { token: grant.token, stream_url: grant.stream_url, since: grant.since || 0 };
    grant = null;
    this.conn = conn;
    this.queue = Promise.resolve();
    ws.addEventListener('open', () => {
      if (conn !== this.conn) return;
      this.connectCount += 1;
      this.emit('connected', this.connectCount);
      if (helloBytes) ws.send(helloBytes);
    });
    ws.addEventListener('message', (event) => this.onMessage(conn, event.data));
    ws.addEventListener('close', (event) => this.onClose(conn, event));
  }

  buildHello(token, conn) {
    try {
      const viewport = this.viewport();
      conn.offered = this.capabilities() & CAP_ALL;
      return encodeHello({
        version: VERSION,
        capabilities: conn.offered,
        viewportWidth: viewport.width,
        viewportHeight: viewport.height,
        token,
      });
    } catch (err) {
      queueMicrotask(() => this.clientError(conn, `cannot say hello: ${err.message}`));
      return null;
    }
  }

  /**
   * The held token, when the control plane is away (no answer, or 5xx) and
   * the token was first admitted recently; else null.
   */
  heldGrant(err) {
    // No answer at all (the API client says status 0) or a 5xx.
    const status = err && typeof err.status === 'number' ? err.status : 0;
    const away = status <= 0 || status >= 500;
    if (!away || !this.held || Date.now() - this.held.since > HELD_TOKEN_MS) return null;
    return { ...this.held };
  }

  tokenFailed(err) {
    const status = err && typeof err.status === 'number' ? err.status : -1;
    const message = err && err.message ? err.message : String(err);
    if (status === 401) {
      this.finish('error', 'Your login has expired.');
      this.emit('unauthorized');
    } else if ([403, 404, 409, 410].includes(status)) {
      this.emit('end', { code: 0, klass: ErrorClass.POLICY, retryable: false, message });
      this.finish('ended', message);
    } else {
      this.retryLater(`Cannot get a stream token: ${message}`);
    }
  }

  /** Sends one encoded message if the socket is open; returns whether it was sent. */
  send(bytes) {
    const conn = this.conn;
    if (!conn || conn.ws.readyState !== WebSocket.OPEN) return false;
    conn.ws.send(bytes);
    return true;
  }

  /** Sends input only once the gateway has said HELLO (it ignores nothing else). */
  sendInput(bytes) {
    return this.ready ? this.send(bytes) : false;
  }

  sendKey(down, keysym, scancode) { return this.sendInput(encodeKey(down, keysym, scancode)); }
  sendLocks(caps, num, scroll) { return this.sendInput(encodeLocks(caps, num, scroll)); }
  sendPointer(x, y, buttons) { return this.sendInput(encodePointer(x, y, buttons)); }
  sendWheel(x, y, dx, dy) { return this.sendInput(encodeWheel(x, y, dx, dy)); }
  sendClipboard(text) { return this.sendInput(encodeClipboard(text)); }
  sendResize(width, height) { return this.sendInput(encodeResize(width, height)); }
  sendRefresh() { return this.sendInput(encodeRefresh()); }

  onMessage(conn, data) {
    if (conn !== this.conn) return;
    if (typeof data === 'string') {
      this.clientError(conn, 'the gateway sent a text message');
      return;
    }
    let msg;
    try {
      msg = decodeServerMessage(data);
    } catch (err) {
      this.clientError(conn, `malformed message from the gateway: ${err.message}`);
      return;
    }
    if (!conn.hello && (msg.type === 'frame' || msg.type === 'desktop_size')) {
      this.clientError(conn, `the gateway sent ${msg.type} before HELLO`);
      return;
    }
    switch (msg.type) {
      case 'hello': this.onHello(conn, msg); break;
      case 'frame': this.onFrame(conn, msg); break;
      case 'desktop_size':
        this.enqueue(conn, () => {
          this.framebuffer.reset(msg.width, msg.height);
          this.emit('resized', msg.width, msg.height);
        });
        break;
      case 'cursor': this.emit('cursor', msg); break;
      case 'clipboard': this.emit('clipboard', msg.text); break;
      case 'bell': this.emit('bell'); break;
      case 'notice': this.emit('notice', msg); break;
      case 'pong': this.onPong(msg.nonce); break;
      case 'end': this.onEnd(conn, msg); break;
      case 'files': case 'file_listing': case 'file_start': case 'file_data':
      case 'file_progress': case 'file_done': case 'file_error':
        this.emit('file', msg);
        break;
      default: break;
    }
  }

  onHello(conn, hello) {
    if (conn.hello) {
      this.clientError(conn, 'the gateway said HELLO twice');
      return;
    }
    if (hello.version !== VERSION) {
      this.clientError(conn, `the gateway speaks protocol version ${hello.version}, this viewer ${VERSION}`);
      return;
    }
    if ((hello.capabilities & ~conn.offered) !== 0) {
      this.clientError(conn, `the gateway chose capabilities 0x${hello.capabilities.toString(16)} that were not offered`);
      return;
    }
    conn.hello = hello;
    this.retry = null;
    // Admitted: held for reconnecting while the control plane is away, since
    // its first admission.
    if (!this.held || this.held.token !== conn.grant.token) {
      this.held = { token: conn.grant.token, stream_url: conn.grant.stream_url, since: Date.now() };
    }
    conn.grant = null;
    this.enqueue(conn, () => {
      this.framebuffer.reset(hello.width, hello.height);
      this.emit('resized', hello.width, hello.height);
    });
    this.emit('hello', hello);
    if (!this.stopped) this.setState('connected', `Connected to ${hello.name || 'the remote system'}`);
    this.startPings();
  }

  /** Decodes the frame's images now, draws it after the frames before it, then ACKs it. */
  onFrame(conn, frame) {
    const decoded = this.framebuffer.decodeImages(frame);
    this.queue = this.queue.then(async () => {
      const bitmaps = await decoded;
      if (conn !== this.conn) {
        closeBitmaps(bitmaps);
        return;
      }
      this.framebuffer.draw(frame, bitmaps);
      this.send(encodeAck(frame.frameId));
      this.emit('frame', frame);
    }).catch((err) => this.clientError(conn, err.message));
  }

  /** Runs `job` after every frame received before it, if `conn` is still current. */
  enqueue(conn, job) {
    this.queue = this.queue.then(() => {
      if (conn === this.conn) job();
    }).catch((err) => this.clientError(conn, err.message));
  }

  onEnd(conn, end) {
    conn.end = end;
    this.stopPings();
    this.emit('end', { code: end.code, klass: end.klass, retryable: end.retryable, message: end.message });
    // END is the last message; the gateway closes next. Do not wait forever.
    conn.closeTimer = setTimeout(() => conn.ws.close(), CLOSE_WAIT_MS);
  }

  onClose(conn, event) {
    clearTimeout(conn.closeTimer);
    if (conn !== this.conn) return;
    this.conn = null;
    this.stopPings();
    if (this.stopped) return;
    const end = conn.end;
    // A refused token (invalid, expired or its window passed, not to be
    // used here) is not presented again.
    const refused = end ? end.code : event.code;
    if (refused >= 4001 && refused <= 4003) this.held = null;
    if (end) {
      const message = end.message || (CLOSE_CODES[end.code] || {}).message || `The stream ended (code ${end.code}).`;
      if (end.retryable) this.retryLater(message);
      else this.finish(endState(end), message);
      return;
    }
    const known = CLOSE_CODES[event.code];
    if (known) {
      const message = event.reason || known.message;
      if (known.retryable) {
        this.retryLater(message);
      } else {
        const info = { code: event.code, klass: known.klass, retryable: false, message };
        this.emit('end', info);
        this.finish(endState(info), message);
      }
      return;
    }
    this.retryLater(conn.hello ? 'The connection to the gateway was lost.' : 'Cannot connect to the gateway.');
  }

  retryLater(reason) {
    if (this.stopped) return;
    const now = Date.now();
    if (!this.retry) this.retry = { attempt: 0, since: now };
    if (now - this.retry.since >= GIVE_UP_AFTER_MS) {
      this.finish('error', `${reason} Gave up reconnecting.`);
      return;
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.retry.attempt);
    this.retry.attempt += 1;
    this.setState('reconnecting', `${reason} Reconnecting in ${Math.round(delay / 100) / 10} s…`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Reconnects at once (the user asked), after a final state or during backoff. */
  reconnectNow() {
    this.stopped = false;
    this.retry = null;
    clearTimeout(this.retryTimer);
    if (this.conn) return;
    this.setState('reconnecting', 'Reconnecting…');
    this.connect();
  }

  /** A client-side failure: close with 4008 and stop for good. */
  clientError(conn, message) {
    if (conn !== this.conn) return;
    this.conn = null;
    this.stopPings();
    clearTimeout(conn.closeTimer);
    try {
      conn.ws.close(CLIENT_ERROR_CODE, 'viewer error');
    } catch {
      // Already closed.
    }
    const info = { code: CLIENT_ERROR_CODE, klass: ErrorClass.CLIENT, retryable: false, message: `Viewer error: ${message}` };
    this.emit('end', info);
    this.finish('error', info.message);
  }

  /** Enters a final state: no more reconnects. */
  finish(state, message) {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.setState(state, message);
  }

  /**
   * Stops for good without closing the socket at once: used after the user
   * ended the session, so that the gateway's END 4000 can still arrive.
   */
  markEnded(message) {
    if (this.state === 'ended') return; // the gateway's END already told the user
    const conn = this.conn;
    this.finish('ended', message);
    if (conn) conn.closeTimer = setTimeout(() => conn.ws.close(), CLOSE_WAIT_MS);
  }

  /** Closes the stream (page unload). */
  close() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopPings();
    const conn = this.conn;
    this.conn = null;
    if (conn) conn.ws.close(1000, 'viewer closed');
  }

  startPings() {
    this.stopPings();
    const ping = () => {
      this.pingNonce = (this.pingNonce + 1) >>> 0;
      this.pings.set(this.pingNonce, performance.now());
      if (this.pings.size > 16) this.pings.delete(this.pings.keys().next().value);
      this.send(encodePing(this.pingNonce));
    };
    ping();
    this.pingTimer = setInterval(ping, PING_INTERVAL_MS);
  }

  stopPings() {
    clearInterval(this.pingTimer);
    this.pingTimer = 0;
    this.pings.clear();
  }

  onPong(nonce) {
    const sent = this.pings.get(nonce);
    if (sent === undefined) return;
    this.pings.delete(nonce);
    this.emit('rtt', performance.now() - sent);
  }
}

/** Final state for a non-retryable END: `ended` for policy and normal endings, else `error`. */
export function endState(end) {
  return end.klass === ErrorClass.POLICY || end.code === 1000 ? 'ended' : 'error';
}
