/**
 * Input capture on the viewer's canvas: keyboard (through keyboard.js),
 * pointer (one POINTER per animation frame while moving), buttons and wheel,
 * translated into desktop coordinates through the canvas's CSS scaling.
 *
 * Events go to a `sink` with methods key(down, keysym, scancode),
 * pointer(x, y, buttons), wheel(x, y, dx, dy), optional locks(caps, num,
 * scroll) (the lock keys' state, on focus and on change), and optional paste(), which
 * returns a promise settled once the local clipboard was sent (Ctrl/Cmd+V).
 * Key events are serialised behind that promise so that order is kept.
 */

import { KeyTracker } from './keyboard.js';

const WHEEL_UNITS_PER_NOTCH = 120;
const WHEEL_UNITS_PER_PIXEL = 1.2; // 100 px ≈ one notch
const WHEEL_UNITS_PER_PAGE = 3 * WHEEL_UNITS_PER_NOTCH;
const PASTE_WAIT_MS = 1500;
const IS_MAC = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent || '');

/** DOM `buttons` (bit 1 right, bit 2 middle) → protocol (bit 1 middle, bit 2 right). */
export function protocolButtons(domButtons) {
  return (domButtons & 0b11001) | ((domButtons & 0b00010) << 1) | ((domButtons & 0b00100) >> 1);
}

/** Wheel delta accumulator: 120 units per notch, integer output, remainder kept. */
export class WheelAccumulator {
  constructor() {
    this.x = 0;
    this.y = 0;
  }

  /** Adds a WheelEvent's deltas; returns whole units `{dx, dy}` to send now. */
  add(deltaX, deltaY, deltaMode) {
    const scale = deltaMode === 1 ? WHEEL_UNITS_PER_NOTCH
      : deltaMode === 2 ? WHEEL_UNITS_PER_PAGE : WHEEL_UNITS_PER_PIXEL;
    this.x += deltaX * scale;
    this.y += deltaY * scale;
    const dx = Math.trunc(this.x);
    const dy = Math.trunc(this.y);
    this.x -= dx;
    this.y -= dy;
    return { dx, dy };
  }

  reset() {
    this.x = 0;
    this.y = 0;
  }
}

function clampI16(v) {
  return Math.max(-32768, Math.min(32767, v));
}

export class InputCapture {
  /**
   * @param {HTMLCanvasElement} canvas focusable canvas showing the desktop
   * @param {object} sink see the module comment
   */
  constructor(canvas, sink) {
    this.canvas = canvas;
    this.sink = sink;
    this.keys = new KeyTracker();
    this.wheel = new WheelAccumulator();
    this.buttons = 0;
    this.position = null;
    this.pendingMove = null;
    this.moveFrame = 0;
    this.keyChain = Promise.resolve();
    this.attach();
  }

  attach() {
    const c = this.canvas;
    c.addEventListener('keydown', (e) => this.onKey(e, true));
    c.addEventListener('keyup', (e) => this.onKey(e, false));
    c.addEventListener('blur', () => this.releaseAll());
    c.addEventListener('focus', () => this.keys.focus());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') this.releaseAll();
    });
    window.addEventListener('blur', () => this.releaseAll());
    c.addEventListener('pointerdown', (e) => this.onButton(e, true));
    c.addEventListener('pointerup', (e) => this.onButton(e, false));
    c.addEventListener('pointercancel', (e) => this.onButton(e, false));
    c.addEventListener('pointermove', (e) => this.onMove(e));
    c.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    c.addEventListener('contextmenu', (e) => e.preventDefault());
    // Back/forward buttons would navigate the page away.
    c.addEventListener('mouseup', (e) => { if (e.button > 2) e.preventDefault(); });
    c.addEventListener('auxclick', (e) => e.preventDefault());
  }

  /** Desktop coordinates of a mouse event, clamped to the desktop. */
  toDesktop(event) {
    const rect = this.canvas.getBoundingClientRect();
    const w = this.canvas.width;
    const h = this.canvas.height;
    const sx = rect.width > 0 ? w / rect.width : 1;
    const sy = rect.height > 0 ? h / rect.height : 1;
    const x = Math.floor((event.clientX - rect.left) * sx);
    const y = Math.floor((event.clientY - rect.top) * sy);
    return {
      x: Math.max(0, Math.min(w - 1, x)),
      y: Math.max(0, Math.min(h - 1, y)),
    };
  }

  // -- keyboard -------------------------------------------------------------

  onKey(event, down) {
    if (event.isComposing || event.keyCode === 229) return;
    const messages = down ? this.keys.press(event) : this.keys.release(event);
    if (messages.length === 0) return;
    event.preventDefault();
    const isPaste = down && !event.repeat && (event.ctrlKey || event.metaKey) && !event.altKey
      && (event.code === 'KeyV' || event.key === 'v' || event.key === 'V');
    if (isPaste && this.sink.paste) {
      const pasted = this.sink.paste();
      if (pasted) {
        const timeout = new Promise((resolve) => setTimeout(resolve, PASTE_WAIT_MS));
        this.keyChain = this.keyChain.then(() => Promise.race([pasted, timeout])).catch(() => {});
      }
    }
    this.queueKeys(messages);
    // macOS sends no keyup for keys released while Cmd is held: release them with Cmd.
    if (!down && IS_MAC && event.key === 'Meta') this.releaseAll(false);
  }

  /** Sends KEY messages in order, after any pending paste. */
  queueKeys(messages) {
    this.keyChain = this.keyChain.then(() => {
      for (const m of messages) {
        if (m.locks) this.sink.locks?.(m.locks.caps, m.locks.num, m.locks.scroll);
        else this.sink.key(m.down, m.keysym, m.scancode);
      }
    }).catch(() => {});
  }

  /** Releases every held key and, unless `buttons` is false, button (no stuck keys after focus loss). */
  releaseAll(buttons = true) {
    const messages = this.keys.releaseAll();
    if (messages.length > 0) this.queueKeys(messages);
    if (buttons && this.buttons !== 0 && this.position) {
      this.buttons = 0;
      this.sink.pointer(this.position.x, this.position.y, 0);
    }
  }

  /** Forgets held keys and buttons without sending (a new stream began). */
  reset() {
    this.keys.reset();
    this.buttons = 0;
    this.wheel.reset();
  }

  // -- pointer --------------------------------------------------------------

  onMove(event) {
    // A chorded button change arrives as a pointermove with `button` set: send it now.
    if (event.button !== undefined && event.button !== -1) {
      this.onButton(event, false);
      return;
    }
    this.pendingMove = this.toDesktop(event);
    this.buttons = protocolButtons(event.buttons);
    if (!this.moveFrame) this.moveFrame = requestAnimationFrame(() => this.flushMove());
  }

  flushMove() {
    this.moveFrame = 0;
    const at = this.pendingMove;
    this.pendingMove = null;
    if (!at) return;
    this.position = at;
    this.sink.pointer(at.x, at.y, this.buttons);
  }

  onButton(event, down) {
    event.preventDefault();
    if (down) {
      this.canvas.focus({ preventScroll: true });
      try {
        this.canvas.setPointerCapture(event.pointerId);
      } catch {
        // Capture is a nicety (drags leaving the canvas).
      }
    }
    this.pendingMove = null;
    if (this.moveFrame) {
      cancelAnimationFrame(this.moveFrame);
      this.moveFrame = 0;
    }
    const at = this.toDesktop(event);
    this.position = at;
    this.buttons = protocolButtons(event.buttons);
    if (down) this.queueKeys(this.keys.syncLocks(event));
    this.sink.pointer(at.x, at.y, this.buttons);
  }

  onWheel(event) {
    event.preventDefault();
    const at = this.toDesktop(event);
    let { dx, dy } = this.wheel.add(event.deltaX, event.deltaY, event.deltaMode);
    while (dx !== 0 || dy !== 0) {
      const sx = clampI16(dx);
      const sy = clampI16(dy);
      this.sink.wheel(at.x, at.y, sx, sy);
      dx -= sx;
      dy -= sy;
    }
  }
}
