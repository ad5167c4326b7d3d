//! Users, login sessions, second factor and recovery codes.

use crate::{Store, StoreError, new_id};
use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use sqlx::any::AnyRow;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Everything.
    Admin,
    /// Launch the workspaces their groups grant.
    User,
    /// Read everything (including the audit log), change nothing, launch nothing.
    Auditor,
}

impl Role {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
            Role::Auditor => "auditor",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "admin" => Ok(Role::Admin),
            "user" => Ok(Role::User),
            "auditor" => Ok(Role::Auditor),
            other => Err(StoreError::Corrupt(format!("unknown role {other:?}"))),
        }
    }
}

/// A user as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Disabled users cannot log in.
    pub disabled: bool,
    /// `local`, or `oidc` for users an OpenID Connect provider vouches for
    /// (their issuer and subject are in `external_identities`).
    pub origin: String,
    /// Has a confirmed second factor.
    pub totp_enabled: bool,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// The zone the user's container sessions are placed in.
    pub zone: String,
}

/// A user with the fields the API never shows.
#[derive(Clone)]
pub struct UserRecord {
    /// The user.
    pub user: User,
    /// argon2id PHC string (empty for users who log in elsewhere).
    pub password_hash: String,
    /// The TOTP secret, encrypted with the data key, if any (confirmed or not).
    pub sealed_totp: Option<String>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// How far a login got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum LoginStage {
    /// Fully logged in.
    Full,
    /// Must enrol a second factor before anything else.
    TotpEnroll,
}

impl LoginStage {
    fn as_str(self) -> &'static str {
        match self {
            LoginStage::Full => "full",
            LoginStage::TotpEnroll => "totp_enroll",
        }
    }
}

/// A login session (the browser's cookie or a login bearer token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSession {
    /// Who.
    pub user: User,
    /// Expiry, Unix ms.
    pub expires_at: i64,
    /// How far the login got.
    pub stage: LoginStage,
}

/// The zone of users and agents that name none.
pub const DEFAULT_ZONE: &str = "default";

/// The columns of [`user_from`], for a query aliasing users as `u`.
pub(crate) const USER_COLUMNS_U: &str =
    "u.id, u.username, u.role, u.disabled, u.origin, u.totp_confirmed, u.created_at, u.zone";

pub(crate) fn user_from(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        role: Role::parse(&row.try_get::<String, _>("role")?)?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        origin: row.try_get("origin")?,
        totp_enabled: row.try_get::<i64, _>("totp_confirmed")? != 0,
        created_at: row.try_get("created_at")?,
        zone: row.try_get("zone")?,
    })
}

fn record_from(row: &AnyRow) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        user: user_from(row)?,
        password_hash: row.try_get("password_hash")?,
        sealed_totp: row.try_get("totp_secret")?,
    })
}

const RECORD_COLUMNS: &str = "u.id, u.username, u.role, u.disabled, u.origin, u.totp_confirmed, u.created_at, u.zone, u.password_hash, u.totp_secret";

impl Store {
    /// Creates a local user; `Conflict` when the name is taken.
    pub async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
        now_ms: i64,
    ) -> Result<User, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, disabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $5)",
        )
        .bind(&id)
        .bind(username)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now_ms)
        .execute(self.pool())
        .await
        .map_err(|e| StoreError::from_insert(e, "user"))?;
        Ok(User {
            id,
            username: username.to_owned(),
            role,
            disabled: false,
            origin: "local".into(),
            totp_enabled: false,
            created_at: now_ms,
            zone: DEFAULT_ZONE.to_owned(),
        })
    }

    /// Number of users.
    pub async fn count_users(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// A user by login name, with the private fields.
    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM users u WHERE u.username = $1"
        )))
        .bind(username)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(record_from).transpose()
    }

    /// A user by id, with the private fields.
    pub async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM users u WHERE u.id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(record_from).transpose()
    }

    /// A page of users by name.
    pub async fn list_users(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS_U} FROM users u WHERE u.username > $1 ORDER BY u.username LIMIT $2"
        )))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(user_from).collect()
    }

    /// Changes role and disabled flag; `None` when the user does not exist.
    pub async fn update_user(
        &self,
        id: &str,
        role: Role,
        disabled: bool,
        now_ms: i64,
    ) -> Result<Option<User>, StoreError> {
        let done =
            sqlx::query("UPDATE users SET role = $2, disabled = $3, updated_at = $4 WHERE id = $1")
                .bind(id)
                .bind(role.as_str())
                .bind(i64::from(disabled))
                .bind(now_ms)
                .execute(self.pool())
                .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        Ok(self.user(id).await?.map(|r| r.user))
    }

    /// Sets the zone the user's container sessions are placed in.
    pub async fn set_user_zone(
        &self,
        id: &str,
        zone: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET zone = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(zone)
            .bind(now_ms)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets a new password hash.
    pub async fn set_password(
        &self,
        id: &str,
        hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(hash)
                .bind(now_ms)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a user (their sessions, logins, tokens and memberships go with it).
    pub async fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Number of enabled admins (so the last one cannot be removed).
    pub async fn count_active_admins(&self) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0")
                .fetch_one(self.pool())
                .await?;
        Ok(row.try_get("n")?)
    }

    /// Stores a TOTP secret (encrypted) awaiting confirmation, or removes it.
    pub async fn set_totp(
        &self,
        id: &str,
        sealed: Option<&str>,
        confirmed: bool,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE users SET totp_secret = $2, totp_confirmed = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(sealed)
        .bind(i64::from(confirmed && sealed.is_some()))
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Marks a TOTP step as used: `true` when it is newer than the last one
    /// used (a code works once, even within its validity window).
    pub async fn consume_totp_step(&self, id: &str, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
        )
        .bind(id)
        .bind(step)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces the user's recovery codes (their hashes).
    pub async fn replace_recovery_codes(
        &self,
        id: &str,
        hashes: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for h in hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(id)
                .bind(h)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Uses a recovery code once: `true` if it was valid and unused.
    pub async fn use_recovery_code(
        &self,
        id: &str,
        hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(id)
        .bind(hash)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Unused recovery codes left.
    pub async fn recovery_codes_left(&self, id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Records a login session.
    pub async fn create_login(
        &self,
        token_hash: &str,
        user_id: &str,
        now_ms: i64,
        expires_at: i64,
        source: Option<&str>,
        stage: LoginStage,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO login_sessions (token_hash, user_id, created_at, expires_at, source, stage) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now_ms)
        .bind(expires_at)
        .bind(source)
        .bind(stage.as_str())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The live login session with this token hash, if any.
    pub async fn login(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<LoginSession>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS_U}, l.expires_at, l.stage FROM login_sessions l \
             JOIN users u ON u.id = l.user_id \
             WHERE l.token_hash = $1 AND l.expires_at > $2 AND u.disabled = 0"
        )))
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(LoginSession {
                user: user_from(&r)?,
                expires_at: r.try_get("expires_at")?,
                stage: match r.try_get::<String, _>("stage")?.as_str() {
                    "totp_enroll" => LoginStage::TotpEnroll,
                    _ => LoginStage::Full,
                },
            })
        })
        .transpose()
    }

    /// Promotes a login to full (after enrolment).
    pub async fn complete_login(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE login_sessions SET stage = 'full' WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends a login session.
    pub async fn delete_login(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends every login session of a user (password changed, disabled).
    pub async fn delete_logins_of_user(&self, user_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Removes expired login sessions; returns how many.
    pub async fn purge_logins(&self, now_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM login_sessions WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
