//! Workspaces: what users can launch, where it connects and under which policy.

use crate::{DataKey, Store, StoreError, new_id};
use oriel_core_token::{Credentials, Policy};
use sqlx::Row as _;
use sqlx::any::AnyRow;

/// A workspace as stored (credentials still encrypted).
#[derive(Clone, PartialEq, Eq)]
pub struct WorkspaceRecord {
    /// Id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Kind (`vnc`; later `rdp`, `ssh`, `container`).
    pub kind: String,
    /// Target host.
    pub host: String,
    /// Target port.
    pub port: u16,
    /// Encrypted credentials (see [`DataKey`]).
    pub sealed_credentials: Option<String>,
    /// Policy.
    pub policy: Policy,
    /// Kind-specific settings (container image and resources), JSON.
    pub spec: serde_json::Value,
    /// Recorded identity of the target (certificate or host key
    /// fingerprint), pinned by an admin or recorded on first use.
    pub identity: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

impl std::fmt::Debug for WorkspaceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkspaceRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("has_credentials", &self.sealed_credentials.is_some())
            .field("policy", &self.policy)
            .field("spec", &self.spec)
            .field("identity", &self.identity)
            .finish()
    }
}

impl WorkspaceRecord {
    /// Decrypts the credentials.
    pub fn credentials(&self, key: &DataKey) -> Result<Option<Credentials>, StoreError> {
        let Some(sealed) = &self.sealed_credentials else {
            return Ok(None);
        };
        let json = key.open(sealed, &self.id)?;
        serde_json::from_slice(&json)
            .map(Some)
            .map_err(|_| StoreError::Corrupt("credentials are not valid JSON".into()))
    }
}

/// Fields of a workspace to create or replace.
#[derive(Debug, Clone)]
pub struct NewWorkspace {
    /// Unique name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Target host.
    pub host: String,
    /// Target port.
    pub port: u16,
    /// Policy.
    pub policy: Policy,
    /// Kind-specific settings, JSON.
    pub spec: serde_json::Value,
    /// Pinned identity of the target; `None` records it on first use.
    pub identity: Option<String>,
}

/// What to do with stored credentials on update.
#[derive(Debug, Clone)]
pub enum CredentialsUpdate {
    /// Leave them as they are.
    Keep,
    /// Remove them.
    Clear,
    /// Replace them.
    Set(Credentials),
}

/// The columns of [`workspace_from`], for a query aliasing workspaces as `w`.
pub(crate) const WORKSPACE_COLUMNS_W: &str = "w.id, w.name, w.kind, w.host, w.port, w.credentials, w.policy, \
     w.spec, w.identity, w.created_at, w.updated_at";

pub(crate) fn workspace_from(row: &AnyRow) -> Result<WorkspaceRecord, StoreError> {
    from_row(row)
}

fn from_row(row: &AnyRow) -> Result<WorkspaceRecord, StoreError> {
    let policy: String = row.try_get("policy")?;
    let spec: String = row.try_get("spec")?;
    let port: i64 = row.try_get("port")?;
    Ok(WorkspaceRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        host: row.try_get("host")?,
        port: u16::try_from(port).map_err(|_| StoreError::Corrupt(format!("port {port}")))?,
        sealed_credentials: row.try_get("credentials")?,
        policy: serde_json::from_str(&policy)
            .map_err(|e| StoreError::Corrupt(format!("policy: {e}")))?,
        spec: serde_json::from_str(&spec).map_err(|e| StoreError::Corrupt(format!("spec: {e}")))?,
        identity: row.try_get("identity")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn seal(key: &DataKey, id: &str, creds: &Credentials) -> Result<String, StoreError> {
    let json = zeroize::Zeroizing::new(
        serde_json::to_vec(creds).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    );
    Ok(key.seal(&json, id)?)
}

const COLUMNS: &str =
    "id, name, kind, host, port, credentials, policy, spec, identity, created_at, updated_at";

impl Store {
    /// Creates a workspace; `Conflict` when the name is taken.
    pub async fn create_workspace(
        &self,
        new: &NewWorkspace,
        credentials: Option<&Credentials>,
        key: &DataKey,
        now_ms: i64,
    ) -> Result<WorkspaceRecord, StoreError> {
        let id = new_id();
        let sealed = credentials.map(|c| seal(key, &id, c)).transpose()?;
        let policy =
            serde_json::to_string(&new.policy).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO workspaces (id, name, kind, host, port, credentials, policy, spec, identity, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $9, $10, $8, $8)",
        )
        .bind(&id)
        .bind(&new.name)
        .bind(&new.kind)
        .bind(&new.host)
        .bind(i64::from(new.port))
        .bind(&sealed)
        .bind(&policy)
        .bind(now_ms)
        .bind(new.spec.to_string())
        .bind(&new.identity)
        .execute(self.pool())
        .await
        .map_err(|e| StoreError::from_insert(e, "workspace"))?;
        Ok(WorkspaceRecord {
            id,
            name: new.name.clone(),
            kind: new.kind.clone(),
            host: new.host.clone(),
            port: new.port,
            sealed_credentials: sealed,
            policy: new.policy.clone(),
            spec: new.spec.clone(),
            identity: new.identity.clone(),
            created_at: now_ms,
            updated_at: now_ms,
        })
    }

    /// A workspace by id or, failing that, by name.
    pub async fn workspace(&self, id_or_name: &str) -> Result<Option<WorkspaceRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM workspaces WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id_or_name)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A page of workspaces ordered by name, after `after` (a name), at most `limit`.
    pub async fn list_workspaces(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<WorkspaceRecord>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM workspaces WHERE name > $1 ORDER BY name LIMIT $2");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Replaces a workspace's fields; `None` when it does not exist.
    pub async fn update_workspace(
        &self,
        id: &str,
        new: &NewWorkspace,
        credentials: CredentialsUpdate,
        key: &DataKey,
        now_ms: i64,
    ) -> Result<Option<WorkspaceRecord>, StoreError> {
        let policy =
            serde_json::to_string(&new.policy).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let base = "UPDATE workspaces SET name = $2, kind = $3, host = $4, port = $5, policy = $6, updated_at = $7, \
                    spec = $8, identity = $9";
        let result = match credentials {
            CredentialsUpdate::Keep => {
                sqlx::query(sqlx::AssertSqlSafe(format!("{base} WHERE id = $1")))
                    .bind(id)
                    .bind(&new.name)
                    .bind(&new.kind)
                    .bind(&new.host)
                    .bind(i64::from(new.port))
                    .bind(&policy)
                    .bind(now_ms)
                    .bind(new.spec.to_string())
                    .bind(&new.identity)
                    .execute(self.pool())
                    .await
            }
            CredentialsUpdate::Clear | CredentialsUpdate::Set(_) => {
                let sealed = match &credentials {
                    CredentialsUpdate::Set(c) => Some(seal(key, id, c)?),
                    _ => None,
                };
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{base}, credentials = $10 WHERE id = $1"
                )))
                .bind(id)
                .bind(&new.name)
                .bind(&new.kind)
                .bind(&new.host)
                .bind(i64::from(new.port))
                .bind(&policy)
                .bind(now_ms)
                .bind(new.spec.to_string())
                .bind(&new.identity)
                .bind(sealed)
                .execute(self.pool())
                .await
            }
        }
        .map_err(|e| StoreError::from_insert(e, "workspace"))?;
        if result.rows_affected() == 0 {
            return Ok(None);
        }
        self.workspace(id).await
    }

    /// Records the identity a target presented on first use; `false` when an
    /// identity was already recorded (first writer wins).
    pub async fn record_workspace_identity(
        &self,
        id: &str,
        identity: &str,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE workspaces SET identity = $2 WHERE id = $1 AND identity IS NULL")
                .bind(id)
                .bind(identity)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a workspace; `false` when it did not exist.
    pub async fn delete_workspace(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM workspaces WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
