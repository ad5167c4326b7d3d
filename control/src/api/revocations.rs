//! `/api/v1/keys` and `/api/v1/revocations`: the public keys gateways
//! trust and the signed revocation list (public), and revoking now
//! (admins). The lists themselves: `crate::service::revocations`.

use crate::ControlPlane;
use crate::error::{ApiError, json_rejection};
use crate::service::{Authed, RevokeRequest};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

/// `GET /api/v1/keys`: public, like any public key.
pub(crate) async fn keys(State(cp): State<Arc<ControlPlane>>) -> Response {
    Json(cp.key_set()).into_response()
}

/// `GET /api/v1/revocations`: the signed list. Public: it is signed, and
/// names only opaque ids.
pub(crate) async fn list(State(cp): State<Arc<ControlPlane>>) -> Result<Response, ApiError> {
    let list = cp.revocation_list().await?;
    Ok((
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        list,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevokeBody {
    /// `token`, `session` or `user`.
    kind: String,
    /// Token id, session id or user id.
    id: String,
}

/// `POST /api/v1/revocations` (admins).
pub(crate) async fn revoke(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    body: Result<Json<RevokeBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    auth.require_admin()?;
    let Json(body) = body.map_err(json_rejection)?;
    let seq = cp
        .revoke_by_admin(
            &auth,
            &RevokeRequest {
                kind: body.kind,
                id: body.id,
            },
        )
        .await?;
    Ok((
        http::StatusCode::CREATED,
        Json(serde_json::json!({ "seq": seq })),
    )
        .into_response())
}
