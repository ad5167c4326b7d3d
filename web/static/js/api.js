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
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
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
    let message = err && typeof err.message === 'string' && err.message ? err.message : defaultMessage(response.status);
    if (data === undefined && response.status !== 401 && response.status !== 429 && response.status < 500) {
      // Not an answer of the Oriel API (whose errors are JSON): a proxy or a wrong address.
      message = `Unexpected answer from the server (HTTP ${response.status}). Is this the Oriel address?`;
    }
    const code = err && typeof err.code === 'string' ? err.code : `http_${response.status}`;
    throw new ApiError(response.status, code, message);
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

export const api = {
  /** The logged-in user `{id, username, role}`; ApiError 401 when not logged in. */
  me: () => request('GET', '/auth/me'),
  /** Logs in; sets the session cookie. Resolves to `{token, expires_at, user}`. */
  login: (username, password) => request('POST', '/auth/login', { username, password }),
  /** Logs out (clears the cookie). */
  logout: () => request('POST', '/auth/logout'),
  /** `{items: [workspace], next}`. */
  listWorkspaces: () => request('GET', '/workspaces'),
  /** Starts a session on a workspace (id or name): `{id, viewer_url, ...}`. */
  createSession: (workspace) => request('POST', '/sessions', { workspace }),
  /** `{items: [session], next}`. */
  listSessions: () => request('GET', '/sessions'),
  /** A fresh stream token for a session: `{token, stream_url, expires_at}`. */
  sessionToken: (id) => request('POST', `/sessions/${enc(id)}/token`),
  /** Ends a session. */
  endSession: (id) => request('DELETE', `/sessions/${enc(id)}`),
};

/** The viewer page of a session. */
export function viewerUrl(sessionId) {
  return `/viewer.html?session=${enc(sessionId)}`;
}
