//! How a request authenticates, all three ways looked up by the SHA-256 of
//! a secret:
//! - the browser's HttpOnly `oriel_session` cookie (a login session), whose
//!   state-changing requests must carry our own `Origin` (CSRF);
//! - the same login token as `Authorization: Bearer` (scripts that log in);
//! - a long-lived API token (`oriel_pat_…`) as `Authorization: Bearer`,
//!   limited by its scopes on top of its owner's role.
//!
//! The result is the service layer's [`Authed`] caller.

use crate::ControlPlane;
use crate::auth::{API_TOKEN_PREFIX, password};
use crate::error::ApiError;
use crate::service::{Authed, Scope, Via};
use crate::time::now_ms;
use axum::extract::FromRequestParts;
use http::request::Parts;
use http::{StatusCode, header};
use oriel_control_store::LoginStage;
use oriel_gateway_http::RequestContext;
use std::sync::Arc;

/// Name of the login cookie.
pub(crate) const COOKIE: &str = "oriel_session";

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn cookie(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// The client's address, from the front.
pub(crate) fn source(ext: &http::Extensions) -> Option<String> {
    ext.get::<RequestContext>()
        .and_then(|c| c.peer)
        .map(|p| p.ip().to_string())
}

/// The origin a browser page of this control plane has.
pub(crate) fn expected_origin(cp: &ControlPlane, parts: &Parts) -> Option<String> {
    match &cp.settings.public_url {
        Some(url) => oriel_gateway_http::normalize_origin(url),
        None => parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| oriel_gateway_http::normalize_origin(&format!("https://{h}"))),
    }
}

fn is_write(parts: &Parts) -> bool {
    !matches!(
        parts.method,
        http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
    )
}

/// Cookie-authenticated writes must come from our own pages: the browser's
/// `Origin` must be ours (SameSite=Strict cookies and the JSON content type
/// already stop classic form posts; this closes the rest).
fn check_csrf(cp: &ControlPlane, parts: &Parts) -> Result<(), ApiError> {
    if !is_write(parts) {
        return Ok(());
    }
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(oriel_gateway_http::normalize_origin);
    match (origin, expected_origin(cp, parts)) {
        (Some(o), Some(e)) if o == e => Ok(()),
        _ => Err(ApiError::forbidden(
            "cross-site request refused (the Origin header must be this site)",
        )),
    }
}

/// Paths a login that still has to enrol a second factor may use.
fn allowed_while_enrolling(path: &str) -> bool {
    path.starts_with("/api/v1/auth/totp")
        || path == "/api/v1/auth/me"
        || path == "/api/v1/auth/logout"
}

impl FromRequestParts<Arc<ControlPlane>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        cp: &Arc<ControlPlane>,
    ) -> Result<Self, ApiError> {
        let source = source(&parts.extensions);
        let now = now_ms();
        let authed = match (bearer(parts), cookie(parts)) {
            (Some(t), _) if t.starts_with(API_TOKEN_PREFIX) => {
                let (user, token) = cp
                    .store
                    .api_token_login(&password::secret_hash(t), now)
                    .await?
                    .ok_or_else(ApiError::unauthorized)?;
                let scopes = token
                    .scopes
                    .iter()
                    .filter_map(|s| Scope::parse(s))
                    .collect();
                Authed {
                    user,
                    via: Via::ApiToken(scopes),
                    login_hash: None,
                    stage: LoginStage::Full,
                    source,
                }
            }
            (bearer, cookie_value) => {
                let (token, via) = match (bearer, cookie_value) {
                    (Some(t), _) => (t, Via::LoginToken),
                    (None, Some(t)) => (t, Via::Cookie),
                    (None, None) => return Err(ApiError::unauthorized()),
                };
                let hash = password::secret_hash(token);
                let login = cp
                    .store
                    .login(&hash, now)
                    .await?
                    .ok_or_else(ApiError::unauthorized)?;
                if via == Via::Cookie {
                    check_csrf(cp, parts)?;
                }
                Authed {
                    user: login.user,
                    via,
                    login_hash: Some(hash),
                    stage: login.stage,
                    source,
                }
            }
        };
        if authed.stage == LoginStage::TotpEnroll && !allowed_while_enrolling(parts.uri.path()) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "totp_enrollment_required",
                "set up a second factor first (POST /api/v1/auth/totp/enroll)",
            ));
        }
        // Read-only tokens cannot write anything.
        if let Via::ApiToken(scopes) = &authed.via
            && is_write(parts)
            && scopes.iter().all(|s| *s == Scope::Read)
        {
            return Err(ApiError::forbidden("this API token is read-only"));
        }
        Ok(authed)
    }
}
