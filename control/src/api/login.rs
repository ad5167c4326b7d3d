//! Logging in and out, who am I, changing one's password.
//!
//! Failed logins are throttled per user name and per client address with
//! exponential back-off (429 with `Retry-After`); an unknown user name is
//! throttled like a known one and answers like a wrong password, after the
//! same amount of hashing work.

use super::authn::{self, COOKIE};
use crate::api::openapi::responses::{
    BadRequest, Conflict, TooManyRequests, Unprocessable, UnsupportedMediaType,
};
use crate::auth::{password, totp};
use crate::error::ErrorBody;
use crate::error::{ApiError, json_rejection};
use crate::service::Authed;
use crate::service::policy::totp_required;
use crate::time::{now_ms, rfc3339};
use crate::{ControlPlane, audit::Audit};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use oriel_control_store::{LoginStage, Role, ThrottleRule, User, UserRecord};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tracing::{info, warn};
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// Per user name: 5 free failures, then 30 s doubling up to 15 min.
pub(crate) const USER_RULE: ThrottleRule = ThrottleRule {
    free_failures: 5,
    base_lock_ms: 30_000,
    max_lock_ms: 15 * 60_000,
    window_ms: 15 * 60_000,
};

/// Per client address: 20 free failures, then the same back-off.
pub(crate) const SOURCE_RULE: ThrottleRule = ThrottleRule {
    free_failures: 20,
    base_lock_ms: 30_000,
    max_lock_ms: 15 * 60_000,
    window_ms: 15 * 60_000,
};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LoginRequest)]
pub(crate) struct LoginBody {
    /// 1-256 bytes (422 otherwise).
    #[schema(min_length = 1, max_length = 256)]
    username: String,
    /// At most 1024 bytes (422 otherwise).
    #[schema(max_length = 1024)]
    password: String,
    /// A TOTP code (6 digits) or a recovery code (16 letters and digits;
    /// separators ignored), for users with a second factor; null or blank:
    /// none.
    #[serde(default)]
    totp: Option<String>,
}

/// A user as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = User)]
pub(crate) struct UserView {
    id: String,
    username: String,
    role: Role,
    disabled: bool,
    /// `local`, or `oidc` for users an OpenID Connect provider vouches for
    /// (created at their first single sign-on).
    origin: String,
    totp_enabled: bool,
    #[schema(format = DateTime)]
    created_at: String,
    /// Zone the user's container sessions are placed in (agents of that
    /// zone); `default` unless set.
    zone: String,
    /// The user's groups (absent in the login response).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    groups: Option<Vec<GroupRef>>,
}

impl UserView {
    pub(crate) fn of(u: &User) -> UserView {
        UserView {
            id: u.id.clone(),
            username: u.username.clone(),
            role: u.role,
            disabled: u.disabled,
            origin: u.origin.clone(),
            totp_enabled: u.totp_enabled,
            created_at: rfc3339(u.created_at),
            zone: u.zone.clone(),
            groups: None,
        }
    }

    /// The user with their groups.
    pub(crate) fn with_groups(u: &User, groups: Vec<GroupRef>) -> UserView {
        UserView {
            groups: Some(groups),
            ..UserView::of(u)
        }
    }
}

/// A reference to a group or a workspace: its id and name.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupRef {
    pub(crate) id: String,
    pub(crate) name: String,
}

/// The logged-in user (`GET /auth/me`).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Me {
    id: String,
    username: String,
    role: Role,
    disabled: bool,
    origin: String,
    totp_enabled: bool,
    #[schema(format = DateTime)]
    created_at: String,
    zone: String,
    stage: LoginStage,
    groups: Vec<GroupRef>,
    /// A group of the user requires a second factor.
    totp_required: bool,
    /// The user may watch and take control of others' live sessions (an
    /// admin, or a group granting `shadow_sessions`): Live sessions is
    /// theirs to use.
    may_shadow: bool,
}

/// `POST /auth/login`'s answer.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginResponse {
    /// Bearer token; also set as the `oriel_session` cookie.
    token: String,
    #[schema(format = DateTime)]
    expires_at: String,
    user: UserView,
    /// `totp_enroll`: a group requires a second factor; only
    /// /auth/totp/*, /auth/me and /auth/logout work until it is set up.
    stage: LoginStage,
}

fn too_many(retry_after_ms: i64) -> Response {
    let secs = (retry_after_ms / 1000).max(1);
    let mut resp = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        format!("too many failed logins: try again in {secs} s"),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Checks the second factor: a current TOTP code (once) or an unused recovery code.
async fn second_factor_ok(
    cp: &ControlPlane,
    record: &UserRecord,
    code: &str,
) -> Result<bool, ApiError> {
    let Some(sealed) = &record.sealed_totp else {
        return Ok(false);
    };
    let secret = cp.keys.data.open(sealed, &record.user.id)?;
    let now = (now_ms() / 1000) as u64;
    if let Some(step) = totp::verify(&secret, code, now) {
        return Ok(cp
            .store
            .consume_totp_step(&record.user.id, step as i64)
            .await?);
    }
    let normalized: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    if normalized.len() == 16 {
        return Ok(cp
            .store
            .use_recovery_code(
                &record.user.id,
                &password::secret_hash(&normalized),
                now_ms(),
            )
            .await?);
    }
    Ok(false)
}

/// Starts a login session for `user` and answers with its token and cookie.
pub(crate) async fn start_login(
    cp: &ControlPlane,
    user: &User,
    stage: LoginStage,
    source: Option<&str>,
) -> Result<Response, ApiError> {
    let token = password::random_token(32)?;
    let now = now_ms();
    let ttl_ms = cp.settings.login_ttl.as_millis() as i64;
    let expires_at = now + ttl_ms;
    cp.store
        .create_login(
            &password::secret_hash(&token),
            &user.id,
            now,
            expires_at,
            source,
            stage,
        )
        .await?;
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        token.as_str(),
        ttl_ms / 1000
    );
    let mut resp = Json(LoginResponse {
        token: token.as_str().to_owned(),
        expires_at: rfc3339(expires_at),
        user: UserView::of(user),
        stage,
    })
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// A failed login: counted against the user name and the address, audited.
struct Failure<'a> {
    cp: &'a ControlPlane,
    username: &'a str,
    user_key: &'a str,
    source_key: &'a str,
    source: Option<&'a str>,
    now: i64,
}

impl Failure<'_> {
    async fn record(&self, reason: &'static str) -> Result<Response, ApiError> {
        self.cp
            .store
            .record_login_failure(self.user_key, &USER_RULE, self.now)
            .await?;
        self.cp
            .store
            .record_login_failure(self.source_key, &SOURCE_RULE, self.now)
            .await?;
        self.cp
            .audit(Audit {
                actor_name: self.username,
                action: "auth.login",
                source: self.source,
                success: false,
                details: Some(serde_json::json!({ "reason": reason })),
                ..Default::default()
            })
            .await;
        warn!(username = %self.username, source = self.source.unwrap_or(""), reason, "login failed");
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong username or password",
        ))
    }
}

/// `POST /api/v1/auth/login`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    operation_id = "login",
    tag = "auth",
    summary = "Log in with a local user",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in. Sets the `oriel_session` cookie (HttpOnly, Secure, SameSite=Strict).",
            body = LoginResponse, headers(("Set-Cookie" = String))),
        (status = 400, response = BadRequest),
        (status = 401, description = "Wrong username or password (the same answer, after the same work, for unknown users), or `totp_required`.", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
    )
)]
pub(crate) async fn login(
    State(cp): State<Arc<ControlPlane>>,
    ext: http::Extensions,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(json_rejection)?;
    let pw = Zeroizing::new(body.password);
    let source = authn::source(&ext);
    if body.username.is_empty() || body.username.len() > 256 || pw.len() > 1024 {
        return Err(ApiError::invalid(
            "username or password of an invalid length",
        ));
    }
    let user_key = format!("user:{}", body.username.to_lowercase());
    let source_key = format!("ip:{}", source.as_deref().unwrap_or("unknown"));
    let now = now_ms();
    let locked = cp
        .store
        .locked_until(&[&user_key, &source_key], now)
        .await?;
    if locked > now {
        warn!(username = %body.username, source = source.as_deref().unwrap_or(""), "login refused: throttled");
        return Ok(too_many(locked - now));
    }
    let record = cp.store.user_by_name(&body.username).await?;
    // Unknown, disabled and external users are checked against a dummy hash.
    let (hash, usable) = match &record {
        Some(r) if !r.user.disabled && !r.password_hash.is_empty() => {
            (r.password_hash.clone(), true)
        }
        _ => (cp.dummy_hash.clone(), false),
    };
    let password_ok = password::verify(&pw, hash).await? && usable;
    let failed = Failure {
        cp: &cp,
        username: &body.username,
        user_key: &user_key,
        source_key: &source_key,
        source: source.as_deref(),
        now,
    };
    let Some(record) = record.filter(|_| password_ok) else {
        return failed.record("password").await;
    };
    if record.user.totp_enabled {
        match body
            .totp
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            None => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "totp_required",
                    "enter the code of your authenticator app",
                ));
            }
            Some(code) => {
                if !second_factor_ok(&cp, &record, code).await? {
                    return failed.record("second factor").await;
                }
            }
        }
    }
    cp.store.clear_login_failures(&user_key).await?;
    let stage = if !record.user.totp_enabled && totp_required(&cp, &record.user.id).await? {
        LoginStage::TotpEnroll
    } else {
        LoginStage::Full
    };
    cp.audit(Audit {
        actor_id: Some(&record.user.id),
        actor_name: &record.user.username,
        action: "auth.login",
        source: source.as_deref(),
        success: true,
        details: Some(serde_json::json!({ "method": "password", "stage": stage })),
        ..Default::default()
    })
    .await;
    info!(user = %record.user.username, source = source.as_deref().unwrap_or(""), "login");
    start_login(&cp, &record.user, stage, source.as_deref()).await
}

/// `POST /api/v1/auth/logout`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    operation_id = "logout",
    tag = "auth",
    summary = "End the current login session",
    responses((status = 204, description = "Logged out; the cookie is cleared."))
)]
pub(crate) async fn logout(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
) -> Result<Response, ApiError> {
    if let Some(hash) = &auth.login_hash {
        cp.store.delete_login(hash).await?;
    }
    // Nothing of a container session outlives the login that started it.
    let ended = cp.end_container_sessions_of(&auth.user.id).await?;
    cp.audit(
        Audit::by(&auth, "auth.logout")
            .details(serde_json::json!({ "container_sessions_ended": ended })),
    )
    .await;
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
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    operation_id = "me",
    tag = "auth",
    summary = "The logged-in user",
    responses((status = 200, description = "The user.", body = Me))
)]
pub(crate) async fn me(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
) -> Result<Json<Me>, ApiError> {
    let u = &auth.user;
    let groups = cp.store.groups_of_user(&u.id).await?;
    Ok(Json(Me {
        id: u.id.clone(),
        username: u.username.clone(),
        role: u.role,
        disabled: u.disabled,
        origin: u.origin.clone(),
        totp_enabled: u.totp_enabled,
        created_at: rfc3339(u.created_at),
        zone: u.zone.clone(),
        stage: auth.stage,
        groups: groups
            .iter()
            .map(|g| GroupRef {
                id: g.id.clone(),
                name: g.name.clone(),
            })
            .collect(),
        totp_required: totp_required(&cp, &u.id).await?,
        may_shadow: crate::service::policy::may_shadow(&cp, &auth).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PasswordChange)]
pub(crate) struct PasswordBody {
    current: String,
    /// At least `control.password_min_len` characters (12 by default), at
    /// most 1024 bytes, not containing the user name (any case), not a
    /// well-known password nor one character repeated; otherwise 422 naming
    /// the field.
    #[schema(max_length = 1024)]
    new: String,
}

/// `POST /api/v1/auth/password`: change one's own password (local users).
/// Every login of the user ends, this one included: log in again.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password",
    operation_id = "changePassword",
    tag = "auth",
    summary = "Change one's own password (every login ends)",
    request_body = PasswordBody,
    responses(
        (status = 204, description = "Changed."),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn change_password(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    body: Result<Json<PasswordBody>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    auth.require_interactive()?;
    let Json(body) = body.map_err(json_rejection)?;
    let current = Zeroizing::new(body.current);
    let new = Zeroizing::new(body.new);
    let record = cp
        .store
        .user(&auth.user.id)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if record.password_hash.is_empty() {
        return Err(ApiError::conflict(
            "external_user",
            "this user logs in with an identity provider",
        ));
    }
    if !password::verify(&current, record.password_hash.clone()).await? {
        cp.audit(Audit {
            success: false,
            ..Audit::by(&auth, "user.password")
        })
        .await;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "the current password is wrong",
        ));
    }
    password::check_policy(&new, &auth.user.username, cp.settings.password_min_len)
        .map_err(|m| ApiError::invalid_field("new", m))?;
    let hash = password::hash(&new).await?;
    cp.store
        .set_password(&auth.user.id, &hash, now_ms())
        .await?;
    cp.store.delete_logins_of_user(&auth.user.id).await?;
    cp.audit(Audit::by(&auth, "user.password")).await;
    Ok(StatusCode::NO_CONTENT)
}
