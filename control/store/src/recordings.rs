//! Session recordings kept in the control plane's storage: one row per
//! file a gateway handed over (the bytes are in the store directory, not
//! in the database), listed with keyset paging, deleted by an admin or by
//! the retention sweep.

use crate::{Store, StoreError};
use serde::Serialize;
use sqlx::Row as _;
use sqlx::any::AnyRow;

/// What the recording's signed hash chain said when it was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingVerdict {
    /// Ended with END and a final checkpoint; every record is signed.
    Complete,
    /// Cut short (the gateway stopped, crashed or its disk filled).
    Incomplete,
    /// The chain or a signature breaks.
    Tampered,
}

impl RecordingVerdict {
    /// Stored form.
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordingVerdict::Complete => "complete",
            RecordingVerdict::Incomplete => "incomplete",
            RecordingVerdict::Tampered => "tampered",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "complete" => Ok(RecordingVerdict::Complete),
            "incomplete" => Ok(RecordingVerdict::Incomplete),
            "tampered" => Ok(RecordingVerdict::Tampered),
            _ => Err(StoreError::Corrupt(format!(
                "unknown recording verdict {s:?}"
            ))),
        }
    }
}

/// A recording row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordingRecord {
    /// Id.
    pub id: String,
    /// The recorded session.
    pub session_id: String,
    /// The gateway's file name (`<start µs>.orec`).
    pub file_name: String,
    /// The session's workspace, when the session was known.
    pub workspace_id: Option<String>,
    /// The workspace's name at recording.
    pub workspace_name: String,
    /// The session's owner.
    pub user_id: String,
    /// Their name at recording.
    pub username: String,
    /// Workspace kind (`vnc`, `rdp`, `ssh`, `container`).
    pub kind: String,
    /// The recording gateway's id.
    pub gateway: String,
    /// First record, Unix ms.
    pub started_at: i64,
    /// Last record, Unix ms.
    pub ended_at: i64,
    /// File size.
    pub bytes: i64,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
    /// The judgement at upload.
    pub verdict: RecordingVerdict,
    /// Why (records verified, where the chain breaks).
    pub verdict_detail: String,
    /// The file's name in the store directory.
    pub path: String,
    /// Deleted by the retention sweep after this, Unix ms; `None`: kept.
    pub retain_until: Option<i64>,
    /// Stored at, Unix ms.
    pub created_at: i64,
}

/// A recording to add: a [`RecordingRecord`] without its id.
pub type NewRecording = RecordingRecord;

/// Filters of [`Store::list_recordings`].
#[derive(Debug, Clone, Default)]
pub struct RecordingFilter<'a> {
    /// Only this session's.
    pub session_id: Option<&'a str>,
    /// Only this user's (id).
    pub user_id: Option<&'a str>,
    /// Only this workspace's (id).
    pub workspace_id: Option<&'a str>,
    /// Only of this workspace kind (`vnc`, `rdp`, `ssh`, `container`).
    pub kind: Option<&'a str>,
    /// Only those still running at or after this instant (`ended_at >=`),
    /// Unix ms.
    pub from: Option<i64>,
    /// Only those started before this instant (`started_at <`), Unix ms.
    pub to: Option<i64>,
    /// Only those whose text (SSH sessions) contains this, any case.
    pub text: Option<&'a str>,
    /// Only after this one in the listing order (its `started_at` and id).
    pub before: Option<(i64, &'a str)>,
}

/// `text` as a LIKE pattern matching it anywhere, lowercased, with `\`
/// escaping the pattern's own characters.
fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

const SELECT: &str = "SELECT id, session_id, file_name, workspace_id, workspace_name, user_id, \
     username, kind, gateway, started_at, ended_at, bytes, sha256, verdict, verdict_detail, path, \
     retain_until, created_at FROM recordings";

fn from_row(row: &AnyRow) -> Result<RecordingRecord, StoreError> {
    Ok(RecordingRecord {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        file_name: row.try_get("file_name")?,
        workspace_id: row.try_get("workspace_id")?,
        workspace_name: row.try_get("workspace_name")?,
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        kind: row.try_get("kind")?,
        gateway: row.try_get("gateway")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
        bytes: row.try_get("bytes")?,
        sha256: row.try_get("sha256")?,
        verdict: RecordingVerdict::parse(&row.try_get::<String, _>("verdict")?)?,
        verdict_detail: row.try_get("verdict_detail")?,
        path: row.try_get("path")?,
        retain_until: row.try_get("retain_until")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Adds a recording. A second file with the same session id and file
    /// name is refused ([`StoreError::Conflict`]): look it up with
    /// [`Store::recording_by_file`] to tell a repeated upload apart.
    pub async fn add_recording(&self, r: &NewRecording) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO recordings (id, session_id, file_name, workspace_id, workspace_name, user_id, \
             username, kind, gateway, started_at, ended_at, bytes, sha256, verdict, verdict_detail, \
             path, retain_until, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(&r.id)
        .bind(&r.session_id)
        .bind(&r.file_name)
        .bind(r.workspace_id.as_deref())
        .bind(&r.workspace_name)
        .bind(&r.user_id)
        .bind(&r.username)
        .bind(&r.kind)
        .bind(&r.gateway)
        .bind(r.started_at)
        .bind(r.ended_at)
        .bind(r.bytes)
        .bind(&r.sha256)
        .bind(r.verdict.as_str())
        .bind(&r.verdict_detail)
        .bind(&r.path)
        .bind(r.retain_until)
        .bind(r.created_at)
        .execute(self.pool())
        .await
        .map_err(|e| StoreError::from_insert(e, "recording"))?;
        Ok(())
    }

    /// A recording by id.
    pub async fn recording(&self, id: &str) -> Result<Option<RecordingRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1")))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A recording by the gateway's names for it.
    pub async fn recording_by_file(
        &self,
        session_id: &str,
        file_name: &str,
    ) -> Result<Option<RecordingRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE session_id = $1 AND file_name = $2"
        )))
        .bind(session_id)
        .bind(file_name)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Recordings matching `filter`, newest first, at most `limit`.
    pub async fn list_recordings(
        &self,
        filter: &RecordingFilter<'_>,
        limit: i64,
    ) -> Result<Vec<RecordingRecord>, StoreError> {
        let (before_at, before_id) = filter.before.unwrap_or((i64::MAX, ""));
        let text = filter.text.filter(|t| !t.is_empty()).map(contains_pattern);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE ($1 = '' OR session_id = $1) AND ($2 = '' OR user_id = $2) \
             AND ($3 = '' OR workspace_id = $3) AND ($4 = '' OR kind = $4) \
             AND ended_at >= $5 AND started_at < $6 \
             AND ($7 = '' OR id IN (SELECT recording_id FROM recording_text \
                                    WHERE text LIKE $7 ESCAPE '\\')) \
             AND (started_at < $8 OR (started_at = $8 AND id < $9)) \
             ORDER BY started_at DESC, id DESC LIMIT $10"
        )))
        .bind(filter.session_id.unwrap_or(""))
        .bind(filter.user_id.unwrap_or(""))
        .bind(filter.workspace_id.unwrap_or(""))
        .bind(filter.kind.unwrap_or(""))
        .bind(filter.from.unwrap_or(i64::MIN))
        .bind(filter.to.unwrap_or(i64::MAX))
        .bind(text.as_deref().unwrap_or(""))
        .bind(before_at)
        .bind(before_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Records the verdict of a fresh check of the stored file.
    pub async fn set_recording_verdict(
        &self,
        id: &str,
        verdict: RecordingVerdict,
        detail: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE recordings SET verdict = $1, verdict_detail = $2 WHERE id = $3")
            .bind(verdict.as_str())
            .bind(detail)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes a recording's row and its text; `false` when there was none.
    pub async fn delete_recording(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM recording_text WHERE recording_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM recordings WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Keeps the text of recording `id` for search (lowercased here; an
    /// SSH session's transcript). Replaces what was kept.
    pub async fn set_recording_text(&self, id: &str, text: &str) -> Result<(), StoreError> {
        let lower = text.to_lowercase();
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM recording_text WHERE recording_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO recording_text (recording_id, text) VALUES ($1, $2)")
            .bind(id)
            .bind(&lower)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Recordings whose retention ended before `now_ms`, oldest first, at
    /// most `limit`.
    pub async fn expired_recordings(
        &self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<RecordingRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE retain_until IS NOT NULL AND retain_until < $1 \
             ORDER BY retain_until, id LIMIT $2"
        )))
        .bind(now_ms)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }
}
