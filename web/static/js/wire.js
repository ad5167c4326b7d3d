/**
 * The Oriel stream protocol, version 1 (docs/protocol.md), for the browser.
 *
 * Pure functions, no DOM: every protocol message is one binary WebSocket
 * message, big-endian. Encoders return a Uint8Array holding exactly one
 * message; decoders take an ArrayBuffer or a typed array holding exactly one
 * message and throw a WireError for anything malformed (unknown type,
 * truncated, trailing bytes, invalid field, bad UTF-8, over a limit).
 *
 * Both directions are implemented so that tests and mock gateways can use
 * the same code: `encodeClientMessage`/`decodeClientMessage` for viewer →
 * gateway (§2.1), `encodeServerMessage`/`decodeServerMessage` for gateway →
 * viewer (§2.2, §3). The mirror of `core/wire` (crate `oriel-core-wire`).
 */

/** Protocol version spoken here. */
export const VERSION = 1;
/** WebSocket subprotocol to offer. */
export const SUBPROTOCOL = 'oriel.v1';

/** Capability bit: the viewer decodes WebP images (codec 3). */
export const CAP_WEBP = 1;
/** Capability bit: the viewer understands NOTICE kinds 4–6 (who watches, control handed over or taken back). */
export const CAP_PRESENCE = 2;
/** Every capability bit this version defines. */
export const CAP_ALL = CAP_WEBP | CAP_PRESENCE;

/** Policy bit of the gateway's HELLO: clipboard viewer → remote allowed. */
export const POLICY_CLIPBOARD_UP = 1;
/** Policy bit of the gateway's HELLO: clipboard remote → viewer allowed. */
export const POLICY_CLIPBOARD_DOWN = 2;
/** Policy bit of the gateway's HELLO: this viewer only watches (its input is dropped by the gateway). */
export const POLICY_VIEW_ONLY = 4;

/** Largest viewer → gateway message (§6). */
export const MAX_CLIENT_MESSAGE = (1 << 20) + 16;
/** Largest gateway → viewer message (§6). */
export const MAX_SERVER_MESSAGE = 64 << 20;
/** Largest session token (§6). */
export const MAX_TOKEN = 8192;
/** Largest clipboard text one message can carry. */
export const MAX_CLIPBOARD = 1 << 20;

/** Largest chunk of file data in one FILE_DATA message (§2.3). */
export const MAX_FILE_CHUNK = 256 << 10;
/** File bytes of one transfer that may be in flight unacknowledged (§2.3). */
export const FILE_WINDOW = 1 << 20;
/** Longest file path and name, bytes (§2.3). */
export const MAX_FILE_PATH = 4096;
export const MAX_FILE_NAME = 255;
/** FILES flag bits. */
export const FILES_UPLOAD = 1;
export const FILES_DOWNLOAD = 2;
/** FILE_ERROR codes (§2.3). */
export const FileErrorCode = Object.freeze({
  DENIED: 1, TOO_LARGE: 2, NOT_FOUND: 3, TARGET: 4, INVALID: 5, CANCELLED: 6, BUSY: 7, UNSUPPORTED: 8,
});

/** Image codecs of IMAGE operations. */
export const Codec = Object.freeze({ PNG: 1, JPEG: 2, WEBP: 3 });
/** MIME type of each codec, for `new Blob([data], { type })`. */
export const CODEC_MIME = Object.freeze({ 1: 'image/png', 2: 'image/jpeg', 3: 'image/webp' });

/** END classes (§2.2): who failed. */
export const ErrorClass = Object.freeze({ CLIENT: 0, TARGET: 1, POLICY: 2, INTERNAL: 3 });
/** Names of the END classes, indexed by class. */
export const ERROR_CLASS_NAMES = Object.freeze(['client', 'target', 'policy', 'internal']);

/** NOTICE kinds (§2.2). */
export const NoticeKind = Object.freeze({
  CLIPBOARD_UP_DENIED: 1,
  CLIPBOARD_TOO_LARGE: 2,
  RESIZE_UNSUPPORTED: 3,
  WATCHERS: 4,
  CONTROL_GRANTED: 5,
  CONTROL_TAKEN: 6,
});

/** Frame operation codes (§3). */
export const Op = Object.freeze({ FILL: 1, COPY: 2, IMAGE: 3 });

/** Close codes of §5: meaning, class and whether a reconnect may help. */
export const CLOSE_CODES = Object.freeze({
  1000: { klass: 1, retryable: false, message: 'The session ended normally.' },
  4000: { klass: 2, retryable: false, message: 'The session was ended.' },
  4001: { klass: 0, retryable: false, message: 'The session token is invalid.' },
  4002: { klass: 0, retryable: true, message: 'The session token has expired.' },
  4003: { klass: 2, retryable: false, message: 'The session token may not be used here.' },
  4004: { klass: 1, retryable: true, message: 'The remote system cannot be reached.' },
  4005: { klass: 1, retryable: false, message: 'The remote system rejected the credentials.' },
  4006: { klass: 1, retryable: false, message: 'The remote system sent data the gateway cannot accept.' },
  4007: { klass: 1, retryable: false, message: 'The remote system closed the connection.' },
  4008: { klass: 0, retryable: false, message: 'The viewer broke the stream protocol.' },
  4009: { klass: 0, retryable: false, message: 'The viewer did not say hello in time.' },
  4010: { klass: 3, retryable: true, message: 'Internal error in the gateway.' },
  4011: { klass: 3, retryable: true, message: 'The gateway is shutting down.' },
  4012: { klass: 1, retryable: true, message: 'The remote system did not answer in time.' },
  4013: { klass: 3, retryable: false, message: 'This gateway cannot open this kind of workspace.' },
  4014: { klass: 1, retryable: false, message: "The remote system's certificate or host key is not the recorded one." },
  4015: { klass: 2, retryable: false, message: 'The session ended after a period without input.' },
  4016: { klass: 2, retryable: false, message: 'The session reached its maximum length.' },
  4017: { klass: 2, retryable: false, message: 'This session must be recorded or watermarked, and that cannot be done right now.' },
});

const C_HELLO = 0x01, C_ACK = 0x02, C_KEY = 0x03, C_POINTER = 0x04, C_WHEEL = 0x05,
  C_CLIPBOARD = 0x06, C_RESIZE = 0x07, C_PING = 0x08, C_REFRESH = 0x09, C_LOCKS = 0x0a;
const S_HELLO = 0x81, S_FRAME = 0x82, S_DESKTOP_SIZE = 0x83, S_CURSOR = 0x84,
  S_CLIPBOARD = 0x85, S_BELL = 0x86, S_PONG = 0x87, S_END = 0x88, S_NOTICE = 0x89;
const C_FILE_LIST = 0x0b, C_FILE_DOWNLOAD = 0x0c, C_FILE_UPLOAD = 0x0d, C_FILE_DATA = 0x0e,
  C_FILE_END = 0x0f, C_FILE_CANCEL = 0x10, C_FILE_ACK = 0x11;
const S_FILES = 0x8a, S_FILE_LISTING = 0x8b, S_FILE_START = 0x8c, S_FILE_DATA = 0x8d,
  S_FILE_PROGRESS = 0x8e, S_FILE_DONE = 0x8f, S_FILE_ERROR = 0x90;

/** Why bytes could not be decoded into a message (or a value not encoded). */
export class WireError extends Error {
  constructor(message) {
    super(message);
    this.name = 'WireError';
  }
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function hex2(v) {
  return '0x' + v.toString(16).padStart(2, '0');
}

/** The longest prefix of `text` whose UTF-8 encoding fits in `max` bytes, as bytes. */
export function truncateUtf8(text, max) {
  const bytes = utf8Encoder.encode(text);
  if (bytes.length <= max) return bytes;
  let end = max;
  // Back up over continuation bytes (10xxxxxx) to a character boundary.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end);
}

/** Reads big-endian fields, checking every length. */
class Reader {
  constructor(bytes, offset) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = offset;
  }
  need(n) {
    if (this.bytes.length - this.pos < n) throw new WireError('message truncated');
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u8() { return this.view.getUint8(this.need(1)); }
  u16() { return this.view.getUint16(this.need(2)); }
  i16() { return this.view.getInt16(this.need(2)); }
  u32() { return this.view.getUint32(this.need(4)); }
  /** A u64 as a Number (exact below 2^53, which covers µs timestamps). */
  u64() {
    const at = this.need(8);
    return this.view.getUint32(at) * 0x100000000 + this.view.getUint32(at + 4);
  }
  bool(what) {
    const v = this.u8();
    if (v > 1) throw new WireError(`invalid ${what}`);
    return v === 1;
  }
  raw(n) {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }
  /** Bytes with a u32 length prefix, at most `limit` long (a view, not a copy). */
  blob32(limit) {
    const len = this.u32();
    if (len > limit) throw new WireError(`field of ${len} bytes exceeds the limit of ${limit}`);
    return this.raw(len);
  }
  string16() { return utf8(this.raw(this.u16())); }
  /** A u16-length text of at most `limit` bytes without NUL (file paths and names). */
  text16(limit, what) {
    const len = this.u16();
    if (len > limit) throw new WireError(`${what} of ${len} bytes exceeds the limit of ${limit}`);
    const raw = this.raw(len);
    if (raw.includes(0)) throw new WireError(`invalid ${what}`);
    return utf8(raw);
  }
  /** File data: 1 to MAX_FILE_CHUNK bytes (a view, not a copy). */
  chunk() {
    const data = this.blob32(MAX_FILE_CHUNK);
    if (data.length === 0) throw new WireError('invalid empty file chunk');
    return data;
  }
  string32(limit) { return utf8(this.blob32(limit)); }
  finish() {
    const left = this.bytes.length - this.pos;
    if (left !== 0) throw new WireError(`${left} trailing bytes`);
  }
}

function utf8(bytes) {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw new WireError('text is not valid UTF-8');
  }
}

function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new WireError('a message must be binary');
}

/** Appends big-endian fields; checks every value fits its field. */
class Writer {
  constructor() {
    this.parts = [];
    this.length = 0;
  }
  push(bytes) {
    this.parts.push(bytes);
    this.length += bytes.length;
    return this;
  }
  int(v, size, min, max, what) {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new WireError(`${what} out of range: ${v}`);
    }
    const b = new Uint8Array(size);
    const view = new DataView(b.buffer);
    if (size === 1) view.setUint8(0, v);
    else if (size === 2) view.setUint16(0, v & 0xffff);
    else view.setUint32(0, v);
    return this.push(b);
  }
  u8(v, what = 'u8') { return this.int(v, 1, 0, 0xff, what); }
  u16(v, what = 'u16') { return this.int(v, 2, 0, 0xffff, what); }
  i16(v, what = 'i16') { return this.int(v, 2, -0x8000, 0x7fff, what); }
  u32(v, what = 'u32') { return this.int(v, 4, 0, 0xffffffff, what); }
  u64(v, what = 'u64') {
    const big = BigInt(v);
    if (big < 0n || big > 0xffffffffffffffffn) throw new WireError(`${what} out of range: ${v}`);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, big);
    return this.push(b);
  }
  bool(v) { return this.u8(v ? 1 : 0); }
  blob32(bytes) { return this.u32(bytes.length, 'length').push(bytes); }
  string16(text) { return this.blob16(truncateUtf8(text, 0xffff)); }
  blob16(bytes) { return this.u16(bytes.length, 'length').push(bytes); }
  /** A file path or name: at most `limit` bytes of UTF-8 without NUL (not cut: refused). */
  text16(text, limit, what) {
    const bytes = utf8Encoder.encode(text);
    if (bytes.length > limit) throw new WireError(`${what} exceeds ${limit} bytes`);
    if (bytes.includes(0)) throw new WireError(`invalid ${what}`);
    return this.blob16(bytes);
  }
  chunk(data) {
    const bytes = asBytes(data);
    if (bytes.length === 0 || bytes.length > MAX_FILE_CHUNK) {
      throw new WireError(`a file chunk holds 1 to ${MAX_FILE_CHUNK} bytes, not ${bytes.length}`);
    }
    return this.blob32(bytes);
  }
  finish() {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// Viewer → gateway (§2.1)

/** HELLO: `token` must be printable ASCII (0x21–0x7E), at most 8192 bytes. */
export function encodeHello({ version = VERSION, capabilities = 0, viewportWidth = 0, viewportHeight = 0, token }) {
  if (typeof token !== 'string' || !/^[\x21-\x7e]*$/.test(token)) {
    throw new WireError('the token must be printable ASCII');
  }
  if (token.length > MAX_TOKEN) throw new WireError(`the token exceeds ${MAX_TOKEN} bytes`);
  return new Writer().u8(C_HELLO).u16(version, 'version').u32(capabilities, 'capabilities')
    .u16(viewportWidth, 'viewport width').u16(viewportHeight, 'viewport height')
    .blob16(utf8Encoder.encode(token)).finish();
}

/** ACK of frame `frameId`. */
export function encodeAck(frameId) {
  return new Writer().u8(C_ACK).u32(frameId, 'frame id').finish();
}

/** KEY: `down` pressed or released, X11 `keysym`, set-1 `scancode` (0 if unknown). */
export function encodeKey(down, keysym, scancode = 0) {
  return new Writer().u8(C_KEY).bool(down).u32(keysym, 'keysym').u16(scancode, 'scancode').finish();
}

/** POINTER at (`x`, `y`) with the protocol's `buttons` mask. */
export function encodePointer(x, y, buttons) {
  return new Writer().u8(C_POINTER).u16(x, 'x').u16(y, 'y').u8(buttons, 'buttons').finish();
}

/** WHEEL at (`x`, `y`), `dx`/`dy` in 1/120 notches (i16). */
export function encodeWheel(x, y, dx, dy) {
  return new Writer().u8(C_WHEEL).u16(x, 'x').u16(y, 'y').i16(dx, 'dx').i16(dy, 'dy').finish();
}

/** CLIPBOARD text, cut at a character boundary to MAX_CLIPBOARD bytes. */
export function encodeClipboard(text) {
  return new Writer().u8(C_CLIPBOARD).blob32(truncateUtf8(text, MAX_CLIPBOARD)).finish();
}

/** RESIZE wish. */
export function encodeResize(width, height) {
  return new Writer().u8(C_RESIZE).u16(width, 'width').u16(height, 'height').finish();
}

/** PING with a `nonce` echoed in PONG. */
export function encodePing(nonce) {
  return new Writer().u8(C_PING).u32(nonce, 'nonce').finish();
}

/** REFRESH: repaint everything. */
export function encodeRefresh() {
  return new Uint8Array([C_REFRESH]);
}

/** LOCKS: the viewer's Caps, Num and Scroll Lock state (bits 0, 1, 2). */
export function encodeLocks(caps, num, scroll) {
  return new Uint8Array([C_LOCKS, (caps ? 1 : 0) | (num ? 2 : 0) | (scroll ? 4 : 0)]);
}

/** FILE_LIST: list directory `path` ('' = home) as request `id`. */
export function encodeFileList(id, path) {
  return new Writer().u8(C_FILE_LIST).u32(id, 'id').text16(path, MAX_FILE_PATH, 'file path').finish();
}

/** FILE_DOWNLOAD of `path` as transfer `id`. */
export function encodeFileDownload(id, path) {
  return new Writer().u8(C_FILE_DOWNLOAD).u32(id, 'id').text16(path, MAX_FILE_PATH, 'file path').finish();
}

/** FILE_UPLOAD: announce `size` bytes for `name` in `dir` ('' = home) as transfer `id`. */
export function encodeFileUpload(id, size, dir, name) {
  if (!name) throw new WireError('invalid empty file name');
  return new Writer().u8(C_FILE_UPLOAD).u32(id, 'id').u64(size, 'size')
    .text16(dir, MAX_FILE_PATH, 'file path').text16(name, MAX_FILE_NAME, 'file name').finish();
}

/** FILE_DATA: one chunk (1 to MAX_FILE_CHUNK bytes) of upload `id`. */
export function encodeFileData(id, data) {
  return new Writer().u8(C_FILE_DATA).u32(id, 'id').chunk(data).finish();
}

/** FILE_END: every byte of upload `id` was sent. */
export function encodeFileEnd(id) {
  return new Writer().u8(C_FILE_END).u32(id, 'id').finish();
}

/** FILE_CANCEL of transfer `id`. */
export function encodeFileCancel(id) {
  return new Writer().u8(C_FILE_CANCEL).u32(id, 'id').finish();
}

/** FILE_ACK: `offset` bytes of download `id` received. */
export function encodeFileAck(id, offset) {
  return new Writer().u8(C_FILE_ACK).u32(id, 'id').u64(offset, 'offset').finish();
}

/** Encodes a viewer message given as `{ type, ...fields }` (the shape `decodeClientMessage` returns). */
export function encodeClientMessage(msg) {
  switch (msg.type) {
    case 'hello': return encodeHello(msg);
    case 'ack': return encodeAck(msg.frameId);
    case 'key': return encodeKey(msg.down, msg.keysym, msg.scancode);
    case 'pointer': return encodePointer(msg.x, msg.y, msg.buttons);
    case 'wheel': return encodeWheel(msg.x, msg.y, msg.dx, msg.dy);
    case 'clipboard': return encodeClipboard(msg.text);
    case 'resize': return encodeResize(msg.width, msg.height);
    case 'ping': return encodePing(msg.nonce);
    case 'refresh': return encodeRefresh();
    case 'locks': return encodeLocks(msg.caps, msg.num, msg.scroll);
    case 'file_list': return encodeFileList(msg.id, msg.path);
    case 'file_download': return encodeFileDownload(msg.id, msg.path);
    case 'file_upload': return encodeFileUpload(msg.id, msg.size, msg.dir, msg.name);
    case 'file_data': return encodeFileData(msg.id, msg.data);
    case 'file_end': return encodeFileEnd(msg.id);
    case 'file_cancel': return encodeFileCancel(msg.id);
    case 'file_ack': return encodeFileAck(msg.id, msg.offset);
    default: throw new WireError(`unknown viewer message type ${msg.type}`);
  }
}

/** Decodes one whole viewer → gateway message (for tests and mock gateways). */
export function decodeClientMessage(data) {
  const bytes = asBytes(data);
  if (bytes.length > MAX_CLIENT_MESSAGE) {
    throw new WireError(`message of ${bytes.length} bytes exceeds the limit of ${MAX_CLIENT_MESSAGE}`);
  }
  if (bytes.length === 0) throw new WireError('empty message');
  const r = new Reader(bytes, 1);
  let msg;
  switch (bytes[0]) {
    case C_HELLO: {
      msg = { type: 'hello', version: r.u16(), capabilities: r.u32(), viewportWidth: r.u16(), viewportHeight: r.u16() };
      const len = r.u16();
      if (len > MAX_TOKEN) throw new WireError(`token of ${len} bytes exceeds the limit of ${MAX_TOKEN}`);
      const raw = r.raw(len);
      if (!raw.every((b) => b >= 0x21 && b <= 0x7e)) throw new WireError('invalid token characters');
      msg.token = utf8(raw);
      break;
    }
    case C_ACK: msg = { type: 'ack', frameId: r.u32() }; break;
    case C_KEY: msg = { type: 'key', down: r.bool('key state'), keysym: r.u32(), scancode: r.u16() }; break;
    case C_POINTER: msg = { type: 'pointer', x: r.u16(), y: r.u16(), buttons: r.u8() }; break;
    case C_WHEEL: msg = { type: 'wheel', x: r.u16(), y: r.u16(), dx: r.i16(), dy: r.i16() }; break;
    case C_CLIPBOARD: msg = { type: 'clipboard', text: r.string32(MAX_CLIPBOARD) }; break;
    case C_RESIZE: msg = { type: 'resize', width: r.u16(), height: r.u16() }; break;
    case C_PING: msg = { type: 'ping', nonce: r.u32() }; break;
    case C_REFRESH: msg = { type: 'refresh' }; break;
    case C_LOCKS: {
      const flags = r.u8();
      if (flags & ~7) throw new WireError('invalid lock flags');
      msg = { type: 'locks', caps: (flags & 1) !== 0, num: (flags & 2) !== 0, scroll: (flags & 4) !== 0 };
      break;
    }
    case C_FILE_LIST: msg = { type: 'file_list', id: r.u32(), path: r.text16(MAX_FILE_PATH, 'file path') }; break;
    case C_FILE_DOWNLOAD: msg = { type: 'file_download', id: r.u32(), path: r.text16(MAX_FILE_PATH, 'file path') }; break;
    case C_FILE_UPLOAD:
      msg = {
        type: 'file_upload', id: r.u32(), size: r.u64(),
        dir: r.text16(MAX_FILE_PATH, 'file path'), name: r.text16(MAX_FILE_NAME, 'file name'),
      };
      break;
    case C_FILE_DATA: msg = { type: 'file_data', id: r.u32(), data: r.chunk() }; break;
    case C_FILE_END: msg = { type: 'file_end', id: r.u32() }; break;
    case C_FILE_CANCEL: msg = { type: 'file_cancel', id: r.u32() }; break;
    case C_FILE_ACK: msg = { type: 'file_ack', id: r.u32(), offset: r.u64() }; break;
    default: throw new WireError(`unknown message type ${hex2(bytes[0])}`);
  }
  r.finish();
  return msg;
}

// ---------------------------------------------------------------------------
// Gateway → viewer (§2.2, §3)

function readRect(r) {
  const rect = { x: r.u16(), y: r.u16(), width: r.u16(), height: r.u16() };
  if (rect.width === 0 || rect.height === 0) throw new WireError('invalid empty rectangle');
  return rect;
}

function readOp(r) {
  const op = r.u8();
  switch (op) {
    case Op.FILL: {
      const rect = readRect(r);
      return { op: 'fill', ...rect, r: r.u8(), g: r.u8(), b: r.u8() };
    }
    case Op.COPY: {
      const srcX = r.u16();
      const srcY = r.u16();
      return { op: 'copy', srcX, srcY, ...readRect(r) };
    }
    case Op.IMAGE: {
      const rect = readRect(r);
      const codec = r.u8();
      if (!(codec in CODEC_MIME)) throw new WireError(`invalid codec ${codec}`);
      return { op: 'image', ...rect, codec, data: r.blob32(MAX_SERVER_MESSAGE) };
    }
    default:
      throw new WireError(`unknown frame operation ${hex2(op)}`);
  }
}

/**
 * Decodes one whole gateway → viewer message into `{ type, ...fields }`.
 * Types: hello, frame, desktop_size, cursor, clipboard, bell, pong, end,
 * notice, and the file messages of §2.3 (files, file_listing, file_start,
 * file_data, file_progress, file_done, file_error). Byte fields (image data, cursor png) are views into `data`.
 */
export function decodeServerMessage(data) {
  const bytes = asBytes(data);
  if (bytes.length > MAX_SERVER_MESSAGE) {
    throw new WireError(`message of ${bytes.length} bytes exceeds the limit of ${MAX_SERVER_MESSAGE}`);
  }
  if (bytes.length === 0) throw new WireError('empty message');
  const r = new Reader(bytes, 1);
  let msg;
  switch (bytes[0]) {
    case S_HELLO:
      msg = {
        type: 'hello', version: r.u16(), capabilities: r.u32(), width: r.u16(), height: r.u16(),
        maxFramesInFlight: r.u8(), policy: r.u8(), clipboardMaxBytes: r.u32(),
        name: r.string16(), sessionId: r.string16(),
      };
      break;
    case S_FRAME: {
      msg = { type: 'frame', frameId: r.u32(), damageTimeUs: r.u64(), ops: [] };
      const count = r.u16();
      for (let i = 0; i < count; i += 1) msg.ops.push(readOp(r));
      break;
    }
    case S_DESKTOP_SIZE: msg = { type: 'desktop_size', width: r.u16(), height: r.u16() }; break;
    case S_CURSOR:
      msg = {
        type: 'cursor', hotspotX: r.u16(), hotspotY: r.u16(), width: r.u16(), height: r.u16(),
        png: r.blob32(MAX_SERVER_MESSAGE),
      };
      break;
    case S_CLIPBOARD: msg = { type: 'clipboard', text: r.string32(MAX_CLIPBOARD) }; break;
    case S_BELL: msg = { type: 'bell' }; break;
    case S_PONG: msg = { type: 'pong', nonce: r.u32() }; break;
    case S_END: {
      msg = { type: 'end', code: r.u16(), klass: r.u8() };
      if (msg.klass > 3) throw new WireError(`invalid error class ${msg.klass}`);
      msg.retryable = r.bool('retryable flag');
      msg.message = r.string16();
      break;
    }
    case S_NOTICE: {
      const kind = r.u8();
      if (kind < 1 || kind > 6) throw new WireError(`invalid notice kind ${kind}`);
      msg = { type: 'notice', kind, message: r.string16() };
      break;
    }
    case S_FILES: {
      const flags = r.u8();
      if (flags & ~3) throw new WireError(`invalid file flags ${flags}`);
      msg = {
        type: 'files', upload: (flags & FILES_UPLOAD) !== 0, download: (flags & FILES_DOWNLOAD) !== 0,
        uploadMaxBytes: r.u64(), downloadMaxBytes: r.u64(),
      };
      break;
    }
    case S_FILE_LISTING: {
      msg = { type: 'file_listing', id: r.u32(), truncated: r.bool('truncated flag'), path: r.text16(MAX_FILE_PATH, 'file path'), entries: [] };
      const count = r.u32();
      if (count > 10000) throw new WireError(`listing of ${count} entries exceeds the limit of 10000`);
      for (let i = 0; i < count; i += 1) {
        msg.entries.push({ isDir: r.bool('entry kind'), size: r.u64(), modified: r.u64(), name: r.text16(MAX_FILE_NAME, 'file name') });
      }
      break;
    }
    case S_FILE_START: msg = { type: 'file_start', id: r.u32(), size: r.u64(), name: r.text16(MAX_FILE_NAME, 'file name') }; break;
    case S_FILE_DATA: msg = { type: 'file_data', id: r.u32(), offset: r.u64(), data: r.chunk() }; break;
    case S_FILE_PROGRESS: msg = { type: 'file_progress', id: r.u32(), bytes: r.u64() }; break;
    case S_FILE_DONE: msg = { type: 'file_done', id: r.u32(), bytes: r.u64() }; break;
    case S_FILE_ERROR: {
      msg = { type: 'file_error', id: r.u32(), code: r.u8() };
      if (msg.code < 1 || msg.code > 8) throw new WireError(`invalid file error code ${msg.code}`);
      msg.message = r.string16();
      break;
    }
    default:
      throw new WireError(`unknown message type ${hex2(bytes[0])}`);
  }
  r.finish();
  return msg;
}

function writeOp(w, op) {
  const rect = (o) => w.u16(o.x, 'x').u16(o.y, 'y').u16(o.width, 'width').u16(o.height, 'height');
  switch (op.op) {
    case 'fill': w.u8(Op.FILL); rect(op); w.u8(op.r).u8(op.g).u8(op.b); break;
    case 'copy': w.u8(Op.COPY).u16(op.srcX, 'src x').u16(op.srcY, 'src y'); rect(op); break;
    case 'image': w.u8(Op.IMAGE); rect(op); w.u8(op.codec, 'codec').blob32(asBytes(op.data)); break;
    default: throw new WireError(`unknown frame operation ${op.op}`);
  }
}

/** Encodes a gateway message given as `decodeServerMessage` returns it (for tests and mocks). */
export function encodeServerMessage(msg) {
  const w = new Writer();
  switch (msg.type) {
    case 'hello':
      w.u8(S_HELLO).u16(msg.version ?? VERSION, 'version').u32(msg.capabilities ?? 0, 'capabilities')
        .u16(msg.width, 'width').u16(msg.height, 'height').u8(msg.maxFramesInFlight ?? 1, 'max frames')
        .u8(msg.policy ?? 0, 'policy').u32(msg.clipboardMaxBytes ?? MAX_CLIPBOARD, 'clipboard max')
        .string16(msg.name ?? '').string16(msg.sessionId ?? '');
      break;
    case 'frame':
      w.u8(S_FRAME).u32(msg.frameId, 'frame id').u64(msg.damageTimeUs ?? 0, 'damage time')
        .u16(msg.ops.length, 'op count');
      for (const op of msg.ops) writeOp(w, op);
      break;
    case 'desktop_size': w.u8(S_DESKTOP_SIZE).u16(msg.width, 'width').u16(msg.height, 'height'); break;
    case 'cursor':
      w.u8(S_CURSOR).u16(msg.hotspotX, 'hotspot x').u16(msg.hotspotY, 'hotspot y')
        .u16(msg.width, 'width').u16(msg.height, 'height').blob32(asBytes(msg.png ?? new Uint8Array(0)));
      break;
    case 'clipboard': w.u8(S_CLIPBOARD).blob32(truncateUtf8(msg.text, MAX_CLIPBOARD)); break;
    case 'bell': w.u8(S_BELL); break;
    case 'pong': w.u8(S_PONG).u32(msg.nonce, 'nonce'); break;
    case 'end':
      w.u8(S_END).u16(msg.code, 'code').u8(msg.klass, 'class').bool(msg.retryable).string16(msg.message ?? '');
      break;
    case 'notice': w.u8(S_NOTICE).u8(msg.kind, 'kind').string16(msg.message ?? ''); break;
    case 'files':
      w.u8(S_FILES).u8((msg.upload ? FILES_UPLOAD : 0) | (msg.download ? FILES_DOWNLOAD : 0))
        .u64(msg.uploadMaxBytes ?? 0, 'upload limit').u64(msg.downloadMaxBytes ?? 0, 'download limit');
      break;
    case 'file_listing':
      w.u8(S_FILE_LISTING).u32(msg.id, 'id').bool(msg.truncated).text16(msg.path, MAX_FILE_PATH, 'file path')
        .u32(msg.entries.length, 'entry count');
      for (const e of msg.entries) {
        w.bool(e.isDir).u64(e.size, 'size').u64(e.modified ?? 0, 'modified').text16(e.name, MAX_FILE_NAME, 'file name');
      }
      break;
    case 'file_start': w.u8(S_FILE_START).u32(msg.id, 'id').u64(msg.size, 'size').text16(msg.name, MAX_FILE_NAME, 'file name'); break;
    case 'file_data': w.u8(S_FILE_DATA).u32(msg.id, 'id').u64(msg.offset, 'offset').chunk(msg.data); break;
    case 'file_progress': w.u8(S_FILE_PROGRESS).u32(msg.id, 'id').u64(msg.bytes, 'bytes'); break;
    case 'file_done': w.u8(S_FILE_DONE).u32(msg.id, 'id').u64(msg.bytes, 'bytes'); break;
    case 'file_error': w.u8(S_FILE_ERROR).u32(msg.id, 'id').u8(msg.code, 'code').string16(msg.message ?? ''); break;
    default: throw new WireError(`unknown gateway message type ${msg.type}`);
  }
  return w.finish();
}
