/**
 * REST client for the Oriel control plane (`/api/v1`): same-origin fetch
 * with the session cookie, JSON in and out.
 *
 * Every failure becomes an `ApiError` with the HTTP status (0 when the
 * server could not be reached), the server's error code and a message fit
 * for the user. The bearer token in the login answer is never stored: the
 * HttpOnly cookie carries the login.
 */

const BASE = '/api/v1';

/** A failed API call. `status` is 0 for network failures. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null, detail = null, field = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    /** The request field the server says is at fault (`error.field`, e.g. "target.host"), or null. */
    this.field = field;
    /** The server's own message, as sent (lowercase, e.g. "target.host must be …"), or null. */
    this.detail = detail;
    /** Seconds to wait before retrying (the `Retry-After` header of a 429), or null. */
    this.retryAfter = retryAfter;
  }

  /** The login is missing or expired. */
  get unauthorized() {
    return this.status === 401;
  }
}

const DEFAULT_MESSAGES = {
  0: 'Cannot reach the Oriel server. Check your connection and try again.',
  400: 'The server rejected the request.',
  401: 'You are not logged in, or your login has expired.',
  403: 'You are not allowed to do that.',
  404: 'Not found: it may have been removed.',
  409: 'That conflicts with the current state; reload and try again.',
  410: 'That no longer exists.',
  413: 'That is too large for the server.',
  429: 'Too many requests. Wait a moment and try again.',
  503: 'The server is unavailable right now. Try again shortly.',
};

function defaultMessage(status) {
  if (DEFAULT_MESSAGES[status]) return DEFAULT_MESSAGES[status];
  if (status >= 500) return `The server had a problem (HTTP ${status}). Try again later.`;
  return `The request failed (HTTP ${status}).`;
}

/** The `Retry-After` header in whole seconds (delta or HTTP date), or null. */
function retryAfterSecs(response) {
  const value = response.headers.get('Retry-After');
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(1, Math.ceil((when - Date.now()) / 1000));
}

/** The server's messages are lowercase without a final stop; people read sentences. */
export function sentence(text) {
  const t = String(text).trim();
  if (!t) return t;
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?…]$/.test(t) ? '' : '.');
}

async function readJson(response) {
  const type = response.headers.get('Content-Type') || '';
  if (!type.includes('json')) return undefined;
  try {
    return await response.json();
  } catch {
    return undefined;
  }
}

/**
 * Calls `method` `path` (relative to /api/v1) with an optional JSON `body`.
 * Resolves to the parsed JSON (null for 204).
 */
export async function request(method, path, body) {
  const init = {
    method,
    credentials: 'same-origin',
    cache: 'no-store',
    headers: { Accept: 'application/json' },
  };
  // The server requires the JSON content type on state-changing requests (a
  // CSRF defence), so every POST carries a JSON body, `{}` when it has none.
  if (method === 'POST' && body === undefined) body = {};
  if (method !== 'GET' && method !== 'HEAD') init.headers['Content-Type'] = 'application/json';
  if (body !== undefined) init.body = JSON.stringify(body);
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, 'network', defaultMessage(0));
  }
  if (response.status === 204) return null;
  const data = await readJson(response);
  if (!response.ok) {
    const err = data && typeof data === 'object' ? data.error : undefined;
    const detail = err && typeof err.message === 'string' && err.message ? err.message : null;
    let message = detail ? sentence(detail) : defaultMessage(response.status);
    if (data === undefined && response.status !== 401 && response.status !== 429 && response.status < 500) {
      // Not an answer of the Oriel API (whose errors are JSON): a proxy or a wrong address.
      message = `Unexpected answer from the server (HTTP ${response.status}). Is this the Oriel address?`;
    }
    const code = err && typeof err.code === 'string' ? err.code : `http_${response.status}`;
    const field = err && typeof err.field === 'string' && err.field ? err.field : null;
    throw new ApiError(response.status, code, message, retryAfterSecs(response), detail, field);
  }
  if (data === undefined) {
    throw new ApiError(response.status, 'bad_response', 'The server sent an unexpected answer. Try reloading the page.');
  }
  return data;
}

/** A user-facing message for any error thrown by this module or elsewhere. */
export function describeError(err) {
  if (err instanceof ApiError) return err.message;
  return 'Something went wrong: ' + (err && err.message ? err.message : String(err));
}

const enc = encodeURIComponent;

/**
 * A query string (with its `?`) of the non-empty values of `params`, or ''.
 */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** Every item of a paged list (`{items, next}`), following `next` up to `maxPages` pages. */
export async function listAll(path, params = {}, maxPages = 20) {
  const items = [];
  let after = null;
  for (let page = 0; page < maxPages; page += 1) {
    const answer = await request('GET', path + query({ ...params, limit: 200, after }));
    if (Array.isArray(answer && answer.items)) items.push(...answer.items);
    after = answer && typeof answer.next === 'string' ? answer.next : null;
    if (!after) break;
  }
  return items;
}

export const api = {
  /**
   * The logged-in user `{id, username, role, stage, groups, totp_enabled,
   * totp_required}`; ApiError 401 when not logged in.
   */
  me: () => request('GET', '/auth/me'),
  /**
   * Logs in; sets the session cookie. Resolves to `{token, expires_at, user,
   * stage}`. `totp` is a code of the authenticator app or a recovery code;
   * without it a user with a second factor gets ApiError 401 `totp_required`.
   */
  login: (username, password, totp) => {
    const body = { username, password };
    if (totp) body.totp = totp;
    return request('POST', '/auth/login', body);
  },
  /** Logs out (clears the cookie). */
  logout: () => request('POST', '/auth/logout'),
  /** `{password, oidc: [{id, name, start}]}`; ApiError 404 on servers without it. */
  authMethods: () => request('GET', '/auth/methods'),
  /** Changes one's own password; every login of the user ends. */
  changePassword: (current, next) => request('POST', '/auth/password', { current, new: next }),
  /** Starts TOTP enrolment: `{secret, otpauth_uri, qr_svg}`. */
  totpEnroll: () => request('POST', '/auth/totp/enroll'),
  /** Confirms enrolment with a code: `{recovery_codes}`. */
  totpConfirm: (code) => request('POST', '/auth/totp/confirm', { code }),
  /** Turns the second factor off (needs a current code). */
  totpDisable: (code) => request('DELETE', '/auth/totp', { code }),

  /** `{items: [user], next}`. */
  listUsers: (params) => request('GET', `/users${query(params)}`),
  createUser: (body) => request('POST', '/users', body),
  updateUser: (id, body) => request('PUT', `/users/${enc(id)}`, body),
  deleteUser: (id) => request('DELETE', `/users/${enc(id)}`),

  /** `{items: [group], next}`. */
  listGroups: (params) => request('GET', `/groups${query(params)}`),
  createGroup: (body) => request('POST', '/groups', body),
  updateGroup: (id, body) => request('PUT', `/groups/${enc(id)}`, body),
  deleteGroup: (id) => request('DELETE', `/groups/${enc(id)}`),

  /** `{items: [zone], next: null}`: every zone, by name. */
  listZones: () => request('GET', '/zones'),
  createZone: (body) => request('POST', '/zones', body),
  updateZone: (name, body) => request('PUT', `/zones/${enc(name)}`, body),
  deleteZone: (name) => request('DELETE', `/zones/${enc(name)}`),

  /** `{items: [workspace], next}`: all of them for admins and auditors, else those granted. */
  listWorkspaces: (params) => request('GET', `/workspaces${query(params)}`),
  createWorkspace: (body) => request('POST', '/workspaces', body),
  updateWorkspace: (id, body) => request('PUT', `/workspaces/${enc(id)}`, body),
  deleteWorkspace: (id) => request('DELETE', `/workspaces/${enc(id)}`),

  /** `{items: [token], next}`, newest first: own tokens; `{scope: 'all'}` for everyone's (admins, auditors). */
  listTokens: (params) => request('GET', `/tokens${query(params)}`),
  /** `{..., token}`: the secret is in this answer only. */
  createToken: (body) => request('POST', '/tokens', body),
  revokeToken: (id) => request('DELETE', `/tokens/${enc(id)}`),

  /** `{items: [entry], next}`, newest first. */
  listAudit: (params) => request('GET', `/audit${query(params)}`),
  /** Starts a session on a workspace (id or name): `{id, viewer_url, ...}`. */
  createSession: (workspace) => request('POST', '/sessions', { workspace }),
  /** `{items: [session], next}`: own sessions; `{scope: 'all'}` for everyone's (admins, auditors). */
  listSessions: (params) => request('GET', `/sessions${query(params)}`),
  /** A fresh stream token for a session: `{token, stream_url, expires_at}`. */
  sessionToken: (id) => request('POST', `/sessions/${enc(id)}/token`),
  /** Ends a session. */
  endSession: (id) => request('DELETE', `/sessions/${enc(id)}`),

  /** `{items: [share], allowed, control_allowed}`: a session's share links (owner, admins). */
  listShares: (id) => request('GET', `/sessions/${enc(id)}/shares`),
  /** A new share link `{control, expires_in_secs, groups}` → the link `{link, url, state, ...}`. */
  createShare: (id, body) => request('POST', `/sessions/${enc(id)}/shares`, body),
  /** Revokes a share link: its viewers are closed. */
  revokeShare: (id, link) => request('DELETE', `/sessions/${enc(id)}/shares/${enc(link)}`),
  /** Hands a link's control over (`true`) or takes it back. */
  shareControl: (id, link, control) => request('POST', `/sessions/${enc(id)}/shares/${enc(link)}/control`, { control }),
  /** Joins a share link: `{session_id, workspace_name, owner, control, token, stream_url, expires_at}`. */
  joinShare: (link) => request('POST', `/shares/${enc(link)}/join`),
  /** Admins: a token to watch (or, `control`, drive) someone's session; same shape as joinShare. */
  shadowSession: (id, control) => request('POST', `/sessions/${enc(id)}/shadow`, { control: Boolean(control) }),

  /** `{items: [recording], next}`, newest first (admins, auditors); filters `session`, `user`, `workspace` (ids). */
  listRecordings: (params) => request('GET', `/recordings${query(params)}`),
  /** A recording's metadata, its verdict checked again by the server. */
  getRecording: (id) => request('GET', `/recordings/${enc(id)}`),
  /** Deletes a recording (admins). */
  deleteRecording: (id) => request('DELETE', `/recordings/${enc(id)}`),
};

/** The address of the audit log export (JSON lines) with the same filters as the list. */
export function auditExportUrl(filters) {
  return `${BASE}/audit/export${query(filters)}`;
}

/** The player page of a recording. */
export function playerUrl(recordingId) {
  return `/player.html?recording=${enc(recordingId)}`;
}

/** The download address of a recording's file. */
export function recordingFileUrl(recordingId) {
  return `${BASE}/recordings/${enc(recordingId)}/file`;
}

/** The download address of an SSH recording's terminal text (asciicast v2). */
export function recordingCastUrl(recordingId) {
  return `${BASE}/recordings/${enc(recordingId)}/cast`;
}

/** The viewer page of a session. */
export function viewerUrl(sessionId) {
  return `/viewer.html?session=${enc(sessionId)}`;
}

/** The viewer page on which an admin watches (`control`: drives) someone's session. */
export function shadowUrl(sessionId, control) {
  return `/viewer.html?session=${enc(sessionId)}&watch=${control ? 'control' : 'view'}`;
}
