//! `/api/v1/sessions`: launch, list, end, fresh tokens for reconnects; and
//! the gateway reports that move sessions through their state machine.

use super::{query_rejection, time_cursor};
use crate::ControlPlane;
use crate::audit::Audit;
use crate::auth::Authed;
use crate::error::{ApiError, json_rejection};
use crate::time::{now_ms, rfc3339};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use oriel_control_store::{
    Launch, NewSession, Placement, SessionFilter, SessionRecord, SessionState, SessionTarget, User,
    WorkspaceRecord,
};
use oriel_core_token::{CLAIMS_VERSION, Policy, SessionClaims, TargetClaims};
use serde::Deserialize;
use std::sync::Arc;
use tracing::{info, warn};

mod route;

use route::{StreamRoute, public_base, route_of};

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
        "viewer_url": format!("{}/viewer.html?session={}", public_base(cp, parts), s.id),
    })
}

/// Signs a session token valid from now until `exp_ms`.
fn mint(
    cp: &ControlPlane,
    // Id, deadline, (container sessions) where its desktop is, and the
    // stream's route (the gateway the credentials are sealed to).
    session: (&str, Option<i64>, Option<&SessionTarget>, &StreamRoute),
    user: &User,
    w: &WorkspaceRecord,
    policy: &Policy,
    now_ms: i64,
    exp_ms: i64,
) -> Result<String, ApiError> {
    let (session_id, deadline, container_target, route) = session;
    let seal_to = &route.seal_to;
    // A container session's desktop is where its agent said, with the
    // per-session password; other kinds go to the workspace's target.
    let (target, creds) = match (&container_target, w.kind.as_str()) {
        (Some(t), _) => {
            let password = cp.keys.data.open(&t.sealed_password, session_id)?;
            let password = String::from_utf8(password.to_vec())
                .map_err(|_| ApiError::internal(&"a stored VNC password is not text"))?;
            let mut creds = oriel_core_token::Credentials::default();
            creds.password = Some(password);
            (
                TargetClaims {
                    // VNC to the container, files through its agent.
                    kind: "container".into(),
                    host: t.host.clone(),
                    port: t.port,
                    identity: None,
                },
                Some(creds),
            )
        }
        (None, "container") => {
            return Err(ApiError::conflict(
                "session_starting",
                "the session's desktop is not ready yet",
            ));
        }
        (None, _) => (
            TargetClaims {
                kind: w.kind.clone(),
                host: w.host.clone(),
                port: w.port,
                identity: w.identity.clone(),
            },
            w.credentials(&cp.keys.data)?,
        ),
    };
    let sealed = creds
        .as_ref()
        .map(|c| c.seal(seal_to, session_id))
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
        target,
        policy: policy.clone(),
        creds: sealed,
        deadline: deadline.map(|d| (d / 1000) as u64),
        zones: route.routing.zones.clone(),
        gws: route.routing.gws.clone(),
        via: route.routing.via.clone(),
        reuse: Some(cp.settings.reconnect),
    };
    cp.keys
        .signer
        .sign(&claims)
        .map_err(|e| ApiError::internal(&e))
}

fn token_expiry(cp: &ControlPlane, now: i64, deadline: Option<i64>) -> i64 {
    // Whole seconds (the token carries seconds), never past the deadline.
    let exp = (now / 1000 + cp.settings.token_ttl.as_secs().max(1) as i64) * 1000;
    deadline.map_or(exp, |d| exp.min(d.max(now / 1000 * 1000 + 1000)))
}

/// The workspace the user may launch, and its effective policy; 404 when
/// it does not exist or no group of the user grants it.
async fn launchable(
    cp: &ControlPlane,
    user: &User,
    id_or_name: &str,
) -> Result<(WorkspaceRecord, Policy), ApiError> {
    let w = cp
        .store
        .workspace(id_or_name)
        .await?
        .ok_or_else(|| ApiError::not_found("workspace"))?;
    let policy = crate::policy::launchable(cp, user, &w)
        .await?
        .ok_or_else(|| ApiError::not_found("workspace"))?;
    Ok((w, policy))
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
    let (w, policy) = launchable(&cp, &auth.user, &input.workspace).await?;
    let user_zone = super::zones::zone_of(&cp, &auth.user).await?;
    // Where a container session is placed: the user's zone, or one an
    // admin names for this launch.
    let zone = match input.zone {
        None => user_zone.clone(),
        Some(z) => {
            auth.require_admin()?;
            super::zones::require_zone(&cp, "zone", &z).await?;
            z
        }
    };
    let now = now_ms();
    let placement = if w.kind == "container" {
        if !cp.agents_enabled() {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_agent",
                "no agent is available to run container workspaces",
            ));
        }
        let spec: crate::agents::ContainerSettings = serde_json::from_value(w.spec.clone())
            .map_err(|_| ApiError::internal(&"a container workspace has no valid settings"))?;
        let fallback = match cp.store.zone(&zone).await? {
            Some(z) if z.fallback => cp
                .store
                .zones()
                .await?
                .into_iter()
                .map(|z| z.name)
                .filter(|n| *n != zone)
                .collect(),
            _ => Vec::new(),
        };
        Some(Placement {
            zone: zone.clone(),
            fallback,
            memory_mb: i64::from(spec.memory_mb),
            seen_since: now - cp.settings.agent_lost_after.as_millis() as i64,
        })
    } else {
        None
    };
    let deadline =
        (policy.max_session_secs > 0).then(|| now + i64::from(policy.max_session_secs) * 1000);
    let exp = token_expiry(&cp, now, deadline);
    let launch = cp
        .store
        .launch_session(
            &NewSession {
                user_id: &auth.user.id,
                workspace_id: &w.id,
                workspace_name: &w.name,
                state: if placement.is_some() {
                    SessionState::Requested
                } else {
                    SessionState::Starting
                },
                token_expires_at: exp,
                deadline,
                source: auth.source.as_deref(),
                max_per_user: (policy.max_sessions_per_user > 0)
                    .then_some(policy.max_sessions_per_user),
                placement: placement.clone(),
            },
            now,
        )
        .await?;
    let id = match launch {
        Launch::Launched(id) => id,
        Launch::LimitReached { active } => {
            cp.audit(
                Audit {
                    success: false,
                    ..Audit::by(&auth, "session.launch")
                }
                .on("workspace", &w.id, Some(&w.name))
                .details(serde_json::json!({ "reason": "session limit", "active": active })),
            )
            .await;
            return Err(ApiError::conflict(
                "session_limit",
                format!(
                    "you already have {active} active sessions of this workspace, the most it allows"
                ),
            ));
        }
        Launch::NoCapacity { zone, agents } => {
            cp.audit(
                Audit {
                    success: false,
                    ..Audit::by(&auth, "session.launch")
                }
                .on("workspace", &w.id, Some(&w.name))
                .details(
                    serde_json::json!({ "reason": "no capacity", "zone": zone, "agents": agents }),
                ),
            )
            .await;
            let message = if agents == 0 {
                format!(
                    "no agent is online in your zone ({zone}) to run this workspace; try again later or ask an administrator"
                )
            } else {
                format!(
                    "all {agents} agents of your zone ({zone}) are full; try again when a session ends"
                )
            };
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_capacity",
                message,
            ));
        }
    };
    // A container session gets its token once its agent reports the
    // desktop ready (`POST /sessions/{id}/token` answers 202 until then).
    let (token, stream) = if placement.is_some() {
        cp.agents_changed();
        (None, None)
    } else {
        let route = route_of(&cp, &parts, (&id, None, &w), &user_zone, exp).await?;
        let token = mint(
            &cp,
            (&id, deadline, None, &route),
            &auth.user,
            &w,
            &policy,
            now,
            exp,
        )?;
        (Some(token), Some(route.stream_url))
    };
    info!(session_id = %id, user = %auth.user.username, workspace = %w.name, "session launched");
    cp.audit(
        Audit::by(&auth, "session.launch")
            .on("session", &id, Some(&w.name))
            .details(serde_json::json!({ "workspace_id": w.id, "kind": w.kind, "policy": policy })),
    )
    .await;
    let body = serde_json::json!({
        "id": id,
        "workspace_id": w.id,
        "viewer_url": format!("{}/viewer.html?session={id}", public_base(&cp, &parts)),
        "state": if token.is_some() { "starting" } else { "requested" },
        "stream_url": stream,
        "token": token,
        "expires_at": rfc3339(exp),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The session if the caller may see it (owner, admin or auditor).
async fn visible(cp: &ControlPlane, auth: &Authed, id: &str) -> Result<SessionRecord, ApiError> {
    cp.store
        .session(id)
        .await?
        .filter(|s| s.user_id == auth.user.id || auth.can_read_all())
        .ok_or_else(|| ApiError::not_found("session"))
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
    let s = visible(&cp, &auth, &id).await?;
    Ok(Json(session_json(&s, &parts, &cp)))
}

impl ControlPlane {
    /// Moves a session to `ending` and tells the gateways to close its
    /// streams; when they confirm, the session is `ended`. Returns whether
    /// the gateways confirmed.
    pub(crate) async fn end_session(
        &self,
        s: &SessionRecord,
        reason: &str,
    ) -> Result<bool, ApiError> {
        let now = now_ms();
        let ending = self
            .store
            .transition(&s.id, SessionState::Ending, now, None)
            .await?;
        if s.agent_id.is_some() {
            self.agents_changed();
        }
        // Revoked for every gateway (reconnections included), then the
        // gateways told to close its streams now.
        let revoked_until = self.revocation_until(s.token_expires_at);
        if let Err(e) = self
            .revoke(
                oriel_control_store::RevocationKind::Session,
                &s.id,
                revoked_until,
            )
            .await
        {
            warn!(session_id = %s.id, error = %e.message, "cannot revoke an ended session");
        }
        // Refuse its tokens a little past their expiry, to cover clock skew.
        let until = (revoked_until / 1000) as u64;
        match self.gateways.end_session(&s.id, until).await {
            Ok(streams) => {
                if ending.is_some() || s.state == SessionState::Ending {
                    self.store
                        .transition(&s.id, SessionState::Ended, now_ms(), None)
                        .await?;
                }
                info!(session_id = %s.id, streams, reason, "session ended");
                Ok(true)
            }
            Err(e) => {
                warn!(session_id = %s.id, error = %e, "a gateway did not confirm the end of a session");
                Ok(false)
            }
        }
    }
}

/// `DELETE /api/v1/sessions/{id}`: ends the session and closes its streams
/// (owner or admin). Idempotent: ending an ended session tells the gateways again.
pub(crate) async fn end(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let s = visible(&cp, &auth, &id).await?;
    if s.user_id != auth.user.id {
        auth.require_admin()?;
    } else {
        auth.require_launcher()?;
    }
    let confirmed = cp.end_session(&s, "ended by request").await?;
    cp.audit(
        Audit {
            success: confirmed,
            ..Audit::by(&auth, "session.end")
        }
        .on("session", &id, Some(&s.workspace_name))
        .details(serde_json::json!({ "owner": s.username, "gateways_confirmed": confirmed })),
    )
    .await;
    if confirmed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "gateway_unreachable",
            "the session is ending, but a gateway did not confirm closing its streams; retry to tell it again",
        ))
    }
}

/// `POST /api/v1/sessions/{id}/token`: a fresh token for the owner of an
/// active session (used by the viewer to connect and reconnect). The policy
/// is computed again, so policy changes apply from the next connection.
pub(crate) async fn token(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth.require_launcher()?;
    let s = cp
        .store
        .session(&id)
        .await?
        .filter(|s| s.user_id == auth.user.id)
        .ok_or_else(|| ApiError::not_found("session"))?;
    if s.state == SessionState::Failed {
        let why = s.failure.as_deref().unwrap_or("it failed");
        return Err(ApiError::conflict(
            "session_failed",
            format!("the session failed: {why}"),
        ));
    }
    if !s.state.is_active() || s.state == SessionState::Ending {
        return Err(ApiError::conflict("session_ended", "the session has ended"));
    }
    let (w, policy) = match launchable(&cp, &auth.user, &s.workspace_id).await {
        Ok(found) => found,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            return Err(ApiError::conflict(
                "workspace_gone",
                "the session's workspace was deleted or is no longer granted to you",
            ));
        }
        Err(e) => return Err(e),
    };
    let now = now_ms();
    if s.deadline.is_some_and(|d| d <= now) {
        return Err(ApiError::conflict(
            "session_ended",
            "the session reached its maximum length",
        ));
    }
    if s.agent_id.is_some() && s.target.is_none() {
        // The agent is still starting the container.
        let body = serde_json::json!({ "state": s.state, "retry_after_ms": 250 });
        return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
    }
    let exp = token_expiry(&cp, now, s.deadline);
    let user_zone = super::zones::zone_of(&cp, &auth.user).await?;
    let route = route_of(
        &cp,
        &parts,
        (&s.id, s.agent_id.as_deref(), &w),
        &user_zone,
        exp,
    )
    .await?;
    if !cp.store.extend_session_tokens(&s.id, exp).await? {
        return Err(ApiError::conflict("session_ended", "the session has ended"));
    }
    let token = mint(
        &cp,
        (&s.id, s.deadline, s.target.as_ref(), &route),
        &auth.user,
        &w,
        &policy,
        now,
        exp,
    )?;
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({
            "token": token,
            "stream_url": route.stream_url,
            "expires_at": rfc3339(exp),
        })),
    )
        .into_response())
}
