//! What this agent has on the engine (containers and networks carrying its
//! label), ending a session, and removing everything of ours whose session
//! is not to be kept (reconciliation's work on Docker). Nothing without
//! this agent's label is ever touched.

use std::collections::HashSet;

use bollard::query_parameters::{
    ListContainersOptions, ListNetworksOptions, RemoveContainerOptions, StopContainerOptions,
};

use super::{DockerError, DockerRuntime, LABEL_SESSION, docker_err, is_not_found};
use crate::SessionId;
use crate::runtime::ReconcileReport;

impl DockerRuntime {
    /// Ends a session: stops and removes its container and anonymous volumes,
    /// its network and its firewall rules. Ending an unknown session is not
    /// an error (the call is idempotent).
    pub(super) async fn end_session(&self, session: &SessionId) -> Result<(), DockerError> {
        for id in self.session_containers(Some(session)).await? {
            self.remove_container(&id).await?;
        }
        for (name, _) in self.session_networks(Some(session)).await? {
            self.remove_network(&name).await?;
        }
        if let Some(fw) = &self.firewall {
            fw.remove_session(session).await?;
        }
        tracing::info!(session_id = %session, "session ended");
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<(), DockerError> {
        let stop = self
            .docker
            .stop_container(
                id,
                Some(StopContainerOptions {
                    t: Some(self.settings.stop_timeout.as_secs() as i32),
                    signal: None,
                }),
            )
            .await;
        match stop {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => return Ok(()),
            // 304: already stopped; anything else: force removal below kills it.
            Err(e) => tracing::debug!(container = %id, error = %e, "stop"),
        }
        match self
            .docker
            .remove_container(
                id,
                Some(RemoveContainerOptions {
                    v: true,
                    force: true,
                    link: false,
                }),
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // 409: removal already in progress (a concurrent end or reconcile)
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(source) => Err(DockerError::Docker {
                action: "container remove",
                source,
            }),
        }
    }

    async fn remove_network(&self, name: &str) -> Result<(), DockerError> {
        match self.docker.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(source) => Err(DockerError::Docker {
                action: "network remove",
                source,
            }),
        }
    }

    /// Ids of containers (running or not) with this agent's label, optionally
    /// of one session.
    pub(super) async fn session_containers(
        &self,
        session: Option<&SessionId>,
    ) -> Result<Vec<String>, DockerError> {
        Ok(self
            .labelled_containers(session)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    async fn labelled_containers(
        &self,
        session: Option<&SessionId>,
    ) -> Result<Vec<(String, Option<String>)>, DockerError> {
        let list = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(self.agent_filter(session)),
                ..Default::default()
            }))
            .await
            .map_err(docker_err("container list"))?;
        Ok(list
            .into_iter()
            .filter(|c| self.owned(c.labels.as_ref()))
            .filter_map(|c| {
                let s = c.labels.and_then(|mut l| l.remove(LABEL_SESSION));
                c.id.map(|id| (id, s))
            })
            .collect())
    }

    /// Names and session labels of networks with this agent's label.
    async fn session_networks(
        &self,
        session: Option<&SessionId>,
    ) -> Result<Vec<(String, Option<String>)>, DockerError> {
        let list = self
            .docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(self.agent_filter(session)),
            }))
            .await
            .map_err(docker_err("network list"))?;
        Ok(list
            .into_iter()
            .filter(|n| self.owned(n.labels.as_ref()))
            .filter_map(|n| {
                let s = n.labels.and_then(|mut l| l.remove(LABEL_SESSION));
                n.name.map(|name| (name, s))
            })
            .collect())
    }

    /// Sessions this agent has containers for (running or not).
    pub(super) async fn session_ids(&self) -> Result<Vec<SessionId>, DockerError> {
        let mut out: Vec<SessionId> = self
            .labelled_containers(None)
            .await?
            .into_iter()
            .filter_map(|(_, s)| s.and_then(|s| SessionId::new(s).ok()))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Removes every container, network and firewall rule of this agent whose
    /// session is not in `known_running`. Containers and networks without
    /// this agent's label are never touched. Run it at start and periodically.
    pub(super) async fn remove_all_but(
        &self,
        known_running: &HashSet<SessionId>,
    ) -> Result<ReconcileReport, DockerError> {
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
