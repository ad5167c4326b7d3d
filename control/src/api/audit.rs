//! `/api/v1/audit`: querying and exporting the audit log (admins and
//! auditors). Writing it: `crate::audit`.

use crate::ControlPlane;
use crate::api::openapi::responses::{BadRequest, Unprocessable};
use crate::api::openapi::schemas;
use crate::audit::Audit;
use crate::error::{ApiError, query_rejection};
use crate::service::Authed;
use crate::time::rfc3339;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use oriel_control_store::{AuditEntry, AuditFilter};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// An entry of the audit log.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AuditEntry)]
pub(crate) struct AuditEntryView {
    id: String,
    #[schema(format = DateTime)]
    at: String,
    #[schema(required = true)]
    actor_id: Option<String>,
    /// The actor's name.
    actor: String,
    action: String,
    #[schema(required = true)]
    target_type: Option<String>,
    #[schema(required = true)]
    target_id: Option<String>,
    #[schema(required = true)]
    target_name: Option<String>,
    #[schema(required = true)]
    source: Option<String>,
    #[schema(schema_with = schemas::outcome)]
    outcome: String,
    /// What the action did, by action.
    #[schema(value_type = Object)]
    details: serde_json::Value,
}

impl AuditEntryView {
    pub(crate) fn of(e: &AuditEntry) -> AuditEntryView {
        AuditEntryView {
            id: e.id.clone(),
            at: rfc3339(e.at),
            actor_id: e.actor_id.clone(),
            actor: e.actor_name.clone(),
            action: e.action.clone(),
            target_type: e.target_type.clone(),
            target_id: e.target_id.clone(),
            target_name: e.target_name.clone(),
            source: e.source.clone(),
            outcome: e.outcome.clone(),
            details: e.details.clone(),
        }
    }
}

page_of!(
    /// A page of audit entries, newest first.
    AuditList,
    AuditEntryView
);

/// Filters of the audit endpoints.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Exact user name.
    actor: Option<String>,
    /// An action, or a prefix ending in `.` (e.g. `session.`).
    action: Option<String>,
    /// Exact id of the object.
    target_id: Option<String>,
    /// `success` or `failure` (422 otherwise).
    #[param(schema_with = schemas::outcome)]
    outcome: Option<String>,
    /// RFC 3339 (422 otherwise).
    #[param(format = DateTime)]
    since: Option<String>,
    /// RFC 3339 (422 otherwise).
    #[param(format = DateTime)]
    until: Option<String>,
    /// `GET /audit` only: items per page (a whole number; 422 outside
    /// 1-1000).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<i64>,
    /// `GET /audit` only: cursor `<unix ms>_<id>`, exactly the `next` of
    /// the previous page; anything else is 400 `bad_request`.
    #[param(pattern = "^-?[0-9]+_")]
    after: Option<String>,
}

fn filter(q: &AuditQuery) -> Result<AuditFilter<'_>, ApiError> {
    if let Some(o) = &q.outcome
        && o != "success"
        && o != "failure"
    {
        return Err(ApiError::invalid("outcome must be success or failure"));
    }
    let before = match &q.after {
        None => None,
        Some(cursor) => {
            let (at, id) = cursor
                .split_once('_')
                .and_then(|(a, i)| Some((a.parse::<i64>().ok()?, i)))
                .ok_or_else(|| ApiError::bad_request("after must be a cursor from next"))?;
            Some((at, id))
        }
    };
    Ok(AuditFilter {
        actor: q.actor.as_deref(),
        action: q.action.as_deref(),
        target_id: q.target_id.as_deref(),
        outcome: q.outcome.as_deref(),
        since: super::time_param(q.since.as_deref(), "since")?,
        until: super::time_param(q.until.as_deref(), "until")?,
        before,
    })
}

/// `GET /api/v1/audit` (admins and auditors), newest first, paged.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "listAudit",
    tag = "audit",
    summary = "Query the audit log, newest first (admins and auditors)",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries.", body = AuditList),
        (status = 400, response = BadRequest),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditList>, ApiError> {
    auth.require_reader()?;
    let Query(q) = q.map_err(query_rejection)?;
    let limit = match q.limit {
        None => 100,
        Some(n) if (1..=1000).contains(&n) => n,
        Some(_) => return Err(ApiError::invalid("limit must be between 1 and 1000")),
    };
    let f = filter(&q)?;
    let rows = cp.store.query_audit(&f, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<_> = rows
        .iter()
        .take(limit as usize)
        .map(AuditEntryView::of)
        .collect();
    let next = more.then(|| {
        let last = &rows[limit as usize - 1];
        format!("{}_{}", last.at, last.id)
    });
    Ok(Json(AuditList { items, next }))
}

/// `GET /api/v1/audit/export`: the matching entries as JSON lines, newest
/// first (at most 100 000 per export; narrow the time range for more).
#[utoipa::path(
    get,
    path = "/api/v1/audit/export",
    operation_id = "exportAudit",
    tag = "audit",
    summary = "Export matching audit entries as JSON lines (admins and auditors)",
    params(AuditQuery),
    responses(
        (status = 200, description = "One AuditEntry JSON object per line, newest first (at most 100 000).",
            body = String, content_type = "application/x-ndjson"),
        (status = 400, response = BadRequest),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn export(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    auth.require_reader()?;
    let Query(q) = q.map_err(query_rejection)?;
    let base = filter(&q)?;
    let mut out = String::new();
    let mut cursor: Option<(i64, String)> = None;
    let mut total = 0usize;
    loop {
        let mut f = base.clone();
        if let Some((at, id)) = &cursor {
            f.before = Some((*at, id.as_str()));
        }
        let rows = cp.store.query_audit(&f, 1000).await?;
        for e in &rows {
            let line = serde_json::to_string(&AuditEntryView::of(e))
                .map_err(|e| ApiError::internal(&e))?;
            out.push_str(&line);
            out.push('\n');
        }
        total += rows.len();
        let next = match rows.last() {
            Some(last) if rows.len() == 1000 && total < 100_000 => Some((last.at, last.id.clone())),
            _ => None,
        };
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    cp.audit(Audit::by(&auth, "audit.export").details(serde_json::json!({ "entries": total })))
        .await;
    Ok((
        [
            (http::header::CONTENT_TYPE, "application/x-ndjson"),
            (
                http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"oriel-audit.jsonl\"",
            ),
        ],
        out,
    )
        .into_response())
}
