/**
 * The session policy in forms: a workspace's full policy (check boxes and
 * numbers) and a group's overrides (each field "as the workspace says",
 * or a value). Field names and limits follow the OpenAPI `Policy` schema.
 */

import { el, formatBytes, formatSecs } from '../ui/dom.js';
import { InputError, checkbox, field, intValue, select } from '../ui/form.js';

const U32 = 4294967295;
/** Default of each file size limit: 100 MiB. */
const DEFAULT_FILE_MAX = 104857600;

/**
 * The value of field `f` in `policy`. The file size limits fall back on
 * the legacy `transfer_max_bytes` (one limit for both directions), which
 * the server still reads but never returns; the forms never send it.
 */
function currentValue(policy, f) {
  const v = policy[f.key];
  if ((v === undefined || v === null) && f.legacy) return policy.transfer_max_bytes;
  return v;
}

/** The policy's fields, in the order the forms show them. */
export const POLICY_FIELDS = [
  { key: 'clipboard_up', type: 'bool', label: 'Clipboard to the remote desktop' },
  { key: 'clipboard_down', type: 'bool', label: 'Clipboard from the remote desktop' },
  { key: 'clipboard_max_bytes', type: 'int', label: 'Clipboard limit (bytes)', max: 1048576, fallback: 1048576 },
  // Each direction's size limit follows its check box, so the two read as a pair.
  { key: 'upload', type: 'bool', label: 'File upload' },
  { key: 'upload_max_bytes', type: 'int', label: 'Largest upload (bytes, 0 = no limit)', max: Number.MAX_SAFE_INTEGER, fallback: DEFAULT_FILE_MAX, legacy: true },
  { key: 'download', type: 'bool', label: 'File download' },
  { key: 'download_max_bytes', type: 'int', label: 'Largest download (bytes, 0 = no limit)', max: Number.MAX_SAFE_INTEGER, fallback: DEFAULT_FILE_MAX, legacy: true },
  { key: 'watermark', type: 'bool', label: 'Watermark drawn into the picture (the viewer cannot remove it; recordings carry it)' },
  // The watermark's look is the workspace's own: groups do not override it.
  { key: 'watermark_text', type: 'text', label: 'Watermark text ({user} {time} {session} {client}; | starts a line)', fallback: '{user} {time}|{session} {client}', maxLength: 200, workspaceOnly: true },
  { key: 'watermark_opacity', type: 'int', label: 'Watermark opacity (percent, 1–100)', min: 1, max: 100, fallback: 25, workspaceOnly: true },
  { key: 'watermark_angle', type: 'int', label: 'Watermark angle (degrees, −90 to 90)', min: -90, max: 90, fallback: 30, workspaceOnly: true },
  { key: 'recording', type: 'bool', label: 'Record the session (at the gateway; the session does not start if it cannot be recorded)' },
  // How long recordings are kept is the workspace's own: groups do not override it.
  { key: 'recording_retention_days', type: 'int', label: 'Keep recordings (days, 0 = keep)', max: 36500, fallback: 0, workspaceOnly: true },
  { key: 'recording_keystrokes', type: 'bool', label: 'Recordings list the keys typed', workspaceOnly: true },
  { key: 'idle_timeout_secs', type: 'int', label: 'Idle timeout (seconds, 0: none)', max: U32, fallback: 0 },
  { key: 'max_session_secs', type: 'int', label: 'Maximum session length (seconds, 0: none)', max: U32, fallback: 0 },
  { key: 'max_sessions_per_user', type: 'int', label: 'Sessions per user (0: no limit)', max: U32, fallback: 0 },
  // Who else may see a session is the workspace's own: groups do not override it.
  { key: 'share_links', type: 'bool', label: 'Owners may share their session with a link (view only)', workspaceOnly: true },
  { key: 'share_links_control', type: 'bool', label: 'Share links may give control', workspaceOnly: true },
  { key: 'silent_monitoring', type: 'bool', label: 'Admins may watch without the user being told (silent monitoring)', workspaceOnly: true },
];

/** A workspace's policy: every field set. Returns `{row, value()}`. */
export function policyFieldset(policy = {}) {
  const inputs = POLICY_FIELDS.map((f) => {
    const current = currentValue(policy, f);
    if (f.type === 'bool') return [f, checkbox({ label: f.label, name: `policy.${f.key}`, checked: Boolean(current) })];
    if (f.type === 'text') {
      return [f, field({ label: f.label, name: `policy.${f.key}`, type: 'text', value: current ?? f.fallback,
        attrs: { maxlength: String(f.maxLength) } })];
    }
    return [f, field({ label: f.label, name: `policy.${f.key}`, type: 'text', value: current ?? f.fallback,
      attrs: { inputmode: 'numeric' } })];
  });
  const row = el('fieldset', { className: 'field-group policy', 'data-field': 'policy' },
    el('legend', { text: 'Session policy' }),
    el('p', { className: 'hint', text: 'Enforced by the gateway. Groups that grant the workspace may override it.' }),
    el('div', { className: 'field-grid' }, inputs.map(([, input]) => input.row)));
  const value = () => {
    const out = {};
    for (const [f, input] of inputs) {
      if (f.type === 'bool') out[f.key] = input.input.checked;
      else if (f.type === 'text') {
        const text = input.input.value.trim();
        if (!text) throw new InputError(`${f.label}: enter some text.`, input.input.name);
        out[f.key] = text;
      } else {
        const n = intValue(input.input, f.label, { min: f.min ?? 0, max: f.max });
        if (n === null) throw new InputError(`${f.label}: enter a number.`, input.input.name);
        out[f.key] = n;
      }
    }
    return out;
  };
  return { row, value };
}

/** A group's overrides: unset fields leave the workspace's value. Returns `{row, value()}`. */
export function overridesFieldset(overrides = {}) {
  const inputs = POLICY_FIELDS.filter((f) => !f.workspaceOnly).map((f) => {
    const current = currentValue(overrides, f);
    if (f.type === 'bool') {
      const value = current === true ? 'on' : current === false ? 'off' : '';
      return [f, select({ label: f.label, name: `override.${f.key}`, value,
        options: [['', 'As the workspace says'], ['on', 'On'], ['off', 'Off']] })];
    }
    return [f, field({ label: f.label, name: `override.${f.key}`, type: 'text', value: current ?? '',
      placeholder: 'as the workspace says', attrs: { inputmode: 'numeric' } })];
  });
  const row = el('fieldset', { className: 'field-group policy', 'data-field': 'overrides' },
    el('legend', { text: 'Policy overrides' }),
    el('p', { className: 'hint', text: 'For the workspaces this group grants. Leave a field as the workspace says to keep its value. When several groups grant a workspace, the most permissive value wins.' }),
    el('div', { className: 'field-grid' }, inputs.map(([, input]) => input.row)));
  const value = () => {
    const out = {};
    for (const [f, input] of inputs) {
      if (f.type === 'bool') {
        if (input.input.value === 'on') out[f.key] = true;
        else if (input.input.value === 'off') out[f.key] = false;
      } else {
        const n = intValue(input.input, f.label, { max: f.max });
        if (n !== null) out[f.key] = n;
      }
    }
    return out;
  };
  return { row, value };
}

/**
 * A one-line summary of a workspace's policy, or (`overrides`) of a group's
 * overrides, where only set fields count and "off" is worth saying.
 */
export function policySummary(policy = {}, { overrides = false } = {}) {
  const parts = [];
  const on = (k) => policy[k] === true;
  const set = (k) => policy[k] !== undefined && policy[k] !== null;
  if (set('clipboard_up') || set('clipboard_down')) {
    const dirs = [on('clipboard_up') && 'to', on('clipboard_down') && 'from'].filter(Boolean);
    parts.push(dirs.length ? `clipboard ${dirs.join('+')} remote` : 'no clipboard');
  }
  if (set('clipboard_max_bytes') && (overrides || on('clipboard_up') || on('clipboard_down'))) {
    parts.push(`clipboard ≤ ${formatBytes(policy.clipboard_max_bytes)}`);
  }
  if (set('upload') || set('download')) {
    const dirs = [on('upload') && 'upload', on('download') && 'download'].filter(Boolean);
    parts.push(dirs.length ? dirs.join('+') : 'no file transfer');
  }
  for (const [dir, key] of [['upload', 'upload_max_bytes'], ['download', 'download_max_bytes']]) {
    const limit = currentValue(policy, { key, legacy: true });
    if (limit === undefined || limit === null || !(overrides || on(dir))) continue;
    parts.push(limit === 0 ? `${dir}s unlimited` : `${dir}s ≤ ${formatBytes(limit)}`);
  }
  for (const [key, yes, no] of [['watermark', 'watermark', 'no watermark'], ['recording', 'recorded', 'not recorded']]) {
    if (on(key)) parts.push(yes);
    else if (overrides && policy[key] === false) parts.push(no);
  }
  for (const [key, text] of [['idle_timeout_secs', 'idle timeout'], ['max_session_secs', 'max length']]) {
    if (policy[key]) parts.push(`${text} ${formatSecs(policy[key])}`);
    else if (overrides && policy[key] === 0) parts.push(`no ${text}`);
  }
  if (on('share_links')) parts.push(on('share_links_control') ? 'share links with control' : 'view-only share links');
  if (on('silent_monitoring')) parts.push('silent monitoring');
  if (policy.max_sessions_per_user) parts.push(`${policy.max_sessions_per_user} per user`);
  else if (overrides && policy.max_sessions_per_user === 0) parts.push('no session limit');
  return parts.join(', ') || (overrides ? 'none' : '–');
}
