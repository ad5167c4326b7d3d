//! `/api/v1/groups`: members, granted workspaces and settings (admins write;
//! auditors read). Settings: `require_totp` and `policy` overrides of the
//! granted workspaces' policies (see `docs/policy.md`).

use super::Page;
use super::Path;
use super::login::GroupRef;
use crate::ControlPlane;
use crate::api::openapi::responses::{
    BadRequest, Conflict, NotFound, Unprocessable, UnsupportedMediaType,
};
use crate::audit::Audit;
use crate::error::{ApiError, json_rejection, query_rejection};
use crate::service::Authed;
use crate::service::policy::{GroupSettings, validate_overrides};
use crate::service::zones::require_zone;
use crate::time::{now_ms, rfc3339};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use oriel_control_store::{GroupRecord, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GroupInput)]
pub(crate) struct GroupBody {
    /// 1-64 letters, digits, spaces, dots, dashes or underscores; no space
    /// at either end (names are not trimmed: refused).
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[\p{L}\p{N}._-]([\p{L}\p{N} ._-]*[\p{L}\p{N}._-])?$"
    )]
    name: String,
    /// At most 1024 bytes.
    #[serde(default)]
    #[schema(max_length = 1024, default = "")]
    description: String,
    #[serde(default)]
    settings: GroupSettings,
    /// User ids (each must exist); on PUT, absent or null leaves them.
    #[serde(default)]
    members: Option<Vec<String>>,
    /// Workspace ids granted (each must exist); on PUT, absent or null
    /// leaves them.
    #[serde(default)]
    workspaces: Option<Vec<String>>,
}

/// A member of a group.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Member {
    id: String,
    username: String,
}

/// A group as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Group {
    id: String,
    name: String,
    description: String,
    settings: GroupSettings,
    #[schema(inline)]
    members: Vec<Member>,
    /// The workspaces the group grants.
    workspaces: Vec<GroupRef>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

page_of!(
    /// A page of groups, by name.
    GroupList,
    Group
);

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-'))
        && name.trim() == name
}

async fn group_view(cp: &ControlPlane, g: &GroupRecord) -> Result<Group, ApiError> {
    let members = cp.store.group_members(&g.id).await?;
    let ws_ids = cp.store.group_workspace_ids(&g.id).await?;
    let mut workspaces = Vec::new();
    for id in &ws_ids {
        if let Some(w) = cp.store.workspace(id).await?.filter(|w| w.id == *id) {
            workspaces.push(GroupRef {
                id: w.id,
                name: w.name,
            });
        }
    }
    Ok(Group {
        id: g.id.clone(),
        name: g.name.clone(),
        description: g.description.clone(),
        settings: GroupSettings::of(g),
        members: members
            .iter()
            .map(|u| Member {
                id: u.id.clone(),
                username: u.username.clone(),
            })
            .collect(),
        workspaces,
        created_at: rfc3339(g.created_at),
        updated_at: rfc3339(g.updated_at),
    })
}

/// The group as audit details.
fn details(g: &Group) -> serde_json::Value {
    serde_json::to_value(g).unwrap_or_default()
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
#[utoipa::path(
    get,
    path = "/api/v1/groups",
    operation_id = "listGroups",
    tag = "groups",
    summary = "List groups (admins and auditors)",
    params(Page),
    responses(
        (status = 200, description = "A page of groups, by name.", body = GroupList),
        (status = 400, response = BadRequest),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Json<GroupList>, ApiError> {
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
        items.push(group_view(&cp, g).await?);
    }
    let next = more.then(|| rows[limit as usize - 1].name.clone());
    Ok(Json(GroupList { items, next }))
}

/// `POST /api/v1/groups`.
#[utoipa::path(
    post,
    path = "/api/v1/groups",
    operation_id = "createGroup",
    tag = "groups",
    summary = "Create a group (admin)",
    request_body = GroupBody,
    responses(
        (status = 201, description = "Created.", body = Group),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
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
    let view = group_view(&cp, &g).await?;
    cp.audit(
        Audit::by(&auth, "group.create")
            .on("group", &g.id, Some(&g.name))
            .details(details(&view)),
    )
    .await;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /api/v1/groups/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/groups/{id}",
    operation_id = "getGroup",
    tag = "groups",
    summary = "One group",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The group.", body = Group),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<Json<Group>, ApiError> {
    auth.require_reader()?;
    let g = cp
        .store
        .group(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("group"))?;
    Ok(Json(group_view(&cp, &g).await?))
}

/// `PUT /api/v1/groups/{id}`.
#[utoipa::path(
    put,
    path = "/api/v1/groups/{id}",
    operation_id = "replaceGroup",
    tag = "groups",
    summary = "Replace a group (admin)",
    params(("id" = String, Path)),
    request_body = GroupBody,
    responses(
        (status = 200, description = "Replaced.", body = Group),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn replace(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
    body: Result<Json<GroupBody>, JsonRejection>,
) -> Result<Json<Group>, ApiError> {
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
    let view = group_view(&cp, &g).await?;
    cp.audit(
        Audit::by(&auth, "group.update")
            .on("group", &id, Some(&g.name))
            .details(details(&view)),
    )
    .await;
    Ok(Json(view))
}

/// `DELETE /api/v1/groups/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/groups/{id}",
    operation_id = "deleteGroup",
    tag = "groups",
    summary = "Delete a group (admin)",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, response = NotFound),
    )
)]
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
