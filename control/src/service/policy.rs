//! Group settings, the effective policy of a user's session, and the
//! features a policy may ask for that this server lacks
//! (precedence documented in `oriel_core_token::policy` and `docs/policy.md`).

use super::{Feature, ServiceError};
use crate::ControlPlane;
use oriel_control_store::{GroupRecord, Role, User, WorkspaceRecord};
use oriel_core_token::{MAX_RECORDING_RETENTION_DAYS, Policy, PolicyOverrides};
use serde::{Deserialize, Serialize};

/// Largest clipboard limit a policy may set (the stream protocol's maximum).
pub(crate) const MAX_CLIPBOARD_LIMIT: u32 = 1 << 20;

/// Largest file size limit a policy may set: the largest integer a
/// JavaScript number holds exactly (the admin UI and the viewer read it).
pub(crate) const MAX_TRANSFER_LIMIT: u64 = (1 << 53) - 1;

fn check_limits(
    prefix: &str,
    clipboard: Option<u32>,
    upload: Option<u64>,
    download: Option<u64>,
) -> Result<(), ServiceError> {
    if clipboard.is_some_and(|n| n > MAX_CLIPBOARD_LIMIT) {
        return Err(ServiceError::invalid(format!(
            "{prefix}.clipboard_max_bytes must be at most {MAX_CLIPBOARD_LIMIT}"
        )));
    }
    for (field, value) in [
        ("upload_max_bytes", upload),
        ("download_max_bytes", download),
    ] {
        if value.is_some_and(|n| n > MAX_TRANSFER_LIMIT) {
            return Err(ServiceError::invalid(format!(
                "{prefix}.{field} must be at most {MAX_TRANSFER_LIMIT} (0: no limit)"
            )));
        }
    }
    Ok(())
}

/// Checks a workspace's policy; `prefix` names it in messages (`policy`).
pub(crate) fn validate_policy(p: &Policy, prefix: &str) -> Result<(), ServiceError> {
    check_limits(
        prefix,
        Some(p.clipboard_max_bytes),
        Some(p.upload_max_bytes),
        Some(p.download_max_bytes),
    )?;
    if p.recording_retention_days > MAX_RECORDING_RETENTION_DAYS {
        return Err(ServiceError::invalid(format!(
            "{prefix}.recording_retention_days must be 0 (keep) to {MAX_RECORDING_RETENTION_DAYS} (days)"
        )));
    }
    p.check_watermark()
        .map_err(|e| ServiceError::invalid(format!("{prefix}.{} {}", e.field, e.must)))
}

/// Checks a group's policy overrides; `prefix` names them in messages.
pub(crate) fn validate_overrides(o: &PolicyOverrides, prefix: &str) -> Result<(), ServiceError> {
    check_limits(
        prefix,
        o.clipboard_max_bytes,
        o.upload_max_bytes,
        o.download_max_bytes,
    )
}

/// What a group says beyond its members and grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupSettings {
    /// Members must log in with a second factor.
    #[serde(default)]
    #[schema(default = false)]
    pub require_totp: bool,
    /// Adjustments of the policy of the workspaces this group grants.
    #[serde(default)]
    pub policy: PolicyOverrides,
    /// The zone of the members (the first group by name that names one
    /// decides; else the user's own zone); must exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Members may watch, and take control of, anyone's live session
    /// (`POST /sessions/{id}/shadow`), as admins may.
    #[serde(default)]
    #[schema(default = false)]
    pub shadow_sessions: bool,
}

impl GroupSettings {
    pub(crate) fn of(g: &GroupRecord) -> GroupSettings {
        // Stored settings were validated on the way in; a row that no longer
        // parses grants nothing extra and requires nothing.
        serde_json::from_value(g.settings.clone()).unwrap_or_default()
    }
}

/// Whether the caller may shadow others' sessions: admins, and members of
/// a group granting `shadow_sessions` (on an API token, with the sessions
/// scope).
pub(crate) async fn may_shadow(
    cp: &ControlPlane,
    auth: &super::Authed,
) -> Result<bool, ServiceError> {
    if auth.is_admin() {
        return Ok(true);
    }
    if !auth.allows_sessions_scope() {
        return Ok(false);
    }
    Ok(cp
        .store
        .groups_of_user(&auth.user.id)
        .await?
        .iter()
        .any(|g| GroupSettings::of(g).shadow_sessions))
}

/// Whether any group of the user requires a second factor.
pub(crate) async fn totp_required(cp: &ControlPlane, user_id: &str) -> Result<bool, ServiceError> {
    Ok(cp
        .store
        .groups_of_user(user_id)
        .await?
        .iter()
        .any(|g| GroupSettings::of(g).require_totp))
}

/// The workspace as this user may launch it: `None` when no group of theirs
/// grants it (admins may launch any workspace). With the effective policy.
pub(crate) async fn launchable(
    cp: &ControlPlane,
    user: &User,
    workspace: &WorkspaceRecord,
) -> Result<Option<Policy>, ServiceError> {
    let granting = cp.store.granting_groups(&user.id, &workspace.id).await?;
    if granting.is_empty() && user.role != Role::Admin {
        return Ok(None);
    }
    let overrides: Vec<PolicyOverrides> = granting
        .iter()
        .map(|g| GroupSettings::of(g).policy)
        .collect();
    Ok(Some(workspace.policy.effective(overrides.iter())))
}

/// A control the effective policy requires that this server cannot apply:
/// a watermark whose stored settings are out of range (validation refuses
/// them on every write; a database edited by hand could still hold them).
/// Such a session must not stream at all (fail closed), so it is neither
/// launched nor given a token. Recording and the watermark are built: the
/// gateway applies them, and refuses a session it cannot record.
pub(crate) fn unavailable_feature(p: &Policy) -> Option<Feature> {
    (p.watermark && p.check_watermark().is_err()).then_some(Feature::Watermark)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_watermark_that_cannot_be_drawn_is_refused() {
        assert_eq!(unavailable_feature(&Policy::default()), None);
        let rec = Policy {
            recording: true,
            watermark: true,
            ..Policy::default()
        };
        assert_eq!(unavailable_feature(&rec), None);
        let bad = Policy {
            watermark: true,
            watermark_opacity: 0,
            ..Policy::default()
        };
        assert_eq!(unavailable_feature(&bad), Some(Feature::Watermark));
        let e = validate_policy(&bad, "policy").unwrap_err();
        assert!(
            format!("{e:?}").contains("policy.watermark_opacity"),
            "{e:?}"
        );
    }

    #[test]
    fn limits_are_checked_with_the_field_named() {
        let ok = Policy {
            upload_max_bytes: MAX_TRANSFER_LIMIT,
            download_max_bytes: 0,
            ..Policy::default()
        };
        assert!(validate_policy(&ok, "policy").is_ok());
        let big = Policy {
            download_max_bytes: MAX_TRANSFER_LIMIT + 1,
            ..Policy::default()
        };
        let e = validate_policy(&big, "policy").unwrap_err();
        assert!(
            format!("{e:?}").contains("policy.download_max_bytes"),
            "{e:?}"
        );
        let o = PolicyOverrides {
            upload_max_bytes: Some(u64::MAX),
            ..Default::default()
        };
        let e = validate_overrides(&o, "settings.policy").unwrap_err();
        assert!(
            format!("{e:?}").contains("settings.policy.upload_max_bytes"),
            "{e:?}"
        );
        let o = PolicyOverrides {
            clipboard_max_bytes: Some(MAX_CLIPBOARD_LIMIT + 1),
            ..Default::default()
        };
        assert!(validate_overrides(&o, "settings.policy").is_err());
        assert!(validate_overrides(&PolicyOverrides::default(), "settings.policy").is_ok());
    }
}
