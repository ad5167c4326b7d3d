//! Share links and shadowing (`crate::service` `shares`):
//!
//! - `POST /api/v1/sessions/{id}/shares`, `GET …/shares`,
//!   `DELETE …/shares/{link}`, `POST …/shares/{link}/control`: the
//!   session's owner (or an admin) manages its links;
//! - `POST /api/v1/shares/{link}/join`: a token for the link's guest
//!   (signed in or not: the link says);
//! - `POST /api/v1/sessions/{id}/shadow`: a token for an admin watching.

use super::Path;
use super::sessions::host;
use crate::ControlPlane;
use crate::api::openapi::responses::{BadRequest, NotFound, Unprocessable, UnsupportedMediaType};
use crate::error::ErrorBody;
use crate::error::{ApiError, json_rejection};
use crate::service::{Authed, JoinRequest, ShareRequest, ShareState, public_base};
use crate::time::{now_ms, rfc3339};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use oriel_control_store::ShareLinkRecord;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// `POST /api/v1/sessions/{id}/shares`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ShareInput)]
pub(crate) struct NewShare {
    /// The guests control the session from the start (403
    /// `share_control_disabled` unless the policy's `share_links_control`).
    #[serde(default)]
    #[schema(default = false)]
    control: bool,
    /// How long the link may be joined, seconds: 1 to 604800 (7 days; 422
    /// otherwise). Null or absent: 3600.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 604800, default = 3600)]
    expires_in_secs: Option<u64>,
    /// Only signed-in members of these groups (ids; 1 to 50, each must
    /// exist: 422) may join. Null or absent: anyone holding the link,
    /// signed in or not.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 50)]
    groups: Option<Vec<String>>,
}

/// A share link as the API shows it to the session's owner and admins.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Share {
    /// The link's secret: 128 random bits, base64url. Whoever holds it may
    /// join (or, with `groups`, signed-in members of those groups).
    link: String,
    /// The page a guest opens: `<public url>/share.html#<link>`.
    url: String,
    session_id: String,
    /// Where the link is in its life.
    state: ShareStateName,
    /// Whether its guests control the session now.
    control: bool,
    /// Groups whose signed-in members may join; null: anyone with the link.
    #[schema(required = true)]
    groups: Option<Vec<String>>,
    /// Name of the user who created it.
    created_by: String,
    #[schema(format = DateTime)]
    created_at: String,
    /// No join after this (viewers already in stay until revoked or the
    /// session ends).
    #[schema(format = DateTime)]
    expires_at: String,
    #[schema(format = DateTime, required = true)]
    revoked_at: Option<String>,
}

/// A share link's state.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ShareStateName {
    /// It may be joined.
    Active,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
}

impl From<ShareState> for ShareStateName {
    fn from(s: ShareState) -> Self {
        match s {
            ShareState::Active => ShareStateName::Active,
            ShareState::Expired => ShareStateName::Expired,
            ShareState::Revoked => ShareStateName::Revoked,
        }
    }
}

fn share(cp: &ControlPlane, parts: &Parts, l: &ShareLinkRecord) -> Share {
    Share {
        link: l.id.clone(),
        url: format!("{}/share.html#{}", public_base(cp, host(parts)), l.id),
        session_id: l.session_id.clone(),
        state: ShareState::of(l, now_ms()).into(),
        control: l.control,
        groups: l.groups.clone(),
        created_by: l.created_by_name.clone(),
        created_at: rfc3339(l.created_at),
        expires_at: rfc3339(l.expires_at),
        revoked_at: l.revoked_at.map(rfc3339),
    }
}

/// `GET /api/v1/sessions/{id}/shares`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ShareList {
    /// Oldest first.
    items: Vec<Share>,
    /// New links may be created now (the workspace's policy, a live session).
    allowed: bool,
    /// New links may give control.
    control_allowed: bool,
}

/// `POST …/shares/{link}/control`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShareControl {
    /// `true`: hand control over to the link's guests; `false`: take it back.
    control: bool,
}

/// What `POST …/shares/{link}/control` answers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ShareControlled {
    /// The link, as stored now.
    share: Share,
    /// Live viewers of the link whose control changed now.
    viewers_changed: usize,
}

/// `POST /api/v1/sessions/{id}/shadow`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShadowInput {
    /// Take control (keyboard, pointer, clipboard) as well as watch.
    #[serde(default)]
    #[schema(default = false)]
    control: bool,
}

/// A token to watch a session that is not the caller's.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WatchToken {
    session_id: String,
    workspace_name: String,
    /// The session's owner.
    owner: String,
    /// Whether the holder's input reaches the session (the gateway refuses
    /// a view-only holder's input, clipboard and files).
    control: bool,
    /// Whether the owner's viewers show who watches (false only for silent
    /// monitoring the workspace's policy allows).
    notified: bool,
    /// Session token for the stream protocol's HELLO; short-lived like the
    /// owner's: join (or shadow) again to reconnect.
    token: String,
    stream_url: String,
    /// Expiry of the token.
    #[schema(format = DateTime)]
    expires_at: String,
}

/// `POST /api/v1/sessions/{id}/shares`: a new link (owner or admin).
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/shares",
    operation_id = "createShare",
    tag = "sharing",
    summary = "Create a share link of a live session (owner or admin), where the workspace's policy allows it",
    params(("id" = String, Path)),
    request_body = NewShare,
    responses(
        (status = 201, description = "Created (audited `share_link.created`).", body = Share),
        (status = 400, response = BadRequest),
        (status = 403, description = "`sharing_disabled`: the workspace's policy does not allow share links; `share_control_disabled`: not with control (both audited as failures).", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 409, description = "`session_ended`, `session_failed`, `workspace_gone`.", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}/shares",
    operation_id = "listShares",
    tag = "sharing",
    summary = "The session's share links with their state (owner or admin)",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Its links, and whether new ones may be created.", body = ShareList),
        (status = 404, response = NotFound),
    )
)]
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
#[utoipa::path(
    delete,
    path = "/api/v1/sessions/{id}/shares/{link}",
    operation_id = "revokeShare",
    tag = "sharing",
    summary = "Revoke a share link (owner or admin): its viewers are closed (4003) and its tokens refused",
    params(("id" = String, Path), ("link" = String, Path)),
    responses(
        (status = 200, description = "Revoked (idempotent); the revocation list naming it is pushed to the gateways (audited `share_link.revoked`).", body = Share),
        (status = 404, response = NotFound),
    )
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/shares/{link}/control",
    operation_id = "controlShare",
    tag = "sharing",
    summary = "Hand a share link's control over to its guests or take it back (owner or admin)",
    params(("id" = String, Path), ("link" = String, Path)),
    request_body = ShareControl,
    responses(
        (status = 200, description = "Stored for later joins and applied to its live viewers (audited `share_link.control`).", body = ShareControlled),
        (status = 400, response = BadRequest),
        (status = 403, description = "`share_control_disabled`: the workspace's policy does not let links give control.", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 409, description = "`share_link_inactive`: the link is expired or revoked; `session_ended`.", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 502, description = "Stored, but a gateway did not confirm; retry.", body = ErrorBody),
    )
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/shares/{link}/join",
    operation_id = "joinShare",
    tag = "sharing",
    summary = "Join a share link: a token to watch the session (anyone holding the link; signed-in members when the link names groups)",
    description = "Credentials are optional: without them the guest is named `guest`. The token is short-lived; the viewer joins again to reconnect. A body, if any, is ignored.",
    params(("link" = String, Path)),
    responses(
        (status = 200, description = "A token (audited `share_link.joined`).", body = WatchToken),
        (status = 401, description = "`sign_in_required`: the link is for members of some groups; or credentials were sent and are not valid.", body = ErrorBody),
        (status = 403, description = "`not_in_group`: the caller is in none of the link's groups; `sharing_disabled`: the workspace no longer allows share links.", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 409, description = "`session_ended`, `session_failed`, `session_starting`, `workspace_gone`.", body = ErrorBody),
        (status = 410, description = "`share_link_expired` or `share_link_revoked`.", body = ErrorBody),
    )
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/shadow",
    operation_id = "shadowSession",
    tag = "sharing",
    summary = "Watch (or take control of) someone's live session: admins and members of a group granting `shadow_sessions`",
    params(("id" = String, Path)),
    request_body = ShadowInput,
    responses(
        (status = 200, description = "A token for the session; the owner is shown who watches unless the workspace's policy allows silent monitoring (audited `session.shadow_started`).", body = WatchToken),
        (status = 400, response = BadRequest),
        (status = 403, description = "`forbidden`: neither an admin nor granted `shadow_sessions`.", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 409, description = "`session_ended`, `session_failed`, `session_starting`, `workspace_gone`.", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
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
