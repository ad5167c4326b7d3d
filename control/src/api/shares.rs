//! Share links and shadowing (`crate::service` `shares`):
//!
//! - `POST /api/v1/sessions/{id}/shares`, `GET …/shares`,
//!   `DELETE …/shares/{link}`, `POST …/shares/{link}/control`: the
//!   session's owner (or an admin) manages its links;
//! - `POST /api/v1/shares/{link}/join`: a token for the link's guest
//!   (signed in or not: the link says);
//! - `POST /api/v1/sessions/{id}/shadow`: a token for an admin watching.

use super::sessions::host;
use crate::ControlPlane;
use crate::error::{ApiError, json_rejection};
use crate::service::{Authed, JoinRequest, ShareRequest, ShareState, public_base};
use crate::time::{now_ms, rfc3339};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use oriel_control_store::ShareLinkRecord;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `POST /api/v1/sessions/{id}/shares`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewShare {
    /// Whether the guests control the session from the start.
    #[serde(default)]
    control: bool,
    /// How long the link may be joined, seconds (1 to 604800; default 3600).
    #[serde(default)]
    expires_in_secs: Option<u64>,
    /// Only signed-in members of these groups (ids) may join; absent or
    /// null: anyone holding the link.
    #[serde(default)]
    groups: Option<Vec<String>>,
}

/// A share link as the API shows it to the session's owner and admins.
#[derive(Debug, Serialize)]
pub(crate) struct Share {
    /// The link's secret (what the guest's URL carries).
    link: String,
    /// The page a guest opens: `…/share.html#<link>`.
    url: String,
    session_id: String,
    /// `active`, `expired` or `revoked`.
    state: &'static str,
    /// Whether its guests control the session now.
    control: bool,
    /// Groups whose signed-in members may join; null: anyone with the link.
    groups: Option<Vec<String>>,
    created_by: String,
    created_at: String,
    expires_at: String,
    revoked_at: Option<String>,
}

fn share(cp: &ControlPlane, parts: &Parts, l: &ShareLinkRecord) -> Share {
    Share {
        link: l.id.clone(),
        url: format!("{}/share.html#{}", public_base(cp, host(parts)), l.id),
        session_id: l.session_id.clone(),
        state: ShareState::of(l, now_ms()).as_str(),
        control: l.control,
        groups: l.groups.clone(),
        created_by: l.created_by_name.clone(),
        created_at: rfc3339(l.created_at),
        expires_at: rfc3339(l.expires_at),
        revoked_at: l.revoked_at.map(rfc3339),
    }
}

/// `GET /api/v1/sessions/{id}/shares`.
#[derive(Debug, Serialize)]
pub(crate) struct ShareList {
    items: Vec<Share>,
    /// New links may be created now (the workspace's policy, a live session).
    allowed: bool,
    /// New links may give control.
    control_allowed: bool,
}

/// `POST …/shares/{link}/control`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShareControl {
    /// `true`: hand control over to the link's guests; `false`: take it back.
    control: bool,
}

/// What `POST …/shares/{link}/control` answers.
#[derive(Debug, Serialize)]
pub(crate) struct ShareControlled {
    #[serde(flatten)]
    share: Share,
    /// Live viewers of the link whose control changed now.
    viewers_changed: usize,
}

/// `POST /api/v1/sessions/{id}/shadow`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShadowInput {
    /// Take control (keyboard, pointer, clipboard) as well as watch.
    #[serde(default)]
    control: bool,
}

/// A token to watch a session that is not the caller's.
#[derive(Debug, Serialize)]
pub(crate) struct WatchToken {
    session_id: String,
    workspace_name: String,
    /// The session's owner.
    owner: String,
    /// Whether the holder controls the session.
    control: bool,
    /// Whether the owner is shown that they are watched.
    notified: bool,
    token: String,
    stream_url: String,
    expires_at: String,
}

/// `POST /api/v1/sessions/{id}/shares`: a new link (owner or admin).
pub(crate) async fn create(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
    Path(id): Path<String>,
    body: Result<Json<NewShare>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(input) = body.map_err(json_rejection)?;
    let l = cp
        .create_share(&ShareRequest {
            caller: &auth,
            session_id: &id,
            control: input.control,
            expires_in_secs: input.expires_in_secs,
            groups: input.groups.as_deref(),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(share(&cp, &parts, &l))).into_response())
}

/// `GET /api/v1/sessions/{id}/shares`.
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
    Path(id): Path<String>,
) -> Result<Json<ShareList>, ApiError> {
    let (links, allowed, control_allowed) = cp.list_shares(&auth, &id).await?;
    Ok(Json(ShareList {
        items: links.iter().map(|l| share(&cp, &parts, l)).collect(),
        allowed,
        control_allowed,
    }))
}

/// `DELETE /api/v1/sessions/{id}/shares/{link}`.
pub(crate) async fn revoke(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
    Path((id, link)): Path<(String, String)>,
) -> Result<Json<Share>, ApiError> {
    let l = cp.revoke_share(&auth, &id, &link).await?;
    Ok(Json(share(&cp, &parts, &l)))
}

/// `POST /api/v1/sessions/{id}/shares/{link}/control`.
pub(crate) async fn control(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
    Path((id, link)): Path<(String, String)>,
    body: Result<Json<ShareControl>, JsonRejection>,
) -> Result<Json<ShareControlled>, ApiError> {
    let Json(input) = body.map_err(json_rejection)?;
    let (l, changed) = cp
        .set_share_control(&auth, &id, &link, input.control)
        .await?;
    Ok(Json(ShareControlled {
        share: share(&cp, &parts, &l),
        viewers_changed: changed,
    }))
}

/// `POST /api/v1/shares/{link}/join`: anyone holding the link (signed in
/// when the link names groups). Credentials, when sent, must be valid.
pub(crate) async fn join(
    State(cp): State<Arc<ControlPlane>>,
    mut parts: Parts,
    Path(link): Path<String>,
) -> Result<Json<WatchToken>, ApiError> {
    let presented = parts.headers.contains_key(http::header::AUTHORIZATION)
        || parts
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .any(|c| c.to_str().is_ok_and(|c| c.contains("oriel_session=")));
    let caller = if presented {
        Some(Authed::from_request_parts(&mut parts, &cp).await?)
    } else {
        None
    };
    let source = super::authn::source(&parts.extensions);
    let joined = cp
        .join_share(&JoinRequest {
            caller: caller.as_ref(),
            link: &link,
            host: host(&parts),
            source: source.as_deref(),
        })
        .await?;
    Ok(Json(WatchToken {
        session_id: joined.session_id,
        workspace_name: joined.workspace_name,
        owner: joined.owner,
        control: joined.control,
        notified: true,
        token: joined.token.token,
        stream_url: joined.token.stream_url,
        expires_at: rfc3339(joined.token.expires_at),
    }))
}

/// `POST /api/v1/sessions/{id}/shadow`.
pub(crate) async fn shadow(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
    Path(id): Path<String>,
    body: Result<Json<ShadowInput>, JsonRejection>,
) -> Result<Json<WatchToken>, ApiError> {
    let Json(input) = body.map_err(json_rejection)?;
    let (joined, notified) = cp.shadow(&auth, &id, input.control, host(&parts)).await?;
    Ok(Json(WatchToken {
        session_id: joined.session_id,
        workspace_name: joined.workspace_name,
        owner: joined.owner,
        control: joined.control,
        notified,
        token: joined.token.token,
        stream_url: joined.token.stream_url,
        expires_at: rfc3339(joined.token.expires_at),
    }))
}
