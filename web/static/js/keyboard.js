/**
 * Keyboard translation: DOM KeyboardEvent → X11 keysym (what the user's
 * layout produced, from `event.key`) and PC/AT scan code set 1 (the physical
 * key, from `event.code`, `0xE0xx` for extended keys), as the KEY message of
 * the stream protocol wants them (docs/protocol.md §2.1).
 *
 * `KeyTracker` remembers what was sent at key-down per physical key so that
 * the key-up carries the same keysym, and releases everything on blur. It
 * also keeps the remote's lock keys (Caps, Num, Scroll Lock) equal to the
 * local keyboard's: after the viewer gains focus, and whenever an event shows
 * a lock state other than the one last sent, it emits a LOCKS message
 * (`{ locks: { caps, num, scroll } }`) before the key (docs/protocol.md §2.1).
 * No DOM access besides reading event fields.
 */

/** Named keys (`event.key`) to keysyms (X11 keysymdef.h). */
const NAMED_KEYSYMS = {
  Backspace: 0xff08, Tab: 0xff09, Clear: 0xff0b, Enter: 0xff0d, Pause: 0xff13,
  ScrollLock: 0xff14, Escape: 0xff1b, Delete: 0xffff, Insert: 0xff63,
  Home: 0xff50, ArrowLeft: 0xff51, ArrowUp: 0xff52, ArrowRight: 0xff53, ArrowDown: 0xff54,
  PageUp: 0xff55, PageDown: 0xff56, End: 0xff57,
  PrintScreen: 0xff61, Execute: 0xff62, Undo: 0xff65, Redo: 0xff66, ContextMenu: 0xff67,
  Find: 0xff68, Cancel: 0xff69, Help: 0xff6a, Break: 0xff6b, NumLock: 0xff7f,
  Shift: 0xffe1, Control: 0xffe3, CapsLock: 0xffe5, Meta: 0xffeb, OS: 0xffeb,
  Alt: 0xffe9, Super: 0xffeb, Hyper: 0xffed, AltGraph: 0xfe03, Compose: 0xff20,
  KanaMode: 0xff2d, Convert: 0xff23, NonConvert: 0xff22, HiraganaKatakana: 0xff27,
  Hankaku: 0xff29, Zenkaku: 0xff28, ZenkakuHankaku: 0xff2a, Eisu: 0xff2f,
  AudioVolumeDown: 0x1008ff11, AudioVolumeMute: 0x1008ff12, AudioVolumeUp: 0x1008ff13,
  MediaPlayPause: 0x1008ff14, MediaStop: 0x1008ff15, MediaTrackPrevious: 0x1008ff16,
  MediaTrackNext: 0x1008ff17, BrowserHome: 0x1008ff18, LaunchMail: 0x1008ff19,
  BrowserSearch: 0x1008ff1b, BrowserBack: 0x1008ff26, BrowserForward: 0x1008ff27,
  BrowserRefresh: 0x1008ff29, BrowserFavorites: 0x1008ff30, Sleep: 0x1008ff2f,
  PowerOff: 0x1008ff2a, WakeUp: 0x1008ff2b,
};
// F1–F35: 0xffbe + n - 1.
for (let n = 1; n <= 35; n += 1) NAMED_KEYSYMS[`F${n}`] = 0xffbe + n - 1;

/** Left/right modifiers by `event.code`, used when `event.key` names a modifier. */
const MODIFIER_KEYSYMS = {
  ShiftLeft: 0xffe1, ShiftRight: 0xffe2, ControlLeft: 0xffe3, ControlRight: 0xffe4,
  AltLeft: 0xffe9, AltRight: 0xffea, MetaLeft: 0xffeb, MetaRight: 0xffec,
  OSLeft: 0xffeb, OSRight: 0xffec,
};
const MODIFIER_KEYS = new Set(['Shift', 'Control', 'Alt', 'Meta', 'OS', 'Super', 'Hyper']);

/** Keypad keysyms by `event.key` when the key is on the numeric keypad. */
const KEYPAD_KEYSYMS = {
  0: 0xffb0, 1: 0xffb1, 2: 0xffb2, 3: 0xffb3, 4: 0xffb4, 5: 0xffb5, 6: 0xffb6, 7: 0xffb7,
  8: 0xffb8, 9: 0xffb9, '*': 0xffaa, '+': 0xffab, ',': 0xffac, '-': 0xffad, '.': 0xffae,
  '/': 0xffaf, '=': 0xffbd, Enter: 0xff8d, Home: 0xff95, ArrowLeft: 0xff96, ArrowUp: 0xff97,
  ArrowRight: 0xff98, ArrowDown: 0xff99, PageUp: 0xff9a, PageDown: 0xff9b, End: 0xff9c,
  Clear: 0xff9d, Insert: 0xff9e, Delete: 0xff9f, Decimal: 0xffae, Separator: 0xffac,
};

/**
 * Physical keys: `event.code` → [set-1 scan code, US-layout character or null].
 * The character is the fallback keysym when `event.key` tells nothing
 * ("Unidentified").
 */
const CODES = {
  Escape: [0x01, null], Digit1: [0x02, '1'], Digit2: [0x03, '2'], Digit3: [0x04, '3'],
  Digit4: [0x05, '4'], Digit5: [0x06, '5'], Digit6: [0x07, '6'], Digit7: [0x08, '7'],
  Digit8: [0x09, '8'], Digit9: [0x0a, '9'], Digit0: [0x0b, '0'], Minus: [0x0c, '-'],
  Equal: [0x0d, '='], Backspace: [0x0e, null], Tab: [0x0f, null],
  KeyQ: [0x10, 'q'], KeyW: [0x11, 'w'], KeyE: [0x12, 'e'], KeyR: [0x13, 'r'], KeyT: [0x14, 't'],
  KeyY: [0x15, 'y'], KeyU: [0x16, 'u'], KeyI: [0x17, 'i'], KeyO: [0x18, 'o'], KeyP: [0x19, 'p'],
  BracketLeft: [0x1a, '['], BracketRight: [0x1b, ']'], Enter: [0x1c, null], ControlLeft: [0x1d, null],
  KeyA: [0x1e, 'a'], KeyS: [0x1f, 's'], KeyD: [0x20, 'd'], KeyF: [0x21, 'f'], KeyG: [0x22, 'g'],
  KeyH: [0x23, 'h'], KeyJ: [0x24, 'j'], KeyK: [0x25, 'k'], KeyL: [0x26, 'l'],
  Semicolon: [0x27, ';'], Quote: [0x28, "'"], Backquote: [0x29, '`'], ShiftLeft: [0x2a, null],
  Backslash: [0x2b, '\\'], KeyZ: [0x2c, 'z'], KeyX: [0x2d, 'x'], KeyC: [0x2e, 'c'],
  KeyV: [0x2f, 'v'], KeyB: [0x30, 'b'], KeyN: [0x31, 'n'], KeyM: [0x32, 'm'],
  Comma: [0x33, ','], Period: [0x34, '.'], Slash: [0x35, '/'], ShiftRight: [0x36, null],
  NumpadMultiply: [0x37, null], AltLeft: [0x38, null], Space: [0x39, ' '], CapsLock: [0x3a, null],
  F1: [0x3b, null], F2: [0x3c, null], F3: [0x3d, null], F4: [0x3e, null], F5: [0x3f, null],
  F6: [0x40, null], F7: [0x41, null], F8: [0x42, null], F9: [0x43, null], F10: [0x44, null],
  NumLock: [0x45, null], ScrollLock: [0x46, null],
  Numpad7: [0x47, null], Numpad8: [0x48, null], Numpad9: [0x49, null], NumpadSubtract: [0x4a, null],
  Numpad4: [0x4b, null], Numpad5: [0x4c, null], Numpad6: [0x4d, null], NumpadAdd: [0x4e, null],
  Numpad1: [0x4f, null], Numpad2: [0x50, null], Numpad3: [0x51, null], Numpad0: [0x52, null],
  NumpadDecimal: [0x53, null], IntlBackslash: [0x56, null], F11: [0x57, null], F12: [0x58, null],
  NumpadEqual: [0x59, null], F13: [0x64, null], F14: [0x65, null], F15: [0x66, null],
  F16: [0x67, null], F17: [0x68, null], F18: [0x69, null], F19: [0x6a, null], F20: [0x6b, null],
  F21: [0x6c, null], F22: [0x6d, null], F23: [0x6e, null], KanaMode: [0x70, null],
  Lang2: [0x71, null], Lang1: [0x72, null], IntlRo: [0x73, null], F24: [0x76, null],
  Convert: [0x79, null], NonConvert: [0x7b, null], IntlYen: [0x7d, null], NumpadComma: [0x7e, null],
  // Extended keys (0xE0 prefix).
  MediaTrackPrevious: [0xe010, null], MediaTrackNext: [0xe019, null], NumpadEnter: [0xe01c, null],
  ControlRight: [0xe01d, null], AudioVolumeMute: [0xe020, null], LaunchApp2: [0xe021, null],
  MediaPlayPause: [0xe022, null], MediaStop: [0xe024, null], AudioVolumeDown: [0xe02e, null],
  AudioVolumeUp: [0xe030, null], BrowserHome: [0xe032, null], NumpadDivide: [0xe035, null],
  PrintScreen: [0xe037, null], AltRight: [0xe038, null], Pause: [0xe046, null],
  Home: [0xe047, null], ArrowUp: [0xe048, null], PageUp: [0xe049, null], ArrowLeft: [0xe04b, null],
  ArrowRight: [0xe04d, null], End: [0xe04f, null], ArrowDown: [0xe050, null],
  PageDown: [0xe051, null], Insert: [0xe052, null], Delete: [0xe053, null],
  MetaLeft: [0xe05b, null], MetaRight: [0xe05c, null], OSLeft: [0xe05b, null], OSRight: [0xe05c, null],
  ContextMenu: [0xe05d, null], Power: [0xe05e, null], Sleep: [0xe05f, null], WakeUp: [0xe063, null],
  BrowserSearch: [0xe065, null], BrowserFavorites: [0xe066, null], BrowserRefresh: [0xe067, null],
  BrowserStop: [0xe068, null], BrowserForward: [0xe069, null], BrowserBack: [0xe06a, null],
  LaunchApp1: [0xe06b, null], LaunchMail: [0xe06c, null], MediaSelect: [0xe06d, null],
};

/** Keysym of one Unicode code point (X11: Latin-1 maps to itself, the rest to 0x01000000 + cp). */
export function keysymForCodePoint(cp) {
  if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff)) return cp;
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return null; // control characters
  return 0x01000000 + cp;
}

/** PC/AT set-1 scan code of a physical key (`event.code`), 0 if unknown. */
export function scancodeForCode(code) {
  const entry = CODES[code];
  return entry ? entry[0] : 0;
}

function isKeypad(event) {
  return event.location === 3 || (typeof event.code === 'string' && event.code.startsWith('Numpad'));
}

/**
 * The keysym for a KeyboardEvent, or null when the event should not be sent
 * (dead keys, IME processing, unknown keys).
 */
export function keysymForEvent(event) {
  const key = event.key ?? '';
  const code = event.code ?? '';
  if (key === 'AltGraph') return 0xfe03;
  if (MODIFIER_KEYS.has(key)) return MODIFIER_KEYSYMS[code] ?? NAMED_KEYSYMS[key];
  if (isKeypad(event) && KEYPAD_KEYSYMS[key] !== undefined) return KEYPAD_KEYSYMS[key];
  if (NAMED_KEYSYMS[key] !== undefined) return NAMED_KEYSYMS[key];
  if (key === 'Dead' || key === 'Process') return null;
  const chars = [...key];
  if (chars.length === 1) return keysymForCodePoint(chars[0].codePointAt(0));
  // "Unidentified" or an unknown name: fall back to the physical key.
  if (MODIFIER_KEYSYMS[code] !== undefined) return MODIFIER_KEYSYMS[code];
  if (NAMED_KEYSYMS[code] !== undefined) return NAMED_KEYSYMS[code];
  const entry = CODES[code];
  if (entry && entry[1] !== null) return keysymForCodePoint(entry[1].codePointAt(0));
  return null;
}

/** Physical keys whose own events say nothing reliable about the lock state. */
const LOCK_KEY_CODES = new Set(['CapsLock', 'NumLock', 'ScrollLock']);

/**
 * The lock keys' state an event (keyboard or mouse) reports as
 * `{ caps, num, scroll }`, or null when the event cannot tell.
 */
export function locksOfEvent(event) {
  if (!event || typeof event.getModifierState !== 'function') return null;
  return {
    caps: event.getModifierState('CapsLock') === true,
    num: event.getModifierState('NumLock') === true,
    scroll: event.getModifierState('ScrollLock') === true,
  };
}

/**
 * Tracks pressed keys so that key-ups match key-downs and nothing stays
 * stuck. Methods return the messages to send, in order: KEY messages as
 * `{ down, keysym, scancode }` objects and LOCKS messages as
 * `{ locks: { caps, num, scroll } }` (an empty array when nothing is sent).
 */
export class KeyTracker {
  constructor() {
    /** Physical key id → { keysym, scancode } sent at key-down. */
    this.down = new Map();
    /** The lock state last sent, or null: send it with the next event. */
    this.locks = null;
  }

  /**
   * The viewer gained focus: the lock keys may have been toggled elsewhere,
   * so the next event's lock state is sent whatever it is.
   */
  focus() {
    this.locks = null;
  }

  /**
   * A LOCKS message when `event` (a keydown, or a pointer event) shows a lock
   * state other than the one last sent; `[]` otherwise. The lock keys' own
   * events are skipped (browsers disagree on whether they report the state
   * before or after the toggle): the key itself toggles the remote, and the
   * next event confirms the state.
   */
  syncLocks(event) {
    if (LOCK_KEY_CODES.has(event.code) || LOCK_KEY_CODES.has(event.key)) {
      this.locks = null;
      return [];
    }
    const now = locksOfEvent(event);
    if (now === null) return [];
    const last = this.locks;
    if (last && last.caps === now.caps && last.num === now.num && last.scroll === now.scroll) return [];
    this.locks = now;
    return [{ locks: now }];
  }

  static idOf(event) {
    return event.code || `key:${event.key}`;
  }

  /** A keydown (including auto-repeat, sent again as a down), after a LOCKS message if due. */
  press(event) {
    const id = KeyTracker.idOf(event);
    const held = this.down.get(id);
    if (held) return [...this.syncLocks(event), { down: true, ...held }];
    const keysym = keysymForEvent(event);
    if (keysym === null || keysym === undefined) return [];
    const entry = { keysym, scancode: scancodeForCode(event.code) };
    this.down.set(id, entry);
    return [...this.syncLocks(event), { down: true, ...entry }];
  }

  /** A keyup: releases what the matching keydown pressed. */
  release(event) {
    const id = KeyTracker.idOf(event);
    const held = this.down.get(id);
    if (held) {
      this.down.delete(id);
      return [{ down: false, ...held }];
    }
    // Some keys (PrintScreen on Windows) only ever report a keyup: send a press.
    if (event.code === 'PrintScreen') {
      const entry = { keysym: 0xff61, scancode: scancodeForCode('PrintScreen') };
      return [{ down: true, ...entry }, { down: false, ...entry }];
    }
    return [];
  }

  /** Releases every key still down (focus lost, page hidden). */
  releaseAll() {
    const out = [];
    for (const held of this.down.values()) out.push({ down: false, ...held });
    this.down.clear();
    return out;
  }

  /** Forgets every key and the lock state sent, without sending anything (the stream was replaced). */
  reset() {
    this.down.clear();
    this.locks = null;
  }

  get size() {
    return this.down.size;
  }
}
