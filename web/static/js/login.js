/**
 * The login form: user name and password, then — when the server answers
 * `totp_required` — a code of the authenticator app or a recovery code in
 * the same form. A throttled login (429) says how long to wait and keeps
 * the button off until then. Single sign-on buttons come from
 * `GET /api/v1/auth/methods` when the server has it.
 */

import { api, ApiError, describeError } from './api.js';
import { el, isSameOriginPath, showMessage } from './ui/dom.js';

const $ = (id) => document.getElementById(id);

let onSuccess = () => {};
let throttleTimer = 0;
let throttledUntil = 0;

function secondFactorShown() {
  return !$('totp-row').hidden;
}

function showSecondFactor(show) {
  $('totp-row').hidden = !show;
  $('totp').required = show;
  if (!show) $('totp').value = '';
}

function stopThrottle() {
  clearInterval(throttleTimer);
  throttleTimer = 0;
  throttledUntil = 0;
  $('login-button').disabled = false;
  $('login-button').textContent = 'Log in';
}

function waitText(seconds) {
  return seconds >= 120 ? `${Math.ceil(seconds / 60)} minutes` : `${seconds} s`;
}

/**
 * Says how long to wait (once: the error line is announced), keeps the
 * button off and counts down on it until the server accepts logins again.
 */
function startThrottle(seconds, fallbackMessage) {
  stopThrottle();
  if (!seconds) {
    showMessage($('login-error'), fallbackMessage);
    return;
  }
  throttledUntil = Date.now() + seconds * 1000;
  showMessage($('login-error'), `Too many failed logins. Try again in ${waitText(seconds)}.`);
  $('login-error').dataset.retryAfter = String(seconds);
  const button = $('login-button');
  const tick = () => {
    const left = Math.ceil((throttledUntil - Date.now()) / 1000);
    if (left <= 0) {
      stopThrottle();
      showMessage($('login-error'), 'You can try to log in again now.');
      return;
    }
    button.textContent = `Wait ${waitText(left)}`;
  };
  button.disabled = true;
  tick();
  throttleTimer = setInterval(tick, 1000);
}

function loginErrorMessage(err) {
  if (!(err instanceof ApiError)) return describeError(err);
  if (err.status === 401 && err.code === 'invalid_credentials') {
    return secondFactorShown()
      ? 'That code was not accepted. Enter the current code of your authenticator app (each code works once) or an unused recovery code.'
      : 'Wrong username or password.';
  }
  if (err.status === 401) return 'Wrong username or password.';
  return describeError(err);
}

async function onSubmit(event) {
  event.preventDefault();
  if (throttledUntil > Date.now()) return;
  const username = $('username').value.trim();
  const password = $('password').value;
  const code = $('totp').value.trim();
  if (!username || !password) {
    showMessage($('login-error'), 'Enter your username and password.');
    (username ? $('password') : $('username')).focus();
    return;
  }
  if (secondFactorShown() && !code) {
    showMessage($('login-error'), 'Enter the code of your authenticator app, or a recovery code.');
    $('totp').focus();
    return;
  }
  const button = $('login-button');
  button.disabled = true;
  button.textContent = 'Logging in…';
  showMessage($('login-error'), '');
  let throttled = false;
  try {
    const answer = await api.login(username, password, secondFactorShown() ? code : undefined);
    $('password').value = '';
    showSecondFactor(false);
    await onSuccess(answer);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'totp_required') {
      showSecondFactor(true);
      $('totp').focus();
    } else if (err instanceof ApiError && err.status === 429) {
      throttled = true;
      startThrottle(err.retryAfter, describeError(err));
    } else {
      showMessage($('login-error'), loginErrorMessage(err));
      if (secondFactorShown()) $('totp').select();
      else $('password').select();
    }
  } finally {
    if (!throttled) {
      button.textContent = 'Log in';
      button.disabled = false;
    }
  }
}

/** Wires the form; `success(answer)` runs after a successful login. */
export function initLogin(success) {
  onSuccess = success;
  $('login-form').addEventListener('submit', onSubmit);
  // A different user or password starts over without the second factor.
  for (const id of ['username', 'password']) {
    $(id).addEventListener('input', () => {
      if (secondFactorShown()) showSecondFactor(false);
    });
  }
}

/** Shows the form fresh, with `message` (if any) as its error line. */
export function resetLogin(message) {
  if (throttledUntil <= Date.now()) {
    stopThrottle();
    showMessage($('login-error'), message);
  }
  showSecondFactor(false);
  $('password').value = '';
  const username = $('username');
  if (!$('login-form').hidden) (username.value ? $('password') : username).focus();
}

/**
 * Where a single sign-on starts: the provider's `start` path plus, when the
 * page shows a route (e.g. `#/audit`), `return_to` so that the login ends
 * there. The server accepts only a path of this site.
 */
export function ssoStartUrl(start, hash = window.location.hash) {
  const url = new URL(start, window.location.origin);
  if (hash.startsWith('#/') && !/^#\/login(?:[/?]|$)/.test(hash) && hash.length <= 512) {
    url.searchParams.set('return_to', `/${hash}`);
  }
  return url.pathname + url.search;
}

/** A button per provider: `button[data-sso="<id>"]`; it navigates (a redirect, not a fetch). */
function ssoButton(method) {
  const name = typeof method.name === 'string' && method.name ? method.name : 'single sign-on';
  const id = typeof method.id === 'string' ? method.id : '';
  return el('button', {
    type: 'button',
    className: 'button secondary sso-button',
    'data-sso': id,
    text: `Sign in with ${name}`,
    onClick: (event) => {
      event.currentTarget.disabled = true;
      event.currentTarget.setAttribute('aria-busy', 'true');
      window.location.assign(ssoStartUrl(method.start));
    },
  });
}

/** What a failed single sign-on (`/#/login?error=<code>`, see control/src/auth/oidc.rs) means for the user. */
const SSO_ERRORS = {
  oidc_provider_error: 'The identity provider did not log you in (the login may have been cancelled). Try again.',
  oidc_invalid_state: 'That single sign-on could not be checked (it was started in another tab or browser, or cookies are blocked). Start again here.',
  oidc_flow_expired: 'The single sign-on took too long. Start again here.',
  oidc_replayed: 'That single sign-on was already used. Start again here.',
  oidc_invalid_request: 'The identity provider sent an incomplete answer. Try again.',
  oidc_provider_unavailable: 'The identity provider cannot be reached right now. Try again later, or log in with your password if you have one.',
  oidc_token_exchange: 'The identity provider refused to complete the login. Try again.',
  oidc_invalid_token: 'The identity provider\'s answer could not be verified. Ask your administrator.',
  oidc_nonce_mismatch: 'That single sign-on could not be checked. Start again here.',
  oidc_invalid_username: 'Your identity provider account has no user name Oriel can use. Ask your administrator.',
  oidc_username_taken: 'An Oriel user of that name already exists and is not linked to your identity provider account. Ask your administrator.',
  oidc_user_disabled: 'Your account is disabled. Ask your administrator.',
  oidc_internal: 'Oriel could not complete the single sign-on. Try again later.',
  oidc_not_configured: 'Single sign-on is not set up on this server.',
};

/** The `error` code of a `#/login?error=<code>` hash, or null. */
export function loginErrorCode(hash = window.location.hash) {
  const match = /^#\/login\?(.*)$/.exec(hash);
  if (!match) return null;
  const code = new URLSearchParams(match[1]).get('error');
  return code && /^[a-z0-9_]{1,64}$/.test(code) ? code : null;
}

/** A readable message for a login error code (an unknown one is named, nothing else of the address is shown). */
export function ssoErrorMessage(code) {
  if (SSO_ERRORS[code]) return SSO_ERRORS[code];
  return `The single sign-on failed (${code}). Try again, or ask your administrator.`;
}

/**
 * Asks the server which ways of logging in it offers and shows a button per
 * identity provider. Without the endpoint (404) or on any failure, only
 * the password form is shown.
 */
export async function loadSignInMethods() {
  let methods = null;
  try {
    methods = await api.authMethods();
  } catch {
    methods = null;
  }
  const providers = methods && Array.isArray(methods.oidc)
    ? methods.oidc.filter((m) => m && isSameOriginPath(m.start))
    : [];
  $('sso-buttons').replaceChildren(...providers.map(ssoButton));
  $('sso-area').hidden = providers.length === 0;
  const passwordOff = Boolean(methods) && methods.password === false && providers.length > 0;
  $('login-form').hidden = passwordOff;
  $('sso-or').hidden = passwordOff;
}
