//! Local users as domain operations: creating one (user name and password
//! rules, groups), changing one (role, state, zone, groups, password,
//! second factor — never leaving no enabled admin), deleting one. Disabling
//! or deleting a user cuts them off: their sessions end and every token
//! issued to them until now is revoked at every gateway.

use super::{Authed, ServiceError};
use crate::ControlPlane;
use crate::audit::Audit;
use crate::auth::password;
use crate::time::now_ms;
use oriel_control_store::{Role, SessionFilter, User};
use zeroize::Zeroizing;

/// A new local user.
pub(crate) struct NewUser {
    /// 1-64 ASCII letters, digits, `.`, `_`, `-`, `@`.
    pub username: String,
    /// Checked against the password policy.
    pub password: Zeroizing<String>,
    /// Role.
    pub role: Role,
    /// Group ids to put the user in (each must exist).
    pub groups: Vec<String>,
}

/// A change of a user (what an admin's `PUT` says).
pub(crate) struct UserUpdate {
    /// The new role.
    pub role: Role,
    /// Disabled users cannot log in; their sessions end.
    pub disabled: bool,
    /// When set, the zone the user's container sessions are placed in.
    pub zone: Option<String>,
    /// When set, the user's groups become exactly these.
    pub groups: Option<Vec<String>>,
    /// When set, a new password (the user's logins end).
    pub password: Option<Zeroizing<String>>,
    /// Removes the user's second factor (they enrol again).
    pub reset_totp: bool,
}

/// Local user names: 1-64 ASCII letters, digits, dots, dashes, underscores or @.
pub(crate) fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

impl ControlPlane {
    /// Creates a local user (admins).
    pub(crate) async fn create_user(
        &self,
        auth: &Authed,
        new: &NewUser,
    ) -> Result<User, ServiceError> {
        auth.require_admin()?;
        if !valid_username(&new.username) {
            return Err(ServiceError::invalid(
                "username must be 1-64 letters, digits, dots, dashes, underscores or @",
            ));
        }
        password::check_policy(&new.password, &new.username, self.settings.password_min_len)
            .map_err(|m| ServiceError::invalid_field("password", m))?;
        let hash = password::hash(&new.password).await?;
        let user = self
            .store
            .create_user(&new.username, &hash, new.role, now_ms())
            .await?;
        if let Err(e) = self.set_groups(&user.id, &new.groups).await {
            self.store.delete_user(&user.id).await?;
            return Err(e);
        }
        self.audit(
            Audit::by(auth, "user.create")
                .on("user", &user.id, Some(&user.username))
                .details(serde_json::json!({ "role": user.role, "groups": new.groups })),
        )
        .await;
        Ok(user)
    }

    /// Sets a user's groups to exactly `group_ids`.
    async fn set_groups(&self, user_id: &str, group_ids: &[String]) -> Result<(), ServiceError> {
        for gid in group_ids {
            if self.store.group(gid).await?.is_none() {
                return Err(ServiceError::invalid(format!("no group with id {gid}")));
            }
        }
        let current: Vec<String> = self
            .store
            .groups_of_user(user_id)
            .await?
            .into_iter()
            .map(|g| g.id)
            .collect();
        for gid in current.iter().chain(group_ids.iter()) {
            let mut members: Vec<String> = self
                .store
                .group_members(gid)
                .await?
                .into_iter()
                .map(|m| m.id)
                .collect();
            let wanted = group_ids.contains(gid);
            let has = members.iter().any(|m| m == user_id);
            if wanted && !has {
                members.push(user_id.to_owned());
            } else if !wanted && has {
                members.retain(|m| m != user_id);
            } else {
                continue;
            }
            self.store.set_group_members(gid, &members).await?;
        }
        Ok(())
    }

    /// Refuses changes that would leave no enabled admin.
    async fn keep_an_admin(&self, target: &User, still_admin: bool) -> Result<(), ServiceError> {
        let is_active_admin = target.role == Role::Admin && !target.disabled;
        if is_active_admin && !still_admin && self.store.count_active_admins().await? <= 1 {
            return Err(ServiceError::conflict(
                "last_admin",
                "this would leave no enabled admin",
            ));
        }
        Ok(())
    }

    /// Changes a user (admins).
    pub(crate) async fn update_user(
        &self,
        auth: &Authed,
        id: &str,
        change: &UserUpdate,
    ) -> Result<User, ServiceError> {
        auth.require_admin()?;
        let current = self
            .store
            .user(id)
            .await?
            .ok_or(ServiceError::NotFound("user"))?;
        self.keep_an_admin(
            &current.user,
            change.role == Role::Admin && !change.disabled,
        )
        .await?;
        if let Some(pw) = &change.password {
            if current.password_hash.is_empty() {
                return Err(ServiceError::conflict(
                    "external_user",
                    "this user logs in with an identity provider",
                ));
            }
            password::check_policy(pw, &current.user.username, self.settings.password_min_len)
                .map_err(|m| ServiceError::invalid_field("password", m))?;
        }
        if let Some(zone) = &change.zone
            && (zone.is_empty() || zone.len() > 64 || zone.chars().any(char::is_control))
        {
            return Err(ServiceError::invalid_field(
                "zone",
                "a zone is 1-64 characters",
            ));
        }
        if let Some(groups) = &change.groups {
            self.set_groups(id, groups).await?;
        }
        if let Some(zone) = &change.zone {
            self.store.set_user_zone(id, zone, now_ms()).await?;
        }
        let user = self
            .store
            .update_user(id, change.role, change.disabled, now_ms())
            .await?
            .ok_or(ServiceError::NotFound("user"))?;
        let password_reset = change.password.is_some();
        if let Some(pw) = &change.password {
            let hash = password::hash(pw).await?;
            self.store.set_password(id, &hash, now_ms()).await?;
        }
        if change.reset_totp {
            self.store.set_totp(id, None, false, now_ms()).await?;
            self.store.replace_recovery_codes(id, &[]).await?;
        }
        let logins_end = change.disabled
            || change.reset_totp
            || password_reset
            || current.user.role != change.role;
        if logins_end {
            self.store.delete_logins_of_user(id).await?;
        }
        if change.disabled && !current.user.disabled {
            self.cut_off(id).await?;
        }
        self.audit(
            Audit::by(auth, "user.update")
                .on("user", id, Some(&user.username))
                .details(serde_json::json!({
                    "role": user.role,
                    "disabled": user.disabled,
                    "groups": change.groups,
                    "password_reset": password_reset,
                    "totp_reset": change.reset_totp,
                    "zone": change.zone,
                })),
        )
        .await;
        Ok(user)
    }

    /// A disabled or deleted user's sessions end, and every token issued to
    /// them until now is revoked at every gateway (streams stop,
    /// reconnections are refused), even one the end commands do not reach.
    async fn cut_off(&self, user_id: &str) -> Result<(), ServiceError> {
        let now = now_ms();
        let until = self.revocation_until(now + self.settings.token_ttl.as_millis() as i64);
        self.revoke(oriel_control_store::RevocationKind::User, user_id, until)
            .await?;
        let active = self
            .store
            .list_sessions(
                &SessionFilter {
                    user_id: Some(user_id),
                    active_only: true,
                    before: None,
                },
                1000,
            )
            .await?;
        for s in active {
            self.end_session(&s, "user disabled").await?;
        }
        Ok(())
    }

    /// Deletes a user (admins; never the last enabled admin).
    pub(crate) async fn delete_user(&self, auth: &Authed, id: &str) -> Result<(), ServiceError> {
        auth.require_admin()?;
        let current = self
            .store
            .user(id)
            .await?
            .ok_or(ServiceError::NotFound("user"))?;
        self.keep_an_admin(&current.user, false).await?;
        self.cut_off(id).await?;
        self.store.delete_user(id).await?;
        self.audit(Audit::by(auth, "user.delete").on("user", id, Some(&current.user.username)))
            .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_validated() {
        assert!(valid_username("alice"));
        assert!(valid_username("a.b-c_d@example.com"));
        assert!(!valid_username(""));
        assert!(!valid_username("al ice"));
        assert!(!valid_username("../x"));
        assert!(!valid_username(&"a".repeat(65)));
    }
}
