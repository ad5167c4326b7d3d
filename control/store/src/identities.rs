//! Users vouched for by an external identity provider (OpenID Connect): the
//! identity is the issuer and its subject (`sub`), never a user name; users
//! are created just in time at their first login, their role and group
//! membership follow the provider's claims at every login, and each login
//! flow's callback is accepted once.

use crate::groups::GroupRecord;
use crate::users::{USER_COLUMNS_U, user_from};
use crate::{Role, Store, StoreError, User, new_id};
use sqlx::Row as _;

/// Origin of the users an OpenID Connect provider vouches for.
pub const OIDC_ORIGIN: &str = "oidc";

/// Who the provider says logged in, and what they should be here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExternalIdentity<'a> {
    /// The provider's issuer URL (`iss`).
    pub issuer: &'a str,
    /// The provider's stable id of the user (`sub`).
    pub subject: &'a str,
    /// The login name the provider suggests.
    pub username: &'a str,
    /// The role the provider's claims map to.
    pub role: Role,
}

/// What a login of an external identity found or made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalLogin {
    /// The user, with the role and name it has now.
    pub user: User,
    /// The user was created by this login.
    pub created: bool,
    /// The provider's user name belongs to another user, so the user kept
    /// its previous name.
    pub username_taken: bool,
    /// The claims would have taken the admin role from the last enabled
    /// admin; the user stayed admin.
    pub kept_last_admin: bool,
}

/// Whether a user other than `except` has this name (compared without case).
async fn name_taken(
    conn: &mut sqlx::AnyConnection,
    username: &str,
    except: &str,
) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM users WHERE LOWER(username) = LOWER($1) AND id <> $2",
    )
    .bind(username)
    .bind(except)
    .fetch_one(conn)
    .await?
    .try_get("n")?;
    Ok(n > 0)
}

impl Store {
    /// Finds the user of `identity` (by issuer and subject) and brings its
    /// role and name up to date, or creates it (origin `oidc`, no password).
    /// A new identity whose user name is taken by any other user (compared
    /// without case) is `Conflict("username")`: an existing user is never
    /// taken over by name.
    pub async fn login_external_user(
        &self,
        identity: &ExternalIdentity<'_>,
        now_ms: i64,
    ) -> Result<ExternalLogin, StoreError> {
        // A concurrent first login of the same identity may win the insert;
        // the second try then finds it.
        match self.try_login_external_user(identity, now_ms).await {
            Err(StoreError::Conflict("identity")) => {
                self.try_login_external_user(identity, now_ms).await
            }
            other => other,
        }
    }

    async fn try_login_external_user(
        &self,
        identity: &ExternalIdentity<'_>,
        now_ms: i64,
    ) -> Result<ExternalLogin, StoreError> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS_U} FROM external_identities e JOIN users u ON u.id = e.user_id \
             WHERE e.issuer = $1 AND e.subject = $2"
        )))
        .bind(identity.issuer)
        .bind(identity.subject)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            let mut user = user_from(&row)?;
            let mut kept_last_admin = false;
            let mut role = identity.role;
            if user.role == Role::Admin && role != Role::Admin {
                let others: i64 = sqlx::query(
                    "SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0 AND id <> $1",
                )
                .bind(&user.id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
                if others == 0 && !user.disabled {
                    role = Role::Admin;
                    kept_last_admin = true;
                }
            }
            let mut username_taken = false;
            let mut username = user.username.clone();
            if user.username != identity.username {
                if name_taken(&mut tx, identity.username, &user.id).await? {
                    username_taken = true;
                } else {
                    username = identity.username.to_owned();
                }
            }
            if role != user.role || username != user.username {
                sqlx::query(
                    "UPDATE users SET role = $2, username = $3, updated_at = $4 WHERE id = $1",
                )
                .bind(&user.id)
                .bind(role.as_str())
                .bind(&username)
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::from_insert(e, "username"))?;
                user.role = role;
                user.username = username;
            }
            sqlx::query(
                "UPDATE external_identities SET last_login_at = $3 WHERE issuer = $1 AND subject = $2",
            )
            .bind(identity.issuer)
            .bind(identity.subject)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(ExternalLogin {
                user,
                created: false,
                username_taken,
                kept_last_admin,
            });
        }
        if name_taken(&mut tx, identity.username, "").await? {
            return Err(StoreError::Conflict("username"));
        }
        let id = new_id();
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, disabled, created_at, updated_at, origin) \
             VALUES ($1, $2, '', $3, 0, $4, $4, $5)",
        )
        .bind(&id)
        .bind(identity.username)
        .bind(identity.role.as_str())
        .bind(now_ms)
        .bind(OIDC_ORIGIN)
        .execute(&mut *tx)
        .await
        // The same identity's concurrent first login made the same name.
        .map_err(|e| StoreError::from_insert(e, "identity"))?;
        sqlx::query(
            "INSERT INTO external_identities (issuer, subject, user_id, created_at, last_login_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(identity.issuer)
        .bind(identity.subject)
        .bind(&id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_insert(e, "identity"))?;
        tx.commit().await?;
        Ok(ExternalLogin {
            user: User {
                id,
                username: identity.username.to_owned(),
                role: identity.role,
                disabled: false,
                origin: OIDC_ORIGIN.to_owned(),
                totp_enabled: false,
                created_at: now_ms,
                zone: crate::users::DEFAULT_ZONE.to_owned(),
            },
            created: true,
            username_taken: false,
            kept_last_admin: false,
        })
    }

    /// The issuer and subject of an external user, if it has one.
    pub async fn external_identity_of(
        &self,
        user_id: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT issuer, subject FROM external_identities WHERE user_id = $1 ORDER BY issuer, subject",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| Ok((r.try_get("issuer")?, r.try_get("subject")?)))
            .transpose()
    }

    /// Makes the user's groups exactly the existing groups named in `names`
    /// (exact, case-sensitive names; names of no group are ignored), in
    /// one transaction. Returns the groups the user is now in, by name.
    pub async fn sync_groups_by_name(
        &self,
        user_id: &str,
        names: &[String],
    ) -> Result<Vec<GroupRecord>, StoreError> {
        let mut wanted: Vec<&str> = names.iter().map(String::as_str).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM group_members WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for name in wanted {
            sqlx::query(
                "INSERT INTO group_members (group_id, user_id) SELECT g.id, $2 FROM groups g WHERE g.name = $1",
            )
            .bind(name)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    StoreError::Missing("user")
                }
                _ => StoreError::Database(e),
            })?;
        }
        tx.commit().await?;
        self.groups_of_user(user_id).await
    }

    /// Marks an OIDC login flow (the hash of its `state`) as handled until
    /// `expires_at`: `false` when it already was (a replayed callback).
    /// Forgets flows that have expired.
    pub async fn consume_oidc_flow(
        &self,
        flow_hash: &str,
        expires_at: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        sqlx::query("DELETE FROM oidc_flows_used WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(self.pool())
            .await?;
        let done =
            sqlx::query("INSERT INTO oidc_flows_used (flow_hash, expires_at) VALUES ($1, $2)")
                .bind(flow_hash)
                .bind(expires_at)
                .execute(self.pool())
                .await;
        match done {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(false),
            Err(e) => Err(StoreError::Database(e)),
        }
    }
}
