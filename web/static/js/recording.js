/**
 * Reading a session recording in the browser (the format is in
 * docs/recording.md): the header, the records, and a check of the SHA-256
 * hash chain against its checkpoints with SubtleCrypto.
 *
 * What this does not check: the checkpoints' Ed25519 signatures (the
 * gateway's public key is not given to the browser). The control plane
 * checks them; the player shows its verdict (`GET /api/v1/recordings/{id}`)
 * beside this one, and the worse of the two wins.
 */

export const MAGIC = 'ORIELREC';
export const VERSION = 1;
export const RecordKind = Object.freeze({ MESSAGE: 1, KEYFRAME: 2, EVENT: 3, CHECKPOINT: 4, END: 5, TERMINAL: 6 });
const RECORD_HEAD = 13;
const MAX_HEADER = 64 << 10;
const MAX_RECORD = 64 << 20;
const CHAIN_PREFIX = new TextEncoder().encode('oriel-recording-1');

export class RecordingError extends Error {
  constructor(message) {
    super(message);
    this.name = 'RecordingError';
  }
}

/**
 * Parses `buffer` (an ArrayBuffer): `{header, headerEnd, records, checkpoints,
 * trailing}`. Each record is `{kind, timeUs, offset, end, payload}` (times
 * as Numbers of µs), checkpoints included in order. `trailing` is the
 * number of bytes after the last whole record (a recording cut short);
 * `bad` is the offset of a record that cannot be read, or -1. Throws
 * RecordingError when the bytes are not a recording at all.
 */
export function parseRecording(buffer) {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  if (bytes.length < 14 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new RecordingError('not an Oriel recording');
  }
  if (view.getUint16(8) !== VERSION) throw new RecordingError('a recording of another version');
  const headerLen = view.getUint32(10);
  if (headerLen > MAX_HEADER || bytes.length < 14 + headerLen) throw new RecordingError('the header is cut short');
  let header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(14, 14 + headerLen)));
  } catch (err) {
    throw new RecordingError(`the header is not valid: ${err.message}`);
  }
  const headerEnd = 14 + headerLen;
  const records = [];
  let at = headerEnd;
  let bad = -1;
  while (at + RECORD_HEAD <= bytes.length) {
    const kind = bytes[at];
    const timeUs = Number(view.getBigUint64(at + 1));
    const len = view.getUint32(at + 9);
    if (kind < 1 || kind > 6 || len > MAX_RECORD) {
      bad = at;
      break;
    }
    const start = at + RECORD_HEAD;
    if (start + len > bytes.length) break;
    records.push({ kind, timeUs, offset: at, end: start + len, payload: bytes.subarray(start, start + len) });
    at = start + len;
  }
  return { header, headerEnd, records, trailing: bad >= 0 ? 0 : bytes.length - at, bad, bytes };
}

async function sha256(parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', joined));
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Checks the hash chain of a parsed recording: `{verdict, verifiedUs,
 * reason}`. `verdict` is `complete` (ends with END and a checkpoint, every
 * checkpoint's hash matches), `incomplete` (cut short: the records after
 * the last checkpoint are unverified; `verifiedUs` is the time of the last
 * verified record) or `tampered` (a checkpoint's hash does not match the
 * records before it, a record cannot be read, records after the end).
 * Signatures are not checked here (see the module comment).
 */
export async function checkChain(parsed) {
  if (!globalThis.crypto || !crypto.subtle) {
    return { verdict: 'unchecked', verifiedUs: 0, reason: 'this browser has no SubtleCrypto (the page is not served over HTTPS)' };
  }
  const { bytes, headerEnd, records } = parsed;
  let hash = await sha256([CHAIN_PREFIX, bytes.subarray(0, headerEnd)]);
  let seq = 0;
  let segment = [];
  let verifiedUs = parsed.header.started_us || 0;
  let lastUs = verifiedUs;
  let ended = false;
  let unsigned = 0;
  for (const r of records) {
    if (r.kind === RecordKind.CHECKPOINT) {
      hash = await sha256([hash, ...segment]);
      seq += 1;
      segment = [];
      const p = r.payload;
      const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
      if (p.length !== 100 || view.getUint32(0) !== seq || !equal(p.subarray(4, 36), hash)) {
        return { verdict: 'tampered', verifiedUs, reason: `the records do not match checkpoint ${seq} (byte ${r.offset})` };
      }
      verifiedUs = lastUs;
      unsigned = 0;
    } else {
      if (ended) return { verdict: 'tampered', verifiedUs, reason: `records after the end (byte ${r.offset})` };
      segment.push(bytes.subarray(r.offset, r.end));
      ended = r.kind === RecordKind.END;
      lastUs = r.timeUs;
      unsigned += 1;
    }
  }
  if (parsed.bad >= 0) return { verdict: 'tampered', verifiedUs, reason: `a record that cannot be read (byte ${parsed.bad})` };
  if (ended && unsigned === 0 && parsed.trailing === 0) return { verdict: 'complete', verifiedUs, reason: '' };
  return { verdict: 'incomplete', verifiedUs, reason: 'the recording stops before its end' };
}

/** `hh:mm:ss` of a duration in milliseconds. */
export function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}
