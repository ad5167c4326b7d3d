//! `/api/v1/recordings`: the session recordings kept by the control plane
//! (admins and auditors read, admins delete). The operations are the
//! service layer's (`crate::service::recordings`).

use super::time_cursor;
use crate::ControlPlane;
use crate::error::{ApiError, query_rejection};
use crate::service::Authed;
use crate::time::rfc3339;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use oriel_control_store::{RecordingFilter, RecordingRecord, RecordingVerdict};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A recording as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct RecordingView {
    id: String,
    session_id: String,
    workspace_id: Option<String>,
    workspace_name: String,
    user_id: String,
    username: String,
    kind: String,
    gateway: String,
    started_at: String,
    ended_at: String,
    duration_ms: i64,
    bytes: i64,
    sha256: String,
    verdict: RecordingVerdict,
    verdict_detail: String,
    retain_until: Option<String>,
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
            verdict: r.verdict,
            verdict_detail: r.verdict_detail.clone(),
            retain_until: r.retain_until.map(rfc3339),
            stored_at: rfc3339(r.created_at),
        }
    }
}

/// A page of recordings.
#[derive(Debug, Serialize)]
pub(crate) struct RecordingPage {
    items: Vec<RecordingView>,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordingQuery {
    limit: Option<i64>,
    after: Option<String>,
    /// Only this session's (id).
    session: Option<String>,
    /// Only this user's (id).
    user: Option<String>,
    /// Only this workspace's (id).
    workspace: Option<String>,
}

/// `GET /api/v1/recordings`: newest first, keyset paged.
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
    let filter = RecordingFilter {
        session_id: q.session.as_deref(),
        user_id: q.user.as_deref(),
        workspace_id: q.workspace.as_deref(),
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
pub(crate) async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<Json<RecordingView>, ApiError> {
    let rec = cp.recording_checked(&auth, &id).await?;
    Ok(Json(RecordingView::from(&rec)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileQuery {
    /// `view` when the browser's player fetches it (audited as
    /// `recording.view`); otherwise a download (`recording.download`).
    purpose: Option<String>,
}

/// `GET /api/v1/recordings/{id}/file`: the file's bytes.
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
        rec.session_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>(),
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

/// `DELETE /api/v1/recordings/{id}` (admins).
pub(crate) async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    cp.delete_recording(&auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
