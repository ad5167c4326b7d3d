//! Single sign-on with an OpenID Connect provider (OpenID Connect Core 1.0,
//! authorization code flow with PKCE S256, RFC 7636).
//!
//! - `GET /api/v1/auth/methods`: the ways to log in, for the login page.
//! - `GET /api/v1/auth/oidc/start`: makes `state`, `nonce` and a PKCE
//!   verifier, seals them (with the return path and a 10-minute expiry) into
//!   a cookie only the OIDC routes receive (`crate::auth::oidc::flow`), and redirects to the
//!   provider.
//! - `GET /api/v1/auth/oidc/callback`: checks the cookie and `state`, marks
//!   the flow used (in the database: a replayed callback fails on every
//!   process), exchanges the code, validates the ID token (`crate::auth::oidc::provider`),
//!   finds or creates the user by issuer and subject, syncs its groups and
//!   role from the claims (`crate::auth::oidc::claims`), and starts a login session exactly as
//!   a password login does. Failures redirect to `/#/login?error=<code>`;
//!   the cause goes to the log, every outcome to the audit log.
//!
//! Users who log in this way are not asked for Oriel's TOTP: the provider
//! owns their authentication, second factor included (docs/security.md).

use super::login::start_login;
use crate::ControlPlane;
use crate::api::authn;
use crate::api::openapi::responses::BadRequest;
use crate::audit::Audit;
use crate::auth::oidc::claims;
use crate::auth::oidc::flow::{self, Flow};
use crate::auth::oidc::provider::ProviderError;
use crate::error::{ApiError, ErrorBody};
use crate::time::now_ms;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use oriel_control_store::{ExternalIdentity, LoginStage, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use tracing::{info, warn};

/// Where the login page sends the browser to log in with the provider.
const START_PATH: &str = "/api/v1/auth/oidc/start";

/// Where the provider sends the browser back.
const CALLBACK_PATH: &str = "/api/v1/auth/oidc/callback";

/// Id of the (only) configured provider.
const PROVIDER_ID: &str = "default";

/// Actor of audit entries of failed logins whose user is not known.
const UNKNOWN_ACTOR: &str = "(oidc)";

/// Why a login was refused: the `error` code the login page receives (and
/// the audit log's reason). The cause itself is only logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// The provider answered with an error (the user cancelled, ...).
    ProviderError,
    /// No flow cookie, one that does not open, or a `state` that differs.
    InvalidState,
    /// The flow cookie is older than 10 minutes.
    FlowExpired,
    /// This flow's callback was already handled.
    Replayed,
    /// The callback has no code.
    InvalidRequest,
    /// Discovery, keys or userinfo cannot be had.
    ProviderUnavailable,
    /// The token endpoint refused the code.
    TokenExchange,
    /// The ID token is not valid (signature, issuer, audience, times).
    InvalidToken,
    /// The ID token's nonce is not this flow's.
    NonceMismatch,
    /// The claims give no usable user name.
    InvalidUsername,
    /// A user of that name exists and is not this identity.
    UsernameTaken,
    /// The user is disabled.
    UserDisabled,
    /// Something of ours failed.
    Internal,
}

impl Refusal {
    fn code(self) -> &'static str {
        match self {
            Refusal::ProviderError => "oidc_provider_error",
            Refusal::InvalidState => "oidc_invalid_state",
            Refusal::FlowExpired => "oidc_flow_expired",
            Refusal::Replayed => "oidc_replayed",
            Refusal::InvalidRequest => "oidc_invalid_request",
            Refusal::ProviderUnavailable => "oidc_provider_unavailable",
            Refusal::TokenExchange => "oidc_token_exchange",
            Refusal::InvalidToken => "oidc_invalid_token",
            Refusal::NonceMismatch => "oidc_nonce_mismatch",
            Refusal::InvalidUsername => "oidc_invalid_username",
            Refusal::UsernameTaken => "oidc_username_taken",
            Refusal::UserDisabled => "oidc_user_disabled",
            Refusal::Internal => "oidc_internal",
        }
    }
}

fn redirect(location: &str) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    // The callback URL carries the code: never pass it on as a referrer.
    resp.headers_mut()
        .insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    resp
}

fn append_cookie(resp: &mut Response, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The login page with an error code; the flow cookie goes.
fn refuse(r: Refusal) -> Response {
    let mut resp = redirect(&format!("/#/login?error={}", r.code()));
    append_cookie(&mut resp, &flow::clear_cookie());
    resp
}

fn not_configured() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "oidc_not_configured",
        "single sign-on is not configured",
    )
}

/// How one may log in here.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthMethods {
    /// Local users log in with `POST /auth/login`.
    password: bool,
    /// Single sign-on providers; empty when none is configured.
    #[schema(inline)]
    oidc: Vec<OidcMethod>,
}

/// A single sign-on provider.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OidcMethod {
    /// Provider id (`default`).
    id: &'static str,
    /// Name for the login button.
    name: String,
    /// Path to navigate the browser to (not to fetch): it redirects to the
    /// provider.
    start: &'static str,
}

/// `GET /api/v1/auth/methods` (public): how one may log in here.
#[utoipa::path(
    get,
    path = "/api/v1/auth/methods",
    operation_id = "authMethods",
    tag = "auth",
    summary = "How one may log in: password, and any single sign-on provider",
    responses((status = 200, description = "The login methods.", body = AuthMethods))
)]
pub(crate) async fn methods(State(cp): State<Arc<ControlPlane>>) -> Json<AuthMethods> {
    let oidc = cp
        .oidc
        .iter()
        .map(|o| OidcMethod {
            id: PROVIDER_ID,
            name: o.settings.display_name.clone(),
            start: START_PATH,
        })
        .collect();
    Json(AuthMethods {
        password: true,
        oidc,
    })
}

/// The query of `GET /api/v1/auth/oidc/start`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read as a map: only its documentation is used
struct StartQuery {
    /// A path of this site to land on after login (anything else means `/`).
    return_to: Option<String>,
}

/// The query of `GET /api/v1/auth/oidc/callback`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read as a map: only its documentation is used
struct CallbackQuery {
    /// The authorization code.
    code: Option<String>,
    /// Must be the flow's.
    state: Option<String>,
    /// The provider's issuer (RFC 9207); must be the configured one when
    /// present.
    iss: Option<String>,
    /// The provider's error, instead of a code.
    error: Option<String>,
    /// Ignored.
    error_description: Option<String>,
}

/// `GET /api/v1/auth/oidc/start[?return_to=/path]`: to the provider.
#[utoipa::path(
    get,
    path = "/api/v1/auth/oidc/start",
    operation_id = "oidcStart",
    tag = "auth",
    summary = "Start a single sign-on login (browser navigation)",
    params(StartQuery),
    responses(
        (status = 302, description = "To the provider's authorization endpoint (code flow, PKCE S256, `state`, `nonce`). Sets the `oriel_oidc_flow` cookie (sealed with the data key; HttpOnly, Secure, SameSite=Lax, Path=/api/v1/auth/oidc, 10 minutes). When the provider cannot be reached: to `/#/login?error=oidc_provider_unavailable`.",
            headers(("Location" = String), ("Set-Cookie" = String))),
        (status = 400, response = BadRequest),
        (status = 404, description = "Single sign-on is not configured (`oidc_not_configured`).", body = ErrorBody),
    )
)]
pub(crate) async fn start(State(cp): State<Arc<ControlPlane>>, parts: Parts) -> Response {
    let Some(oidc) = &cp.oidc else {
        return not_configured().into_response();
    };
    let query = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let return_to = flow::safe_return_path(query.get("return_to").map(String::as_str));
    let Some(origin) = authn::expected_origin(&cp, &parts) else {
        return ApiError::bad_request("no Host header").into_response();
    };
    let redirect_uri = format!("{origin}{CALLBACK_PATH}");
    let authz = match oidc.provider.authorize(&redirect_uri).await {
        Ok(a) => a,
        Err(e) => {
            warn!(error = %e, "oidc: cannot start a login");
            return refuse(Refusal::ProviderUnavailable);
        }
    };
    let now = now_ms();
    let flow = Flow {
        state: authz.state,
        nonce: authz.nonce,
        verifier: authz.verifier,
        redirect_uri,
        issuer: oidc.provider.issuer().to_owned(),
        return_to,
        created_at: now,
        expires_at: now + flow::FLOW_TTL_MS,
    };
    let sealed = match flow.seal(&cp.keys.data) {
        Ok(s) => s,
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    let mut resp = redirect(&authz.url);
    append_cookie(&mut resp, &flow::set_cookie(&sealed));
    resp
}

/// One callback: who it is about (once known), for the audit log.
struct Attempt<'a> {
    cp: &'a ControlPlane,
    source: Option<String>,
    username: Option<String>,
    user_id: Option<String>,
    issuer: String,
}

impl Attempt<'_> {
    async fn fail(&self, r: Refusal, cause: &(dyn std::fmt::Display + Sync)) -> Response {
        self.cp
            .audit(Audit {
                actor_id: self.user_id.as_deref(),
                actor_name: self.username.as_deref().unwrap_or(UNKNOWN_ACTOR),
                action: "auth.login",
                source: self.source.as_deref(),
                success: false,
                details: Some(serde_json::json!({
                    "method": "oidc",
                    "issuer": self.issuer,
                    "reason": r.code(),
                })),
                ..Default::default()
            })
            .await;
        warn!(
            username = self.username.as_deref().unwrap_or(""),
            source = self.source.as_deref().unwrap_or(""),
            reason = r.code(),
            error = %cause,
            "oidc login refused"
        );
        refuse(r)
    }
}

/// `GET /api/v1/auth/oidc/callback?code&state` (or `?error`): back from
/// the provider.
#[utoipa::path(
    get,
    path = "/api/v1/auth/oidc/callback",
    operation_id = "oidcCallback",
    tag = "auth",
    summary = "Where the provider sends the browser back",
    params(CallbackQuery),
    responses(
        (status = 302, description = "Logged in: to the saved return path, with the `oriel_session` cookie as after `POST /auth/login`. Refused: to `/#/login?error=<code>`, the code one of oidc_provider_error, oidc_invalid_state, oidc_flow_expired, oidc_replayed, oidc_invalid_request, oidc_provider_unavailable, oidc_token_exchange, oidc_invalid_token, oidc_nonce_mismatch, oidc_invalid_username, oidc_username_taken, oidc_user_disabled, oidc_internal. Either way the flow cookie is cleared and the outcome is in the audit log (`auth.login`, method `oidc`).",
            headers(("Location" = String), ("Set-Cookie" = String))),
        (status = 404, description = "Single sign-on is not configured (`oidc_not_configured`).", body = ErrorBody),
    )
)]
pub(crate) async fn callback(State(cp): State<Arc<ControlPlane>>, parts: Parts) -> Response {
    let Some(oidc) = &cp.oidc else {
        return not_configured().into_response();
    };
    let mut attempt = Attempt {
        cp: &cp,
        source: authn::source(&parts.extensions),
        username: None,
        user_id: None,
        issuer: oidc.settings.issuer.clone(),
    };
    let query = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let flow = flow::cookie_value(&parts.headers).and_then(|v| Flow::open(v, &cp.keys.data));
    if let Some(error) = query.get("error") {
        let error: String = error.chars().take(64).collect();
        return attempt
            .fail(
                Refusal::ProviderError,
                &format!("the provider answered {error}"),
            )
            .await;
    }
    let Some(flow) = flow else {
        return attempt
            .fail(Refusal::InvalidState, &"no valid flow cookie")
            .await;
    };
    let now = now_ms();
    if flow.is_expired(now) {
        return attempt.fail(Refusal::FlowExpired, &"flow expired").await;
    }
    if !query.get("state").is_some_and(|s| flow.state_matches(s)) {
        return attempt
            .fail(Refusal::InvalidState, &"state differs from the flow's")
            .await;
    }
    // RFC 9207: a provider that names itself must be ours.
    if flow.issuer != oidc.provider.issuer()
        || query.get("iss").is_some_and(|iss| iss != &flow.issuer)
    {
        return attempt
            .fail(Refusal::InvalidState, &"issuer differs from the flow's")
            .await;
    }
    let Some(code) = query.get("code").filter(|c| !c.is_empty()) else {
        return attempt.fail(Refusal::InvalidRequest, &"no code").await;
    };
    match cp
        .store
        .consume_oidc_flow(&flow.replay_key(), flow.expires_at, now)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return attempt
                .fail(Refusal::Replayed, &"callback already handled")
                .await;
        }
        Err(e) => return attempt.fail(Refusal::Internal, &e).await,
    }
    let s = &oidc.settings;
    let wanted = [s.username_claim.as_str(), s.groups_claim.as_str()];
    let verified = match oidc.provider.complete(code, &flow, &wanted).await {
        Ok(v) => v,
        Err(e) => {
            let r = match &e {
                ProviderError::Unavailable(_) => Refusal::ProviderUnavailable,
                ProviderError::TokenExchange(_) => Refusal::TokenExchange,
                ProviderError::Nonce(_) => Refusal::NonceMismatch,
                ProviderError::InvalidToken(_) => Refusal::InvalidToken,
            };
            return attempt.fail(r, &e).await;
        }
    };
    let username = match claims::username(&verified.claims, &s.username_claim, &verified.subject) {
        Ok(u) => u,
        Err(e) => return attempt.fail(Refusal::InvalidUsername, &e).await,
    };
    attempt.username = Some(username.clone());
    let groups = claims::groups(&verified.claims, &s.groups_claim);
    let role = claims::role(&groups, &s.admin_groups, &s.auditor_groups);
    let identity = ExternalIdentity {
        issuer: &verified.issuer,
        subject: &verified.subject,
        username: &username,
        role,
    };
    let login = match cp.store.login_external_user(&identity, now).await {
        Ok(l) => l,
        Err(StoreError::Conflict("username")) => {
            return attempt
                .fail(
                    Refusal::UsernameTaken,
                    &"a user of this name exists and is not this identity",
                )
                .await;
        }
        Err(e) => return attempt.fail(Refusal::Internal, &e).await,
    };
    let user = login.user;
    attempt.user_id = Some(user.id.clone());
    attempt.username = Some(user.username.clone());
    if login.username_taken {
        warn!(user = %user.username, wanted = %username, "oidc: the provider's user name belongs to another user; keeping the old name");
    }
    if login.kept_last_admin {
        warn!(user = %user.username, "oidc: the claims no longer make this user an admin, but it is the last enabled admin; it stays admin");
    }
    if user.disabled {
        return attempt.fail(Refusal::UserDisabled, &"user disabled").await;
    }
    let in_groups = match cp.store.sync_groups_by_name(&user.id, &groups).await {
        Ok(g) => g,
        Err(e) => return attempt.fail(Refusal::Internal, &e).await,
    };
    let source = attempt.source.clone();
    cp.audit(Audit {
        actor_id: Some(&user.id),
        actor_name: &user.username,
        action: "auth.login",
        source: source.as_deref(),
        success: true,
        details: Some(serde_json::json!({
            "method": "oidc",
            "issuer": verified.issuer,
            "created": login.created,
            "role": user.role,
            "groups": in_groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            "stage": LoginStage::Full,
        })),
        ..Default::default()
    })
    .await;
    info!(user = %user.username, source = source.as_deref().unwrap_or(""), created = login.created, "oidc login");
    // The provider authenticated the user, second factor included: the
    // login is full (docs/security.md, "Single sign-on").
    let session = match start_login(&cp, &user, LoginStage::Full, source.as_deref()).await {
        Ok(r) => r,
        Err(e) => {
            warn!(error = %e.message, "oidc: cannot start the login session");
            return refuse(Refusal::Internal);
        }
    };
    let mut resp = redirect(&flow.return_to);
    for cookie in session.headers().get_all(header::SET_COOKIE) {
        resp.headers_mut()
            .append(header::SET_COOKIE, cookie.clone());
    }
    append_cookie(&mut resp, &flow::clear_cookie());
    resp
}
