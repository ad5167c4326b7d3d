//! `/api/v1/audit`: querying and exporting the audit log (admins and
//! auditors). Writing it: `crate::audit`.

use crate::ControlPlane;
use crate::audit::Audit;
use crate::error::{ApiError, query_rejection};
use crate::service::Authed;
use crate::time::{parse_rfc3339, rfc3339};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use oriel_control_store::{AuditEntry, AuditFilter};
use serde::Deserialize;
use std::sync::Arc;

pub(crate) fn entry_json(e: &AuditEntry) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "at": rfc3339(e.at),
        "actor_id": e.actor_id,
        "actor": e.actor_name,
        "action": e.action,
        "target_type": e.target_type,
        "target_id": e.target_id,
        "target_name": e.target_name,
        "source": e.source,
        "outcome": e.outcome,
        "details": e.details,
    })
}

/// Filters of the audit endpoints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    actor: Option<String>,
    /// An action, or a prefix ending in `.` (`session.`).
    action: Option<String>,
    target_id: Option<String>,
    outcome: Option<String>,
    /// RFC 3339.
    since: Option<String>,
    /// RFC 3339.
    until: Option<String>,
    limit: Option<i64>,
    after: Option<String>,
}

fn filter(q: &AuditQuery) -> Result<AuditFilter<'_>, ApiError> {
    let time = |s: &Option<String>, name: &str| {
        s.as_deref()
            .map(|v| {
                parse_rfc3339(v)
                    .ok_or_else(|| ApiError::invalid(format!("{name} must be an RFC 3339 time")))
            })
            .transpose()
    };
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
        since: time(&q.since, "since")?,
        until: time(&q.until, "until")?,
        before,
    })
}

/// `GET /api/v1/audit` (admins and auditors), newest first, paged.
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
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
    let items: Vec<_> = rows.iter().take(limit as usize).map(entry_json).collect();
    let next = more.then(|| {
        let last = &rows[limit as usize - 1];
        format!("{}_{}", last.at, last.id)
    });
    Ok(Json(serde_json::json!({ "items": items, "next": next })))
}

/// `GET /api/v1/audit/export`: the matching entries as JSON lines, newest
/// first (at most 100 000 per export; narrow the time range for more).
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
            out.push_str(&entry_json(e).to_string());
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
