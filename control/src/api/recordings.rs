//! `/api/v1/recordings`: the session recordings kept by the control plane
//! (admins and auditors read, admins delete). The operations are the
//! service layer's (`crate::service::recordings`).

use super::Path;
use super::time_cursor;
use crate::ControlPlane;
use crate::api::openapi::responses::{BadRequest, Conflict, NotFound, Unprocessable};
use crate::error::{ApiError, query_rejection};
use crate::service::Authed;
use crate::time::rfc3339;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use oriel_control_store::{RecordingFilter, RecordingRecord, RecordingVerdict};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// What the signed hash chain says (docs/recording.md): `complete`,
/// `incomplete` (cut short: playable, the tail after the last checkpoint
/// unverified) or `tampered`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Verdict {
    Complete,
    Incomplete,
    Tampered,
}

impl From<RecordingVerdict> for Verdict {
    fn from(v: RecordingVerdict) -> Self {
        match v {
            RecordingVerdict::Complete => Verdict::Complete,
            RecordingVerdict::Incomplete => Verdict::Incomplete,
            RecordingVerdict::Tampered => Verdict::Tampered,
        }
    }
}

/// A session recording kept by the control plane.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordingView {
    id: String,
    session_id: String,
    /// The session's workspace; null when the control plane did not know
    /// the session.
    workspace_id: Option<String>,
    workspace_name: String,
    user_id: String,
    username: String,
    /// `vnc`, `rdp`, `ssh` or `container`.
    kind: String,
    /// The recording gateway's id.
    gateway: String,
    #[schema(format = DateTime)]
    started_at: String,
    /// The last record's time.
    #[schema(format = DateTime)]
    ended_at: String,
    #[schema(minimum = 0)]
    duration_ms: i64,
    #[schema(minimum = 0)]
    bytes: i64,
    /// SHA-256 of the file, lowercase hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    sha256: String,
    verdict: Verdict,
    /// Why: records verified, or where and how the chain breaks; empty for
    /// complete.
    verdict_detail: String,
    /// Deleted by the retention sweep after this; null: kept.
    #[schema(format = DateTime)]
    retain_until: Option<String>,
    #[schema(format = DateTime)]
    stored_at: String,
}

impl From<&RecordingRecord> for RecordingView {
    fn from(r: &RecordingRecord) -> Self {
        RecordingView {
            id: r.id.clone(),
            session_id: r.session_id.clone(),
            workspace_id: r.workspace_id.clone(),
            workspace_name: r.workspace_name.clone(),
            user_id: r.user_id.clone(),
            username: r.username.clone(),
            kind: r.kind.clone(),
            gateway: r.gateway.clone(),
            started_at: rfc3339(r.started_at),
            ended_at: rfc3339(r.ended_at),
            duration_ms: (r.ended_at - r.started_at).max(0),
            bytes: r.bytes,
            sha256: r.sha256.clone(),
            verdict: r.verdict.into(),
            verdict_detail: r.verdict_detail.clone(),
            retain_until: r.retain_until.map(rfc3339),
            stored_at: rfc3339(r.created_at),
        }
    }
}

/// A page of recordings.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordingPage {
    items: Vec<RecordingView>,
    next: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RecordingQuery {
    /// Items per page (a whole number; 422 outside 1-200, 400 when not a
    /// number).
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<i64>,
    /// Cursor `<unix ms>:<id>`, exactly the `next` of the previous page;
    /// anything else is 400 `bad_request`.
    #[param(pattern = "^-?[0-9]+:")]
    after: Option<String>,
    /// Only this session's (id).
    session: Option<String>,
    /// Only this user's (id).
    user: Option<String>,
    /// Only this workspace's (id).
    workspace: Option<String>,
    /// Only of this workspace kind (422 for another value).
    #[param(pattern = "^(vnc|rdp|ssh|container)$")]
    kind: Option<String>,
    /// Only those still running at or after this time (RFC 3339; 422
    /// otherwise).
    #[param(format = DateTime)]
    since: Option<String>,
    /// Only those started before this time (RFC 3339; 422 otherwise).
    #[param(format = DateTime)]
    until: Option<String>,
    /// Only SSH recordings whose text (what the shell printed, escape
    /// sequences removed, the first 8 MiB) contains this, in any case; at
    /// most 200 characters (422 otherwise).
    #[param(max_length = 200)]
    text: Option<String>,
}

/// Longest text searched for, characters.
const MAX_SEARCH: usize = 200;

/// `GET /api/v1/recordings`: newest first, keyset paged.
#[utoipa::path(
    get,
    path = "/api/v1/recordings",
    operation_id = "listRecordings",
    tag = "recordings",
    summary = "Session recordings kept by the control plane, newest first (admins and auditors)",
    params(RecordingQuery),
    responses(
        (status = 200, description = "A page of recordings.", body = RecordingPage),
        (status = 400, response = BadRequest),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    q: Result<Query<RecordingQuery>, QueryRejection>,
) -> Result<Json<RecordingPage>, ApiError> {
    let Query(q) = q.map_err(query_rejection)?;
    let limit = super::Page {
        limit: q.limit,
        after: None,
    }
    .limit()?;
    let before = q.after.as_deref().map(time_cursor).transpose()?;
    if let Some(kind) = &q.kind
        && !["vnc", "rdp", "ssh", "container"].contains(&kind.as_str())
    {
        return Err(ApiError::invalid("kind must be vnc, rdp, ssh or container"));
    }
    if q.text
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_SEARCH)
    {
        return Err(ApiError::invalid(format!(
            "text must be at most {MAX_SEARCH} characters"
        )));
    }
    let filter = RecordingFilter {
        session_id: q.session.as_deref(),
        user_id: q.user.as_deref(),
        workspace_id: q.workspace.as_deref(),
        kind: q.kind.as_deref(),
        from: super::time_param(q.since.as_deref(), "since")?,
        to: super::time_param(q.until.as_deref(), "until")?,
        text: q.text.as_deref().filter(|t| !t.is_empty()),
        before,
    };
    let rows = cp.list_recordings(&auth, &filter, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let items = rows
        .iter()
        .take(limit as usize)
        .map(RecordingView::from)
        .collect();
    let next = more.then(|| {
        let last = &rows[limit as usize - 1];
        format!("{}:{}", last.started_at, last.id)
    });
    Ok(Json(RecordingPage { items, next }))
}

/// `GET /api/v1/recordings/{id}`: its metadata, the verdict checked again.
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{id}",
    operation_id = "getRecording",
    tag = "recordings",
    summary = "One recording, its verdict checked again on the stored file (admins and auditors)",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The recording.", body = RecordingView),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<Json<RecordingView>, ApiError> {
    let rec = cp.recording_checked(&auth, &id).await?;
    Ok(Json(RecordingView::from(&rec)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct FileQuery {
    /// `view` when the browser's player fetches it (audited as
    /// `recording.view`); otherwise a download (`recording.download`, the
    /// default). Another value is 422.
    purpose: Option<String>,
}

/// `GET /api/v1/recordings/{id}/file`: the file's bytes.
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{id}/file",
    operation_id = "getRecordingFile",
    tag = "recordings",
    summary = "A recording's file (docs/recording.md), audited `recording.download`, or `recording.view` with `purpose=view`",
    params(("id" = String, Path), FileQuery),
    responses(
        (status = 200, description = "The file.", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn file(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
    q: Result<Query<FileQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(query_rejection)?;
    let view = match q.purpose.as_deref() {
        None | Some("download") => false,
        Some("view") => true,
        Some(_) => return Err(ApiError::invalid("purpose must be view or download")),
    };
    let (rec, bytes) = cp.recording_bytes(&auth, &id, view).await?;
    let disposition = format!(
        "attachment; filename=\"oriel-{}-{}\"",
        safe_session(&rec.session_id),
        rec.file_name
    );
    Ok((
        StatusCode::OK,
        [
            (
                http::header::CONTENT_TYPE,
                "application/octet-stream".to_owned(),
            ),
            (http::header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /api/v1/recordings/{id}/cast`: an SSH recording as asciicast v2.
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{id}/cast",
    operation_id = "getRecordingCast",
    tag = "recordings",
    summary = "An SSH recording's terminal text as an asciicast v2 file (docs/recording.md), audited `recording.download`",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The asciicast v2 file: a JSON header line, then one JSON event line each.", body = String, content_type = "application/x-asciicast"),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    )
)]
pub(crate) async fn cast(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (rec, cast) = cp.recording_cast(&auth, &id).await?;
    let disposition = format!(
        "attachment; filename=\"oriel-{}-{}.cast\"",
        safe_session(&rec.session_id),
        rec.file_name.trim_end_matches(".orec")
    );
    Ok((
        StatusCode::OK,
        [
            (
                http::header::CONTENT_TYPE,
                "application/x-asciicast".to_owned(),
            ),
            (http::header::CONTENT_DISPOSITION, disposition),
        ],
        cast,
    )
        .into_response())
}

/// A session id for a file name.
fn safe_session(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// `DELETE /api/v1/recordings/{id}` (admins).
#[utoipa::path(
    delete,
    path = "/api/v1/recordings/{id}",
    operation_id = "deleteRecording",
    tag = "recordings",
    summary = "Delete a recording, file and row (admins; audited `recording.delete`)",
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
    cp.delete_recording(&auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
