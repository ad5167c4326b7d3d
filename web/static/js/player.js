/**
 * The recording player (player.html?recording=<id>): fetches a recording
 * from the control plane (`GET /api/v1/recordings/{id}/file?purpose=view`,
 * audited as `recording.view`) and plays it on a canvas with the live
 * viewer's own decoding and drawing (`wire.js`, `render.js`): a
 * recording's records are the gateway → viewer messages its viewers got.
 *
 * Play, pause, speed, seeking (to the last keyframe at or before the
 * position, then forward to it), the event track beside the picture, and a
 * banner when the recording is tampered or incomplete: the control plane's
 * verdict (which checks the gateway's signatures) and this page's own
 * check of the hash chain (`recording.js`), the worse of the two.
 *
 * `window.orielPlayer` lets tests drive it: `ready` (a promise),
 * `seek(ms)`, `state()`.
 */

import { api, describeError } from './api.js';
import { Framebuffer } from './render.js';
import { RecordKind, checkChain, clock, parseRecording } from './recording.js';
import { decodeServerMessage } from './wire.js';

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;

/** What an event of the track says, for people. */
/** A keysym as a person reads it: the character for Latin-1 and Unicode keysyms, else its number. */
function keyName(keysym) {
  if (keysym >= 0x20 && keysym <= 0x7e) return `'${String.fromCharCode(keysym)}'`;
  if (keysym >= 0xa0 && keysym <= 0xff) return `'${String.fromCharCode(keysym)}'`;
  if (keysym >= 0x1000100 && keysym <= 0x110ffff) return `'${String.fromCodePoint(keysym - 0x1000000)}'`;
  const named = { 0xff0d: 'Return', 0xff08: 'BackSpace', 0xff09: 'Tab', 0xff1b: 'Escape', 0xffe1: 'Shift', 0xffe3: 'Control', 0xffe9: 'Alt', 0xffff: 'Delete' };
  return named[keysym] || `0x${keysym.toString(16)}`;
}

/** The buttons of a mask (docs/protocol.md: left 1, middle 2, right 4, back 8, forward 16). */
function buttonNames(mask) {
  const names = [[1, 'left'], [2, 'middle'], [4, 'right'], [8, 'back'], [16, 'forward']];
  return names.filter(([bit]) => mask & bit).map(([, name]) => name).join('+') || 'no button';
}

function describeEvent(e) {
  switch (e.type) {
    case 'viewer_joined':
      return `${e.who} joined${e.control ? ' (control)' : ' (view only)'}${e.via ? ` via ${e.via.replace('_', ' ')}` : ''}`;
    case 'viewer_left': return `${e.who} left`;
    case 'viewer_control': return `${e.who} ${e.control ? 'got' : 'lost'} control`;
    case 'resize': return `desktop resized to ${e.width}×${e.height}`;
    case 'clipboard': return `clipboard ${e.direction === 'up' ? 'to the remote' : 'from the remote'}: ${e.bytes} bytes, ${e.decision.replace('_', ' ')}`;
    case 'file': return `file ${e.direction}: ${e.path} (${e.bytes} bytes) ${e.outcome}`;
    case 'key': return `key ${keyName(e.keysym)} ${e.down ? 'down' : 'up'}`;
    case 'buttons': return e.buttons ? `${buttonNames(e.buttons)} pressed at ${e.x},${e.y}` : `buttons released at ${e.x},${e.y}`;
    default: return JSON.stringify(e);
  }
}

class Player {
  constructor(canvas) {
    this.fb = new Framebuffer(canvas);
    this.messages = [];
    this.keyframes = [];
    this.index = 0;
    this.positionMs = 0;
    this.durationMs = 0;
    this.startedUs = 0;
    this.speed = 1;
    this.playing = false;
    this.run = 0;
    this.chain = Promise.resolve();
    this.onPosition = () => {};
  }

  /** Loads the records of a parsed recording. */
  load(parsed) {
    const start = parsed.header.started_us;
    this.startedUs = start;
    let size = null;
    for (const r of parsed.records) {
      if (r.kind !== RecordKind.MESSAGE && r.kind !== RecordKind.KEYFRAME) continue;
      const msg = decodeServerMessage(r.payload);
      if (msg.type === 'hello' || msg.type === 'desktop_size') size = { width: msg.width, height: msg.height };
      const entry = { ms: Math.max(0, (r.timeUs - start) / 1000), msg, keyframe: r.kind === RecordKind.KEYFRAME, size };
      if (entry.keyframe) this.keyframes.push(this.messages.length);
      this.messages.push(entry);
    }
    const last = parsed.records[parsed.records.length - 1];
    this.durationMs = last ? Math.max(0, (last.timeUs - start) / 1000) : 0;
  }

  /** Applies one message to the framebuffer, in order. */
  async apply(entry) {
    const { msg } = entry;
    if (msg.type === 'hello' || msg.type === 'desktop_size') {
      this.fb.reset(msg.width, msg.height);
    } else if (msg.type === 'frame') {
      const bitmaps = await this.fb.decodeImages(msg);
      this.fb.draw(msg, bitmaps);
    }
  }

  /** Applies the messages up to `ms`, one after another. */
  async advanceTo(ms, run) {
    while (this.index < this.messages.length && this.messages[this.index].ms <= ms) {
      if (run !== this.run) return;
      await this.apply(this.messages[this.index]);
      this.index += 1;
    }
    this.positionMs = Math.min(ms, this.durationMs);
    this.onPosition(this.positionMs);
  }

  /** Shows the picture at `ms`: from the last keyframe at or before it. */
  seek(ms) {
    this.run += 1;
    const run = this.run;
    const target = Math.max(0, Math.min(ms, this.durationMs));
    this.chain = this.chain.then(async () => {
      let from = 0;
      for (const k of this.keyframes) if (this.messages[k].ms <= target) from = k;
      const entry = this.messages[from];
      if (from > 0 && entry && entry.size) this.fb.reset(entry.size.width, entry.size.height);
      else this.fb.reset(1, 1);
      this.index = from;
      await this.advanceTo(target, run);
      if (this.playing && run === this.run) this.loop();
    }).catch((err) => this.fail(err));
    return this.chain;
  }

  play() {
    if (this.positionMs >= this.durationMs) return this.seek(0).then(() => this.play());
    this.playing = true;
    this.run += 1;
    this.loop();
    return Promise.resolve();
  }

  pause() {
    this.playing = false;
    this.run += 1;
  }

  setSpeed(speed) {
    this.speed = speed;
    if (this.playing) {
      this.run += 1;
      this.loop();
    }
  }

  /** Plays from the current position at the current speed until paused or done. */
  loop() {
    const run = this.run;
    const wallStart = performance.now();
    const msStart = this.positionMs;
    const tick = () => {
      if (run !== this.run || !this.playing) return;
      const target = msStart + (performance.now() - wallStart) * this.speed;
      this.chain = this.chain.then(() => this.advanceTo(target, run)).then(() => {
        if (run !== this.run) return;
        if (this.positionMs >= this.durationMs) {
          this.playing = false;
          this.onPosition(this.positionMs);
        } else {
          setTimeout(tick, 16);
        }
      }).catch((err) => this.fail(err));
    };
    tick();
  }

  fail(err) {
    this.playing = false;
    this.run += 1;
    showBanner('tampered', `This recording cannot be played further: ${err.message}`);
  }
}

function showBanner(verdict, text) {
  const banner = $('banner');
  banner.hidden = false;
  banner.dataset.verdict = verdict;
  banner.textContent = text;
}

function showVerdict(verdict, detail) {
  const badge = $('verdict');
  badge.className = `badge verdict-${verdict}`;
  badge.textContent = verdict;
  badge.title = detail || '';
  document.body.dataset.verdict = verdict;
}

async function main() {
  const id = new URLSearchParams(window.location.search).get('recording') || '';
  const player = new Player($('screen'));
  let resolveReady;
  let rejectReady;
  const ready = new Promise((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => {});
  const events = [];
  let verdict = 'unknown';
  window.orielPlayer = {
    ready,
    seek: (ms) => player.seek(ms),
    play: () => player.play(),
    pause: () => player.pause(),
    state: () => ({
      verdict,
      startedUs: player.startedUs,
      durationMs: player.durationMs,
      positionMs: player.positionMs,
      playing: player.playing,
      keyframesMs: player.keyframes.map((k) => player.messages[k].ms),
      events: events.length,
    }),
  };
  $('download-link').href = `/api/v1/recordings/${enc(id)}/file`;
  try {
    const meta = await api.getRecording(id);
    $('recording-title').textContent = `${meta.username} on ${meta.workspace_name}, ${meta.started_at.replace('T', ' ').slice(0, 19)} UTC`;
    document.title = `${meta.username} on ${meta.workspace_name} · Oriel recording`;
    const response = await fetch(`/api/v1/recordings/${enc(id)}/file?purpose=view`, { credentials: 'same-origin' });
    if (!response.ok) throw new Error(`the recording cannot be fetched (HTTP ${response.status})`);
    const parsed = parseRecording(await response.arrayBuffer());
    player.load(parsed);
    const chain = await checkChain(parsed);
    // The worse of the server's verdict (signatures checked) and ours.
    const rank = { complete: 0, unchecked: 0, incomplete: 1, tampered: 2 };
    verdict = rank[chain.verdict] > rank[meta.verdict] ? chain.verdict : meta.verdict;
    const detail = verdict === chain.verdict && chain.reason ? chain.reason : meta.verdict_detail;
    showVerdict(verdict, detail);
    const startUs = parsed.header.started_us;
    if (verdict === 'tampered') {
      showBanner('tampered', `Tampered: this recording was changed after it was written (${detail}). What it shows cannot be trusted.`);
    } else if (verdict === 'incomplete') {
      const after = chain.verdict === 'incomplete' ? (chain.verifiedUs - startUs) / 1000 : player.durationMs;
      showBanner('incomplete', `Incomplete after ${clock(after)}: the recording stops before the session's end (the gateway stopped, crashed or its disk filled)${chain.verdict === 'unchecked' ? '' : '; what follows the last checkpoint is unverified'}.`);
    }
    if (chain.verdict === 'unchecked') $('verdict').title = `${meta.verdict_detail || ''} (checked by the server: ${chain.reason})`;
    // The event track, keyframes marked.
    const list = $('events');
    const items = [];
    for (const r of parsed.records) {
      if (r.kind === RecordKind.EVENT || r.kind === RecordKind.END) {
        let e;
        try {
          e = JSON.parse(new TextDecoder().decode(r.payload));
        } catch {
          continue;
        }
        const text = r.kind === RecordKind.END ? `session ended: ${e.reason}` : describeEvent(e);
        events.push({ ms: (r.timeUs - startUs) / 1000, text });
        items.push({ ms: (r.timeUs - startUs) / 1000, text, type: r.kind === RecordKind.END ? 'end' : e.type });
      }
    }
    for (const k of player.keyframes) items.push({ ms: player.messages[k].ms, text: '◆ keyframe', type: 'keyframe' });
    items.sort((a, b) => a.ms - b.ms);
    list.replaceChildren(...items.map((item) => {
      const li = document.createElement('li');
      li.dataset.type = item.type;
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = `${clock(item.ms)} ${item.text}`;
      button.addEventListener('click', () => player.seek(item.ms));
      li.append(button);
      return li;
    }));
    // Controls.
    const seek = $('seek');
    seek.max = String(Math.ceil(player.durationMs));
    seek.disabled = false;
    const play = $('play-button');
    play.disabled = false;
    player.onPosition = (ms) => {
      seek.value = String(Math.round(ms));
      $('position').textContent = `${clock(ms)} / ${clock(player.durationMs)}`;
      play.textContent = player.playing ? 'Pause' : 'Play';
    };
    play.addEventListener('click', () => {
      if (player.playing) player.pause();
      else player.play();
      play.textContent = player.playing ? 'Pause' : 'Play';
    });
    seek.addEventListener('change', () => player.seek(Number(seek.value)));
    $('speed').addEventListener('change', (e) => player.setSpeed(Number(e.target.value)));
    await player.seek(0);
    resolveReady(window.orielPlayer.state());
  } catch (err) {
    showVerdict('error', '');
    showBanner('tampered', `This recording cannot be played: ${describeError(err)}`);
    rejectReady(err);
  }
}

main();
