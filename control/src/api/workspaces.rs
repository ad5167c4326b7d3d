//! `/api/v1/workspaces`: what users can launch (admins write).

use super::{Page, query_rejection};
use crate::ControlPlane;
use crate::auth::Authed;
use crate::error::{ApiError, json_rejection};
use crate::time::{now_ms, rfc3339};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use oriel_control_store::{CredentialsUpdate, NewWorkspace, WorkspaceRecord};
use oriel_core_token::{Credentials, Policy};
use serde::{Deserialize, Deserializer};
use std::sync::Arc;

/// Largest clipboard limit a policy may set (the stream protocol's maximum).
const MAX_CLIPBOARD_LIMIT: u32 = 1 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetInput {
    host: String,
    port: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkspaceInput {
    name: String,
    kind: String,
    target: TargetInput,
    /// Absent: keep (on PUT) / none (on POST); `null`: remove; object: set.
    #[serde(default, deserialize_with = "present")]
    credentials: Option<Option<Credentials>>,
    #[serde(default)]
    policy: Policy,
}

/// Distinguishes an absent field from an explicit `null`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

pub(crate) fn workspace_json(w: &WorkspaceRecord) -> serde_json::Value {
    serde_json::json!({
        "id": w.id,
        "name": w.name,
        "kind": w.kind,
        "target": { "host": w.host, "port": w.port },
        "policy": w.policy,
        "has_credentials": w.sealed_credentials.is_some(),
        "created_at": rfc3339(w.created_at),
        "updated_at": rfc3339(w.updated_at),
    })
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-'))
        && !name.starts_with(' ')
        && !name.ends_with(' ')
}

fn valid_host(host: &str) -> bool {
    (1..=253).contains(&host.len())
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
}

fn validate(cp: &ControlPlane, input: &WorkspaceInput) -> Result<NewWorkspace, ApiError> {
    if !valid_name(&input.name) {
        return Err(ApiError::invalid(
            "name must be 1-64 letters, digits, spaces, dots, dashes or underscores",
        ));
    }
    if !cp.settings.workspace_kinds.contains(&input.kind) {
        return Err(ApiError::invalid(format!(
            "kind must be one of: {}",
            cp.settings.workspace_kinds.join(", ")
        )));
    }
    if !valid_host(&input.target.host) {
        return Err(ApiError::invalid(
            "target.host must be a host name or an IP address",
        ));
    }
    let port = u16::try_from(input.target.port)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| ApiError::invalid("target.port must be between 1 and 65535"))?;
    if input.policy.clipboard_max_bytes > MAX_CLIPBOARD_LIMIT {
        return Err(ApiError::invalid(format!(
            "policy.clipboard_max_bytes must be at most {MAX_CLIPBOARD_LIMIT}"
        )));
    }
    if let Some(Some(c)) = &input.credentials
        && (c.password.as_ref().is_some_and(|p| p.len() > 1024)
            || c.username.as_ref().is_some_and(|u| u.len() > 256))
    {
        return Err(ApiError::invalid("credentials too long"));
    }
    Ok(NewWorkspace {
        name: input.name.clone(),
        kind: input.kind.clone(),
        host: input.target.host.clone(),
        port,
        policy: input.policy.clone(),
    })
}

/// `GET /api/v1/workspaces`.
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    _auth: Authed,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(page) = page.map_err(query_rejection)?;
    let limit = page.limit()?;
    let rows = cp
        .store
        .list_workspaces(page.after.as_deref(), limit + 1)
        .await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<_> = rows
        .iter()
        .take(limit as usize)
        .map(workspace_json)
        .collect();
    let next = more.then(|| rows[limit as usize - 1].name.clone());
    Ok(Json(serde_json::json!({ "items": items, "next": next })))
}

/// `POST /api/v1/workspaces`.
pub(crate) async fn create(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    body: Result<Json<WorkspaceInput>, JsonRejection>,
) -> Result<Response, ApiError> {
    auth.require_admin()?;
    let Json(input) = body.map_err(json_rejection)?;
    let new = validate(&cp, &input)?;
    let creds = input.credentials.flatten();
    let w = cp
        .store
        .create_workspace(&new, creds.as_ref(), &cp.keys.data, now_ms())
        .await?;
    tracing::info!(workspace = %w.name, by = %auth.user.username, "workspace created");
    Ok((StatusCode::CREATED, Json(workspace_json(&w))).into_response())
}

/// `GET /api/v1/workspaces/{id}`.
pub(crate) async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    _auth: Authed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let w = cp
        .store
        .workspace(&id)
        .await?
        .filter(|w| w.id == id)
        .ok_or_else(|| ApiError::not_found("workspace"))?;
    Ok(Json(workspace_json(&w)))
}

/// `PUT /api/v1/workspaces/{id}`.
pub(crate) async fn replace(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
    body: Result<Json<WorkspaceInput>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.require_admin()?;
    let Json(input) = body.map_err(json_rejection)?;
    let new = validate(&cp, &input)?;
    let update = match input.credentials {
        None => CredentialsUpdate::Keep,
        Some(None) => CredentialsUpdate::Clear,
        Some(Some(c)) => CredentialsUpdate::Set(c),
    };
    let w = cp
        .store
        .update_workspace(&id, &new, update, &cp.keys.data, now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("workspace"))?;
    tracing::info!(workspace = %w.name, by = %auth.user.username, "workspace updated");
    Ok(Json(workspace_json(&w)))
}

/// `DELETE /api/v1/workspaces/{id}`.
pub(crate) async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require_admin()?;
    if cp.store.delete_workspace(&id).await? {
        tracing::info!(workspace_id = %id, by = %auth.user.username, "workspace deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("workspace"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_hosts_are_validated() {
        assert!(valid_name("Linux desktop 1"));
        assert!(valid_name("bureau-é"));
        assert!(!valid_name(""));
        assert!(!valid_name(" lead"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(&"x".repeat(65)));
        assert!(valid_host("10.0.0.1"));
        assert!(valid_host("[::1]"));
        assert!(valid_host("desk-1.example.com"));
        assert!(!valid_host("a b"));
        assert!(!valid_host("evil.com/path"));
    }

    #[test]
    fn explicit_null_credentials_differ_from_absent() {
        let absent: WorkspaceInput =
            serde_json::from_str(r#"{"name":"a","kind":"vnc","target":{"host":"h","port":1}}"#)
                .unwrap();
        assert!(absent.credentials.is_none());
        let null: WorkspaceInput = serde_json::from_str(
            r#"{"name":"a","kind":"vnc","target":{"host":"h","port":1},"credentials":null}"#,
        )
        .unwrap();
        assert!(matches!(null.credentials, Some(None)));
        assert!(
            serde_json::from_str::<WorkspaceInput>(
                r#"{"name":"a","kind":"vnc","target":{"host":"h","port":1},"extra":1}"#
            )
            .is_err()
        );
    }
}
