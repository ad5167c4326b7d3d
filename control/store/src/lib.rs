//! The control plane's storage (adapter tier).
//!
//! One schema and one set of queries on SQLite (embedded, the single-server
//! default) and PostgreSQL (several control-plane processes), through sqlx's
//! `Any` driver: the SQL is written to the common subset of both (`$n`
//! placeholders, BIGINT times in Unix milliseconds, TEXT ids and base64
//! secrets). Migrations are embedded in the binary. Secrets at rest are
//! encrypted with a [`DataKey`].

mod agents;
mod audit;
mod data_key;
mod groups;
mod identities;
mod recordings;
mod revocations;
mod sessions;
mod shares;
mod throttle;
mod tokens;
mod users;
mod workspaces;
mod zones;

pub use agents::{AgentRecord, AgentRegistration, DesiredSession, NodeGateway, Placement};
pub use audit::{AuditEntry, AuditFilter, NewAudit};
pub use data_key::{DataKey, DataKeyError};
pub use groups::GroupRecord;
pub use identities::{ExternalIdentity, ExternalLogin, OIDC_ORIGIN};
pub use recordings::{NewRecording, RecordingFilter, RecordingRecord, RecordingVerdict};
pub use revocations::{RevocationKind, RevocationRecord};
pub use sessions::{Launch, NewSession, SessionFilter, SessionRecord, SessionState, SessionTarget};
pub use shares::{NewShareLink, ShareLinkRecord};
pub use throttle::ThrottleRule;
pub use tokens::ApiTokenRecord;
pub use users::{DEFAULT_ZONE, LoginSession, LoginStage, Role, User, UserRecord};
pub use workspaces::{CredentialsUpdate, NewWorkspace, WorkspaceRecord};
pub use zones::{ConnectionProxy, ZoneRecord};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, SqlSafeStr as _};
use std::borrow::Cow;
use std::time::Duration;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL is not one we support.
    #[error("unsupported database url (use sqlite://PATH or postgres://...)")]
    UnsupportedUrl,
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrating the schema failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A unique constraint would be violated (e.g. a name already taken).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A referenced row does not exist.
    #[error("no such {0}")]
    Missing(&'static str),
    /// Stored data is not what the schema promises.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A secret could not be encrypted or decrypted.
    #[error("secret store: {0}")]
    Secret(#[from] DataKeyError),
}

impl StoreError {
    /// The database could not be reached or did not answer in time (as
    /// opposed to refusing a query): worth trying again later.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::WorkerCrashed
            )
        )
    }

    fn from_insert(e: sqlx::Error, what: &'static str) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
            _ => StoreError::Database(e),
        }
    }
}

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// Migrations: version, description, and the SQL of each backend. Parts
/// common to both are shared files; backend-specific SQL (triggers) is
/// appended per backend.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/common_0001_initial.sql"),
        include_str!("../migrations/common_0001_initial.sql"),
    ),
    (
        2,
        "control plane",
        concat!(
            include_str!("../migrations/common_0002_control_plane.sql"),
            include_str!("../migrations/sqlite/0002_audit_append_only.sql")
        ),
        concat!(
            include_str!("../migrations/common_0002_control_plane.sql"),
            include_str!("../migrations/postgres/0002_audit_append_only.sql")
        ),
    ),
    (
        3,
        "external identities",
        include_str!("../migrations/common_0003_external_identities.sql"),
        include_str!("../migrations/common_0003_external_identities.sql"),
    ),
    (
        4,
        "agents",
        include_str!("../migrations/common_0004_agents.sql"),
        include_str!("../migrations/common_0004_agents.sql"),
    ),
    (
        5,
        "revocations",
        include_str!("../migrations/common_0005_revocations.sql"),
        include_str!("../migrations/common_0005_revocations.sql"),
    ),
    (
        6,
        "zones",
        include_str!("../migrations/common_0006_zones.sql"),
        include_str!("../migrations/common_0006_zones.sql"),
    ),
    (
        7,
        "share links",
        include_str!("../migrations/common_0007_share_links.sql"),
        include_str!("../migrations/common_0007_share_links.sql"),
    ),
    // 8 is kept for share links.
    (
        9,
        "recordings",
        include_str!("../migrations/common_0009_recordings.sql"),
        include_str!("../migrations/common_0009_recordings.sql"),
    ),
    (
        10,
        "recording text",
        include_str!("../migrations/common_0010_recording_text.sql"),
        include_str!("../migrations/common_0010_recording_text.sql"),
    ),
];

fn migrator(backend: Backend) -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|&(version, description, sqlite, postgres)| {
                let sql = match backend {
                    Backend::Sqlite => sqlite,
                    Backend::Postgres => postgres,
                };
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

impl Store {
    /// Opens (creating an SQLite file if needed) and migrates the database at `url`.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let url =
            if backend == Backend::Sqlite && !url.contains(":memory:") && !url.contains("mode=") {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            } else {
                url.to_owned()
            };
        let max = if url.contains(":memory:") {
            1
        } else {
            max_connections.max(1)
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&url)
            .await?;
        if backend == Backend::Sqlite && !url.contains(":memory:") {
            // Readers never block the writer; the setting is stored in the file.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await?;
        }
        migrator(backend).run(&pool).await?;
        Ok(Store { pool, backend })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction (rolled back when dropped without commit).
    pub(crate) async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

/// A fresh random id (UUID v4 text).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests;
