//! Reconciliation: remove what this agent runs that the control plane does
//! not know as running; never touch what carries no label of this agent.

use std::collections::HashSet;
use std::time::Duration;

use crate::{Agent, AgentError, SessionId};

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

impl Agent {
    /// Removes every container, network and firewall rule of this agent whose
    /// session is not in `known_running`. Containers and networks without
    /// this agent's label are never touched. Run it at start and periodically.
    pub async fn reconcile(
        &self,
        known_running: &HashSet<SessionId>,
    ) -> Result<ReconcileReport, AgentError> {
        let mut report = ReconcileReport::default();
        let known = |s: &Option<String>| {
            s.as_deref()
                .and_then(|s| SessionId::new(s).ok())
                .is_some_and(|s| known_running.contains(&s))
        };
        for (id, session) in self.labelled_containers(None).await? {
            if !known(&session) {
                tracing::info!(container = %id, session_id = ?session, "reconcile: removing unknown session's container");
                self.remove_container(&id).await?;
                if let Some(s) = session.and_then(|s| SessionId::new(s).ok()) {
                    report.removed_containers.push(s);
                }
            }
        }
        for (name, session) in self.session_networks(None).await? {
            if !known(&session) {
                tracing::info!(network = %name, session_id = ?session, "reconcile: removing unknown session's network");
                self.remove_network(&name).await?;
                report.removed_networks.push(name);
            }
        }
        if let Some(fw) = &self.firewall {
            report.removed_rules = fw.retain_sessions(known_running).await?;
        }
        report.removed_containers.sort();
        report.removed_networks.sort();
        Ok(report)
    }
}

impl Agent {
    /// Reconciles every `period` for as long as the future runs (spawn it,
    /// abort it to stop): each pass asks `known_running` for the sessions
    /// the control plane knows as running (or starting). When that fails,
    /// the pass removes nothing: an unreachable control plane must not end
    /// every session. The first pass runs at once.
    pub async fn reconcile_every<F, Fut, E>(&self, period: Duration, mut known_running: F)
    where
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
            match self.reconcile(&known).await {
                Ok(report) if report != ReconcileReport::default() => {
                    tracing::info!(?report, "reconciled");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "reconcile pass failed"),
            }
        }
    }
}
