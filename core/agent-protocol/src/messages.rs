//! The messages, exactly as they travel (JSON). Requests an agent sends
//! refuse unknown fields; answers it reads accept them (a newer control
//! plane may add some).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An agent registering (`POST /api/v1/agent/register`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AgentHello {
    /// Its id: lowercase letters, digits and `-`, at most 24 characters,
    /// not starting with `-`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z0-9][a-z0-9-]{0,23}$"))]
    pub id: String,
    /// Zone (default `default`), 1-64 characters.
    #[serde(default = "default_zone")]
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 64, default = "default")
    )]
    pub zone: String,
    /// Free-form labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Most sessions at once, 1-10000.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub max_sessions: u32,
    /// CPU cores it offers, more than 0 and at most 4096.
    #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 4096))]
    pub cpus: f64,
    /// Memory for sessions, MiB (more than 0).
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub memory_mb: u64,
    /// The gateway on its node (multi-host); `None`: the control plane's
    /// own gateway streams its sessions (same host).
    #[serde(default)]
    pub gateway: Option<NodeGatewayHello>,
}

fn default_zone() -> String {
    crate::DEFAULT_ZONE.to_owned()
}

/// The gateway on an agent's node, as the agent announces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = NodeGateway))]
#[serde(deny_unknown_fields)]
pub struct NodeGatewayHello {
    /// Public base URL (`https://host:port`), at most 512 characters.
    #[cfg_attr(feature = "openapi", schema(max_length = 512, pattern = "^https://"))]
    pub url: String,
    /// Its sealing public key (`gateway-sealing.pub`): 32 bytes, base64.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^\s*[A-Za-z0-9+/]{43}=\s*$"))]
    pub sealing_key: String,
    /// Its report-signing public key (`gateway-signing.pub`): 32 bytes, base64.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^\s*[A-Za-z0-9+/]{43}=\s*$"))]
    pub signing_key: String,
    /// SHA-256 of its TLS certificate (DER): 64 hex digits.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9A-Fa-f]{64}$"))]
    pub cert_sha256: String,
}

/// What the control plane answers a registration with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentWelcome {
    /// Poll (and so heartbeat) at least this often, ms.
    pub heartbeat_ms: u64,
    /// An agent silent this long is lost and its sessions fail, ms.
    pub lost_after_ms: u64,
}

/// A poll (`POST /api/v1/agent/poll`): the sessions the agent has
/// (containers, and launches in flight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AgentPoll {
    /// The agent.
    pub id: String,
    /// Sessions it runs or is launching.
    pub running: Vec<String>,
    /// Hold the answer until something changes, at most this long (ms;
    /// capped at [`MAX_POLL_WAIT_MS`](crate::MAX_POLL_WAIT_MS)).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = 0))]
    pub wait_ms: u64,
}

/// A container to run, from its workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContainerSettings {
    /// Image (already on the agent's host: agents never pull).
    pub image: String,
    /// CPU limit, cores.
    pub cpus: f64,
    /// Memory limit, MiB.
    pub memory_mb: u32,
    /// Process limit.
    pub pids: u32,
    /// `none` or `internet`; an agent treats any other value as `none`.
    pub egress: String,
    /// Desktop width.
    pub width: u16,
    /// Desktop height.
    pub height: u16,
}

impl ContainerSettings {
    /// Whether the container may reach the internet (`egress` is
    /// `internet`); anything else is no egress at all.
    pub fn internet_egress(&self) -> bool {
        self.egress == "internet"
    }
}

/// A session the agent should run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WantedSession {
    /// Session id.
    pub id: String,
    /// Already reported ready (a missing container is then a failure, not
    /// something to start).
    pub launched: bool,
    /// What to run; `None` when the workspace was deleted meanwhile.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub container: Option<ContainerSettings>,
}

/// The answer to a poll: exactly the sessions the agent should run;
/// anything else of its own it removes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentOrders {
    /// The sessions.
    pub sessions: Vec<WantedSession>,
}

/// What an agent reports about one session (`POST /api/v1/agent/report`):
/// exactly one of `ready` and `failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AgentReport {
    /// The agent.
    pub id: String,
    /// The session.
    pub session: String,
    /// The container's desktop answers: where, and its VNC password.
    #[serde(default)]
    pub ready: Option<ReadyDesktop>,
    /// The container could not be started, or is gone: why (the control
    /// plane keeps the first [`MAX_FAILURE_REASON`](crate::MAX_FAILURE_REASON)
    /// characters).
    #[serde(default)]
    pub failed: Option<String>,
}

impl AgentReport {
    /// A session's desktop is ready.
    pub fn ready(agent: &str, session: &str, desktop: ReadyDesktop) -> AgentReport {
        AgentReport {
            id: agent.to_owned(),
            session: session.to_owned(),
            ready: Some(desktop),
            failed: None,
        }
    }

    /// A session's container could not start or is gone.
    pub fn failed(agent: &str, session: &str, why: &str) -> AgentReport {
        AgentReport {
            id: agent.to_owned(),
            session: session.to_owned(),
            ready: None,
            failed: Some(why.to_owned()),
        }
    }
}

/// A ready desktop. Its `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReadyDesktop {
    /// Address the gateway connects to.
    pub host: String,
    /// VNC port.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 65535))]
    pub port: u16,
    /// The per-session VNC password.
    pub password: String,
}

impl std::fmt::Debug for ReadyDesktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadyDesktop")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// What a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReportOutcome {
    /// Recorded.
    Accepted,
    /// The session is not wanted any more: remove its container.
    NotWanted,
}

/// The answer to a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportReply {
    /// What the report did.
    pub outcome: ReportOutcome,
}
