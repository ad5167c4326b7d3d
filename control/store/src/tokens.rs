//! Long-lived API tokens for automation: scoped, revocable, stored hashed.

use crate::users::{USER_COLUMNS_U, user_from};
use crate::{Store, StoreError, User, new_id};
use serde::Serialize;
use sqlx::Row as _;
use sqlx::any::AnyRow;

/// An API token as stored (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiTokenRecord {
    /// Id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// What it is for.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms; `None`: does not expire.
    pub expires_at: Option<i64>,
    /// Unix ms.
    pub last_used_at: Option<i64>,
    /// Unix ms.
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str =
    "t.id, t.user_id, t.name, t.scopes, t.created_at, t.expires_at, t.last_used_at, t.revoked_at";

fn from_row(row: &AnyRow) -> Result<ApiTokenRecord, StoreError> {
    let scopes: String = row.try_get("scopes")?;
    Ok(ApiTokenRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        scopes: serde_json::from_str(&scopes)
            .map_err(|e| StoreError::Corrupt(format!("scopes: {e}")))?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Store {
    /// Records a new token (its hash).
    pub async fn create_api_token(
        &self,
        user_id: &str,
        name: &str,
        token_hash: &str,
        scopes: &[String],
        expires_at: Option<i64>,
        now_ms: i64,
    ) -> Result<ApiTokenRecord, StoreError> {
        let id = new_id();
        let scopes_json =
            serde_json::to_string(scopes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(&scopes_json)
        .bind(now_ms)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(ApiTokenRecord {
            id,
            user_id: user_id.to_owned(),
            name: name.to_owned(),
            scopes: scopes.to_vec(),
            created_at: now_ms,
            expires_at,
            last_used_at: None,
            revoked_at: None,
        })
    }

    /// The usable token with this hash (not revoked, not expired, owner
    /// enabled) and its owner; records the use.
    pub async fn api_token_login(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<(User, ApiTokenRecord)>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM api_tokens t \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)"
        )))
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let token = from_row(&row)?;
        let user = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS_U} FROM users u WHERE u.id = $1 AND u.disabled = 0"
        )))
        .bind(&token.user_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(user) = user else {
            return Ok(None);
        };
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(&token.id)
            .bind(now_ms)
            .execute(self.pool())
            .await?;
        Ok(Some((user_from(&user)?, token)))
    }

    /// Tokens, newest first; only `user_id`'s when given; only those
    /// listed after `before` (the `created_at` and id of the last token of
    /// the previous page) when given.
    pub async fn list_api_tokens(
        &self,
        user_id: Option<&str>,
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<ApiTokenRecord>, StoreError> {
        // Without a cursor: everything (every token was created before
        // i64::MAX).
        let (before_at, before_id) = before.unwrap_or((i64::MAX, ""));
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM api_tokens t WHERE ($1 = '' OR t.user_id = $1) \
             AND (t.created_at < $2 OR (t.created_at = $2 AND t.id < $3)) \
             ORDER BY t.created_at DESC, t.id DESC LIMIT $4"
        )))
        .bind(user_id.unwrap_or(""))
        .bind(before_at)
        .bind(before_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// A token by id.
    pub async fn api_token(&self, id: &str) -> Result<Option<ApiTokenRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM api_tokens t WHERE t.id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Revokes a token; `false` when it was not active.
    pub async fn revoke_api_token(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
