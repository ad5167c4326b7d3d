//! How an agent reaches the control plane: [`ControlLink`], the three calls
//! of the agent protocol. `oriel agent` uses [`HttpsLink`](super::HttpsLink);
//! `oriel up` calls the control plane of its own process.

use std::future::Future;

use oriel_core_agent_protocol::{
    AgentHello, AgentOrders, AgentPoll, AgentReport, AgentWelcome, ReportOutcome,
};

/// Why a call to the control plane failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The control plane does not know this agent: it must register again.
    #[error("the control plane does not know this agent")]
    Unregistered,
    /// The control plane refused the call (what it said).
    #[error("the control plane refused: {0}")]
    Refused(String),
    /// The call failed: the control plane could not be reached, answered
    /// nonsense, or failed itself.
    #[error("{0}")]
    Failed(String),
}

/// The agent protocol's calls, as the agent's loop makes them.
pub trait ControlLink: Send + Sync + 'static {
    /// Registers (or re-registers) the agent.
    fn register(
        &self,
        hello: &AgentHello,
    ) -> impl Future<Output = Result<AgentWelcome, LinkError>> + Send;

    /// Polls for the sessions the agent should run (held by the control
    /// plane up to `poll.wait_ms`); also the agent's heartbeat.
    fn poll(&self, poll: &AgentPoll)
    -> impl Future<Output = Result<AgentOrders, LinkError>> + Send;

    /// Reports a session's desktop ready or failed.
    fn report(
        &self,
        report: &AgentReport,
    ) -> impl Future<Output = Result<ReportOutcome, LinkError>> + Send;
}
