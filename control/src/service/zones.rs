//! Zones as the other operations see them: which zone a user belongs to,
//! that a named zone exists, and a connection proxy's sealing key.

use super::ServiceError;
use super::policy::GroupSettings;
use crate::ControlPlane;
use base64::Engine as _;
use oriel_control_store::{ConnectionProxy, User};

/// Zone names: what agents, groups and workspaces name.
pub(crate) fn valid_zone_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The connection proxy's public sealing key.
pub(crate) fn sealing_key(p: &ConnectionProxy) -> Option<[u8; 32]> {
    base64::engine::general_purpose::STANDARD
        .decode(p.sealing_key.trim())
        .ok()?
        .try_into()
        .ok()
}

/// Fails unless `zone` exists (what groups and workspaces may name);
/// `field` names the request field in the error.
pub(crate) async fn require_zone(
    cp: &ControlPlane,
    field: &str,
    zone: &str,
) -> Result<(), ServiceError> {
    if cp.store.zone(zone).await?.is_none() {
        return Err(ServiceError::invalid_field(
            field,
            format!("there is no zone {zone:?} (see /api/v1/zones)"),
        ));
    }
    Ok(())
}

/// The zone a user belongs to: that of their first group (by name) that
/// names one, else their own.
pub(crate) async fn zone_of(cp: &ControlPlane, user: &User) -> Result<String, ServiceError> {
    let mut groups = cp.store.groups_of_user(&user.id).await?;
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(groups
        .iter()
        .find_map(|g| GroupSettings::of(g).zone)
        .unwrap_or_else(|| user.zone.clone()))
}
