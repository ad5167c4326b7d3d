//! `/api/v1/users`: local users and their groups (admins write; auditors
//! read). The operations are `crate::service::users`.

use super::Page;
use super::login::user_json;
use crate::ControlPlane;
use crate::error::{ApiError, json_rejection, query_rejection};
use crate::service::{Authed, NewUser, UserUpdate};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use oriel_control_store::{Role, User};
use serde::Deserialize;
use std::sync::Arc;
use zeroize::Zeroizing;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUserBody {
    username: String,
    password: String,
    #[serde(default = "default_role")]
    role: Role,
    /// Group ids to put the user in.
    #[serde(default)]
    groups: Vec<String>,
}

fn default_role() -> Role {
    Role::User
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateUserBody {
    role: Role,
    #[serde(default)]
    disabled: bool,
    /// When present, the zone the user's container sessions are placed in.
    #[serde(default)]
    zone: Option<String>,
    /// When present, the user's groups become exactly these.
    #[serde(default)]
    groups: Option<Vec<String>>,
    /// A new password set by the admin (the user's logins end).
    #[serde(default)]
    password: Option<String>,
    /// Removes the user's second factor (they enrol again).
    #[serde(default)]
    reset_totp: bool,
}

async fn user_with_groups(cp: &ControlPlane, u: &User) -> Result<serde_json::Value, ApiError> {
    let mut body = user_json(u);
    body["groups"] = cp
        .store
        .groups_of_user(&u.id)
        .await?
        .iter()
        .map(|g| serde_json::json!({ "id": g.id, "name": g.name }))
        .collect();
    Ok(body)
}

/// `GET /api/v1/users`.
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
        .list_users(page.after.as_deref(), limit + 1)
        .await?;
    let more = rows.len() as i64 > limit;
    let mut items = Vec::new();
    for u in rows.iter().take(limit as usize) {
        items.push(user_with_groups(&cp, u).await?);
    }
    let next = more.then(|| rows[limit as usize - 1].username.clone());
    Ok(Json(serde_json::json!({ "items": items, "next": next })))
}

/// `POST /api/v1/users`.
pub(crate) async fn create(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    body: Result<Json<NewUserBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    auth.require_admin()?;
    let Json(body) = body.map_err(json_rejection)?;
    let user = cp
        .create_user(
            &auth,
            &NewUser {
                username: body.username,
                password: Zeroizing::new(body.password),
                role: body.role,
                groups: body.groups,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(user_with_groups(&cp, &user).await?),
    )
        .into_response())
}

/// `GET /api/v1/users/{id}`.
pub(crate) async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if id != auth.user.id {
        auth.require_reader()?;
    }
    let u = cp
        .store
        .user(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(user_with_groups(&cp, &u.user).await?))
}

/// `PUT /api/v1/users/{id}`.
pub(crate) async fn update(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
    body: Result<Json<UpdateUserBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.require_admin()?;
    let Json(body) = body.map_err(json_rejection)?;
    let user = cp
        .update_user(
            &auth,
            &id,
            &UserUpdate {
                role: body.role,
                disabled: body.disabled,
                zone: body.zone,
                groups: body.groups,
                password: body.password.map(Zeroizing::new),
                reset_totp: body.reset_totp,
            },
        )
        .await?;
    Ok(Json(user_with_groups(&cp, &user).await?))
}

/// `DELETE /api/v1/users/{id}`.
pub(crate) async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    cp.delete_user(&auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
