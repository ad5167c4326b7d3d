//! `/api/v1/users`: local users and their groups (admins write; auditors
//! read). The operations are `crate::service::users`.

use super::Page;
use super::Path;
use super::login::{GroupRef, UserView};
use crate::ControlPlane;
use crate::api::openapi::responses::{
    BadRequest, Conflict, NotFound, Unprocessable, UnsupportedMediaType,
};
use crate::error::{ApiError, json_rejection, query_rejection};
use crate::service::{Authed, NewUser, UserUpdate};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use oriel_control_store::{Role, User};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::ToSchema;
use zeroize::Zeroizing;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewUser)]
pub(crate) struct NewUserBody {
    /// 1-64 ASCII letters, digits, dots, dashes, underscores or @.
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$")]
    username: String,
    /// At least `control.password_min_len` characters (12 by default), at
    /// most 1024 bytes, not containing the user name (any case), not a
    /// well-known password nor one character repeated; otherwise 422 naming
    /// the field.
    #[schema(max_length = 1024)]
    password: String,
    #[serde(default = "default_role")]
    #[schema(default = "user")]
    role: Role,
    /// Group ids (each must exist: 422).
    #[serde(default)]
    groups: Vec<String>,
}

fn default_role() -> Role {
    Role::User
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateUser)]
pub(crate) struct UpdateUserBody {
    role: Role,
    #[serde(default)]
    #[schema(default = false)]
    disabled: bool,
    /// When present (not null), the user's zone (where their container
    /// sessions run): 1-64 bytes, no control characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64, pattern = r"^[^\p{Cc}]*$")]
    zone: Option<String>,
    /// When present (not null), the user's groups become exactly these
    /// (ids; each must exist).
    #[serde(default)]
    groups: Option<Vec<String>>,
    /// A new password set by the admin (the user's logins end). At least
    /// `control.password_min_len` characters (12 by default), at most 1024
    /// bytes, not containing the user name (any case), not a well-known
    /// password nor one character repeated; otherwise 422 naming the field.
    #[serde(default)]
    #[schema(max_length = 1024)]
    password: Option<String>,
    /// Remove the user's second factor.
    #[serde(default)]
    #[schema(default = false)]
    reset_totp: bool,
}

page_of!(
    /// A page of users, by name.
    UserList,
    UserView
);

async fn user_with_groups(cp: &ControlPlane, u: &User) -> Result<UserView, ApiError> {
    let groups = cp
        .store
        .groups_of_user(&u.id)
        .await?
        .iter()
        .map(|g| GroupRef {
            id: g.id.clone(),
            name: g.name.clone(),
        })
        .collect();
    Ok(UserView::with_groups(u, groups))
}

/// `GET /api/v1/users`.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    operation_id = "listUsers",
    tag = "users",
    summary = "List users (admins and auditors)",
    params(Page),
    responses(
        (status = 200, description = "A page of users, by name.", body = UserList),
        (status = 400, response = BadRequest),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Json<UserList>, ApiError> {
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
    Ok(Json(UserList { items, next }))
}

/// `POST /api/v1/users`.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    operation_id = "createUser",
    tag = "users",
    summary = "Create a local user (admin)",
    request_body = NewUserBody,
    responses(
        (status = 201, description = "Created.", body = UserView),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    operation_id = "getUser",
    tag = "users",
    summary = "One user (admins and auditors; anyone for themselves)",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The user.", body = UserView),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
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
#[utoipa::path(
    put,
    path = "/api/v1/users/{id}",
    operation_id = "updateUser",
    tag = "users",
    summary = "Change a user's role, state, groups, password or second factor (admin)",
    params(("id" = String, Path)),
    request_body = UpdateUserBody,
    responses(
        (status = 200, description = "Updated.", body = UserView),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn update(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
    body: Result<Json<UpdateUserBody>, JsonRejection>,
) -> Result<Json<UserView>, ApiError> {
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
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}",
    operation_id = "deleteUser",
    tag = "users",
    summary = "Delete a user (admin; not the last admin)",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    )
)]
pub(crate) async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    cp.delete_user(&auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
