//! Placement of a container session: the zone it goes to, the zones it may
//! fall back to, the memory it reserves and which agents count as live.
//! The store chooses the agent inside the launch transaction (the least
//! loaded live agent with room, `oriel_control_store::Placement`).

use crate::ControlPlane;
use crate::service::ServiceError;
use oriel_control_store::{Placement, WorkspaceRecord};

impl ControlPlane {
    /// Where a session of `w` launched at `now` is placed: `None` for a
    /// workspace with a fixed target, the placement request for a container
    /// workspace in `zone` (and the other zones when `zone` falls back).
    pub(crate) async fn placement(
        &self,
        w: &WorkspaceRecord,
        zone: &str,
        now: i64,
    ) -> Result<Option<Placement>, ServiceError> {
        if w.kind != "container" {
            return Ok(None);
        }
        if !self.fleet_enabled() {
            return Err(ServiceError::NoAgent);
        }
        let spec: oriel_core_agent_protocol::ContainerSettings =
            serde_json::from_value(w.spec.clone()).map_err(|_| {
                ServiceError::internal(&"a container workspace has no valid settings")
            })?;
        let fallback = match self.store.zone(zone).await? {
            Some(z) if z.fallback => self
                .store
                .zones()
                .await?
                .into_iter()
                .map(|z| z.name)
                .filter(|n| n != zone)
                .collect(),
            _ => Vec::new(),
        };
        Ok(Some(Placement {
            zone: zone.to_owned(),
            fallback,
            memory_mb: i64::from(spec.memory_mb),
            seen_since: now - self.settings.agent_lost_after.as_millis() as i64,
        }))
    }
}
