//! Local users: argon2id passwords, login sessions as cookie or bearer token,
//! and CSRF protection for cookie-authenticated writes.

use crate::ControlPlane;
use crate::error::{ApiError, json_rejection};
use crate::time::{now_ms, rfc3339};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use oriel_control_store::{Role, User};
use oriel_gateway_http::RequestContext;
use ring::rand::{SecureRandom as _, SystemRandom};
use serde::Deserialize;
use std::sync::Arc;
use tracing::{info, warn};
use zeroize::Zeroizing;

/// Name of the login cookie.
pub(crate) const COOKIE: &str = "oriel_session";

/// Hashes a password with argon2id (default parameters: 19 MiB, 2 passes).
pub(crate) fn hash_password_blocking(
    password: &str,
) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| argon2::password_hash::Error::Crypto)?;
    let salt = SaltString::encode_b64(&salt)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Checks a password against a PHC hash string.
pub(crate) fn verify_password_blocking(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random password of 20 characters for the first admin.
pub(crate) fn generate_password() -> Result<Zeroizing<String>, ring::error::Unspecified> {
    random_token(15)
}

/// Base64url of `n` random bytes.
fn random_token(n: usize) -> Result<Zeroizing<String>, ring::error::Unspecified> {
    let mut bytes = Zeroizing::new(vec![0u8; n]);
    SystemRandom::new().fill(&mut bytes)?;
    Ok(Zeroizing::new(B64.encode(&*bytes)))
}

/// SHA-256 of a login token, hex: what the database stores.
pub(crate) fn token_hash(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// How the request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Cookie,
    Bearer,
}

/// An authenticated request.
#[derive(Debug, Clone)]
pub(crate) struct Authed {
    pub user: User,
    pub token_hash: String,
}

impl Authed {
    pub(crate) fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    pub(crate) fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden("this needs the admin role"))
        }
    }
}

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

/// Cookie-authenticated writes must come from our own pages: the browser's
/// `Origin` must be ours (SameSite=Strict cookies and the JSON content type
/// already stop classic form posts; this closes the rest).
fn check_csrf(cp: &ControlPlane, parts: &Parts) -> Result<(), ApiError> {
    if matches!(
        parts.method,
        http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
    ) {
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

impl FromRequestParts<Arc<ControlPlane>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        cp: &Arc<ControlPlane>,
    ) -> Result<Self, ApiError> {
        let (token, via) = match (bearer(parts), cookie(parts)) {
            (Some(t), _) => (t.to_owned(), Via::Bearer),
            (None, Some(t)) => (t.to_owned(), Via::Cookie),
            (None, None) => return Err(ApiError::unauthorized()),
        };
        let hash = token_hash(&token);
        let login = cp
            .store
            .login(&hash, now_ms())
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        if via == Via::Cookie {
            check_csrf(cp, parts)?;
        }
        Ok(Authed {
            user: login.user,
            token_hash: hash,
        })
    }
}

/// The client's address, from the front.
pub(crate) fn peer(parts_ext: &http::Extensions) -> Option<String> {
    parts_ext
        .get::<RequestContext>()
        .and_then(|c| c.peer)
        .map(|p| p.ip().to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    username: String,
    password: String,
}

fn user_json(u: &User) -> serde_json::Value {
    serde_json::json!({ "id": u.id, "username": u.username, "role": u.role, "created_at": rfc3339(u.created_at) })
}

/// `POST /api/v1/auth/login`.
pub(crate) async fn login(
    State(cp): State<Arc<ControlPlane>>,
    ext: http::Extensions,
    body: Result<Json<LoginBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(json_rejection)?;
    let body_password = Zeroizing::new(body.password);
    let source = peer(&ext);
    if body.username.len() > 256 || body_password.len() > 1024 {
        return Err(ApiError::invalid("username or password too long"));
    }
    let record = cp.store.user_by_name(&body.username).await?;
    // Unknown users are checked against a dummy hash: same time as a wrong password.
    let (hash, user) = match &record {
        Some(r) if !r.disabled => (r.password_hash.clone(), Some(r.user.clone())),
        _ => (cp.dummy_hash.clone(), None),
    };
    let password = body_password.clone();
    let ok = tokio::task::spawn_blocking(move || verify_password_blocking(&password, &hash))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let Some(user) = user.filter(|_| ok) else {
        warn!(username = %body.username, source = source.as_deref().unwrap_or(""), "login failed");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong username or password",
        ));
    };
    let token = random_token(32).map_err(|e| ApiError::internal(&e))?;
    let now = now_ms();
    let ttl_ms = cp.settings.login_ttl.as_millis() as i64;
    let expires_at = now + ttl_ms;
    cp.store
        .create_login(
            &token_hash(&token),
            &user.id,
            now,
            expires_at,
            source.as_deref(),
        )
        .await?;
    info!(user = %user.username, source = source.as_deref().unwrap_or(""), "login");
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        token.as_str(),
        ttl_ms / 1000
    );
    let mut resp = Json(serde_json::json!({
        "token": token.as_str(),
        "expires_at": rfc3339(expires_at),
        "user": user_json(&user),
    }))
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// `POST /api/v1/auth/logout`.
pub(crate) async fn logout(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
) -> Result<Response, ApiError> {
    cp.store.delete_login(&auth.token_hash).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "oriel_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
        ),
    );
    Ok(resp)
}

/// `GET /api/v1/auth/me`.
pub(crate) async fn me(auth: Authed) -> Json<serde_json::Value> {
    Json(user_json(&auth.user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password_blocking("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password_blocking("correct horse", &h));
        assert!(!verify_password_blocking("wrong", &h));
        assert!(!verify_password_blocking("x", "not a hash"));
        assert_ne!(
            hash_password_blocking("correct horse").unwrap(),
            h,
            "salted"
        );
    }

    #[test]
    fn generated_secrets_are_long_and_distinct() {
        let a = generate_password().unwrap();
        let b = generate_password().unwrap();
        assert_eq!(a.len(), 20);
        assert_ne!(*a, *b);
        assert_eq!(token_hash("abc").len(), 64);
    }
}
