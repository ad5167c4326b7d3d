//! The agent role's wiring: the Docker runtime from `[agent]`, this
//! agent's announcement, and — under `oriel up` — the in-process link to
//! the control plane of this process. The loop itself is
//! [`oriel_agent::Agent`]; `oriel agent` reaches the control plane with
//! [`oriel_agent::HttpsLink`].

use super::Process;
use anyhow::bail;
use oriel_agent::{DockerRuntime, DockerSettings};
use oriel_core_agent_protocol::AgentHello;

/// Connects to the local Docker engine with the `[agent]` settings
/// (checked in `crate::config`) and says what this agent offers.
pub(super) async fn connect(
    p: &Process,
    default_id: &str,
) -> anyhow::Result<(DockerRuntime, AgentHello)> {
    let a = &p.config.agent;
    let id = a.id.clone().unwrap_or_else(|| default_id.to_owned());
    if id.is_empty() {
        bail!("agent.id (or --id) must name this agent");
    }
    let mut settings = DockerSettings::new(&id);
    settings.docker_socket.clone_from(&a.docker_socket);
    settings.host_firewall = a.host_firewall;
    settings.subnet_pool = a.subnet_pool;
    let runtime = DockerRuntime::connect(settings).await?;
    let cpus = a
        .cpus
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64));
    let memory_mb = a
        .memory_mb
        .unwrap_or_else(|| host_memory_mb().map_or(4096, |m| m * 4 / 5));
    let hello = AgentHello {
        id,
        zone: a.zone.clone(),
        labels: a.labels.clone(),
        max_sessions: a.max_sessions,
        cpus,
        memory_mb,
        gateway: None,
    };
    Ok((runtime, hello))
}

fn host_memory_mb() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = info
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024)
}

/// `oriel up`: the agent calls the control plane of this process, no HTTP.
#[cfg(feature = "control")]
pub(super) struct InProcessLink(pub(super) std::sync::Arc<oriel_control::ControlPlane>);

#[cfg(feature = "control")]
mod in_process {
    use super::InProcessLink;
    use oriel_agent::{ControlLink, LinkError};
    use oriel_control::ServiceError;
    use oriel_core_agent_protocol::{
        AgentHello, AgentOrders, AgentPoll, AgentReport, AgentWelcome, ReportOutcome, UNREGISTERED,
    };

    fn link_error(e: ServiceError) -> LinkError {
        match e {
            ServiceError::Conflict { reason, .. } if reason == UNREGISTERED => {
                LinkError::Unregistered
            }
            ServiceError::Invalid { .. } | ServiceError::Conflict { .. } => {
                LinkError::Refused(e.to_string())
            }
            e => LinkError::Failed(e.to_string()),
        }
    }

    impl ControlLink for InProcessLink {
        async fn register(&self, hello: &AgentHello) -> Result<AgentWelcome, LinkError> {
            self.0.fleet().register(hello).await.map_err(link_error)
        }

        async fn poll(&self, poll: &AgentPoll) -> Result<AgentOrders, LinkError> {
            self.0.fleet().poll(poll).await.map_err(link_error)
        }

        async fn report(&self, report: &AgentReport) -> Result<ReportOutcome, LinkError> {
            self.0.fleet().report(report).await.map_err(link_error)
        }
    }
}
