//! The agent protocol (core tier): what an agent — the process that runs
//! session containers on a node — and the control plane's fleet say to
//! each other, and the rules every message must follow.
//!
//! Agents connect **out** to the control plane over HTTPS with the join
//! token as bearer; nothing connects in to an agent:
//!
//! | request | body | answer |
//! |---|---|---|
//! | `POST` [`REGISTER_PATH`] | [`AgentHello`] | [`AgentWelcome`] |
//! | `POST` [`POLL_PATH`] | [`AgentPoll`] | [`AgentOrders`] |
//! | `POST` [`REPORT_PATH`] | [`AgentReport`] | [`ReportReply`] |
//!
//! The poll is level-triggered: the answer is the whole set of sessions the
//! agent should run, so a restarted agent, a lost message or a reconnect all
//! converge the same way. Every poll is the agent's heartbeat. A poll or
//! report from an agent the control plane does not know is refused with
//! HTTP 409 and the error code [`UNREGISTERED`]: the agent registers again.
//!
//! This crate holds the messages (serde only: no runtime, no HTTP) and
//! their validation ([`AgentHello::validate`], [`AgentReport::validate`]);
//! both sides use it, so the JSON cannot drift between them. With the
//! `openapi` feature the messages also derive `utoipa::ToSchema`.

mod messages;
mod validate;

pub use messages::{
    AgentHello, AgentOrders, AgentPoll, AgentReport, AgentWelcome, ContainerSettings,
    NodeGatewayHello, ReadyDesktop, ReportOutcome, ReportReply, WantedSession,
};
pub use validate::{
    InvalidMessage, MAX_AGENT_ID, MAX_FAILURE_REASON, decode_key32, valid_agent_id,
};

/// Where an agent registers.
pub const REGISTER_PATH: &str = "/api/v1/agent/register";
/// Where an agent polls for its orders.
pub const POLL_PATH: &str = "/api/v1/agent/poll";
/// Where an agent reports a session ready or failed.
pub const REPORT_PATH: &str = "/api/v1/agent/report";

/// The error code (HTTP 409) of a poll or report from an agent the control
/// plane does not know: it must register again.
pub const UNREGISTERED: &str = "unregistered";

/// Longest the control plane holds a poll open, ms (a larger `wait_ms` is
/// capped to it).
pub const MAX_POLL_WAIT_MS: u64 = 10_000;

/// The zone of an agent that names none.
pub const DEFAULT_ZONE: &str = "default";

#[cfg(test)]
mod tests;
