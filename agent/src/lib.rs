//! The agent role: one ephemeral, isolated Docker container per session.
//!
//! [`Agent`] talks to the local Docker engine through bollard (never the
//! gateway: `./x check-deps` checks that it links no Docker code). For each
//! session it:
//!
//! 1. creates a Docker network of its own — `--internal` (no route out) for
//!    [`Egress::None`], a plain bridge for [`Egress::Internet`] — with a
//!    bridge interface name the agent chooses, so that
//! 2. the host firewall ([`firewall`]) can drop every connection the
//!    container opens towards the host itself (any of its addresses: Docker
//!    leaves the bridge gateway open to host services even on an internal
//!    network) and, for internet egress, towards private address ranges
//!    (the control plane, the database, the LAN);
//! 3. creates the container: labels `oriel.session` / `oriel.agent`, CPU,
//!    memory (no swap) and pids limits, read-only root, `no-new-privileges`,
//!    all capabilities dropped, tmpfs for `/tmp` and the home, a private IPC
//!    namespace, no bind mounts, no Docker socket;
//! 4. starts it and waits until its VNC server sends an RFB banner on the
//!    container's address on its network (reachable from the host on Linux,
//!    also for an internal network), which it returns with the per-session
//!    VNC password.
//!
//! [`Agent::end`] removes the container (with its anonymous volumes), its
//! network and its firewall rules; [`Agent::reconcile`] does the same for
//! every session carrying this agent's label that the control plane does not
//! know as running, and never touches anything without that label.
//!
//! The image contract (deploy/images/README.md): VNC on port 5900, password
//! in `ORIEL_VNC_PASSWORD`, geometry in `ORIEL_WIDTH` / `ORIEL_HEIGHT`.

mod files;
pub mod firewall;
mod names;
mod reconcile;
mod spec;
mod subnets;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, ListNetworksOptions, RemoveContainerOptions,
    StopContainerOptions,
};
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

pub use files::{ContainerFiles, HOME};
pub use firewall::{Firewall, FirewallError};
pub use names::{InvalidName, SessionId};
pub use reconcile::ReconcileReport;
pub use spec::{AgentSettings, ContainerSpec, Egress, RunningSession};
pub use subnets::{InvalidPool, SubnetPool};

/// Label carrying the session id on containers and networks.
pub const LABEL_SESSION: &str = "oriel.session";
/// Label carrying the id of the agent that created a container or network.
pub const LABEL_AGENT: &str = "oriel.agent";
/// Label on a session network naming its bridge interface.
pub const LABEL_BRIDGE: &str = "oriel.bridge";
/// The port the image's VNC server listens on (image contract).
pub const VNC_PORT: u16 = 5900;

const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";

/// Errors of the agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The Docker socket does not exist (no engine, or the wrong path).
    #[error("docker socket {0} not found: is the docker engine running and the path right?")]
    SocketMissing(PathBuf),
    /// A Docker API call failed.
    #[error("docker {action} failed")]
    Docker {
        /// What the agent was doing.
        action: &'static str,
        /// The engine's answer.
        #[source]
        source: bollard::errors::Error,
    },
    /// The image to start is not on this host (the agent never pulls).
    #[error("image {0} is not present on this docker host")]
    ImageMissing(String),
    /// An id is not usable in container and network names.
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    /// A session with this id already runs here.
    #[error("session {0} already has a container on this agent")]
    SessionExists(SessionId),
    /// The container ran but its VNC server never answered.
    #[error("vnc server of session {session} did not answer within {waited:?}")]
    VncTimeout {
        /// The session.
        session: SessionId,
        /// How long the agent waited.
        waited: Duration,
    },
    /// The container exited while the agent waited for it.
    #[error("container of session {session} exited before it was ready (status {status})")]
    ContainerExited {
        /// The session.
        session: SessionId,
        /// The engine's state string.
        status: String,
    },
    /// The engine did not report the container's address.
    #[error("container of session {0} has no address on its network")]
    NoAddress(SessionId),
    /// The host firewall could not be set up or changed.
    #[error(transparent)]
    Firewall(#[from] FirewallError),
    /// The operating system gave no random bytes for the VNC password.
    #[error("no random source for the session's vnc password")]
    NoRandom,
    /// A resource limit is out of range.
    #[error("invalid container spec: {0}")]
    InvalidSpec(&'static str),
}

/// The agent: creates, ends and reconciles session containers.
#[derive(Debug, Clone)]
pub struct Agent {
    docker: Docker,
    settings: AgentSettings,
    firewall: Option<Firewall>,
}

fn docker_err(action: &'static str) -> impl FnOnce(bollard::errors::Error) -> AgentError {
    move |source| AgentError::Docker { action, source }
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

impl Agent {
    /// Connects to the engine (negotiating the API version) and checks the
    /// host firewall is usable when enabled.
    pub async fn connect(settings: AgentSettings) -> Result<Agent, AgentError> {
        names::validate("agent id", &settings.agent_id)?;
        if !settings.docker_socket.exists() {
            return Err(AgentError::SocketMissing(settings.docker_socket.clone()));
        }
        let socket = settings.docker_socket.to_string_lossy().into_owned();
        let docker = Docker::connect_with_socket(
            &socket,
            settings.request_timeout.as_secs().max(1),
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(|source| match source {
            bollard::errors::Error::SocketNotFoundError(_) => {
                AgentError::SocketMissing(settings.docker_socket.clone())
            }
            source => AgentError::Docker {
                action: "connect",
                source,
            },
        })?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(docker_err("version negotiation"))?;
        docker.ping().await.map_err(docker_err("ping"))?;
        let firewall = if settings.host_firewall {
            let fw = Firewall::new(&settings.agent_id);
            fw.check().await?;
            Some(fw)
        } else {
            None
        };
        tracing::info!(agent_id = %settings.agent_id, socket = %socket, "connected to docker");
        Ok(Agent {
            docker,
            settings,
            firewall,
        })
    }

    /// This agent's id.
    pub fn agent_id(&self) -> &str {
        &self.settings.agent_id
    }

    /// The underlying Docker client (for inspection in tests and tools).
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    fn resource_name(&self, session: &SessionId) -> String {
        format!("oriel-{}-{}", self.settings.agent_id, session)
    }

    fn labels(&self, session: &SessionId) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_AGENT.to_owned(), self.settings.agent_id.clone()),
            (LABEL_SESSION.to_owned(), session.to_string()),
        ])
    }

    fn agent_filter(&self, session: Option<&SessionId>) -> HashMap<String, Vec<String>> {
        let mut labels = vec![format!("{LABEL_AGENT}={}", self.settings.agent_id)];
        if let Some(s) = session {
            labels.push(format!("{LABEL_SESSION}={s}"));
        }
        HashMap::from([("label".to_owned(), labels)])
    }

    /// Starts a session's container and waits until its VNC server answers.
    /// On any failure, whatever was created for the session is removed.
    pub async fn launch(
        &self,
        spec: &ContainerSpec,
        session: &SessionId,
    ) -> Result<RunningSession, AgentError> {
        spec::validate_spec(spec)?;
        if !self.session_containers(Some(session)).await?.is_empty() {
            return Err(AgentError::SessionExists(session.clone()));
        }
        let started = Instant::now();
        let result = self.launch_inner(spec, session).await;
        match &result {
            Ok(running) => tracing::info!(
                session_id = %session, container = %running.container_id,
                vnc = %running.vnc_addr, elapsed_ms = started.elapsed().as_millis() as u64,
                "session container ready"
            ),
            Err(error) => {
                tracing::warn!(session_id = %session, error = %error, "session launch failed, cleaning up");
                if let Err(error) = self.end(session).await {
                    tracing::warn!(session_id = %session, error = %error, "cleanup after failed launch");
                }
            }
        }
        result
    }

    async fn launch_inner(
        &self,
        spec: &ContainerSpec,
        session: &SessionId,
    ) -> Result<RunningSession, AgentError> {
        let name = self.resource_name(session);
        let bridge = names::bridge_name();
        let mut net_labels = self.labels(session);
        net_labels.insert(LABEL_BRIDGE.to_owned(), bridge.clone());
        let mut options = HashMap::from([(BRIDGE_NAME_OPTION.to_owned(), bridge.clone())]);
        if spec.egress == Egress::Internet {
            options.insert(
                "com.docker.network.bridge.enable_ip_masquerade".to_owned(),
                "true".to_owned(),
            );
        }
        let request = NetworkCreateRequest {
            name: name.clone(),
            driver: Some("bridge".to_owned()),
            internal: Some(spec.egress == Egress::None),
            attachable: Some(false),
            labels: Some(net_labels),
            options: Some(options),
            ..Default::default()
        };
        self.create_network(request).await?;
        if let Some(fw) = &self.firewall {
            // Without egress, refuse all forwarded traffic at once (Docker's
            // own rules for internal networks drop it silently).
            let everything = ["0.0.0.0/0".to_owned()];
            let blocked = match spec.egress {
                Egress::None => &everything[..],
                Egress::Internet => &self.settings.blocked_destinations[..],
            };
            fw.isolate(session, &bridge, blocked).await?;
        }

        let password = names::vnc_password().ok_or(AgentError::NoRandom)?;
        let host_config = HostConfig {
            nano_cpus: Some((spec.cpus * 1e9) as i64),
            memory: Some((spec.memory_mb * 1024 * 1024) as i64),
            memory_swap: Some((spec.memory_mb * 1024 * 1024) as i64),
            pids_limit: Some(spec.pids),
            readonly_rootfs: Some(spec.read_only_root),
            security_opt: Some(vec!["no-new-privileges:true".to_owned()]),
            cap_drop: Some(vec!["ALL".to_owned()]),
            tmpfs: Some(spec.tmpfs.iter().cloned().collect()),
            network_mode: Some(name.clone()),
            ipc_mode: Some("private".to_owned()),
            privileged: Some(false),
            init: Some(false),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            hostname: Some("oriel".to_owned()),
            env: Some(vec![
                format!("ORIEL_VNC_PASSWORD={password}"),
                format!("ORIEL_WIDTH={}", spec.width),
                format!("ORIEL_HEIGHT={}", spec.height),
            ]),
            labels: Some(self.labels(session)),
            host_config: Some(host_config),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.clone()),
                    ..Default::default()
                }),
                body,
            )
            .await
            .map_err(|source| match source {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                } => AgentError::ImageMissing(spec.image.clone()),
                source => AgentError::Docker {
                    action: "container create",
                    source,
                },
            })?;
        self.docker
            .start_container(&created.id, None)
            .await
            .map_err(docker_err("container start"))?;

        let ip = self.container_ip(session, &created.id, &name).await?;
        let vnc_addr = SocketAddr::new(ip, VNC_PORT);
        self.wait_for_vnc(session, &created.id, vnc_addr).await?;
        Ok(RunningSession {
            session_id: session.clone(),
            container_id: created.id,
            vnc_addr,
            vnc_password: password,
        })
    }

    /// Creates the session network, in a random subnet of the pool when one
    /// is configured (retrying when the engine reports an overlap).
    async fn create_network(&self, mut request: NetworkCreateRequest) -> Result<(), AgentError> {
        const ATTEMPTS: usize = 16;
        for attempt in 1..=ATTEMPTS {
            if let Some(pool) = &self.settings.subnet_pool {
                let (subnet, gateway) = pool.pick().ok_or(AgentError::NoRandom)?;
                request.ipam = Some(Ipam {
                    driver: Some("default".to_owned()),
                    config: Some(vec![IpamConfig {
                        subnet: Some(subnet),
                        gateway: Some(gateway),
                        ..Default::default()
                    }]),
                    ..Default::default()
                });
            }
            match self.docker.create_network(request.clone()).await {
                Ok(_) => return Ok(()),
                Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                    if self.settings.subnet_pool.is_some()
                        && message.contains("overlap")
                        && attempt < ATTEMPTS =>
                {
                    tracing::debug!(%message, attempt, "subnet taken, picking another");
                }
                Err(source) => {
                    return Err(AgentError::Docker {
                        action: "network create",
                        source,
                    });
                }
            }
        }
        Err(AgentError::InvalidSpec("no free subnet found in the pool"))
    }

    async fn container_ip(
        &self,
        session: &SessionId,
        container: &str,
        network: &str,
    ) -> Result<IpAddr, AgentError> {
        let info = self
            .docker
            .inspect_container(container, None)
            .await
            .map_err(docker_err("container inspect"))?;
        let state = info.state.unwrap_or_default();
        if state.running != Some(true) {
            return Err(exited(session, state));
        }
        info.network_settings
            .and_then(|n| n.networks)
            .and_then(|mut n| n.remove(network))
            .and_then(|e| e.ip_address)
            .and_then(|ip| ip.parse().ok())
            .ok_or_else(|| AgentError::NoAddress(session.clone()))
    }

    /// Polls the VNC port until it sends an RFB banner; fails early if the
    /// container stops.
    async fn wait_for_vnc(
        &self,
        session: &SessionId,
        container: &str,
        addr: SocketAddr,
    ) -> Result<(), AgentError> {
        let start = Instant::now();
        let deadline = start + self.settings.ready_timeout;
        let mut interval = Duration::from_millis(20);
        loop {
            if probe_rfb(addr).await {
                return Ok(());
            }
            let info = self
                .docker
                .inspect_container(container, None)
                .await
                .map_err(docker_err("container inspect"))?;
            let state = info.state.unwrap_or_default();
            if state.running != Some(true) {
                return Err(exited(session, state));
            }
            if Instant::now() >= deadline {
                return Err(AgentError::VncTimeout {
                    session: session.clone(),
                    waited: start.elapsed(),
                });
            }
            // Readiness polling of a server in another process: there is no
            // event to wait for, so back off up to 250 ms.
            tokio::time::sleep(interval).await;
            interval = (interval * 2).min(Duration::from_millis(250));
        }
    }

    /// Ends a session: stops and removes its container and anonymous volumes,
    /// its network and its firewall rules. Ending an unknown session is not
    /// an error (the call is idempotent).
    pub async fn end(&self, session: &SessionId) -> Result<(), AgentError> {
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

    async fn remove_container(&self, id: &str) -> Result<(), AgentError> {
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
            Err(source) => Err(AgentError::Docker {
                action: "container remove",
                source,
            }),
        }
    }

    async fn remove_network(&self, name: &str) -> Result<(), AgentError> {
        match self.docker.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(source) => Err(AgentError::Docker {
                action: "network remove",
                source,
            }),
        }
    }

    /// Ids of containers (running or not) with this agent's label, optionally
    /// of one session.
    async fn session_containers(
        &self,
        session: Option<&SessionId>,
    ) -> Result<Vec<String>, AgentError> {
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
    ) -> Result<Vec<(String, Option<String>)>, AgentError> {
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
    ) -> Result<Vec<(String, Option<String>)>, AgentError> {
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

    /// Belt and braces over the engine's label filter: only what carries
    /// exactly our agent label is ours.
    fn owned(&self, labels: Option<&HashMap<String, String>>) -> bool {
        labels
            .and_then(|l| l.get(LABEL_AGENT))
            .is_some_and(|a| *a == self.settings.agent_id)
    }

    /// Sessions this agent has containers for (running or not).
    pub async fn sessions(&self) -> Result<Vec<SessionId>, AgentError> {
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
}

fn exited(session: &SessionId, state: bollard::models::ContainerState) -> AgentError {
    AgentError::ContainerExited {
        session: session.clone(),
        status: match (state.status, state.exit_code) {
            (Some(s), Some(code)) => format!("{s}, exit code {code}"),
            (Some(s), None) => s.to_string(),
            _ => "unknown".to_owned(),
        },
    }
}

/// True when `addr` accepts a connection and sends an RFB version banner.
pub async fn probe_rfb(addr: SocketAddr) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let mut banner = [0u8; 12];
        stream.read_exact(&mut banner).await.ok()?;
        Some(banner.starts_with(b"RFB "))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Some(true))
    )
}
