//! Group settings and the effective policy of a user's session
//! (precedence documented in `oriel_core_token::policy` and `docs/policy.md`).

use crate::ControlPlane;
use crate::error::ApiError;
use oriel_control_store::{GroupRecord, Role, User, WorkspaceRecord};
use oriel_core_token::{Policy, PolicyOverrides};
use serde::{Deserialize, Serialize};

/// What a group says beyond its members and grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupSettings {
    /// Members must log in with a second factor (TOTP).
    #[serde(default)]
    pub require_totp: bool,
    /// Adjustments of the policy of the workspaces this group grants.
    #[serde(default)]
    pub policy: PolicyOverrides,
}

impl GroupSettings {
    pub(crate) fn of(g: &GroupRecord) -> GroupSettings {
        // Stored settings were validated on the way in; a row that no longer
        // parses grants nothing extra and requires nothing.
        serde_json::from_value(g.settings.clone()).unwrap_or_default()
    }
}

/// Whether any group of the user requires a second factor.
pub(crate) async fn totp_required(cp: &ControlPlane, user_id: &str) -> Result<bool, ApiError> {
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
) -> Result<Option<Policy>, ApiError> {
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
