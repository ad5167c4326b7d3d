//! `/api/v1/sessions`: launch, list, end, and fresh tokens for reconnects.

use super::{Page, query_rejection};
use crate::ControlPlane;
use crate::auth::Authed;
use crate::error::{ApiError, json_rejection};
use crate::time::{now_ms, rfc3339};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use oriel_control_store::{NewSession, SessionRecord, SessionState, User, WorkspaceRecord};
use oriel_core_token::{CLAIMS_VERSION, SessionClaims, TargetClaims};
use serde::Deserialize;
use std::sync::Arc;
use tracing::{info, warn};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LaunchInput {
    /// Workspace id or name.
    workspace: String,
}

/// Base URL of the web UI for this request.
fn public_base(cp: &ControlPlane, parts: &Parts) -> String {
    if let Some(url) = &cp.settings.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("https://{host}")
}

/// WebSocket URL of the gateway's stream endpoint.
fn stream_url(cp: &ControlPlane, parts: &Parts) -> String {
    let base = cp
        .settings
        .gateway_url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| public_base(cp, parts));
    let ws = base
        .strip_prefix("https://")
        .map(|rest| format!("wss://{rest}"))
        .or_else(|| {
            base.strip_prefix("http://")
                .map(|rest| format!("ws://{rest}"))
        })
        .unwrap_or(base);
    format!("{ws}/stream")
}

fn session_json(s: &SessionRecord, parts: &Parts, cp: &ControlPlane) -> serde_json::Value {
    serde_json::json!({
        "id": s.id,
        "workspace_id": s.workspace_id,
        "workspace_name": s.workspace_name,
        "user_id": s.user_id,
        "username": s.username,
        "state": s.state,
        "created_at": rfc3339(s.created_at),
        "ended_at": s.ended_at.map(rfc3339),
        "viewer_url": format!("{}/viewer.html?session={}", public_base(cp, parts), s.id),
    })
}

/// Signs a session token valid from now for the configured lifetime.
fn mint(
    cp: &ControlPlane,
    session_id: &str,
    user: &User,
    w: &WorkspaceRecord,
    now_ms: i64,
    exp_ms: i64,
) -> Result<String, ApiError> {
    let creds = w.credentials(&cp.keys.data)?;
    let sealed = creds
        .map(|c| c.seal(&cp.keys.gateway_sealing, session_id))
        .transpose()
        .map_err(|e| ApiError::internal(&e))?;
    let now = (now_ms / 1000) as u64;
    let claims = SessionClaims {
        v: CLAIMS_VERSION,
        sid: session_id.to_owned(),
        jti: uuid::Uuid::new_v4().to_string(),
        sub: user.id.clone(),
        name: user.username.clone(),
        ws: w.name.clone(),
        iat: now,
        nbf: now,
        exp: (exp_ms / 1000) as u64,
        target: TargetClaims {
            kind: w.kind.clone(),
            host: w.host.clone(),
            port: w.port,
            identity: None,
        },
        policy: w.policy.clone(),
        creds: sealed,
    };
    cp.keys
        .signer
        .sign(&claims)
        .map_err(|e| ApiError::internal(&e))
}

fn token_expiry(cp: &ControlPlane, now: i64) -> i64 {
    // Whole seconds: the token carries seconds.
    (now / 1000 + cp.settings.token_ttl.as_secs().max(1) as i64) * 1000
}

/// `POST /api/v1/sessions`.
pub(crate) async fn create(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
    body: Result<Json<LaunchInput>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(input) = body.map_err(json_rejection)?;
    let w = cp
        .store
        .workspace(&input.workspace)
        .await?
        .ok_or_else(|| ApiError::not_found("workspace"))?;
    let now = now_ms();
    let exp = token_expiry(&cp, now);
    let id = cp
        .store
        .create_session(
            &NewSession {
                user_id: &auth.user.id,
                workspace_id: &w.id,
                workspace_name: &w.name,
                token_expires_at: exp,
            },
            now,
        )
        .await?;
    let token = mint(&cp, &id, &auth.user, &w, now, exp)?;
    info!(session_id = %id, user = %auth.user.username, workspace = %w.name, "session launched");
    let body = serde_json::json!({
        "id": id,
        "workspace_id": w.id,
        "viewer_url": format!("{}/viewer.html?session={id}", public_base(&cp, &parts)),
        "token": token,
        "stream_url": stream_url(&cp, &parts),
        "expires_at": rfc3339(exp),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The session if the caller may see it (owner or admin).
async fn visible(cp: &ControlPlane, auth: &Authed, id: &str) -> Result<SessionRecord, ApiError> {
    cp.store
        .session(id)
        .await?
        .filter(|s| s.user_id == auth.user.id || auth.is_admin())
        .ok_or_else(|| ApiError::not_found("session"))
}

/// `GET /api/v1/sessions`: own sessions; all for admins.
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(page) = page.map_err(query_rejection)?;
    let limit = page.limit()?;
    let before = page
        .after
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::bad_request("after must be a cursor from next"))
        })
        .transpose()?;
    let owner = (!auth.is_admin()).then_some(auth.user.id.as_str());
    let rows = cp.store.list_sessions(owner, before, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<_> = rows
        .iter()
        .take(limit as usize)
        .map(|s| session_json(s, &parts, &cp))
        .collect();
    let next = more.then(|| rows[limit as usize - 1].created_at.to_string());
    Ok(Json(serde_json::json!({ "items": items, "next": next })))
}

/// `GET /api/v1/sessions/{id}`.
pub(crate) async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let s = visible(&cp, &auth, &id).await?;
    Ok(Json(session_json(&s, &parts, &cp)))
}

/// `DELETE /api/v1/sessions/{id}`: ends the session and closes its streams.
/// Idempotent: ending an ended session tells the gateways again.
pub(crate) async fn end(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let s = visible(&cp, &auth, &id).await?;
    if cp.store.end_session(&s.id, now_ms()).await? {
        info!(session_id = %s.id, by = %auth.user.username, "session ended");
    }
    // Refuse its tokens a little past their expiry, to cover clock skew.
    let until = (s.token_expires_at / 1000) as u64 + oriel_core_token::DEFAULT_LEEWAY_SECS + 60;
    match cp.gateways.end_session(&s.id, until).await {
        Ok(streams) => {
            info!(session_id = %s.id, streams, "gateways closed the session's streams");
            Ok(StatusCode::NO_CONTENT)
        }
        Err(e) => {
            warn!(session_id = %s.id, error = %e, "a gateway did not confirm the end of a session");
            Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "gateway_unreachable",
                "the session is ended, but a gateway did not confirm closing its streams; retry to tell it again",
            ))
        }
    }
}

/// `POST /api/v1/sessions/{id}/token`: a fresh token for the owner of a
/// running session (used by the viewer to connect and reconnect).
pub(crate) async fn token(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let s = cp
        .store
        .session(&id)
        .await?
        .filter(|s| s.user_id == auth.user.id)
        .ok_or_else(|| ApiError::not_found("session"))?;
    if s.state != SessionState::Running {
        return Err(ApiError::conflict("session_ended", "the session has ended"));
    }
    let w = cp
        .store
        .workspace(&s.workspace_id)
        .await?
        .filter(|w| w.id == s.workspace_id)
        .ok_or_else(|| {
            ApiError::conflict("workspace_gone", "the session's workspace was deleted")
        })?;
    let now = now_ms();
    let exp = token_expiry(&cp, now);
    if !cp.store.extend_session_tokens(&s.id, exp).await? {
        return Err(ApiError::conflict("session_ended", "the session has ended"));
    }
    let token = mint(&cp, &s.id, &auth.user, &w, now, exp)?;
    Ok(Json(serde_json::json!({
        "token": token,
        "stream_url": stream_url(&cp, &parts),
        "expires_at": rfc3339(exp),
    })))
}
