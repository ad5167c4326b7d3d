//! The Docker runtime: one ephemeral, isolated container per session on the
//! local Docker engine, through bollard (never the gateway: `./x
//! check-deps` checks that it links no Docker code). For each session
//! [`DockerRuntime`]:
//!
//! 1. creates a Docker network of its own — `--internal` (no route out) for
//!    [`Egress::None`](crate::Egress::None), a plain bridge for [`Egress::Internet`](crate::Egress::Internet) — with a
//!    bridge interface name the agent chooses, so that
//! 2. the host firewall ([`crate::firewall`]) can drop every connection the
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
//!    VNC password (`docker/launch.rs`).
//!
//! Ending a session removes the container (with its anonymous volumes), its
//! network and its firewall rules; reconciliation does the same for every
//! session carrying this agent's label that is not to be kept, and never
//! touches anything without that label (`docker/inventory.rs`). Files move
//! in and out of a container by `exec` as the session user
//! (`docker/files.rs`).
//!
//! The image contract (deploy/images/README.md): VNC on port 5900, password
//! in `ORIEL_VNC_PASSWORD`, geometry in `ORIEL_WIDTH` / `ORIEL_HEIGHT`.

mod files;
mod inventory;
mod launch;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use oriel_protocols_session::FileTransfer;

use crate::runtime::{ReconcileReport, SessionRuntime};
use crate::{ContainerSpec, Firewall, FirewallError, InvalidName, RunningSession};
use crate::{SessionId, SubnetPool, names};

pub use files::{ContainerFiles, HOME};
pub use launch::probe_rfb;

/// Label carrying the session id on containers and networks.
pub const LABEL_SESSION: &str = "oriel.session";
/// Label carrying the id of the agent that created a container or network.
pub const LABEL_AGENT: &str = "oriel.agent";
/// Label on a session network naming its bridge interface.
pub const LABEL_BRIDGE: &str = "oriel.bridge";
/// The port the image's VNC server listens on (image contract).
pub const VNC_PORT: u16 = 5900;

/// How the runtime reaches Docker and names what it owns.
#[derive(Debug, Clone)]
pub struct DockerSettings {
    /// This agent's id: the value of [`LABEL_AGENT`] on everything it creates.
    pub agent_id: String,
    /// The Docker engine's Unix socket.
    pub docker_socket: PathBuf,
    /// Timeout of one Docker API request.
    pub request_timeout: Duration,
    /// How long a started container may take until its VNC server answers.
    pub ready_timeout: Duration,
    /// Grace period between SIGTERM and SIGKILL when a session ends (the
    /// image contract promises an exit within 10 s).
    pub stop_timeout: Duration,
    /// Install host firewall rules (iptables) isolating each session from the
    /// host and, with internet egress, from private networks. Turning this off
    /// leaves host services reachable from containers: only for hosts whose
    /// firewall already does it.
    pub host_firewall: bool,
    /// Destinations a session with [`Egress::Internet`](crate::Egress::Internet) may not reach.
    pub blocked_destinations: Vec<String>,
    /// Where session subnets come from; `None` leaves it to Docker's default
    /// address pools, which hold only about 30 networks.
    pub subnet_pool: Option<SubnetPool>,
}

impl DockerSettings {
    /// Defaults for an agent with this id: `/var/run/docker.sock`, firewall on,
    /// private ranges (RFC 1918, link-local, CGNAT) blocked for internet egress.
    pub fn new(agent_id: impl Into<String>) -> Self {
        DockerSettings {
            agent_id: agent_id.into(),
            docker_socket: PathBuf::from("/var/run/docker.sock"),
            request_timeout: Duration::from_secs(30),
            ready_timeout: Duration::from_secs(30),
            stop_timeout: Duration::from_secs(10),
            host_firewall: true,
            blocked_destinations: [
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "169.254.0.0/16",
                "100.64.0.0/10",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
            subnet_pool: None,
        }
    }
}

/// Errors of the Docker runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DockerError {
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

/// The Docker runtime: creates, ends and reconciles session containers.
#[derive(Debug, Clone)]
pub struct DockerRuntime {
    docker: Docker,
    settings: DockerSettings,
    firewall: Option<Firewall>,
}

fn docker_err(action: &'static str) -> impl FnOnce(bollard::errors::Error) -> DockerError {
    move |source| DockerError::Docker { action, source }
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

impl DockerRuntime {
    /// Connects to the engine (negotiating the API version) and checks the
    /// host firewall is usable when enabled.
    pub async fn connect(settings: DockerSettings) -> Result<DockerRuntime, DockerError> {
        names::validate("agent id", &settings.agent_id)?;
        if !settings.docker_socket.exists() {
            return Err(DockerError::SocketMissing(settings.docker_socket.clone()));
        }
        let socket = settings.docker_socket.to_string_lossy().into_owned();
        let docker = Docker::connect_with_socket(
            &socket,
            settings.request_timeout.as_secs().max(1),
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(|source| match source {
            bollard::errors::Error::SocketNotFoundError(_) => {
                DockerError::SocketMissing(settings.docker_socket.clone())
            }
            source => DockerError::Docker {
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
        Ok(DockerRuntime {
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

    /// Belt and braces over the engine's label filter: only what carries
    /// exactly our agent label is ours.
    fn owned(&self, labels: Option<&HashMap<String, String>>) -> bool {
        labels
            .and_then(|l| l.get(LABEL_AGENT))
            .is_some_and(|a| *a == self.settings.agent_id)
    }
}

impl SessionRuntime for DockerRuntime {
    type Error = DockerError;

    async fn launch(
        &self,
        spec: &ContainerSpec,
        session: &SessionId,
    ) -> Result<RunningSession, DockerError> {
        self.launch_container(spec, session).await
    }

    async fn sessions(&self) -> Result<Vec<SessionId>, DockerError> {
        self.session_ids().await
    }

    async fn end(&self, session: &SessionId) -> Result<(), DockerError> {
        self.end_session(session).await
    }

    async fn reconcile(&self, keep: &HashSet<SessionId>) -> Result<ReconcileReport, DockerError> {
        self.remove_all_but(keep).await
    }

    fn files(&self, session: &SessionId) -> Arc<dyn FileTransfer> {
        Arc::new(self.container_files(session))
    }
}
