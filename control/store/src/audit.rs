//! The append-only audit log (the database refuses updates and deletes).

use crate::{Store, StoreError, new_id};
use serde::Serialize;
use sqlx::Row as _;
use sqlx::any::AnyRow;

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Id.
    pub id: String,
    /// Unix ms.
    pub at: i64,
    /// Who did it (user id), if known.
    pub actor_id: Option<String>,
    /// Who did it: user name, or what a failed login claimed, or `system`.
    pub actor_name: String,
    /// What, e.g. `auth.login`, `session.end`, `workspace.update`.
    pub action: String,
    /// Kind of the object acted on (`session`, `workspace`, `user`, ...).
    pub target_type: Option<String>,
    /// Its id.
    pub target_id: Option<String>,
    /// Its name, when it has one.
    pub target_name: Option<String>,
    /// Where from (client address).
    pub source: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// More about it.
    pub details: serde_json::Value,
}

/// A new entry.
#[derive(Debug, Clone, Default)]
pub struct NewAudit<'a> {
    /// User id.
    pub actor_id: Option<&'a str>,
    /// User name.
    pub actor_name: &'a str,
    /// Action.
    pub action: &'a str,
    /// Object kind.
    pub target_type: Option<&'a str>,
    /// Object id.
    pub target_id: Option<&'a str>,
    /// Object name.
    pub target_name: Option<&'a str>,
    /// Client address.
    pub source: Option<&'a str>,
    /// Whether it succeeded.
    pub success: bool,
    /// More (never secrets).
    pub details: Option<serde_json::Value>,
}

/// Filters of [`Store::query_audit`].
#[derive(Debug, Clone, Default)]
pub struct AuditFilter<'a> {
    /// Exact actor name.
    pub actor: Option<&'a str>,
    /// Action, or a prefix ending in `.` (e.g. `session.`).
    pub action: Option<&'a str>,
    /// Exact target id.
    pub target_id: Option<&'a str>,
    /// `success` or `failure`.
    pub outcome: Option<&'a str>,
    /// At or after, Unix ms.
    pub since: Option<i64>,
    /// Before, Unix ms.
    pub until: Option<i64>,
    /// Paging: entries strictly older than this (at, id).
    pub before: Option<(i64, &'a str)>,
}

fn from_row(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let details: String = row.try_get("details")?;
    Ok(AuditEntry {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        actor_id: row.try_get("actor_id")?,
        actor_name: row.try_get("actor_name")?,
        action: row.try_get("action")?,
        target_type: row.try_get("target_type")?,
        target_id: row.try_get("target_id")?,
        target_name: row.try_get("target_name")?,
        source: row.try_get("source")?,
        outcome: row.try_get("outcome")?,
        details: serde_json::from_str(&details)
            .map_err(|e| StoreError::Corrupt(format!("audit details: {e}")))?,
    })
}

impl Store {
    /// Appends an entry.
    pub async fn append_audit(&self, e: &NewAudit<'_>, now_ms: i64) -> Result<(), StoreError> {
        let details = e.details.clone().unwrap_or_else(|| serde_json::json!({}));
        sqlx::query(
            "INSERT INTO audit_log (id, at, actor_id, actor_name, action, target_type, target_id, target_name, \
             source, outcome, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(new_id())
        .bind(now_ms)
        .bind(e.actor_id)
        .bind(e.actor_name)
        .bind(e.action)
        .bind(e.target_type)
        .bind(e.target_id)
        .bind(e.target_name)
        .bind(e.source)
        .bind(if e.success { "success" } else { "failure" })
        .bind(details.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Entries matching `f`, newest first, at most `limit`.
    pub async fn query_audit(
        &self,
        f: &AuditFilter<'_>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let (action_exact, action_prefix) = match f.action {
            Some(a) if a.ends_with('.') => ("", format!("{a}%")),
            Some(a) => (a, String::new()),
            None => ("", String::new()),
        };
        let (before_at, before_id) = f.before.unwrap_or((i64::MAX, ""));
        let rows = sqlx::query(
            "SELECT id, at, actor_id, actor_name, action, target_type, target_id, target_name, source, outcome, details \
             FROM audit_log WHERE \
             ($1 = '' OR actor_name = $1) AND ($2 = '' OR action = $2) AND ($3 = '' OR action LIKE $3) \
             AND ($4 = '' OR target_id = $4) AND ($5 = '' OR outcome = $5) AND at >= $6 AND at < $7 \
             AND (at < $8 OR (at = $8 AND ($9 = '' OR id < $9))) \
             ORDER BY at DESC, id DESC LIMIT $10",
        )
        .bind(f.actor.unwrap_or(""))
        .bind(action_exact)
        .bind(&action_prefix)
        .bind(f.target_id.unwrap_or(""))
        .bind(f.outcome.unwrap_or(""))
        .bind(f.since.unwrap_or(i64::MIN))
        .bind(f.until.unwrap_or(i64::MAX))
        .bind(before_at)
        .bind(before_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }
}
