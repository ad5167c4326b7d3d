//! `/api/v1/users`: local users and their groups (admins write; auditors read).

use super::Page;
use super::login::user_json;
use crate::ControlPlane;
use crate::audit::Audit;
use crate::auth::password;
use crate::error::{ApiError, json_rejection, query_rejection};
use crate::service::Authed;
use crate::time::now_ms;
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

fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
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

/// Sets a user's groups to exactly `group_ids`.
async fn set_groups(
    cp: &ControlPlane,
    user_id: &str,
    group_ids: &[String],
) -> Result<(), ApiError> {
    for gid in group_ids {
        if cp.store.group(gid).await?.is_none() {
            return Err(ApiError::invalid(format!("no group with id {gid}")));
        }
    }
    let current: Vec<String> = cp
        .store
        .groups_of_user(user_id)
        .await?
        .into_iter()
        .map(|g| g.id)
        .collect();
    for gid in current.iter().chain(group_ids.iter()) {
        let mut members: Vec<String> = cp
            .store
            .group_members(gid)
            .await?
            .into_iter()
            .map(|m| m.id)
            .collect();
        let wanted = group_ids.contains(gid);
        let has = members.iter().any(|m| m == user_id);
        if wanted && !has {
            members.push(user_id.to_owned());
        } else if !wanted && has {
            members.retain(|m| m != user_id);
        } else {
            continue;
        }
        cp.store.set_group_members(gid, &members).await?;
    }
    Ok(())
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
    let pw = Zeroizing::new(body.password);
    if !valid_username(&body.username) {
        return Err(ApiError::invalid(
            "username must be 1-64 letters, digits, dots, dashes, underscores or @",
        ));
    }
    password::check_policy(&pw, &body.username, cp.settings.password_min_len)
        .map_err(|m| ApiError::invalid_field("password", m))?;
    let hash = password::hash(&pw).await?;
    let user = cp
        .store
        .create_user(&body.username, &hash, body.role, now_ms())
        .await?;
    if let Err(e) = set_groups(&cp, &user.id, &body.groups).await {
        cp.store.delete_user(&user.id).await?;
        return Err(e);
    }
    cp.audit(
        Audit::by(&auth, "user.create")
            .on("user", &user.id, Some(&user.username))
            .details(serde_json::json!({ "role": user.role, "groups": body.groups })),
    )
    .await;
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

/// Refuses changes that would leave no enabled admin.
async fn keep_an_admin(
    cp: &ControlPlane,
    target: &User,
    still_admin: bool,
) -> Result<(), ApiError> {
    let is_active_admin = target.role == Role::Admin && !target.disabled;
    if is_active_admin && !still_admin && cp.store.count_active_admins().await? <= 1 {
        return Err(ApiError::conflict(
            "last_admin",
            "this would leave no enabled admin",
        ));
    }
    Ok(())
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
    let current = cp
        .store
        .user(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    keep_an_admin(
        &cp,
        &current.user,
        body.role == Role::Admin && !body.disabled,
    )
    .await?;
    if let Some(pw) = &body.password {
        if current.password_hash.is_empty() {
            return Err(ApiError::conflict(
                "external_user",
                "this user logs in with an identity provider",
            ));
        }
        password::check_policy(pw, &current.user.username, cp.settings.password_min_len)
            .map_err(|m| ApiError::invalid_field("password", m))?;
    }
    if let Some(zone) = &body.zone
        && (zone.is_empty() || zone.len() > 64 || zone.chars().any(char::is_control))
    {
        return Err(ApiError::invalid_field("zone", "a zone is 1-64 characters"));
    }
    if let Some(groups) = &body.groups {
        set_groups(&cp, &id, groups).await?;
    }
    if let Some(zone) = &body.zone {
        cp.store.set_user_zone(&id, zone, now_ms()).await?;
    }
    let user = cp
        .store
        .update_user(&id, body.role, body.disabled, now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let password_reset = body.password.is_some();
    if let Some(pw) = body.password.map(Zeroizing::new) {
        let hash = password::hash(&pw).await?;
        cp.store.set_password(&id, &hash, now_ms()).await?;
    }
    if body.reset_totp {
        cp.store.set_totp(&id, None, false, now_ms()).await?;
        cp.store.replace_recovery_codes(&id, &[]).await?;
    }
    let logins_end =
        body.disabled || body.reset_totp || password_reset || current.user.role != body.role;
    if logins_end {
        cp.store.delete_logins_of_user(&id).await?;
    }
    if body.disabled && !current.user.disabled {
        cut_off(&cp, &id).await?;
    }
    cp.audit(
        Audit::by(&auth, "user.update")
            .on("user", &id, Some(&user.username))
            .details(serde_json::json!({
                "role": user.role,
                "disabled": user.disabled,
                "groups": body.groups,
                "password_reset": password_reset,
                "totp_reset": body.reset_totp,
                "zone": body.zone,
            })),
    )
    .await;
    Ok(Json(user_with_groups(&cp, &user).await?))
}

/// A disabled or deleted user's sessions end, and every token issued to
/// them until now is revoked at every gateway (streams stop, reconnections
/// are refused), even one the end commands do not reach.
async fn cut_off(cp: &ControlPlane, user_id: &str) -> Result<(), ApiError> {
    let now = now_ms();
    let until = cp.revocation_until(now + cp.settings.token_ttl.as_millis() as i64);
    cp.revoke(oriel_control_store::RevocationKind::User, user_id, until)
        .await?;
    let active = cp
        .store
        .list_sessions(
            &oriel_control_store::SessionFilter {
                user_id: Some(user_id),
                active_only: true,
                before: None,
            },
            1000,
        )
        .await?;
    for s in active {
        cp.end_session(&s, "user disabled").await?;
    }
    Ok(())
}

/// `DELETE /api/v1/users/{id}`.
pub(crate) async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require_admin()?;
    let current = cp
        .store
        .user(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    keep_an_admin(&cp, &current.user, false).await?;
    cut_off(&cp, &id).await?;
    cp.store.delete_user(&id).await?;
    cp.audit(Audit::by(&auth, "user.delete").on("user", &id, Some(&current.user.username)))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_validated() {
        assert!(valid_username("alice"));
        assert!(valid_username("a.b-c_d@example.com"));
        assert!(!valid_username(""));
        assert!(!valid_username("al ice"));
        assert!(!valid_username("../x"));
        assert!(!valid_username(&"a".repeat(65)));
    }
}
