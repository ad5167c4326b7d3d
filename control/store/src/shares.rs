//! Share links of sessions: created by the session's owner (or an admin),
//! joined by whoever holds them (or only signed-in members of given
//! groups), revoked into the numbered revocation list.

use crate::{Store, StoreError};
use serde::Serialize;
use sqlx::Row as _;
use sqlx::any::AnyRow;

/// A share link as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShareLinkRecord {
    /// The link: an unguessable secret (base64url).
    pub id: String,
    /// The session it shows.
    pub session_id: String,
    /// Who created it (user id).
    pub created_by: String,
    /// Their name.
    pub created_by_name: String,
    /// Whether its guests control the session now.
    pub control: bool,
    /// Only signed-in members of these groups may join; `None`: anyone
    /// holding the link.
    pub groups: Option<Vec<String>>,
    /// Unix ms.
    pub created_at: i64,
    /// No join after this, Unix ms.
    pub expires_at: i64,
    /// When it was revoked, Unix ms.
    pub revoked_at: Option<i64>,
    /// Until when the revocation is published, Unix ms.
    pub revoked_until: Option<i64>,
}

/// A link to create.
#[derive(Debug, Clone)]
pub struct NewShareLink<'a> {
    /// The link (the caller makes the secret).
    pub id: &'a str,
    /// The session.
    pub session_id: &'a str,
    /// Who creates it.
    pub created_by: &'a str,
    /// Their name.
    pub created_by_name: &'a str,
    /// Whether its guests control the session.
    pub control: bool,
    /// Groups whose signed-in members may join; `None`: anyone.
    pub groups: Option<&'a [String]>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub expires_at: i64,
}

const COLUMNS: &str = "id, session_id, created_by, created_by_name, control, groups_json, \
     created_at, expires_at, revoked_at, revoked_until";

fn from_row(row: &AnyRow) -> Result<ShareLinkRecord, StoreError> {
    let groups: Option<String> = row.try_get("groups_json")?;
    Ok(ShareLinkRecord {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        created_by: row.try_get("created_by")?,
        created_by_name: row.try_get("created_by_name")?,
        control: row.try_get::<i64, _>("control")? != 0,
        groups: groups
            .map(|g| {
                serde_json::from_str(&g)
                    .map_err(|e| StoreError::Corrupt(format!("share link groups: {e}")))
            })
            .transpose()?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        revoked_until: row.try_get("revoked_until")?,
    })
}

impl Store {
    /// Records a new share link.
    pub async fn create_share_link(&self, l: &NewShareLink<'_>) -> Result<(), StoreError> {
        let groups = l
            .groups
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO share_links (id, session_id, created_by, created_by_name, control, \
             groups_json, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(l.id)
        .bind(l.session_id)
        .bind(l.created_by)
        .bind(l.created_by_name)
        .bind(i64::from(l.control))
        .bind(groups)
        .bind(l.created_at)
        .bind(l.expires_at)
        .execute(self.pool())
        .await
        .map_err(|e| StoreError::from_insert(e, "share link"))?;
        Ok(())
    }

    /// The link `id`.
    pub async fn share_link(&self, id: &str) -> Result<Option<ShareLinkRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM share_links WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A session's links, oldest first.
    pub async fn share_links_of_session(
        &self,
        session_id: &str,
    ) -> Result<Vec<ShareLinkRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM share_links WHERE session_id = $1 ORDER BY created_at, id"
        )))
        .bind(session_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Sets whether a link's guests control the session; `false` when the
    /// link does not exist or is revoked.
    pub async fn set_share_link_control(
        &self,
        id: &str,
        control: bool,
    ) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("UPDATE share_links SET control = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(i64::from(control))
                .bind(id)
                .execute(self.pool())
                .await?
                .rows_affected()
                == 1,
        )
    }

    /// Revokes a link at `now_ms`, published until `until_ms`, and bumps
    /// the revocation list's number in the same transaction. Returns the
    /// new number, or `None` when the link does not exist or was already
    /// revoked.
    pub async fn revoke_share_link(
        &self,
        id: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE share_links SET revoked_at = $1, revoked_until = $2 \
             WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now_ms)
        .bind(until_ms)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        sqlx::query("UPDATE revocation_seq SET seq = seq + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let seq: i64 = sqlx::query("SELECT seq FROM revocation_seq WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?
            .try_get("seq")?;
        tx.commit().await?;
        Ok(Some(seq))
    }

    /// Revoked links whose revocation still matters at `now_ms`.
    pub async fn revoked_share_links(
        &self,
        now_ms: i64,
    ) -> Result<Vec<ShareLinkRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM share_links \
             WHERE revoked_at IS NOT NULL AND revoked_until > $1 ORDER BY id"
        )))
        .bind(now_ms)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }
}
