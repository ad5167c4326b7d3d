//! The fleet: the control plane's registry of agents (the processes that
//! run session containers on nodes) — their registration, the long poll
//! that tells an agent which sessions it should run (and is its
//! heartbeat), the reports of desktops ready or failed, and agents lost.
//!
//! The messages are those of the agent protocol
//! ([`oriel_core_agent_protocol`]); `crate::api::fleet` serves them over
//! HTTPS, and in `oriel up` the agent of the process calls
//! [`ControlPlane::fleet`] directly.

use super::ServiceError;
use crate::ControlPlane;
use crate::audit::Audit;
use crate::time::now_ms;
use oriel_control_store::{AgentRegistration, SessionFilter, SessionState, SessionTarget};
use oriel_core_agent_protocol::{
    AgentHello, AgentOrders, AgentPoll, AgentReport, AgentWelcome, InvalidMessage,
    MAX_POLL_WAIT_MS, ReportOutcome, UNREGISTERED, WantedSession, decode_key32,
};
use std::collections::BTreeSet;
use std::time::Duration;
use tracing::{info, warn};

/// Longest a poll is held open.
const MAX_POLL_WAIT: Duration = Duration::from_millis(MAX_POLL_WAIT_MS);
/// How often a held poll looks at the database again (changes made by
/// another control-plane process wake no local waiter).
const RECHECK: Duration = Duration::from_millis(500);

/// How browsers reach a gateway on another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AgentStreams {
    /// Straight to the node's gateway (its public URL is in the token).
    #[default]
    Direct,
    /// Through the control plane's gateway, which passes the stream on
    /// undecoded (the node needs no public address).
    Relay,
}

/// The fleet's operations, as an agent calls them (see [`ControlPlane::fleet`]).
#[derive(Debug, Clone, Copy)]
pub struct Fleet<'a> {
    cp: &'a ControlPlane,
}

impl From<InvalidMessage> for ServiceError {
    fn from(e: InvalidMessage) -> Self {
        match e.field {
            Some(field) => ServiceError::invalid_field(field, e.message),
            None => ServiceError::invalid(e.message),
        }
    }
}

/// A node gateway's sealing key, if it announced a valid one.
pub(crate) fn sealing_key_of(g: &oriel_control_store::NodeGateway) -> Option<[u8; 32]> {
    decode_key32(&g.sealing_key)
}

impl ControlPlane {
    /// The fleet: what agents call (registration, poll, reports). A poll or
    /// report from an agent it does not know fails with
    /// [`ServiceError::Conflict`] whose reason is
    /// [`UNREGISTERED`]: the agent must register again.
    pub fn fleet(&self) -> Fleet<'_> {
        Fleet { cp: self }
    }

    /// Whether agents may connect (a join token is configured).
    pub fn fleet_enabled(&self) -> bool {
        self.settings.agent_join_token.is_some()
    }

    /// Something agents should look at changed (a launch, an end).
    pub(crate) fn fleet_changed(&self) {
        self.fleet_changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Ends a user's active container sessions (at logout); how many.
    pub(crate) async fn end_container_sessions_of(
        &self,
        user_id: &str,
    ) -> Result<usize, ServiceError> {
        let filter = SessionFilter {
            user_id: Some(user_id),
            active_only: true,
            before: None,
        };
        let mut ended = 0;
        for s in self.store.list_sessions(&filter, 1000).await? {
            if s.agent_id.is_some() {
                self.end_session(&s, "logout").await?;
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// The signing keys the agents' node gateways registered with.
    pub(crate) async fn agent_gateway_keys(&self) -> Result<Vec<[u8; 32]>, ServiceError> {
        Ok(self
            .store
            .agent_gateway_signing_keys()
            .await?
            .iter()
            .filter_map(|k| decode_key32(k))
            .collect())
    }

    /// Verifies a report signed by the gateway of an agent's node.
    pub(crate) async fn verify_agent_gateway_report(
        &self,
        token: &str,
    ) -> Result<Option<oriel_core_token::ReportClaims>, ServiceError> {
        let keys: Vec<[u8; 32]> = self
            .store
            .agent_gateway_signing_keys()
            .await?
            .iter()
            .filter_map(|k| decode_key32(k))
            .collect();
        if keys.is_empty() {
            return Ok(None);
        }
        let verifier = oriel_core_token::TokenVerifier::new(keys);
        Ok(verifier.verify(token, (now_ms() / 1000) as u64).ok())
    }

    /// Marks agents silent for too long lost, and fails their sessions.
    pub(crate) async fn lose_silent_agents(&self) -> Result<(), ServiceError> {
        let now = now_ms();
        let lost_after = self.settings.agent_lost_after.as_millis() as i64;
        for agent in self.store.lose_agents(now - lost_after).await? {
            warn!(agent = %agent, "agent lost (no heartbeat); failing its sessions");
            self.audit(
                Audit {
                    actor_name: "system",
                    action: "agent.lost",
                    success: false,
                    ..Default::default()
                }
                .on("agent", &agent, None),
            )
            .await;
            for s in self.store.sessions_on_agent(&agent).await? {
                if self
                    .store
                    .transition(&s.id, SessionState::Failed, now, Some("its agent was lost"))
                    .await?
                    .is_some()
                {
                    let until = (s.token_expires_at / 1000) as u64
                        + oriel_core_token::DEFAULT_LEEWAY_SECS
                        + 60;
                    if let Err(e) = self.gateways.end_session(&s.id, until).await {
                        warn!(session_id = %s.id, error = %e, "cannot tell the gateways to close a lost session");
                    }
                }
            }
        }
        Ok(())
    }
}

impl Fleet<'_> {
    /// Registers (or re-registers) an agent.
    pub async fn register(&self, hello: &AgentHello) -> Result<AgentWelcome, ServiceError> {
        let cp = self.cp;
        hello.validate()?;
        let labels =
            serde_json::to_string(&hello.labels).map_err(|e| ServiceError::internal(&e))?;
        let reg = AgentRegistration {
            id: hello.id.clone(),
            zone: hello.zone.clone(),
            labels,
            max_sessions: i64::from(hello.max_sessions),
            millicpus: (hello.cpus * 1000.0).round() as i64,
            memory_mb: i64::try_from(hello.memory_mb).unwrap_or(i64::MAX),
            gateway: hello
                .gateway
                .as_ref()
                .map(|g| oriel_control_store::NodeGateway {
                    url: g.url.trim_end_matches('/').to_owned(),
                    sealing_key: g.sealing_key.trim().to_owned(),
                    signing_key: g.signing_key.trim().to_owned(),
                    cert_sha256: g.cert_sha256.to_ascii_lowercase(),
                }),
        };
        let known = cp.store.agent(&hello.id).await?.is_some();
        cp.store.register_agent(&reg, now_ms()).await?;
        info!(agent = %hello.id, zone = %hello.zone, max_sessions = hello.max_sessions, "agent registered");
        if !known {
            cp.audit(
                Audit {
                    actor_name: "agent",
                    action: "agent.register",
                    success: true,
                    details: Some(serde_json::json!({
                        "zone": hello.zone, "max_sessions": hello.max_sessions,
                        "cpus": hello.cpus, "memory_mb": hello.memory_mb,
                    })),
                    ..Default::default()
                }
                .on("agent", &hello.id, None),
            )
            .await;
        }
        cp.fleet_changed();
        Ok(AgentWelcome {
            heartbeat_ms: MAX_POLL_WAIT
                .min(cp.settings.agent_lost_after / 3)
                .as_millis() as u64,
            lost_after_ms: cp.settings.agent_lost_after.as_millis() as u64,
        })
    }

    /// The sessions an agent should run; held until they differ from what
    /// it has, or `wait_ms` passed. Every poll is a heartbeat.
    pub async fn poll(&self, poll: &AgentPoll) -> Result<AgentOrders, ServiceError> {
        let cp = self.cp;
        // Held well within the lost-agent timeout, so a quiet agent still
        // heartbeats often enough.
        let wait = Duration::from_millis(poll.wait_ms)
            .min(MAX_POLL_WAIT)
            .min(cp.settings.agent_lost_after / 3);
        let until = tokio::time::Instant::now() + wait;
        let has: BTreeSet<&str> = poll.running.iter().map(String::as_str).collect();
        // The heartbeat: once per poll (held at most a third of
        // `agent_lost_after`), not at every look at the database.
        if !cp.store.agent_seen(&poll.id, now_ms()).await? {
            return Err(ServiceError::conflict(
                UNREGISTERED,
                "this agent is not registered; register again",
            ));
        }
        let mut changes = cp.fleet_changes.subscribe();
        loop {
            changes.borrow_and_update();
            let wanted = cp.store.desired_sessions(&poll.id).await?;
            let same =
                wanted.len() == has.len() && wanted.iter().all(|w| has.contains(w.id.as_str()));
            let now = tokio::time::Instant::now();
            if !same || now >= until {
                let sessions = wanted
                    .into_iter()
                    .map(|w| WantedSession {
                        container: w.spec.as_deref().and_then(|s| serde_json::from_str(s).ok()),
                        id: w.id,
                        launched: w.launched,
                    })
                    .collect();
                return Ok(AgentOrders { sessions });
            }
            let nap = (until - now).min(RECHECK);
            let _ = tokio::time::timeout(nap, changes.changed()).await;
        }
    }

    /// An agent's report about one session.
    pub async fn report(&self, report: &AgentReport) -> Result<ReportOutcome, ServiceError> {
        let cp = self.cp;
        report.validate()?;
        let Some(s) = cp.store.session(&report.session).await? else {
            return Ok(ReportOutcome::NotWanted);
        };
        if s.agent_id.as_deref() != Some(report.id.as_str()) {
            return Ok(ReportOutcome::NotWanted);
        }
        cp.store.agent_seen(&report.id, now_ms()).await?;
        if let Some(ready) = &report.ready {
            let sealed = cp.keys.data.seal(ready.password.as_bytes(), &s.id)?;
            let target = SessionTarget {
                host: ready.host.clone(),
                port: ready.port,
                sealed_password: sealed,
            };
            return match cp
                .store
                .session_ready(&s.id, &report.id, &target, now_ms())
                .await?
            {
                Some(_) => {
                    info!(session_id = %s.id, agent = %report.id, "container ready");
                    Ok(ReportOutcome::Accepted)
                }
                None => Ok(ReportOutcome::NotWanted),
            };
        }
        let why = report.failure_reason().unwrap_or_default();
        if let Some(failed) = cp
            .store
            .transition(&s.id, SessionState::Failed, now_ms(), Some(&why))
            .await?
        {
            warn!(session_id = %s.id, agent = %report.id, reason = %why, "container session failed");
            cp.audit(
                Audit {
                    actor_id: Some(&failed.user_id),
                    actor_name: &failed.username,
                    action: "session.fail",
                    success: false,
                    details: Some(serde_json::json!({ "reason": why, "agent": report.id })),
                    ..Default::default()
                }
                .on("session", &s.id, Some(&s.workspace_name)),
            )
            .await;
        }
        cp.fleet_changed();
        Ok(ReportOutcome::NotWanted)
    }
}
