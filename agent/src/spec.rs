//! What the agent is told: its settings and a session's container spec.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::{AgentError, SessionId, SubnetPool};

/// How the agent reaches Docker and names what it owns.
#[derive(Debug, Clone)]
pub struct AgentSettings {
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
    /// Destinations a session with [`Egress::Internet`] may not reach.
    pub blocked_destinations: Vec<String>,
    /// Where session subnets come from; `None` leaves it to Docker's default
    /// address pools, which hold only about 30 networks.
    pub subnet_pool: Option<SubnetPool>,
}

impl AgentSettings {
    /// Defaults for an agent with this id: `/var/run/docker.sock`, firewall on,
    /// private ranges (RFC 1918, link-local, CGNAT) blocked for internet egress.
    pub fn new(agent_id: impl Into<String>) -> Self {
        AgentSettings {
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

/// What a session may reach outside its container (a workspace policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Egress {
    /// Nothing: an internal Docker network without a route out.
    None,
    /// The internet through the host's NAT, but not the host nor private ranges.
    Internet,
}

/// The container a session runs in (from its workspace).
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// Image reference; it must already be on the host.
    pub image: String,
    /// CPU limit in cores (fractions allowed).
    pub cpus: f64,
    /// Memory limit in MiB (no swap beyond it).
    pub memory_mb: u64,
    /// Maximum number of processes.
    pub pids: i64,
    /// Network policy.
    pub egress: Egress,
    /// Desktop width in pixels.
    pub width: u16,
    /// Desktop height in pixels.
    pub height: u16,
    /// Mount the root filesystem read-only (set false for images that must
    /// write outside their tmpfs paths).
    pub read_only_root: bool,
    /// Writable tmpfs mounts: path and mount options.
    pub tmpfs: Vec<(String, String)>,
}

impl ContainerSpec {
    /// A spec with modest defaults: 1 CPU, 1 GiB, 256 processes, no egress,
    /// 1280×800, read-only root with tmpfs on `/tmp` (1777) and `/home/oriel`
    /// (uid 1000, 0700), as the image contract (deploy/images/README.md) asks.
    pub fn new(image: impl Into<String>) -> Self {
        ContainerSpec {
            image: image.into(),
            cpus: 1.0,
            memory_mb: 1024,
            pids: 256,
            egress: Egress::None,
            width: 1280,
            height: 800,
            read_only_root: true,
            tmpfs: vec![
                ("/tmp".to_owned(), "rw,nosuid,nodev,mode=1777".to_owned()),
                (
                    "/home/oriel".to_owned(),
                    "rw,nosuid,nodev,uid=1000,gid=1000,mode=0700".to_owned(),
                ),
            ],
        }
    }
}

/// A session's container, ready for the gateway.
#[derive(Debug, Clone)]
pub struct RunningSession {
    /// The session.
    pub session_id: SessionId,
    /// Docker's container id.
    pub container_id: String,
    /// The VNC server's address, reachable from the host.
    pub vnc_addr: SocketAddr,
    /// The per-session VNC password (VncAuth: 8 characters).
    pub vnc_password: String,
}

pub(crate) fn validate_spec(spec: &ContainerSpec) -> Result<(), AgentError> {
    if !(spec.cpus > 0.0 && spec.cpus <= 1024.0) {
        return Err(AgentError::InvalidSpec("cpus must be in (0, 1024]"));
    }
    if spec.memory_mb < 6 || spec.memory_mb > 1 << 30 {
        return Err(AgentError::InvalidSpec("memory_mb must be at least 6"));
    }
    if spec.pids < 1 {
        return Err(AgentError::InvalidSpec("pids must be positive"));
    }
    if spec.width == 0 || spec.height == 0 {
        return Err(AgentError::InvalidSpec("width and height must be positive"));
    }
    Ok(())
}
