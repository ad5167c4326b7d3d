//! `/api/v1/zones`: where sessions run and how users reach them (admins
//! write; auditors read). A zone holds agents (by their `agent.zone`), an
//! optional dedicated proxy (its `proxy_url`: the zone's users stream
//! through it) and an optional connection proxy (the gateway reaching
//! targets inside the zone's network: workspaces whose `target.zone` is
//! the zone are served by it, their credentials sealed to its key). Users
//! belong to the zone of their groups (`settings.zone`, the first group by
//! name that has one), else their own `zone`.

use super::Path;
use crate::ControlPlane;
use crate::api::openapi::responses::{
    BadRequest, Conflict, NotFound, Unprocessable, UnsupportedMediaType,
};
use crate::audit::Audit;
use crate::error::{ApiError, json_rejection};
use crate::service::Authed;
use crate::service::zones::{sealing_key, valid_zone_name};
use crate::time::{now_ms, rfc3339};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use oriel_control_store::{ConnectionProxy, ZoneRecord};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ZoneInput)]
pub(crate) struct ZoneBody {
    /// 1-64 ASCII letters, digits, dots, dashes or underscores. On PUT, the
    /// path's name (a zone cannot be renamed).
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    name: String,
    /// At most 1000 bytes.
    #[serde(default)]
    #[schema(max_length = 1000, default = "")]
    description: String,
    /// Its users' container sessions may go to other zones when it has no
    /// room.
    #[serde(default)]
    #[schema(default = false)]
    fallback: bool,
    /// https:// entry of the zone's dedicated proxy: its users stream
    /// through it (a trailing / is dropped).
    #[serde(default)]
    #[schema(max_length = 512, pattern = r"^https://\S+$")]
    proxy_url: Option<String>,
    #[serde(default)]
    connection_proxy: Option<ConnectionProxy>,
}

/// A zone as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Zone {
    name: String,
    description: String,
    fallback: bool,
    #[schema(required = true)]
    proxy_url: Option<String>,
    #[schema(required = true)]
    connection_proxy: Option<ConnectionProxy>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// Every zone, by name (one page: `next` is always null).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ZoneList {
    items: Vec<Zone>,
    /// Always null: the zones come in one page.
    #[schema(schema_with = crate::api::openapi::schemas::null, required = true)]
    next: (),
}

fn https_url(url: &str) -> bool {
    url.strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
        && url.len() <= 512
}

fn check(body: &ZoneBody) -> Result<(), ApiError> {
    if !valid_zone_name(&body.name) {
        return Err(ApiError::invalid_field(
            "name",
            "a zone name is 1-64 letters, digits, dots, dashes or underscores",
        ));
    }
    if body.description.len() > 1000 {
        return Err(ApiError::invalid_field("description", "at most 1000 bytes"));
    }
    if let Some(url) = &body.proxy_url
        && !https_url(url)
    {
        return Err(ApiError::invalid_field(
            "proxy_url",
            "the dedicated proxy's https:// URL",
        ));
    }
    if let Some(p) = &body.connection_proxy {
        if p.id.is_empty() || p.id.len() > 128 {
            return Err(ApiError::invalid_field(
                "connection_proxy.id",
                "the connection proxy's gateway id (gateway.id), 1-128 bytes",
            ));
        }
        if !https_url(&p.url) {
            return Err(ApiError::invalid_field(
                "connection_proxy.url",
                "the connection proxy's https:// URL",
            ));
        }
        if p.cert_sha256.len() != 64 || !p.cert_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::invalid_field(
                "connection_proxy.cert_sha256",
                "the SHA-256 of its TLS certificate, 64 hex digits",
            ));
        }
        if sealing_key(p).is_none() {
            return Err(ApiError::invalid_field(
                "connection_proxy.sealing_key",
                "the base64 of its gateway-sealing.pub (32 bytes)",
            ));
        }
    }
    Ok(())
}

impl Zone {
    fn of(z: &ZoneRecord) -> Zone {
        Zone {
            name: z.name.clone(),
            description: z.description.clone(),
            fallback: z.fallback,
            proxy_url: z.proxy_url.clone(),
            connection_proxy: z.connection_proxy.clone(),
            created_at: rfc3339(z.created_at),
            updated_at: rfc3339(z.updated_at),
        }
    }

    /// The zone as audit details.
    fn details(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

fn record(body: ZoneBody, now: i64) -> ZoneRecord {
    ZoneRecord {
        name: body.name,
        description: body.description,
        fallback: body.fallback,
        proxy_url: body.proxy_url.map(|u| u.trim_end_matches('/').to_owned()),
        connection_proxy: body.connection_proxy.map(|p| ConnectionProxy {
            url: p.url.trim_end_matches('/').to_owned(),
            cert_sha256: p.cert_sha256.to_ascii_lowercase(),
            ..p
        }),
        created_at: now,
        updated_at: now,
    }
}

/// `GET /api/v1/zones`.
#[utoipa::path(
    get,
    path = "/api/v1/zones",
    operation_id = "listZones",
    tag = "zones",
    summary = "Every zone, by name (admins and auditors)",
    responses((status = 200, description = "The zones.", body = ZoneList))
)]
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
) -> Result<Json<ZoneList>, ApiError> {
    auth.require_reader()?;
    let zones = cp.store.zones().await?;
    Ok(Json(ZoneList {
        items: zones.iter().map(Zone::of).collect(),
        next: (),
    }))
}

/// `GET /api/v1/zones/{name}`.
#[utoipa::path(
    get,
    path = "/api/v1/zones/{name}",
    operation_id = "getZone",
    tag = "zones",
    summary = "One zone",
    params(("name" = String, Path)),
    responses(
        (status = 200, description = "The zone.", body = Zone),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn get(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(name): Path<String>,
) -> Result<Json<Zone>, ApiError> {
    auth.require_reader()?;
    let z = cp
        .store
        .zone(&name)
        .await?
        .ok_or_else(|| ApiError::not_found("zone"))?;
    Ok(Json(Zone::of(&z)))
}

/// `POST /api/v1/zones`.
#[utoipa::path(
    post,
    path = "/api/v1/zones",
    operation_id = "createZone",
    tag = "zones",
    summary = "Create a zone (admin)",
    request_body = ZoneBody,
    responses(
        (status = 201, description = "Created.", body = Zone),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn create(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    body: Result<Json<ZoneBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    auth.require_admin()?;
    let Json(body) = body.map_err(json_rejection)?;
    check(&body)?;
    let z = record(body, now_ms());
    cp.store.create_zone(&z).await?;
    let view = Zone::of(&z);
    cp.audit(
        Audit::by(&auth, "zone.create")
            .on("zone", &z.name, Some(&z.name))
            .details(view.details()),
    )
    .await;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `PUT /api/v1/zones/{name}`: the name in the body must be the path's.
#[utoipa::path(
    put,
    path = "/api/v1/zones/{name}",
    operation_id = "replaceZone",
    tag = "zones",
    summary = "Replace a zone's settings (admin; the name cannot change)",
    params(("name" = String, Path)),
    request_body = ZoneBody,
    responses(
        (status = 200, description = "Replaced.", body = Zone),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn update(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(name): Path<String>,
    body: Result<Json<ZoneBody>, JsonRejection>,
) -> Result<Json<Zone>, ApiError> {
    auth.require_admin()?;
    let Json(body) = body.map_err(json_rejection)?;
    check(&body)?;
    if body.name != name {
        return Err(ApiError::invalid_field(
            "name",
            "a zone cannot be renamed (agents and groups name it)",
        ));
    }
    let old = cp
        .store
        .zone(&name)
        .await?
        .ok_or_else(|| ApiError::not_found("zone"))?;
    let z = ZoneRecord {
        created_at: old.created_at,
        ..record(body, now_ms())
    };
    cp.store.update_zone(&z).await?;
    let view = Zone::of(&z);
    cp.audit(
        Audit::by(&auth, "zone.update")
            .on("zone", &z.name, Some(&z.name))
            .details(view.details()),
    )
    .await;
    Ok(Json(view))
}

/// `DELETE /api/v1/zones/{name}`: not `default`, nor a zone agents or
/// users are in.
#[utoipa::path(
    delete,
    path = "/api/v1/zones/{name}",
    operation_id = "deleteZone",
    tag = "zones",
    summary = "Delete a zone no agent or user is in (admin; not `default`)",
    params(("name" = String, Path)),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    )
)]
pub(crate) async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require_admin()?;
    if name == oriel_control_store::DEFAULT_ZONE {
        return Err(ApiError::conflict(
            "zone_in_use",
            "the default zone cannot be deleted",
        ));
    }
    let (agents, users) = cp.store.zone_members(&name).await?;
    if agents + users > 0 {
        return Err(ApiError::conflict(
            "zone_in_use",
            format!(
                "{agents} agents and {users} users, groups or workspaces are in this zone; move them first"
            ),
        ));
    }
    if !cp.store.delete_zone(&name).await? {
        return Err(ApiError::not_found("zone"));
    }
    cp.audit(Audit::by(&auth, "zone.delete").on("zone", &name, Some(&name)))
        .await;
    Ok(StatusCode::NO_CONTENT)
}
