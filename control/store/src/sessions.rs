//! Remote sessions as the control plane records them.

use crate::{Store, StoreError, new_id};
use serde::Serialize;
use sqlx::Row as _;
use sqlx::any::AnyRow;

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    /// Tokens may be issued; streams may run.
    Running,
    /// Ended: tokens are refused and streams closed.
    Ended,
}

impl SessionState {
    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "running" => Ok(SessionState::Running),
            "ended" => Ok(SessionState::Ended),
            other => Err(StoreError::Corrupt(format!(
                "unknown session state {other:?}"
            ))),
        }
    }
}

/// A session row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionRecord {
    /// Id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Owner's name.
    pub username: String,
    /// Workspace launched.
    pub workspace_id: String,
    /// Its name at launch.
    pub workspace_name: String,
    /// State.
    pub state: SessionState,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub ended_at: Option<i64>,
    /// Latest expiry of any token issued for the session, Unix ms.
    pub token_expires_at: i64,
}

/// Fields of a new session.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// Owner.
    pub user_id: &'a str,
    /// Workspace id.
    pub workspace_id: &'a str,
    /// Workspace name.
    pub workspace_name: &'a str,
    /// Expiry of the first token, Unix ms.
    pub token_expires_at: i64,
}

fn from_row(row: &AnyRow) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        workspace_id: row.try_get("workspace_id")?,
        workspace_name: row.try_get("workspace_name")?,
        state: SessionState::parse(&row.try_get::<String, _>("state")?)?,
        created_at: row.try_get("created_at")?,
        ended_at: row.try_get("ended_at")?,
        token_expires_at: row.try_get("token_expires_at")?,
    })
}

const SELECT: &str = "SELECT s.id, s.user_id, u.username, s.workspace_id, s.workspace_name, s.state, \
     s.created_at, s.ended_at, s.token_expires_at FROM sessions s JOIN users u ON u.id = s.user_id";

impl Store {
    /// Records a running session.
    pub async fn create_session(
        &self,
        new: &NewSession<'_>,
        now_ms: i64,
    ) -> Result<String, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO sessions (id, user_id, workspace_id, workspace_name, state, created_at, token_expires_at) \
             VALUES ($1, $2, $3, $4, 'running', $5, $6)",
        )
        .bind(&id)
        .bind(new.user_id)
        .bind(new.workspace_id)
        .bind(new.workspace_name)
        .bind(now_ms)
        .bind(new.token_expires_at)
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// A session by id.
    pub async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE s.id = $1")))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Newest first; only `user_id`'s when given; before `before` (a creation
    /// time, for paging); at most `limit`.
    pub async fn list_sessions(
        &self,
        user_id: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE ($1 = '' OR s.user_id = $1) AND s.created_at < $2 ORDER BY s.created_at DESC, s.id LIMIT $3"
        )))
        .bind(user_id.unwrap_or(""))
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Pushes the session's token expiry forward (a new token was issued),
    /// only while it is running. Returns `false` if it is not running.
    pub async fn extend_session_tokens(
        &self,
        id: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET token_expires_at = CASE WHEN token_expires_at > $2 THEN token_expires_at ELSE $2 END \
             WHERE id = $1 AND state = 'running'",
        )
        .bind(id)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a running session. Atomic: of concurrent callers exactly one gets
    /// `true`; the others (and calls on ended sessions) get `false`.
    pub async fn end_session(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET state = 'ended', ended_at = $2 WHERE id = $1 AND state = 'running'",
        )
        .bind(id)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
