//! Revocations: tokens, sessions and users gateways must refuse before
//! their tokens expire, published as one numbered list.

use crate::{Store, StoreError};
use serde::Serialize;
use sqlx::Row as _;

/// What a revocation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationKind {
    /// One token, by id.
    Token,
    /// Every token of a session.
    Session,
    /// A user's tokens issued until the revocation.
    User,
}

impl RevocationKind {
    /// The kind's name in the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationKind::Token => "token",
            RevocationKind::Session => "session",
            RevocationKind::User => "user",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "token" => Some(RevocationKind::Token),
            "session" => Some(RevocationKind::Session),
            "user" => Some(RevocationKind::User),
            _ => None,
        }
    }
}

/// One revocation as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevocationRecord {
    /// What it names.
    pub kind: RevocationKind,
    /// Token, session or user id.
    pub subject: String,
    /// Unix ms.
    pub revoked_at: i64,
    /// Unix ms after which it no longer matters.
    pub until_at: i64,
    /// The list number that added or last changed it.
    pub seq: i64,
}

impl Store {
    /// Revokes `subject` at `now_ms` until `until_ms`, bumping the list's
    /// number; revoking again moves both times on. Returns the new number.
    pub async fn revoke(
        &self,
        kind: RevocationKind,
        subject: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE revocation_seq SET seq = seq + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let seq: i64 = sqlx::query("SELECT seq FROM revocation_seq WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?
            .try_get("seq")?;
        sqlx::query(
            "INSERT INTO revocations (kind, subject, revoked_at, until_at, seq) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (kind, subject) DO UPDATE SET \
             revoked_at = excluded.revoked_at, until_at = excluded.until_at, seq = excluded.seq",
        )
        .bind(kind.as_str())
        .bind(subject)
        .bind(now_ms)
        .bind(until_ms)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// The list's number and the revocations that still matter at `now_ms`.
    pub async fn revocations(
        &self,
        now_ms: i64,
    ) -> Result<(i64, Vec<RevocationRecord>), StoreError> {
        let seq: i64 = sqlx::query("SELECT seq FROM revocation_seq WHERE id = 1")
            .fetch_one(self.pool())
            .await?
            .try_get("seq")?;
        let rows = sqlx::query(
            "SELECT kind, subject, revoked_at, until_at, seq FROM revocations \
             WHERE until_at > $1 ORDER BY kind, subject",
        )
        .bind(now_ms)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let kind: String = row.try_get("kind")?;
            out.push(RevocationRecord {
                kind: RevocationKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("revocation kind {kind:?}")))?,
                subject: row.try_get("subject")?,
                revoked_at: row.try_get("revoked_at")?,
                until_at: row.try_get("until_at")?,
                seq: row.try_get("seq")?,
            });
        }
        Ok((seq, out))
    }

    /// Deletes revocations that no longer matter at `now_ms` (the list's
    /// number stays: a gateway holding a list of that number keeps it).
    pub async fn prune_revocations(&self, now_ms: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM revocations WHERE until_at <= $1")
            .bind(now_ms)
            .execute(self.pool())
            .await?
            .rows_affected())
    }
}
