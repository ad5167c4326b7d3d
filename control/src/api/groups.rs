//! `/api/v1/groups`: members, granted workspaces and settings (admins write;
//! auditors read). Settings: `require_totp` and `policy` overrides of the
//! granted workspaces' policies (see `docs/policy.md`).

use super::Page;
use crate::ControlPlane;
use crate::audit::Audit;
use crate::error::{ApiError, json_rejection, query_rejection};
use crate::service::Authed;
use crate::service::policy::{GroupSettings, validate_overrides};
use crate::service::zones::require_zone;
use crate::time::{now_ms, rfc3339};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use oriel_control_store::{GroupRecord, StoreError};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupBody {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    settings: GroupSettings,
    /// User ids; on PUT, absent leaves the members as they are.
    #[serde(default)]
    members: Option<Vec<String>>,
    /// Workspace ids; on PUT, absent leaves the grants as they are.
    #[serde(default)]
    workspaces: Option<Vec<String>>,
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-'))
        && name.trim() == name
}

async fn group_json(cp: &ControlPlane, g: &GroupRecord) -> Result<serde_json::Value, ApiError> {
    let members = cp.store.group_members(&g.id).await?;
    let ws_ids = cp.store.group_workspace_ids(&g.id).await?;
    let mut workspaces = Vec::new();
    for id in &ws_ids {
        if let Some(w) = cp.store.workspace(id).await?.filter(|w| w.id == *id) {
            workspaces.push(serde_json::json!({ "id": w.id, "name": w.name }));
        }
    }
    Ok(serde_json::json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "settings": GroupSettings::of(g),
        "members": members.iter().map(|u| serde_json::json!({ "id": u.id, "username": u.username })).collect::<Vec<_>>(),
        "workspaces": workspaces,
        "created_at": rfc3339(g.created_at),
        "updated_at": rfc3339(g.updated_at),
    }))
}

fn check(body: &GroupBody) -> Result<serde_json::Value, ApiError> {
    if !valid_name(&body.name) {
        return Err(ApiError::invalid(
            "name must be 1-64 letters, digits, spaces, dots, dashes or underscores",
        ));
    }
    if body.description.len() > 1024 {
        return Err(ApiError::invalid("description too long"));
    }
    validate_overrides(&body.settings.policy, "settings.policy")?;
    serde_json::to_value(&body.settings).map_err(|e| ApiError::internal(&e))
}

async fn apply_links(cp: &ControlPlane, id: &str, body: &GroupBody) -> Result<(), ApiError> {
    let missing = |e: StoreError| match e {
        StoreError::Missing(what) => {
            ApiError::invalid(format!("an id in the group's {what}s does not exist"))
        }
        other => other.into(),
    };
    if let Some(members) = &body.members {
        cp.store
            .set_group_members(id, members)
            .await
            .map_err(missing)?;
    }
    if let Some(ws) = &body.workspaces {
        cp.store
            .set_group_workspaces(id, ws)
            .await
            .map_err(missing)?;
    }
    Ok(())
}

/// `GET /api/v1/groups`.
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.require_reader()?;
    let Query(page) = page.map_err(query_rejection)?;
    let limit = page.limit()?;
    let rows = cp
        .store
        .list_groups(page.after.as_deref(), limit + 1)
        .await?;
    let more = rows.len() as i64 > limit;
    let mut items = Vec::new();
    for g in rows.iter().take(limit as usize) {
        items.push(group_json(&cp, g).await?);
    }
    let next = more.then(|| rows[limit as usize - 1].name.clone());
    Ok(Json(serde_json::json!({ "items": items, "next": next })))
}

/// `POST /api/v1/groups`.
pub(crate) async fn create(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    body: Result<Json<GroupBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    auth.require_admin()?;
    let Json(body) = body.map_err(json_rejection)?;
    let settings = check(&body)?;
    if let Some(zone) = &body.settings.zone {
        require_zone(&cp, "settings.zone", zone).await?;
    }
    let g = cp
        .store
        .create_group(&body.name, &body.description, &settings, now_ms())
        .await?;
    if let Err(e) = apply_links(&cp, &g.id, &body).await {
        cp.store.delete_group(&g.id).await?;
        return Err(e);
    }
    let json = group_json(&cp, &g).await?;
    cp.audit(
        Audit::by(&auth, "group.create")
            .on("group", &g.id, Some(&g.name))
            .details(json.clone()),
    )
    .await;
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// `GET /api/v1/groups/{id}`.
pub(crate) async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.require_reader()?;
    let g = cp
        .store
        .group(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("group"))?;
    Ok(Json(group_json(&cp, &g).await?))
}

/// `PUT /api/v1/groups/{id}`.
pub(crate) async fn replace(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
    body: Result<Json<GroupBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.require_admin()?;
    let Json(body) = body.map_err(json_rejection)?;
    let settings = check(&body)?;
    if let Some(zone) = &body.settings.zone {
        require_zone(&cp, "settings.zone", zone).await?;
    }
    let g = cp
        .store
        .update_group(&id, &body.name, &body.description, &settings, now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("group"))?;
    apply_links(&cp, &id, &body).await?;
    let json = group_json(&cp, &g).await?;
    cp.audit(
        Audit::by(&auth, "group.update")
            .on("group", &id, Some(&g.name))
            .details(json.clone()),
    )
    .await;
    Ok(Json(json))
}

/// `DELETE /api/v1/groups/{id}`.
pub(crate) async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require_admin()?;
    let g = cp
        .store
        .group(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("group"))?;
    cp.store.delete_group(&id).await?;
    cp.audit(Audit::by(&auth, "group.delete").on("group", &id, Some(&g.name)))
        .await;
    Ok(StatusCode::NO_CONTENT)
}
