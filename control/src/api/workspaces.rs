//! `/api/v1/workspaces`: what users can launch (admins write). Users see the
//! workspaces their groups grant; admins and auditors see all.

use super::Page;
use super::Path;
use crate::ControlPlane;
use crate::api::openapi::responses::{
    BadRequest, Conflict, NotFound, Unprocessable, UnsupportedMediaType,
};
use crate::api::openapi::schemas;
use crate::audit::Audit;
use crate::error::{ApiError, json_rejection, query_rejection};
use crate::service::Authed;
use crate::service::policy::{launchable, validate_policy};
use crate::service::zones::require_zone;
use crate::time::{now_ms, rfc3339};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use oriel_control_store::{CredentialsUpdate, NewWorkspace, WorkspaceRecord};
use oriel_core_token::{Credentials, Policy};
use serde::{Deserialize, Deserializer, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// Kinds a workspace can have.
pub(crate) const KINDS: &[&str] = &["vnc", "rdp", "ssh", "container"];

/// Where a vnc, rdp or ssh workspace connects (sent and returned).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Target)]
pub(crate) struct TargetInput {
    /// A host name or an IP address (IPv6 in brackets): 1-253 ASCII
    /// letters, digits, `.`, `-`, `_`, `:`, `[`, `]`.
    #[schema(pattern = r"^[A-Za-z0-9.:\[\]_-]{1,253}$")]
    host: String,
    #[schema(minimum = 1, maximum = 65535)]
    port: u32,
    /// The zone whose network the target is in (must exist): that zone's
    /// connection proxy serves it. Absent or null: the control plane's
    /// gateway.
    #[serde(default)]
    zone: Option<String>,
}

/// Settings of a `container` workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContainerSpec {
    /// A locally built image (deploy/images/): 1-256 bytes, no whitespace.
    #[schema(pattern = r"^\S{1,256}$")]
    pub image: String,
    /// CPU limit, cores (fractions allowed).
    #[serde(default = "default_cpus")]
    #[schema(exclusive_minimum = 0, maximum = 64, default = 1)]
    pub cpus: f64,
    /// Memory limit, MiB.
    #[serde(default = "default_memory")]
    #[schema(minimum = 64, maximum = 262144, default = 2048)]
    pub memory_mb: u32,
    /// Process limit.
    #[serde(default = "default_pids")]
    #[schema(minimum = 16, maximum = 65536, default = 512)]
    pub pids: u32,
    /// Internet access from the container.
    #[serde(default = "default_egress")]
    #[schema(schema_with = schemas::egress)]
    pub egress: String,
    /// Desktop width, pixels.
    #[serde(default = "default_width")]
    #[schema(minimum = 320, maximum = 7680, default = 1600)]
    pub width: u16,
    /// Desktop height, pixels.
    #[serde(default = "default_height")]
    #[schema(minimum = 200, maximum = 4320, default = 900)]
    pub height: u16,
}

fn default_cpus() -> f64 {
    1.0
}
fn default_memory() -> u32 {
    2048
}
fn default_pids() -> u32 {
    512
}
fn default_egress() -> String {
    "none".into()
}
fn default_width() -> u16 {
    1600
}
fn default_height() -> u16 {
    900
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkspaceInput {
    /// 1-64 letters, digits, spaces, dots, dashes or underscores; no space
    /// at either end (names are not trimmed: refused).
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[\p{L}\p{N}._-]([\p{L}\p{N} ._-]*[\p{L}\p{N}._-])?$"
    )]
    name: String,
    /// Only the kinds this installation serves (`control.workspace_kinds`);
    /// another is 422.
    #[schema(schema_with = schemas::workspace_kind)]
    kind: String,
    /// Required for vnc, rdp and ssh; absent or null for container.
    #[serde(default)]
    target: Option<TargetInput>,
    /// Required for container; absent or null otherwise.
    #[serde(default)]
    container: Option<ContainerSpec>,
    /// On PUT: absent keeps the stored credentials, null removes them
    /// (on POST: absent or null, none).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Credentials>)]
    credentials: Option<Option<Credentials>>,
    #[serde(default)]
    policy: Policy,
    /// Pinned SHA256:<base64> fingerprint of the target's certificate (rdp)
    /// or host key (ssh), rdp and ssh only; absent or null: recorded on
    /// first use.
    #[serde(default)]
    #[schema(pattern = "^SHA256:[A-Za-z0-9+/]{43}$")]
    identity: Option<String>,
}

/// A workspace as the API shows it (never its credentials).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Workspace {
    id: String,
    name: String,
    kind: String,
    /// vnc, rdp and ssh workspaces: where they connect.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    target: Option<TargetInput>,
    /// Container workspaces: their settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    container: Option<ContainerSpec>,
    policy: Policy,
    has_credentials: bool,
    #[schema(required = true)]
    identity: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

page_of!(
    /// A page of workspaces, by name.
    WorkspaceList,
    Workspace
);

/// Distinguishes an absent field from an explicit `null`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl Workspace {
    pub(crate) fn of(w: &WorkspaceRecord) -> Workspace {
        let (target, container) = if w.kind == "container" {
            // Stored as `ContainerSpec` serializes; a row that no longer
            // reads is shown without its settings.
            let spec = serde_json::from_value(w.spec.clone())
                .inspect_err(|e| tracing::warn!(workspace = %w.id, error = %e, "stored container settings do not read"))
                .ok();
            (None, spec)
        } else {
            let target = TargetInput {
                host: w.host.clone(),
                port: u32::from(w.port),
                zone: w
                    .spec
                    .get("zone")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
            };
            (Some(target), None)
        };
        Workspace {
            id: w.id.clone(),
            name: w.name.clone(),
            kind: w.kind.clone(),
            target,
            container,
            policy: w.policy.clone(),
            has_credentials: w.sealed_credentials.is_some(),
            identity: w.identity.clone(),
            created_at: rfc3339(w.created_at),
            updated_at: rfc3339(w.updated_at),
        }
    }

    /// The workspace as audit details.
    fn details(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
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

fn valid_fingerprint(fp: &str) -> bool {
    fp.strip_prefix("SHA256:").is_some_and(|b64| {
        b64.len() == 43
            && b64
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
    })
}

fn validate(cp: &ControlPlane, input: &WorkspaceInput) -> Result<NewWorkspace, ApiError> {
    if !valid_name(&input.name) {
        return Err(ApiError::invalid(
            "name must be 1-64 letters, digits, spaces, dots, dashes or underscores",
        ));
    }
    if !KINDS.contains(&input.kind.as_str()) {
        return Err(ApiError::invalid(format!(
            "kind must be one of: {}",
            KINDS.join(", ")
        )));
    }
    if !cp.settings.workspace_kinds.contains(&input.kind) {
        return Err(ApiError::invalid(format!(
            "this installation cannot serve {} workspaces yet (enabled: {})",
            input.kind,
            cp.settings.workspace_kinds.join(", ")
        )));
    }
    let (host, port, spec) = if input.kind == "container" {
        if input.target.is_some() {
            return Err(ApiError::invalid(
                "container workspaces have no target; give container settings",
            ));
        }
        let c = input
            .container
            .as_ref()
            .ok_or_else(|| ApiError::invalid("container workspaces need container settings"))?;
        if c.image.is_empty() || c.image.len() > 256 || c.image.contains(char::is_whitespace) {
            return Err(ApiError::invalid("container.image must be an image name"));
        }
        let in_range = c.cpus > 0.0
            && c.cpus <= 64.0
            && (64..=262_144).contains(&c.memory_mb)
            && (16..=65_536).contains(&c.pids);
        if !in_range {
            return Err(ApiError::invalid(
                "container limits out of range (cpus 0-64, memory_mb 64-262144, pids 16-65536)",
            ));
        }
        if c.egress != "none" && c.egress != "internet" {
            return Err(ApiError::invalid(
                "container.egress must be none or internet",
            ));
        }
        if !desktop_size_ok(c.width, c.height) {
            return Err(ApiError::invalid("container desktop size out of range"));
        }
        let spec = serde_json::to_value(c).map_err(|e| ApiError::internal(&e))?;
        (String::new(), 0, spec)
    } else {
        if input.container.is_some() {
            return Err(ApiError::invalid(
                "only container workspaces have container settings",
            ));
        }
        let t = input
            .target
            .as_ref()
            .ok_or_else(|| ApiError::invalid(format!("{} workspaces need a target", input.kind)))?;
        if !valid_host(&t.host) {
            return Err(ApiError::invalid(
                "target.host must be a host name or an IP address",
            ));
        }
        let port = u16::try_from(t.port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| ApiError::invalid("target.port must be between 1 and 65535"))?;
        let spec = match &t.zone {
            Some(z) => serde_json::json!({ "zone": z }),
            None => serde_json::json!({}),
        };
        (t.host.clone(), port, spec)
    };
    validate_policy(&input.policy, "policy")?;
    if let Some(fp) = &input.identity
        && (!valid_fingerprint(fp) || !matches!(input.kind.as_str(), "rdp" | "ssh"))
    {
        return Err(ApiError::invalid(
            "identity must be a SHA256:<base64> fingerprint, for rdp or ssh workspaces",
        ));
    }
    if let Some(Some(c)) = &input.credentials
        && (c.password.as_ref().is_some_and(|p| p.len() > 1024)
            || c.username.as_ref().is_some_and(|u| u.len() > 256)
            || c.domain.as_ref().is_some_and(|d| d.len() > 256)
            || c.private_key.as_ref().is_some_and(|k| k.len() > 16_384))
    {
        return Err(ApiError::invalid("credentials too long"));
    }
    Ok(NewWorkspace {
        name: input.name.clone(),
        kind: input.kind.clone(),
        host,
        port,
        policy: input.policy.clone(),
        spec,
        identity: input.identity.clone(),
    })
}

fn desktop_size_ok(w: u16, h: u16) -> bool {
    (320..=7680).contains(&w) && (200..=4320).contains(&h)
}

/// `GET /api/v1/workspaces`.
#[utoipa::path(
    get,
    path = "/api/v1/workspaces",
    operation_id = "listWorkspaces",
    tag = "workspaces",
    summary = "List workspaces (users: those their groups grant)",
    params(Page),
    responses(
        (status = 200, description = "A page of workspaces, by name.", body = WorkspaceList),
        (status = 400, response = BadRequest),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Json<WorkspaceList>, ApiError> {
    let Query(page) = page.map_err(query_rejection)?;
    let limit = page.limit()?;
    let rows = if auth.can_read_all() {
        cp.store
            .list_workspaces(page.after.as_deref(), limit + 1)
            .await?
    } else {
        cp.store
            .workspaces_of_user(&auth.user.id, page.after.as_deref(), limit + 1)
            .await?
    };
    let more = rows.len() as i64 > limit;
    let items: Vec<_> = rows
        .iter()
        .take(limit as usize)
        .map(Workspace::of)
        .collect();
    let next = more.then(|| rows[limit as usize - 1].name.clone());
    Ok(Json(WorkspaceList { items, next }))
}

/// `POST /api/v1/workspaces`.
#[utoipa::path(
    post,
    path = "/api/v1/workspaces",
    operation_id = "createWorkspace",
    tag = "workspaces",
    summary = "Create a workspace (admin)",
    request_body = WorkspaceInput,
    responses(
        (status = 201, description = "Created.", body = Workspace),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn create(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    body: Result<Json<WorkspaceInput>, JsonRejection>,
) -> Result<Response, ApiError> {
    auth.require_admin()?;
    let Json(input) = body.map_err(json_rejection)?;
    let new = validate(&cp, &input)?;
    if let Some(zone) = input.target.as_ref().and_then(|t| t.zone.as_deref()) {
        require_zone(&cp, "target.zone", zone).await?;
    }
    let creds = input.credentials.flatten();
    let w = cp
        .store
        .create_workspace(&new, creds.as_ref(), &cp.keys.data, now_ms())
        .await?;
    let view = Workspace::of(&w);
    cp.audit(
        Audit::by(&auth, "workspace.create")
            .on("workspace", &w.id, Some(&w.name))
            .details(view.details()),
    )
    .await;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /api/v1/workspaces/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/workspaces/{id}",
    operation_id = "getWorkspace",
    tag = "workspaces",
    summary = "One workspace",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The workspace.", body = Workspace),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<Json<Workspace>, ApiError> {
    let w = cp
        .store
        .workspace(&id)
        .await?
        .filter(|w| w.id == id)
        .ok_or_else(|| ApiError::not_found("workspace"))?;
    if !auth.can_read_all() && launchable(&cp, &auth.user, &w).await?.is_none() {
        return Err(ApiError::not_found("workspace"));
    }
    Ok(Json(Workspace::of(&w)))
}

/// `PUT /api/v1/workspaces/{id}`.
#[utoipa::path(
    put,
    path = "/api/v1/workspaces/{id}",
    operation_id = "replaceWorkspace",
    tag = "workspaces",
    summary = "Replace a workspace (admin)",
    params(("id" = String, Path)),
    request_body = WorkspaceInput,
    responses(
        (status = 200, description = "Replaced.", body = Workspace),
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
    body: Result<Json<WorkspaceInput>, JsonRejection>,
) -> Result<Json<Workspace>, ApiError> {
    auth.require_admin()?;
    let Json(input) = body.map_err(json_rejection)?;
    let new = validate(&cp, &input)?;
    if let Some(zone) = input.target.as_ref().and_then(|t| t.zone.as_deref()) {
        require_zone(&cp, "target.zone", zone).await?;
    }
    let update = match input.credentials {
        None => CredentialsUpdate::Keep,
        Some(None) => CredentialsUpdate::Clear,
        Some(Some(c)) => CredentialsUpdate::Set(c),
    };
    let credentials_changed = !matches!(update, CredentialsUpdate::Keep);
    let w = cp
        .store
        .update_workspace(&id, &new, update, &cp.keys.data, now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("workspace"))?;
    let view = Workspace::of(&w);
    let mut details = view.details();
    details["credentials_changed"] = credentials_changed.into();
    cp.audit(
        Audit::by(&auth, "workspace.update")
            .on("workspace", &id, Some(&w.name))
            .details(details),
    )
    .await;
    Ok(Json(view))
}

/// `DELETE /api/v1/workspaces/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/workspaces/{id}",
    operation_id = "deleteWorkspace",
    tag = "workspaces",
    summary = "Delete a workspace (admin)",
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
    let w = cp
        .store
        .workspace(&id)
        .await?
        .filter(|w| w.id == id)
        .ok_or_else(|| ApiError::not_found("workspace"))?;
    cp.store.delete_workspace(&id).await?;
    cp.audit(Audit::by(&auth, "workspace.delete").on("workspace", &id, Some(&w.name)))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hosts_and_fingerprints_are_validated() {
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
        assert!(valid_fingerprint(
            "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
        ));
        assert!(!valid_fingerprint("MD5:aa:bb"));
        assert!(!valid_fingerprint("SHA256:short"));
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
