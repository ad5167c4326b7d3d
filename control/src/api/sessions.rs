//! `/api/v1/sessions`: launch, list, end, fresh tokens for reconnects. The
//! operations are the service layer's (`crate::service::sessions`); these
//! handlers parse, call and shape the JSON.

use super::time_cursor;
use crate::ControlPlane;
use crate::error::{ApiError, json_rejection, query_rejection};
use crate::service::{Authed, LaunchRequest, TokenOutcome, TokenRequest, public_base};
use crate::time::rfc3339;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use oriel_control_store::{SessionFilter, SessionRecord};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LaunchInput {
    /// Workspace id or name.
    workspace: String,
    /// Admins: the zone to place a container session in, instead of the
    /// user's.
    #[serde(default)]
    zone: Option<String>,
}

/// The `Host` a request came to.
pub(crate) fn host(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
}

fn viewer_url(cp: &ControlPlane, parts: &Parts, id: &str) -> String {
    format!("{}/viewer.html?session={id}", public_base(cp, host(parts)))
}

fn session_json(s: &SessionRecord, parts: &Parts, cp: &ControlPlane) -> serde_json::Value {
    serde_json::json!({
        "id": s.id,
        "workspace_id": s.workspace_id,
        "workspace_name": s.workspace_name,
        "user_id": s.user_id,
        "username": s.username,
        "state": s.state,
        "requested_at": rfc3339(s.requested_at),
        "starting_at": s.starting_at.map(rfc3339),
        "running_at": s.running_at.map(rfc3339),
        "ending_at": s.ending_at.map(rfc3339),
        "ended_at": s.ended_at.map(rfc3339),
        "failure": s.failure,
        "deadline": s.deadline.map(rfc3339),
        "source": s.source,
        "agent_id": s.agent_id,
        "viewer_url": viewer_url(cp, parts, &s.id),
    })
}

/// `POST /api/v1/sessions`.
pub(crate) async fn create(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
    body: Result<Json<LaunchInput>, JsonRejection>,
) -> Result<Response, ApiError> {
    auth.require_launcher()?;
    let Json(input) = body.map_err(json_rejection)?;
    let launched = cp
        .launch(&LaunchRequest {
            caller: &auth,
            workspace: &input.workspace,
            zone: input.zone.as_deref(),
            host: host(&parts),
        })
        .await?;
    let id = &launched.session_id;
    let (token, stream) = match launched.token {
        Some(t) => (Some(t.token), Some(t.stream_url)),
        None => (None, None),
    };
    let body = serde_json::json!({
        "id": id,
        "workspace_id": launched.workspace.id,
        "viewer_url": viewer_url(&cp, &parts, id),
        "state": if token.is_some() { "starting" } else { "requested" },
        "stream_url": stream,
        "token": token,
        "expires_at": rfc3339(launched.expires_at),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionQuery {
    limit: Option<i64>,
    after: Option<String>,
    /// `active` (default: all).
    state: Option<String>,
    /// Admins and auditors: `all` to see everyone's (default: own).
    scope: Option<String>,
}

/// `GET /api/v1/sessions`: own sessions; everyone's with `scope=all` for
/// admins and auditors.
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
    q: Result<Query<SessionQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = q.map_err(query_rejection)?;
    let limit = match q.limit {
        None => 50,
        Some(n) if (1..=200).contains(&n) => n,
        Some(_) => return Err(ApiError::invalid("limit must be between 1 and 200")),
    };
    let before = q.after.as_deref().map(time_cursor).transpose()?;
    let all = match q.scope.as_deref() {
        None | Some("own") => false,
        Some("all") => {
            auth.require_reader()?;
            true
        }
        Some(_) => return Err(ApiError::invalid("scope must be own or all")),
    };
    let active_only = match q.state.as_deref() {
        None | Some("all") => false,
        Some("active") => true,
        Some(_) => return Err(ApiError::invalid("state must be active or all")),
    };
    let filter = SessionFilter {
        user_id: (!all).then_some(auth.user.id.as_str()),
        active_only,
        before,
    };
    let rows = cp.store.list_sessions(&filter, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<_> = rows
        .iter()
        .take(limit as usize)
        .map(|s| session_json(s, &parts, &cp))
        .collect();
    let next = more.then(|| {
        let last = &rows[limit as usize - 1];
        format!("{}:{}", last.requested_at, last.id)
    });
    Ok(Json(serde_json::json!({ "items": items, "next": next })))
}

/// `GET /api/v1/sessions/{id}`.
pub(crate) async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let s = cp.visible_session(&auth, &id).await?;
    Ok(Json(session_json(&s, &parts, &cp)))
}

/// `DELETE /api/v1/sessions/{id}`: ends the session and closes its streams
/// (owner or admin). Idempotent: ending an ended session tells the gateways again.
pub(crate) async fn end(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    cp.end_by_request(&auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/sessions/{id}/token`: a fresh token for the owner of an
/// active session (used by the viewer to connect and reconnect).
pub(crate) async fn token(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let outcome = cp
        .session_token(&TokenRequest {
            caller: &auth,
            session_id: &id,
            host: host(&parts),
        })
        .await?;
    Ok(match outcome {
        TokenOutcome::Issued(t) => (
            StatusCode::OK,
            Json(serde_json::json!({
                "token": t.token,
                "stream_url": t.stream_url,
                "expires_at": rfc3339(t.expires_at),
            })),
        )
            .into_response(),
        TokenOutcome::Preparing {
            state,
            retry_after_ms,
        } => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "state": state, "retry_after_ms": retry_after_ms })),
        )
            .into_response(),
    })
}
