//! `/api/v1/keys` and `/api/v1/revocations`: the public keys gateways
//! trust and the signed revocation list (public), and revoking now
//! (admins). The lists themselves: `crate::service::revocations`.

use crate::ControlPlane;
use crate::api::openapi::responses::{BadRequest, Unprocessable, UnsupportedMediaType};
use crate::api::openapi::schemas;
use crate::error::{ApiError, json_rejection};
use crate::service::{Authed, RevokeRequest};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use oriel_core_token::JwkSet;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// `GET /api/v1/keys`: public, like any public key.
#[utoipa::path(
    get,
    path = "/api/v1/keys",
    operation_id = "controlKeys",
    tag = "gateway",
    summary = "The control plane's public token keys, as a JWK set (Ed25519, with key ids)",
    description = "Public. A dedicated proxy or gateway needs only this URL and the control plane's CA; it caches the set and keeps working on it while the control plane is away.",
    responses((status = 200, description = "The keys gateways trust: the current signing key and retired ones still in use.", body = JwkSet))
)]
pub(crate) async fn keys(State(cp): State<Arc<ControlPlane>>) -> Response {
    Json(cp.key_set()).into_response()
}

/// `GET /api/v1/revocations`: the signed list. Public: it is signed, and
/// names only opaque ids.
#[utoipa::path(
    get,
    path = "/api/v1/revocations",
    operation_id = "revocationList",
    tag = "gateway",
    summary = "The signed revocation list (`rv1.…`)",
    description = "Public: signed by the control plane, naming only opaque ids. Gateways fetch it every few seconds.",
    responses(
        (status = 200, description = "The list as a signed token: tokens, sessions and users gateways must refuse, numbered by `seq` (a gateway applies only a newer one).",
            body = String, content_type = "text/plain"),
    )
)]
pub(crate) async fn list(State(cp): State<Arc<ControlPlane>>) -> Result<Response, ApiError> {
    let list = cp.revocation_list().await?;
    Ok((
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        list,
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevokeBody {
    /// What `id` names.
    #[schema(schema_with = schemas::revocation_kind)]
    kind: String,
    /// Token id, session id or user id; 1-200 bytes.
    #[schema(min_length = 1, max_length = 200)]
    id: String,
}

/// A revocation made: the list's new number.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Revoked {
    seq: i64,
}

/// `POST /api/v1/revocations` (admins).
#[utoipa::path(
    post,
    path = "/api/v1/revocations",
    operation_id = "revoke",
    tag = "gateway",
    summary = "Revoke a token id, a session or a user now (admins)",
    description = "The list is pushed to the configured gateways; every gateway also fetches it. A user's revocation refuses tokens issued until now.",
    request_body(content = inline(RevokeBody)),
    responses(
        (status = 201, description = "Revoked; the new list number.", body = inline(Revoked)),
        (status = 400, response = BadRequest),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
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
    Ok((http::StatusCode::CREATED, Json(Revoked { seq })).into_response())
}
