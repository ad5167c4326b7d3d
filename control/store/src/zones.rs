//! Zones: where sessions run and how their users reach them.

use crate::{Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use sqlx::any::AnyRow;

/// The gateway that reaches targets inside a zone's network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionProxy {
    /// Its gateway id (`gateway.id`): tokens name it. 1-128 bytes.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub id: String,
    /// Its public `https://` URL (a trailing / is dropped).
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 512, pattern = r"^https://\S+$")
    )]
    pub url: String,
    /// SHA-256 of its TLS certificate, 64 hex digits (stored lowercase):
    /// what a dedicated proxy accepts there.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9A-Fa-f]{64}$"))]
    pub cert_sha256: String,
    /// Its public sealing key (base64 of `gateway-sealing.pub`, 32 bytes):
    /// target credentials are sealed to it, so only it can read them.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^\s*[A-Za-z0-9+/]{43}=\s*$"))]
    pub sealing_key: String,
}

/// A zone as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneRecord {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Its users' container sessions may go to other zones when it has no room.
    pub fallback: bool,
    /// `https://` entry of the zone's dedicated proxy.
    pub proxy_url: Option<String>,
    /// The gateway reaching targets inside the zone.
    pub connection_proxy: Option<ConnectionProxy>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

const COLUMNS: &str =
    "name, description, fallback, proxy_url, connection_proxy, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<ZoneRecord, StoreError> {
    let proxy: Option<String> = row.try_get("connection_proxy")?;
    Ok(ZoneRecord {
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        fallback: row.try_get::<i64, _>("fallback")? != 0,
        proxy_url: row.try_get("proxy_url")?,
        connection_proxy: proxy
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("zone connection proxy: {e}")))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn proxy_json(p: Option<&ConnectionProxy>) -> Result<Option<String>, StoreError> {
    p.map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    /// Every zone, by name.
    pub async fn zones(&self) -> Result<Vec<ZoneRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM zones ORDER BY name"
        )))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// A zone by name.
    pub async fn zone(&self, name: &str) -> Result<Option<ZoneRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM zones WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Creates a zone; `Conflict` when the name is taken.
    pub async fn create_zone(&self, z: &ZoneRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO zones (name, description, fallback, proxy_url, connection_proxy, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(&z.name)
        .bind(&z.description)
        .bind(i64::from(z.fallback))
        .bind(z.proxy_url.as_deref())
        .bind(proxy_json(z.connection_proxy.as_ref())?)
        .bind(z.created_at)
        .execute(self.pool())
        .await
        .map_err(|e| StoreError::from_insert(e, "zone"))?;
        Ok(())
    }

    /// Replaces a zone's settings; `false` when there is no such zone.
    pub async fn update_zone(&self, z: &ZoneRecord) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE zones SET description = $2, fallback = $3, proxy_url = $4, connection_proxy = $5, \
             updated_at = $6 WHERE name = $1",
        )
        .bind(&z.name)
        .bind(&z.description)
        .bind(i64::from(z.fallback))
        .bind(z.proxy_url.as_deref())
        .bind(proxy_json(z.connection_proxy.as_ref())?)
        .bind(z.updated_at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a zone; `false` when there is no such zone.
    pub async fn delete_zone(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM zones WHERE name = $1")
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// How many agents, users, groups and workspaces name a zone (what
    /// deleting it would strand).
    pub async fn zone_members(&self, name: &str) -> Result<(i64, i64), StoreError> {
        let agents: i64 = sqlx::query("SELECT COUNT(*) AS n FROM agents WHERE zone = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        let users: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE zone = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        // Groups and workspaces name it in their JSON settings, written
        // compactly by serde_json (`"zone":"<name>"`); `_` is a LIKE wildcard.
        let pattern = format!("%\"zone\":\"{}\"%", name.replace('_', "\\_"));
        let named: i64 = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM groups WHERE settings LIKE $1 ESCAPE '\\') \
             + (SELECT COUNT(*) FROM workspaces WHERE spec LIKE $1 ESCAPE '\\') AS n",
        )
        .bind(&pattern)
        .fetch_one(self.pool())
        .await?
        .try_get("n")?;
        Ok((agents, users + named))
    }
}
