//! The seam between the agent's loop and the machinery that runs session
//! desktops: [`SessionRuntime`]. Today's implementation is Docker
//! ([`crate::DockerRuntime`]); docs/design/kubernetes.md shows how Pods and
//! NetworkPolicies would sit behind the same trait.
//!
//! The loop (`crate::node`) and reconciliation ([`reconcile_every`]) talk
//! only to the trait: start what the control plane wants, list what runs,
//! end or remove what it no longer wants.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use oriel_protocols_session::FileTransfer;

use crate::{ContainerSpec, RunningSession, SessionId};

/// What runs session desktops for this agent: each session in its own
/// isolated container (its network and firewall rules, or whatever the
/// runtime isolates it with), labelled as this agent's so that only what it
/// created is ever listed or removed.
pub trait SessionRuntime: Send + Sync + 'static {
    /// Why an operation failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Starts a session's container with its network and firewall, and
    /// returns once its VNC server answers. On any failure whatever was
    /// created for the session is removed; a session that already has a
    /// container is refused.
    fn launch(
        &self,
        spec: &ContainerSpec,
        session: &SessionId,
    ) -> impl Future<Output = Result<RunningSession, Self::Error>> + Send;

    /// The sessions this agent has containers for, running or not, sorted.
    fn sessions(&self) -> impl Future<Output = Result<Vec<SessionId>, Self::Error>> + Send;

    /// Stops and removes everything of one session (container, network,
    /// firewall rules). Ending an unknown session is not an error.
    fn end(&self, session: &SessionId) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Removes everything of this agent — containers, networks, firewall
    /// rules, also those whose session label is missing or invalid — whose
    /// session is not in `keep`; never touches what is not this agent's.
    fn reconcile(
        &self,
        keep: &HashSet<SessionId>,
    ) -> impl Future<Output = Result<ReconcileReport, Self::Error>> + Send;

    /// File transfer into and out of a session's container, as its user.
    fn files(&self, session: &SessionId) -> Arc<dyn FileTransfer>;
}

/// What one reconciliation pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Sessions whose container was removed.
    pub removed_containers: Vec<SessionId>,
    /// Networks removed (by name).
    pub removed_networks: Vec<String>,
    /// Firewall rules removed.
    pub removed_rules: usize,
}

/// Reconciles `runtime` every `period` for as long as the future runs
/// (spawn it, abort it to stop): each pass asks `known_running` for the
/// sessions the control plane knows as running (or starting) and removes
/// the rest. When that fails, the pass removes nothing: an unreachable
/// control plane must not end every session. The first pass runs at once.
pub async fn reconcile_every<R, F, Fut, E>(runtime: &R, period: Duration, mut known_running: F)
where
    R: SessionRuntime,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<HashSet<SessionId>, E>>,
    E: std::fmt::Display,
{
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let known = match known_running().await {
            Ok(known) => known,
            Err(error) => {
                tracing::warn!(%error, "reconcile: running sessions unknown, skipping this pass");
                continue;
            }
        };
        match runtime.reconcile(&known).await {
            Ok(report) if report != ReconcileReport::default() => {
                tracing::info!(?report, "reconciled");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "reconcile pass failed"),
        }
    }
}
