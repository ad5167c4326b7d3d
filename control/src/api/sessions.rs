//! `/api/v1/sessions`: launch, list, end, fresh tokens for reconnects. The
//! operations are the service layer's (`crate::service::sessions`); these
//! handlers parse, call and shape the JSON.

use super::Path;
use super::time_cursor;
use crate::ControlPlane;
use crate::api::openapi::responses::{BadRequest, NotFound, Unprocessable, UnsupportedMediaType};
use crate::api::openapi::schemas;
use crate::error::ErrorBody;
use crate::error::{ApiError, json_rejection, query_rejection};
use crate::service::{Authed, LaunchRequest, TokenOutcome, TokenRequest, public_base};
use crate::time::rfc3339;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use oriel_control_store::{SessionFilter, SessionRecord, SessionState};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LaunchRequest)]
pub(crate) struct LaunchInput {
    /// Workspace id or name.
    workspace: String,
    /// Admins: the zone (must exist) to place a container session in,
    /// instead of the user's; null: the user's.
    #[serde(default)]
    zone: Option<String>,
}

/// A launched session.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Launched {
    id: String,
    workspace_id: String,
    viewer_url: String,
    /// `starting`, or `requested`: a container session waiting for its
    /// agent (no token yet; ask `POST /sessions/{id}/token`).
    state: SessionState,
    /// Session token for the stream protocol's HELLO (docs/protocol.md);
    /// null for a container session until its desktop is ready.
    #[schema(required = true)]
    token: Option<String>,
    /// wss://…/stream of the gateway; null with the token (the token
    /// response names it).
    #[schema(required = true)]
    stream_url: Option<String>,
    /// Expiry of the token, not of the session.
    #[schema(format = DateTime)]
    expires_at: String,
}

/// A fresh session token.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionToken {
    token: String,
    stream_url: String,
    #[schema(format = DateTime)]
    expires_at: String,
}

/// A container session whose agent has not reported its desktop ready
/// yet: ask again after `retry_after_ms`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionPreparing {
    state: SessionState,
    retry_after_ms: u64,
}

/// A session as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Session {
    id: String,
    workspace_id: String,
    workspace_name: String,
    user_id: String,
    username: String,
    state: SessionState,
    #[schema(format = DateTime)]
    requested_at: String,
    #[schema(format = DateTime, required = true)]
    starting_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    running_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    ending_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    ended_at: Option<String>,
    /// Why it failed.
    #[schema(required = true)]
    failure: Option<String>,
    /// When it ends at the latest (its policy's maximum length).
    #[schema(format = DateTime, required = true)]
    deadline: Option<String>,
    /// The address that launched it.
    #[schema(required = true)]
    source: Option<String>,
    /// The agent running a container session's desktop; null for other
    /// kinds.
    #[schema(required = true)]
    agent_id: Option<String>,
    viewer_url: String,
}

page_of!(
    /// A page of sessions, newest first.
    SessionList,
    Session
);

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

fn session_view(s: &SessionRecord, parts: &Parts, cp: &ControlPlane) -> Session {
    Session {
        id: s.id.clone(),
        workspace_id: s.workspace_id.clone(),
        workspace_name: s.workspace_name.clone(),
        user_id: s.user_id.clone(),
        username: s.username.clone(),
        state: s.state,
        requested_at: rfc3339(s.requested_at),
        starting_at: s.starting_at.map(rfc3339),
        running_at: s.running_at.map(rfc3339),
        ending_at: s.ending_at.map(rfc3339),
        ended_at: s.ended_at.map(rfc3339),
        failure: s.failure.clone(),
        deadline: s.deadline.map(rfc3339),
        source: s.source.clone(),
        agent_id: s.agent_id.clone(),
        viewer_url: viewer_url(cp, parts, &s.id),
    }
}

/// `POST /api/v1/sessions`.
#[utoipa::path(
    post,
    path = "/api/v1/sessions",
    operation_id = "launchSession",
    tag = "sessions",
    summary = "Launch a session of a workspace your groups grant",
    request_body = LaunchInput,
    responses(
        (status = 201, description = "Launched; open `viewer_url`, or speak the stream protocol to `stream_url` with `token`.", body = Launched),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, description = "`session_limit`: the user has as many active sessions of the workspace as its policy allows. `feature_unavailable`: the workspace's effective policy requires a control this server cannot apply (a watermark whose stored settings are out of range); such a workspace cannot be launched (the refusal is audited).", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 503, description = "`no_agent` or `no_capacity`: no agent can run a container workspace now; `no_connection_proxy`: the workspace's zone has none; `database_unavailable`.", body = ErrorBody),
    )
)]
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
    let body = Launched {
        id: id.clone(),
        workspace_id: launched.workspace.id.clone(),
        viewer_url: viewer_url(&cp, &parts, id),
        state: if token.is_some() {
            SessionState::Starting
        } else {
            SessionState::Requested
        },
        stream_url: stream,
        token,
        expires_at: rfc3339(launched.expires_at),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SessionQuery {
    /// Items per page (a whole number; 422 outside 1-200, 400 when not a
    /// number).
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<i64>,
    /// Cursor `<unix ms>:<id>`, exactly the `next` of the previous page;
    /// anything else is 400 `bad_request`.
    #[param(pattern = "^-?[0-9]+:")]
    after: Option<String>,
    /// `active`, or `all` (the default).
    #[param(schema_with = schemas::session_state_filter)]
    state: Option<String>,
    /// Admins and auditors: `all` to see everyone's (default: `own`).
    #[param(schema_with = schemas::scope)]
    scope: Option<String>,
}

/// `GET /api/v1/sessions`: own sessions; everyone's with `scope=all` for
/// admins and auditors.
#[utoipa::path(
    get,
    path = "/api/v1/sessions",
    operation_id = "listSessions",
    tag = "sessions",
    summary = "List sessions, newest first (own; `scope=all` for admins and auditors, and with `state=active` for members of a group granting `shadow_sessions`)",
    params(SessionQuery),
    responses(
        (status = 200, description = "A page of sessions.", body = SessionList),
        (status = 400, response = BadRequest),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
    q: Result<Query<SessionQuery>, QueryRejection>,
) -> Result<Json<SessionList>, ApiError> {
    let Query(q) = q.map_err(query_rejection)?;
    let limit = match q.limit {
        None => 50,
        Some(n) if (1..=200).contains(&n) => n,
        Some(_) => return Err(ApiError::invalid("limit must be between 1 and 200")),
    };
    let before = q.after.as_deref().map(time_cursor).transpose()?;
    let active_only = match q.state.as_deref() {
        None | Some("all") => false,
        Some("active") => true,
        Some(_) => return Err(ApiError::invalid("state must be active or all")),
    };
    let all = match q.scope.as_deref() {
        None | Some("own") => false,
        Some("all") => {
            // Those who may shadow see the live sessions they may join.
            if auth.require_reader().is_err()
                && !(active_only && crate::service::policy::may_shadow(&cp, &auth).await?)
            {
                return Err(ApiError::forbidden(
                    "scope=all is for admins and auditors, or with state=active for those who may watch others' sessions",
                ));
            }
            true
        }
        Some(_) => return Err(ApiError::invalid("scope must be own or all")),
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
        .map(|s| session_view(s, &parts, &cp))
        .collect();
    let next = more.then(|| {
        let last = &rows[limit as usize - 1];
        format!("{}:{}", last.requested_at, last.id)
    });
    Ok(Json(SessionList { items, next }))
}

/// `GET /api/v1/sessions/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}",
    operation_id = "getSession",
    tag = "sessions",
    summary = "One session (owner, admin or auditor)",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The session.", body = Session),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
    Path(id): Path<String>,
) -> Result<Json<Session>, ApiError> {
    let s = cp.visible_session(&auth, &id).await?;
    Ok(Json(session_view(&s, &parts, &cp)))
}

/// `DELETE /api/v1/sessions/{id}`: ends the session and closes its streams
/// (owner or admin). Idempotent: ending an ended session tells the gateways again.
#[utoipa::path(
    delete,
    path = "/api/v1/sessions/{id}",
    operation_id = "endSession",
    tag = "sessions",
    summary = "End a session (owner or admin); its streams close within a second",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Ended, and the gateways closed its streams. Idempotent."),
        (status = 404, response = NotFound),
        (status = 502, description = "Ending, but a gateway did not confirm; retry.", body = ErrorBody),
    )
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/token",
    operation_id = "sessionToken",
    tag = "sessions",
    summary = "A fresh short-lived token for the owner of an active session (connect and reconnect)",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "A new token.", body = SessionToken),
        (status = 202, description = "A container session still starting: no token yet.", body = SessionPreparing),
        (status = 404, response = NotFound),
        (status = 409, description = "`session_ended`, `session_failed`, `workspace_gone`, `zone_gone`; or `feature_unavailable`: the workspace's effective policy now requires a control this server cannot apply (audited as `session.token`).", body = ErrorBody),
        (status = 503, description = "`no_connection_proxy`: the workspace's zone has no connection proxy; `database_unavailable`.", body = ErrorBody),
    )
)]
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
            Json(SessionToken {
                token: t.token,
                stream_url: t.stream_url,
                expires_at: rfc3339(t.expires_at),
            }),
        )
            .into_response(),
        TokenOutcome::Preparing {
            state,
            retry_after_ms,
        } => (
            StatusCode::ACCEPTED,
            Json(SessionPreparing {
                state,
                retry_after_ms,
            }),
        )
            .into_response(),
    })
}
