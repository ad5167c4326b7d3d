/**
 * Self-check of the browser client's pure parts: wire.js against the byte
 * vectors of docs/protocol.md §7 and its own round trips and rejections,
 * keyboard.js, the input helpers, and render.js drawing into a canvas.
 * Writes "PASS" or "FAIL <count>: <first failure>" into #result and the
 * document title; every check is listed in #log.
 */

import * as wire from '../js/wire.js';
import { keysymForEvent, scancodeForCode, KeyTracker, keysymForCodePoint } from '../js/keyboard.js';
import { protocolButtons, WheelAccumulator } from '../js/input.js';
import { Framebuffer, canDecodeWebp } from '../js/render.js';
import { webSocketUrl } from '../js/stream.js';

const failures = [];
let count = 0;

function log(ok, name, detail = '') {
  const li = document.createElement('li');
  li.textContent = `${ok ? 'ok' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`;
  document.getElementById('log').append(li);
}

function check(name, fn) {
  count += 1;
  try {
    fn();
    log(true, name);
  } catch (err) {
    failures.push(`${name}: ${err.message}`);
    log(false, name, err.message);
  }
}

async function checkAsync(name, fn) {
  count += 1;
  try {
    await fn();
    log(true, name);
  } catch (err) {
    failures.push(`${name}: ${err.message}`);
    log(false, name, err.message);
  }
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Bytes from a hex string; spaces ignored, "quoted" parts taken as ASCII. */
function bytesOf(spec) {
  const out = [];
  for (const part of spec.match(/"[^"]*"|[0-9a-fA-F\s]+/g)) {
    if (part.startsWith('"')) {
      for (const ch of part.slice(1, -1)) out.push(ch.charCodeAt(0));
    } else {
      const digits = part.replace(/\s+/g, '');
      if (digits.length % 2) throw new Error(`odd hex ${digits}`);
      for (let i = 0; i < digits.length; i += 2) out.push(parseInt(digits.slice(i, i + 2), 16));
    }
  }
  return new Uint8Array(out);
}

function eqBytes(actual, expected, what = 'bytes') {
  if (hex(actual) !== hex(expected)) throw new Error(`${what}: got ${hex(actual)}, want ${hex(expected)}`);
}

function normalise(value) {
  if (value instanceof Uint8Array) return { bytes: hex(value) };
  if (Array.isArray(value)) return value.map(normalise);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, normalise(value[k])]));
  }
  return value;
}

function eq(actual, expected, what = 'value') {
  const a = JSON.stringify(normalise(actual));
  const e = JSON.stringify(normalise(expected));
  if (a !== e) throw new Error(`${what}: got ${a}, want ${e}`);
}

function throwsWire(fn, pattern) {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof wire.WireError)) throw new Error(`threw ${err.name} instead of WireError: ${err.message}`);
    if (pattern && !pattern.test(err.message)) throw new Error(`message "${err.message}" does not match ${pattern}`);
    return;
  }
  throw new Error('did not throw');
}

// -- §7 of the spec -------------------------------------------------------------------------

const TOKEN16 = 'abcdefghijklmnop';
const SPEC_CLIENT_HELLO = bytesOf(`01 0001 00000001 0780 0438 0010 "${TOKEN16}"`);
const SPEC_SERVER_HELLO = bytesOf('81 0001 00000000 0780 0438 03 03 00100000 0004 "desk" 0003 "s-1"');
const SPEC_FRAME = bytesOf('82 00000001 0005f1c2a4b3c000 0001 01 0000 0000 0780 0438 00 00 00');
const SPEC_ACK = bytesOf('02 00000001');

check('spec §7: viewer HELLO encodes', () => {
  eqBytes(wire.encodeHello({ capabilities: wire.CAP_WEBP, viewportWidth: 1920, viewportHeight: 1080, token: TOKEN16 }), SPEC_CLIENT_HELLO);
  eq(wire.decodeClientMessage(SPEC_CLIENT_HELLO), {
    type: 'hello', version: 1, capabilities: 1, viewportWidth: 1920, viewportHeight: 1080, token: TOKEN16,
  });
});

const specHello = {
  type: 'hello', version: 1, capabilities: 0, width: 1920, height: 1080, maxFramesInFlight: 3,
  policy: 3, clipboardMaxBytes: 0x100000, name: 'desk', sessionId: 's-1',
};
check('spec §7: gateway HELLO decodes and re-encodes', () => {
  eq(wire.decodeServerMessage(SPEC_SERVER_HELLO.buffer), specHello);
  eqBytes(wire.encodeServerMessage(specHello), SPEC_SERVER_HELLO);
});

const specFrame = {
  type: 'frame', frameId: 1, damageTimeUs: 0x0005f1c2a4b3c000,
  ops: [{ op: 'fill', x: 0, y: 0, width: 1920, height: 1080, r: 0, g: 0, b: 0 }],
};
check('spec §7: FRAME decodes and re-encodes', () => {
  eq(wire.decodeServerMessage(SPEC_FRAME), specFrame);
  eqBytes(wire.encodeServerMessage(specFrame), SPEC_FRAME);
});

check('spec §7: ACK encodes', () => {
  eqBytes(wire.encodeAck(1), SPEC_ACK);
  eq(wire.decodeClientMessage(SPEC_ACK), { type: 'ack', frameId: 1 });
});

// -- viewer → gateway layouts and round trips -------------------------------------------------

const clientVectors = [
  [{ type: 'key', down: true, keysym: 0x61, scancode: 0x1e }, '03 01 00000061 001e'],
  [{ type: 'key', down: false, keysym: 0xff52, scancode: 0xe048 }, '03 00 0000ff52 e048'],
  [{ type: 'pointer', x: 1919, y: 1079, buttons: 0b101 }, '04 077f 0437 05'],
  [{ type: 'wheel', x: 10, y: 20, dx: -120, dy: 240 }, '05 000a 0014 ff88 00f0'],
  [{ type: 'wheel', x: 0, y: 0, dx: -32768, dy: 32767 }, '05 0000 0000 8000 7fff'],
  [{ type: 'clipboard', text: 'hé€😀' }, '06 0000000a 68 c3a9 e282ac f09f9880'],
  [{ type: 'clipboard', text: '' }, '06 00000000'],
  [{ type: 'resize', width: 1280, height: 720 }, '07 0500 02d0'],
  [{ type: 'ping', nonce: 0xdeadbeef }, '08 deadbeef'],
  [{ type: 'refresh' }, '09'],
  [{ type: 'locks', caps: true, num: false, scroll: true }, '0a 05'],
  [{ type: 'locks', caps: false, num: true, scroll: false }, '0a 02'],
  [{ type: 'ack', frameId: 0xffffffff }, '02 ffffffff'],
  [{ type: 'file_list', id: 1, path: '' }, '0b 00000001 0000'],
  [{ type: 'file_download', id: 2, path: '/h/a' }, '0c 00000002 0004 "/h/a"'],
  [{ type: 'file_upload', id: 7, size: 5, dir: '', name: 'a.txt' }, '0d 00000007 0000000000000005 0000 0005 "a.txt"'],
  [{ type: 'file_upload', id: 8, size: Number.MAX_SAFE_INTEGER, dir: '/tmp', name: 'é' }, '0d 00000008 001fffffffffffff 0004 "/tmp" 0002 c3a9'],
  [{ type: 'file_data', id: 7, data: new Uint8Array([104, 101, 108, 108, 111]) }, '0e 00000007 00000005 "hello"'],
  [{ type: 'file_end', id: 7 }, '0f 00000007'],
  [{ type: 'file_cancel', id: 7 }, '10 00000007'],
  [{ type: 'file_ack', id: 9, offset: 65536 }, '11 00000009 0000000000010000'],
  [{ type: 'hello', version: 1, capabilities: 0, viewportWidth: 0, viewportHeight: 0, token: '' }, '01 0001 00000000 0000 0000 0000'],
];
for (const [msg, spec] of clientVectors) {
  check(`viewer ${msg.type} ${spec}`, () => {
    const bytes = wire.encodeClientMessage(msg);
    eqBytes(bytes, bytesOf(spec));
    eq(wire.decodeClientMessage(bytes), msg);
  });
}

check('viewer encoders reject out-of-range values', () => {
  throwsWire(() => wire.encodePointer(65536, 0, 0), /x out of range/);
  throwsWire(() => wire.encodePointer(-1, 0, 0));
  throwsWire(() => wire.encodePointer(1.5, 0, 0));
  throwsWire(() => wire.encodeWheel(0, 0, 32768, 0));
  throwsWire(() => wire.encodeKey(true, 2 ** 32, 0));
  throwsWire(() => wire.encodeHello({ token: 'tök' }), /ASCII/);
  throwsWire(() => wire.encodeHello({ token: 'a b' }), /ASCII/);
  throwsWire(() => wire.encodeHello({ token: 'x'.repeat(8193) }), /8192/);
  eq(wire.encodeHello({ token: 'x'.repeat(8192) }).length, 13 + 8192, 'max token length');
});

check('clipboard text is cut at a character boundary', () => {
  eq(hex(wire.truncateUtf8('aé', 2)), '61');
  eq(hex(wire.truncateUtf8('aé', 3)), '61c3a9');
  eq(hex(wire.truncateUtf8('😀', 3)), '');
  const big = 'é'.repeat(wire.MAX_CLIPBOARD); // 2 MiB of UTF-8
  const bytes = wire.encodeClipboard(big);
  eq(bytes.length, 5 + wire.MAX_CLIPBOARD, 'clipboard length');
  eq(wire.decodeClientMessage(bytes).text.length, wire.MAX_CLIPBOARD / 2, 'characters kept');
});

// -- gateway → viewer round trips ----------------------------------------------------------

const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
const serverMessages = [
  specHello,
  { ...specHello, name: 'Bürö ✓', sessionId: '', policy: 0, maxFramesInFlight: 1, capabilities: 1 },
  {
    type: 'frame', frameId: 42, damageTimeUs: 1700000000123456, ops: [
      { op: 'copy', srcX: 0, srcY: 10, x: 0, y: 0, width: 100, height: 50 },
      { op: 'fill', x: 1, y: 2, width: 3, height: 4, r: 255, g: 128, b: 1 },
      { op: 'image', x: 5, y: 6, width: 7, height: 8, codec: wire.Codec.JPEG, data: new Uint8Array([0xff, 0xd8, 0xff]) },
      { op: 'image', x: 50, y: 60, width: 1, height: 1, codec: wire.Codec.WEBP, data: new Uint8Array(0) },
    ],
  },
  { type: 'frame', frameId: 2, damageTimeUs: 0, ops: [] },
  { type: 'desktop_size', width: 7680, height: 4320 },
  { type: 'cursor', hotspotX: 3, hotspotY: 4, width: 16, height: 24, png },
  { type: 'cursor', hotspotX: 0, hotspotY: 0, width: 0, height: 0, png: new Uint8Array(0) },
  { type: 'clipboard', text: 'copied ✂ text\nline 2' },
  { type: 'bell' },
  { type: 'pong', nonce: 7 },
  { type: 'end', code: 4000, klass: 2, retryable: false, message: 'ended by admin' },
  { type: 'end', code: 4004, klass: 1, retryable: true, message: '' },
  { type: 'notice', kind: 1, message: 'clipboard denied' },
  { type: 'notice', kind: 3, message: 'no resize' },
  { type: 'notice', kind: 4, message: 'bob from 192.0.2.8 (share link, view only)' },
  { type: 'notice', kind: 6, message: 'you only watch' },
  { type: 'files', upload: true, download: false, uploadMaxBytes: 1 << 20, downloadMaxBytes: 0 },
  { type: 'files', upload: false, download: true, uploadMaxBytes: 0, downloadMaxBytes: Number.MAX_SAFE_INTEGER },
  {
    type: 'file_listing', id: 3, truncated: true, path: '/home/ü', entries: [
      { isDir: true, size: 0, modified: 0, name: 'docs' },
      { isDir: false, size: 123456789, modified: 1700000000, name: 'a b.txt' },
    ],
  },
  { type: 'file_listing', id: 4, truncated: false, path: '/', entries: [] },
  { type: 'file_start', id: 5, size: 42, name: 'x.bin' },
  { type: 'file_data', id: 5, offset: 65536, data: new Uint8Array([1, 2, 3]) },
  { type: 'file_progress', id: 6, bytes: 0 },
  { type: 'file_done', id: 6, bytes: 5 },
  { type: 'file_error', id: 6, code: wire.FileErrorCode.TOO_LARGE, message: 'big' },
];
for (const msg of serverMessages) {
  check(`gateway ${msg.type} round trip (${msg.frameId ?? msg.code ?? msg.kind ?? ''})`, () => {
    const bytes = wire.encodeServerMessage(msg);
    eq(wire.decodeServerMessage(bytes), msg);
    // A copy inside a larger buffer (non-zero byteOffset) decodes the same.
    const padded = new Uint8Array(bytes.length + 7);
    padded.set(bytes, 3);
    eq(wire.decodeServerMessage(padded.subarray(3, 3 + bytes.length)), msg);
  });
}

check('gateway END layout', () => {
  eqBytes(wire.encodeServerMessage({ type: 'end', code: 4002, klass: 0, retryable: true, message: 'exp' }),
    bytesOf('88 0fa2 00 01 0003 "exp"'));
  eqBytes(wire.encodeServerMessage({ type: 'notice', kind: 2, message: 'big' }), bytesOf('89 02 0003 "big"'));
  eqBytes(wire.encodeServerMessage({ type: 'cursor', hotspotX: 1, hotspotY: 2, width: 3, height: 4, png: new Uint8Array([9]) }),
    bytesOf('84 0001 0002 0003 0004 00000001 09'));
  eqBytes(wire.encodeServerMessage({ type: 'desktop_size', width: 800, height: 600 }), bytesOf('83 0320 0258'));
  eqBytes(wire.encodeServerMessage({ type: 'bell' }), bytesOf('86'));
  eqBytes(wire.encodeServerMessage({ type: 'pong', nonce: 258 }), bytesOf('87 00000102'));
});

check('spec §2.3: file transfer examples', () => {
  eqBytes(wire.encodeFileUpload(7, 5, '', 'a.txt'), bytesOf('0d 00000007 0000000000000005 0000 0005 "a.txt"'));
  eqBytes(wire.encodeFileData(7, new TextEncoder().encode('hello')), bytesOf('0e 00000007 00000005 "hello"'));
  eqBytes(wire.encodeFileEnd(7), bytesOf('0f 00000007'));
  eq(wire.decodeServerMessage(bytesOf('8e 00000007 0000000000000000')), { type: 'file_progress', id: 7, bytes: 0 });
  eq(wire.decodeServerMessage(bytesOf('8f 00000007 0000000000000005')), { type: 'file_done', id: 7, bytes: 5 });
  eq(wire.decodeServerMessage(bytesOf('8a 01 0000000000100000 0000000000000000')),
    { type: 'files', upload: true, download: false, uploadMaxBytes: 1048576, downloadMaxBytes: 0 });
  eq(wire.decodeServerMessage(bytesOf('90 00000007 02 0003 "big"')),
    { type: 'file_error', id: 7, code: 2, message: 'big' });
  // The listing vector of core/wire's tests.
  eq(wire.decodeServerMessage(bytesOf('8b 00000001 00 0002 "/h" 00000001 01 0000000000000000 0000000060000000 0001 "d"')),
    { type: 'file_listing', id: 1, truncated: false, path: '/h', entries: [{ isDir: true, size: 0, modified: 0x60000000, name: 'd' }] });
});

check('file messages: invalid fields and limits are rejected', () => {
  throwsWire(() => wire.decodeClientMessage(bytesOf('0e 00000001 00000000')), /empty file chunk/);
  throwsWire(() => wire.decodeClientMessage(bytesOf('0e 00000001 00040001')), /limit/);
  throwsWire(() => wire.decodeClientMessage(bytesOf('0c 00000001 0003 610062')), /file path/);
  throwsWire(() => wire.decodeServerMessage(bytesOf('8a 04 0000000000000000 0000000000000000')), /file flags/);
  throwsWire(() => wire.decodeServerMessage(bytesOf('90 00000001 09 0000')), /file error code/);
  throwsWire(() => wire.decodeServerMessage(bytesOf('8b 00000001 00 0000 00000001 02 0000000000000000 0000000000000000 0000')), /entry kind/);
  throwsWire(() => wire.decodeServerMessage(bytesOf('8b 00000001 00 0000 ffffffff')), /limit/);
  throwsWire(() => wire.encodeFileData(1, new Uint8Array(0)), /chunk/);
  throwsWire(() => wire.encodeFileData(1, new Uint8Array(wire.MAX_FILE_CHUNK + 1)), /chunk/);
  throwsWire(() => wire.encodeFileUpload(1, 1, '', ''), /name/);
  throwsWire(() => wire.encodeFileUpload(1, 1, '', 'x'.repeat(256)), /255/);
  throwsWire(() => wire.encodeFileList(1, 'a\0b'), /file path/);
  eq(wire.encodeFileData(1, new Uint8Array(wire.MAX_FILE_CHUNK)).length, 9 + wire.MAX_FILE_CHUNK, 'largest chunk');
});

check('u64 damage time decodes exactly', () => {
  const m = wire.decodeServerMessage(bytesOf('82 00000009 001fffffffffffff 0000'));
  eq(m.damageTimeUs, Number.MAX_SAFE_INTEGER);
});

// -- rejections ------------------------------------------------------------------------------------

check('every truncation of every gateway message is rejected', () => {
  for (const msg of serverMessages) {
    const bytes = wire.encodeServerMessage(msg);
    for (let len = 0; len < bytes.length; len += 1) {
      throwsWire(() => wire.decodeServerMessage(bytes.subarray(0, len)), /truncated|empty/);
    }
  }
});

check('trailing bytes are rejected', () => {
  for (const msg of serverMessages) {
    const bytes = wire.encodeServerMessage(msg);
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    throwsWire(() => wire.decodeServerMessage(longer), /1 trailing bytes/);
  }
  throwsWire(() => wire.decodeClientMessage(bytesOf('09 00')), /trailing/);
});

check('unknown types and viewer types are rejected by the viewer', () => {
  throwsWire(() => wire.decodeServerMessage(bytesOf('91')), /unknown message type 0x91/);
  throwsWire(() => wire.decodeServerMessage(bytesOf('80')), /unknown message type 0x80/);
  throwsWire(() => wire.decodeServerMessage(SPEC_ACK), /unknown message type 0x02/);
  throwsWire(() => wire.decodeServerMessage(new Uint8Array(0)), /empty/);
  throwsWire(() => wire.decodeClientMessage(bytesOf('7f')), /unknown message type 0x7f/);
  throwsWire(() => wire.decodeClientMessage(SPEC_SERVER_HELLO), /unknown message type 0x81/);
  throwsWire(() => wire.decodeServerMessage('text'), /binary/);
});

check('invalid fields are rejected', () => {
  throwsWire(() => wire.decodeServerMessage(bytesOf('88 0fa0 04 00 0000')), /error class/);
  throwsWire(() => wire.decodeServerMessage(bytesOf('88 0fa0 02 02 0000')), /retryable/);
  throwsWire(() => wire.decodeServerMessage(bytesOf('89 00 0000')), /notice kind/);
  throwsWire(() => wire.decodeServerMessage(bytesOf('89 07 0000')), /notice kind/);
  throwsWire(() => wire.decodeServerMessage(bytesOf('82 00000001 0000000000000000 0001 04')), /unknown frame operation 0x04/);
  throwsWire(() => wire.decodeServerMessage(bytesOf('82 00000001 0000000000000000 0001 01 0000 0000 0000 0001 000000')), /empty rectangle/);
  throwsWire(() => wire.decodeServerMessage(bytesOf('82 00000001 0000000000000000 0001 03 0000 0000 0001 0001 04 00000000')), /codec/);
  throwsWire(() => wire.decodeServerMessage(bytesOf('82 00000001 0000000000000000 ffff')), /truncated/);
  throwsWire(() => wire.decodeServerMessage(bytesOf('85 00000002 c328')), /UTF-8/);
  throwsWire(() => wire.decodeServerMessage(bytesOf('89 01 0001 ff')), /UTF-8/);
  throwsWire(() => wire.decodeServerMessage(bytesOf('85 00100001')), /limit/);
  throwsWire(() => wire.decodeClientMessage(bytesOf('03 02 00000061 0000')), /key state/);
  throwsWire(() => wire.decodeClientMessage(bytesOf('01 0001 00000000 0000 0000 0002 610a')), /token characters/);
});

// -- keyboard ------------------------------------------------------------------------------------

const ev = (key, code, extra = {}) => ({ key, code, location: 0, ...extra });
check('keysyms', () => {
  eq(keysymForEvent(ev('a', 'KeyA')), 0x61);
  eq(keysymForEvent(ev('A', 'KeyA')), 0x41);
  eq(keysymForEvent(ev(' ', 'Space')), 0x20);
  eq(keysymForEvent(ev('é', 'Digit2')), 0xe9);
  eq(keysymForEvent(ev('€', 'KeyE')), 0x010020ac);
  eq(keysymForEvent(ev('😀', '')), 0x0101f600);
  eq(keysymForEvent(ev('Enter', 'Enter')), 0xff0d);
  eq(keysymForEvent(ev('Enter', 'NumpadEnter', { location: 3 })), 0xff8d);
  eq(keysymForEvent(ev('1', 'Numpad1', { location: 3 })), 0xffb1);
  eq(keysymForEvent(ev('End', 'Numpad1', { location: 3 })), 0xff9c);
  eq(keysymForEvent(ev('Shift', 'ShiftLeft', { location: 1 })), 0xffe1);
  eq(keysymForEvent(ev('Shift', 'ShiftRight', { location: 2 })), 0xffe2);
  eq(keysymForEvent(ev('Control', 'ControlRight')), 0xffe4);
  eq(keysymForEvent(ev('Alt', 'AltRight')), 0xffea);
  eq(keysymForEvent(ev('AltGraph', 'AltRight')), 0xfe03);
  eq(keysymForEvent(ev('Meta', 'MetaLeft')), 0xffeb);
  eq(keysymForEvent(ev('Meta', 'MetaRight')), 0xffec);
  eq(keysymForEvent(ev('F1', 'F1')), 0xffbe);
  eq(keysymForEvent(ev('F12', 'F12')), 0xffc9);
  eq(keysymForEvent(ev('ArrowLeft', 'ArrowLeft')), 0xff51);
  eq(keysymForEvent(ev('ArrowDown', 'ArrowDown')), 0xff54);
  eq(keysymForEvent(ev('Delete', 'Delete')), 0xffff);
  eq(keysymForEvent(ev('ContextMenu', 'ContextMenu')), 0xff67);
  eq(keysymForEvent(ev('CapsLock', 'CapsLock')), 0xffe5);
  eq(keysymForEvent(ev('Unidentified', 'KeyQ')), 0x71);
  eq(keysymForEvent(ev('Dead', 'BracketLeft')), null);
  eq(keysymForCodePoint(0x0a), null);
});

check('scancodes', () => {
  eq(scancodeForCode('Escape'), 0x01);
  eq(scancodeForCode('KeyA'), 0x1e);
  eq(scancodeForCode('KeyZ'), 0x2c);
  eq(scancodeForCode('Digit0'), 0x0b);
  eq(scancodeForCode('ArrowUp'), 0xe048);
  eq(scancodeForCode('NumpadEnter'), 0xe01c);
  eq(scancodeForCode('ControlRight'), 0xe01d);
  eq(scancodeForCode('MetaLeft'), 0xe05b);
  eq(scancodeForCode('F11'), 0x57);
  eq(scancodeForCode('Numpad7'), 0x47);
  eq(scancodeForCode('NoSuchKey'), 0);
});

check('key tracker keeps key-up consistent with key-down', () => {
  const t = new KeyTracker();
  eq(t.press(ev('Shift', 'ShiftLeft')), [{ down: true, keysym: 0xffe1, scancode: 0x2a }]);
  eq(t.press(ev('A', 'KeyA')), [{ down: true, keysym: 0x41, scancode: 0x1e }]);
  eq(t.release(ev('Shift', 'ShiftLeft')), [{ down: false, keysym: 0xffe1, scancode: 0x2a }]);
  eq(t.press(ev('a', 'KeyA', { repeat: true })), [{ down: true, keysym: 0x41, scancode: 0x1e }]);
  eq(t.release(ev('a', 'KeyA')), [{ down: false, keysym: 0x41, scancode: 0x1e }]);
  eq(t.release(ev('b', 'KeyB')), []);
  t.press(ev('x', 'KeyX'));
  t.press(ev('Control', 'ControlLeft'));
  eq(t.releaseAll().map((m) => m.keysym), [0x78, 0xffe3]);
  eq(t.size, 0);
});

check('key tracker syncs the lock keys on focus and on change', () => {
  const locked = (key, code, caps, num = false) => ev(key, code, {
    getModifierState: (m) => (m === 'CapsLock' ? caps : m === 'NumLock' ? num : false),
  });
  const a = { down: true, keysym: 0x41, scancode: 0x1e };
  const t = new KeyTracker();
  // The first key after focus says the state, whatever it is.
  eq(t.press(locked('A', 'KeyA', true)), [{ locks: { caps: true, num: false, scroll: false } }, a]);
  eq(t.release(locked('A', 'KeyA', true)), [{ ...a, down: false }]);
  // Unchanged: nothing more.
  eq(t.press(locked('A', 'KeyA', true)), [a]);
  t.release(locked('A', 'KeyA', true));
  // The lock key's own event is sent as a key and says nothing.
  eq(t.press(locked('CapsLock', 'CapsLock', true)), [{ down: true, keysym: 0xffe5, scancode: 0x3a }]);
  t.release(locked('CapsLock', 'CapsLock', false));
  // The next key confirms the new state.
  eq(t.press(locked('a', 'KeyA', false, true))[0], { locks: { caps: false, num: true, scroll: false } });
  t.release(locked('a', 'KeyA', false, true));
  // Focus regained: the state is sent again even if it looks unchanged.
  t.focus();
  eq(t.syncLocks(locked('', '', false, true)), [{ locks: { caps: false, num: true, scroll: false } }]);
  eq(t.syncLocks(locked('', '', false, true)), []);
  // Events that cannot tell send nothing.
  t.focus();
  eq(t.syncLocks(ev('a', 'KeyA')), []);
});

check('buttons and wheel', () => {
  eq(protocolButtons(1), 1);
  eq(protocolButtons(2), 4); // DOM right → protocol bit 2
  eq(protocolButtons(4), 2); // DOM middle → protocol bit 1
  eq(protocolButtons(8 | 16), 24);
  eq(protocolButtons(31), 31);
  const w = new WheelAccumulator();
  eq(w.add(0, 1, 1), { dx: 0, dy: 120 });
  eq(w.add(0, 50, 0), { dx: 0, dy: 60 });
  eq(w.add(0, 0.5, 0), { dx: 0, dy: 0 });
  eq(w.add(-0.5, 0.5, 0), { dx: 0, dy: 1 });
  eq(w.add(-100, -100, 0), { dx: -120, dy: -119 }); // remainders carried
});

check('stream URLs', () => {
  eq(webSocketUrl('wss://gw.example/stream', 'https://a.example/viewer.html'), 'wss://gw.example/stream');
  eq(webSocketUrl('/stream', 'https://a.example/viewer.html'), 'wss://a.example/stream');
  eq(webSocketUrl('/stream', 'http://127.0.0.1:8080/viewer.html'), 'ws://127.0.0.1:8080/stream');
});

// -- drawing ---------------------------------------------------------------------------------------

function pixel(fb, x, y) {
  return Array.from(fb.ctx.getImageData(x, y, 1, 1).data.subarray(0, 3));
}

async function encodeImage(type, draw, w, h) {
  const c = new OffscreenCanvas(w, h);
  const ctx = c.getContext('2d');
  draw(ctx);
  return new Uint8Array(await (await c.convertToBlob({ type, quality: 1 })).arrayBuffer());
}

async function applyFrame(fb, msg) {
  const frame = wire.decodeServerMessage(wire.encodeServerMessage(msg));
  fb.draw(frame, await fb.decodeImages(frame));
}

await checkAsync('framebuffer draws FILL, overlapping COPY and PNG exactly', async () => {
  const canvas = document.createElement('canvas');
  const fb = new Framebuffer(canvas);
  fb.reset(64, 32);
  eq(pixel(fb, 63, 31), [0, 0, 0], 'cleared to black');
  await applyFrame(fb, { type: 'frame', frameId: 1, ops: [
    { op: 'fill', x: 0, y: 0, width: 8, height: 8, r: 250, g: 17, b: 3 },
    { op: 'fill', x: 8, y: 0, width: 8, height: 8, r: 1, g: 2, b: 254 },
  ] });
  eq(pixel(fb, 7, 7), [250, 17, 3]);
  eq(pixel(fb, 8, 0), [1, 2, 254]);
  // Overlapping copy: shift the 16×8 strip right by 4 pixels.
  await applyFrame(fb, { type: 'frame', frameId: 2, ops: [
    { op: 'copy', srcX: 0, srcY: 0, x: 4, y: 0, width: 16, height: 8 },
  ] });
  eq(pixel(fb, 3, 0), [250, 17, 3], 'untouched');
  eq(pixel(fb, 11, 0), [250, 17, 3], 'copied first half');
  eq(pixel(fb, 12, 0), [1, 2, 254], 'copied second half');
  eq(pixel(fb, 19, 7), [1, 2, 254]);
  // Two copies in order: the second reads what the first wrote.
  await applyFrame(fb, { type: 'frame', frameId: 3, ops: [
    { op: 'copy', srcX: 0, srcY: 0, x: 0, y: 16, width: 4, height: 4 },
    { op: 'copy', srcX: 0, srcY: 16, x: 40, y: 16, width: 4, height: 4 },
  ] });
  eq(pixel(fb, 41, 17), [250, 17, 3], 'chained copy');
  const data = await encodeImage('image/png', (ctx) => {
    ctx.fillStyle = 'rgb(10, 200, 30)';
    ctx.fillRect(0, 0, 5, 3);
    ctx.fillStyle = 'rgb(99, 98, 97)';
    ctx.fillRect(4, 2, 1, 1);
  }, 5, 3);
  await applyFrame(fb, { type: 'frame', frameId: 4, ops: [
    { op: 'image', x: 50, y: 20, width: 5, height: 3, codec: wire.Codec.PNG, data },
  ] });
  eq(pixel(fb, 50, 20), [10, 200, 30], 'png top-left');
  eq(pixel(fb, 54, 22), [99, 98, 97], 'png bottom-right');
  eq(pixel(fb, 55, 22), [0, 0, 0], 'outside the png');
});

await checkAsync('framebuffer draws JPEG', async () => {
  const canvas = document.createElement('canvas');
  const fb = new Framebuffer(canvas);
  fb.reset(32, 32);
  const data = await encodeImage('image/jpeg', (ctx) => {
    ctx.fillStyle = 'rgb(128, 128, 128)';
    ctx.fillRect(0, 0, 16, 16);
  }, 16, 16);
  await applyFrame(fb, { type: 'frame', frameId: 1, ops: [
    { op: 'image', x: 8, y: 8, width: 16, height: 16, codec: wire.Codec.JPEG, data },
  ] });
  const [r, g, b] = pixel(fb, 15, 15);
  if (Math.abs(r - 128) > 3 || Math.abs(g - 128) > 3 || Math.abs(b - 128) > 3) throw new Error(`jpeg pixel ${r},${g},${b}`);
});

await checkAsync('WebP detection and drawing', async () => {
  if (!(await canDecodeWebp())) throw new Error('this browser should decode WebP');
  const canvas = document.createElement('canvas');
  const fb = new Framebuffer(canvas);
  fb.reset(8, 8);
  const data = await encodeImage('image/webp', (ctx) => {
    ctx.fillStyle = 'rgb(0, 255, 0)';
    ctx.fillRect(0, 0, 4, 4);
  }, 4, 4);
  await applyFrame(fb, { type: 'frame', frameId: 1, ops: [
    { op: 'image', x: 0, y: 0, width: 4, height: 4, codec: wire.Codec.WEBP, data },
  ] });
  const [r, g, b] = pixel(fb, 1, 1);
  if (r > 8 || g < 245 || b > 8) throw new Error(`webp pixel ${r},${g},${b}`);
});

await checkAsync('an undecodable image or a wrong size is an error', async () => {
  const canvas = document.createElement('canvas');
  const fb = new Framebuffer(canvas);
  fb.reset(8, 8);
  const bad = wire.decodeServerMessage(wire.encodeServerMessage({ type: 'frame', frameId: 5, ops: [
    { op: 'image', x: 0, y: 0, width: 2, height: 2, codec: wire.Codec.PNG, data: new Uint8Array([1, 2, 3]) },
  ] }));
  let error = null;
  await fb.decodeImages(bad).catch((err) => { error = err; });
  if (!error || !/cannot decode image 0 of frame 5/.test(error.message)) throw new Error(`got ${error && error.message}`);
  const data = await encodeImage('image/png', () => {}, 3, 2);
  const wrong = wire.decodeServerMessage(wire.encodeServerMessage({ type: 'frame', frameId: 6, ops: [
    { op: 'image', x: 0, y: 0, width: 2, height: 2, codec: wire.Codec.PNG, data },
  ] }));
  error = null;
  await fb.decodeImages(wrong).catch((err) => { error = err; });
  if (!error || !/decoded to 3×2, expected 2×2/.test(error.message)) throw new Error(`got ${error && error.message}`);
});

// -- result --------------------------------------------------------------------------------------

const result = failures.length === 0 ? 'PASS' : `FAIL ${failures.length}/${count}: ${failures[0]}`;
document.getElementById('result').textContent = result;
document.title = result;
