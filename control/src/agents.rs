//! The agents' side of the control plane: registration, the long poll that
//! tells an agent which sessions it should run (and is its heartbeat), the
//! reports of containers ready or failed, and agents lost.
//!
//! Agents connect **out** to the control plane over HTTPS (`/api/v1/agent/…`,
//! bearer: the join token); nothing connects in to an agent. The poll is
//! level-triggered: the answer is the whole set of sessions the agent
//! should run, so a restarted agent, a lost message or a reconnect all
//! converge the same way. In `oriel up` the agent in the process calls the
//! same methods without HTTP.

use crate::ControlPlane;
use crate::audit::Audit;
use crate::error::{ApiError, json_rejection};
use crate::time::{now_ms, rfc3339};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use http::HeaderMap;
use oriel_control_store::{AgentRegistration, SessionState, SessionTarget};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// Longest a poll is held open.
pub const MAX_POLL_WAIT: Duration = Duration::from_secs(10);
/// How often a held poll looks at the database again (changes made by
/// another control-plane process wake no local waiter).
const RECHECK: Duration = Duration::from_millis(500);

/// An agent registering.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentHello {
    /// Its id: lowercase letters, digits and `-`, at most 24 characters.
    pub id: String,
    /// Zone (default `default`).
    #[serde(default = "default_zone")]
    pub zone: String,
    /// Free-form labels.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Most sessions at once.
    pub max_sessions: u32,
    /// CPU cores it offers.
    pub cpus: f64,
    /// Memory for sessions, MiB.
    pub memory_mb: u64,
    /// The gateway on its node (multi-host); `None`: the control plane's
    /// own gateway streams its sessions (same host).
    #[serde(default)]
    pub gateway: Option<NodeGatewayHello>,
}

/// The gateway on an agent's node, as the agent announces it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeGatewayHello {
    /// Public base URL (`https://host:port`).
    pub url: String,
    /// Its sealing public key (`gateway-sealing.pub`), base64.
    pub sealing_key: String,
    /// Its report-signing public key (`gateway-signing.pub`), base64.
    pub signing_key: String,
    /// SHA-256 of its TLS certificate (DER), hex.
    pub cert_sha256: String,
}

fn key32(b64: &str) -> Option<[u8; 32]> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?
        .try_into()
        .ok()
}

/// A node gateway's sealing key, if it announced a valid one.
pub(crate) fn sealing_key_of(g: &oriel_control_store::NodeGateway) -> Option<[u8; 32]> {
    key32(&g.sealing_key)
}

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

fn default_zone() -> String {
    oriel_control_store::DEFAULT_ZONE.to_owned()
}

/// What the control plane answers a registration with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentWelcome {
    /// Poll (and so heartbeat) at least this often, ms.
    pub heartbeat_ms: u64,
    /// An agent silent this long is lost and its sessions fail, ms.
    pub lost_after_ms: u64,
}

/// A poll: the sessions the agent has (containers, and launches in flight).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentPoll {
    /// The agent.
    pub id: String,
    /// Sessions it runs or is launching.
    pub running: Vec<String>,
    /// Hold the answer until something changes, at most this long (ms;
    /// capped at 10 s).
    #[serde(default)]
    pub wait_ms: u64,
}

/// A container to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerSettings {
    /// Image.
    pub image: String,
    /// CPU limit, cores.
    pub cpus: f64,
    /// Memory limit, MiB.
    pub memory_mb: u32,
    /// Process limit.
    pub pids: u32,
    /// `none` or `internet`.
    pub egress: String,
    /// Desktop width.
    pub width: u16,
    /// Desktop height.
    pub height: u16,
}

/// A session the agent should run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WantedSession {
    /// Session id.
    pub id: String,
    /// Already reported ready (a missing container is then a failure, not
    /// something to start).
    pub launched: bool,
    /// What to run; `None` when the workspace was deleted meanwhile.
    pub container: Option<ContainerSettings>,
}

/// The answer to a poll: exactly the sessions the agent should run;
/// anything else of its own it removes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentOrders {
    /// The sessions.
    pub sessions: Vec<WantedSession>,
}

/// What an agent reports about one session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentReport {
    /// The agent.
    pub id: String,
    /// The session.
    pub session: String,
    /// The container's desktop answers: where, and its VNC password.
    #[serde(default)]
    pub ready: Option<ReadyDesktop>,
    /// The container could not be started, or is gone: why.
    #[serde(default)]
    pub failed: Option<String>,
}

/// A ready desktop.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadyDesktop {
    /// Address the gateway connects to.
    pub host: String,
    /// VNC port.
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
#[serde(rename_all = "snake_case")]
pub enum ReportOutcome {
    /// Recorded.
    Accepted,
    /// The session is not wanted any more: remove its container.
    NotWanted,
}

fn valid_agent_id(id: &str) -> bool {
    (1..=24).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

impl ControlPlane {
    /// Whether agents may connect (a join token is configured).
    pub fn agents_enabled(&self) -> bool {
        self.settings.agent_join_token.is_some()
    }

    /// Something agents should look at changed (a launch, an end).
    pub(crate) fn agents_changed(&self) {
        self.agent_changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Registers (or re-registers) an agent.
    pub async fn agent_register(&self, hello: &AgentHello) -> Result<AgentWelcome, ApiError> {
        if !valid_agent_id(&hello.id) {
            return Err(ApiError::invalid_field(
                "id",
                "an agent id is 1-24 lowercase letters, digits and -",
            ));
        }
        if hello.zone.is_empty() || hello.zone.len() > 64 {
            return Err(ApiError::invalid_field("zone", "a zone is 1-64 characters"));
        }
        if hello.max_sessions == 0 || hello.max_sessions > 10_000 {
            return Err(ApiError::invalid_field(
                "max_sessions",
                "max_sessions must be 1-10000",
            ));
        }
        if !(hello.cpus > 0.0 && hello.cpus <= 4096.0) || hello.memory_mb == 0 {
            return Err(ApiError::invalid("cpus and memory_mb must be positive"));
        }
        if let Some(g) = &hello.gateway {
            if !g.url.starts_with("https://") || g.url.len() > 512 {
                return Err(ApiError::invalid_field(
                    "gateway.url",
                    "gateway.url must be https://…",
                ));
            }
            if key32(&g.sealing_key).is_none() || key32(&g.signing_key).is_none() {
                return Err(ApiError::invalid("gateway keys must be 32 bytes in base64"));
            }
            if g.cert_sha256.len() != 64 || !g.cert_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ApiError::invalid_field(
                    "gateway.cert_sha256",
                    "gateway.cert_sha256 must be 64 hex digits",
                ));
            }
        }
        let labels = serde_json::to_string(&hello.labels).map_err(|e| ApiError::internal(&e))?;
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
        let known = self.store.agent(&hello.id).await?.is_some();
        self.store.register_agent(&reg, now_ms()).await?;
        info!(agent = %hello.id, zone = %hello.zone, max_sessions = hello.max_sessions, "agent registered");
        if !known {
            self.audit(
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
        self.agents_changed();
        Ok(AgentWelcome {
            heartbeat_ms: MAX_POLL_WAIT
                .min(self.settings.agent_lost_after / 3)
                .as_millis() as u64,
            lost_after_ms: self.settings.agent_lost_after.as_millis() as u64,
        })
    }

    /// The sessions an agent should run; held until they differ from what
    /// it has, or `wait_ms` passed. Every poll is a heartbeat.
    pub async fn agent_poll(&self, poll: &AgentPoll) -> Result<AgentOrders, ApiError> {
        // Held well within the lost-agent timeout, so a quiet agent still
        // heartbeats often enough.
        let wait = Duration::from_millis(poll.wait_ms)
            .min(MAX_POLL_WAIT)
            .min(self.settings.agent_lost_after / 3);
        let until = tokio::time::Instant::now() + wait;
        let has: BTreeSet<&str> = poll.running.iter().map(String::as_str).collect();
        // The heartbeat: once per poll (held at most a third of
        // `agent_lost_after`), not at every look at the database.
        if !self.store.agent_seen(&poll.id, now_ms()).await? {
            return Err(ApiError::conflict(
                "unregistered",
                "this agent is not registered; register again",
            ));
        }
        let mut changes = self.agent_changes.subscribe();
        loop {
            changes.borrow_and_update();
            let wanted = self.store.desired_sessions(&poll.id).await?;
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
    pub async fn agent_report(&self, report: &AgentReport) -> Result<ReportOutcome, ApiError> {
        let Some(s) = self.store.session(&report.session).await? else {
            return Ok(ReportOutcome::NotWanted);
        };
        if s.agent_id.as_deref() != Some(report.id.as_str()) {
            return Ok(ReportOutcome::NotWanted);
        }
        self.store.agent_seen(&report.id, now_ms()).await?;
        match (&report.ready, &report.failed) {
            (Some(ready), None) => {
                let sealed = self
                    .keys
                    .data
                    .seal(ready.password.as_bytes(), &s.id)
                    .map_err(|e| ApiError::internal(&e))?;
                let target = SessionTarget {
                    host: ready.host.clone(),
                    port: ready.port,
                    sealed_password: sealed,
                };
                match self
                    .store
                    .session_ready(&s.id, &report.id, &target, now_ms())
                    .await?
                {
                    Some(_) => {
                        info!(session_id = %s.id, agent = %report.id, "container ready");
                        Ok(ReportOutcome::Accepted)
                    }
                    None => Ok(ReportOutcome::NotWanted),
                }
            }
            (None, Some(why)) => {
                let why: String = why.chars().take(300).collect();
                if let Some(failed) = self
                    .store
                    .transition(&s.id, SessionState::Failed, now_ms(), Some(&why))
                    .await?
                {
                    warn!(session_id = %s.id, agent = %report.id, reason = %why, "container session failed");
                    self.audit(
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
                self.agents_changed();
                Ok(ReportOutcome::NotWanted)
            }
            _ => Err(ApiError::invalid("a report is either ready or failed")),
        }
    }

    /// Ends a user's active container sessions (at logout); how many.
    pub(crate) async fn end_container_sessions_of(
        &self,
        user_id: &str,
    ) -> Result<usize, crate::service::ServiceError> {
        let filter = oriel_control_store::SessionFilter {
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

    /// Verifies a report signed by the gateway of an agent's node.
    pub(crate) async fn verify_agent_gateway_report(
        &self,
        token: &str,
    ) -> Result<Option<oriel_core_token::ReportClaims>, crate::service::ServiceError> {
        let keys: Vec<[u8; 32]> = self
            .store
            .agent_gateway_signing_keys()
            .await?
            .iter()
            .filter_map(|k| key32(k))
            .collect();
        if keys.is_empty() {
            return Ok(None);
        }
        let verifier = oriel_core_token::TokenVerifier::new(keys);
        Ok(verifier.verify(token, (now_ms() / 1000) as u64).ok())
    }

    /// Marks agents silent for too long lost, and fails their sessions.
    pub(crate) async fn lose_silent_agents(&self) -> Result<(), crate::service::ServiceError> {
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

/// The join token must be presented as a bearer token.
fn check_join_token(cp: &ControlPlane, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &cp.settings.agent_join_token else {
        return Err(ApiError::not_found("agent endpoint"));
    };
    let given = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Compared as SHA-256 digests: how long the comparison takes says
    // nothing about the token.
    let digest = |s: &str| ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    if digest(given).as_ref() != digest(expected).as_ref() {
        return Err(ApiError::unauthorized());
    }
    Ok(())
}

/// `POST /api/v1/agent/register`.
pub(crate) async fn register(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    body: Result<Json<AgentHello>, JsonRejection>,
) -> Result<Json<AgentWelcome>, ApiError> {
    check_join_token(&cp, &headers)?;
    let Json(hello) = body.map_err(json_rejection)?;
    Ok(Json(cp.agent_register(&hello).await?))
}

/// `POST /api/v1/agent/poll`.
pub(crate) async fn poll(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    body: Result<Json<AgentPoll>, JsonRejection>,
) -> Result<Json<AgentOrders>, ApiError> {
    check_join_token(&cp, &headers)?;
    let Json(poll) = body.map_err(json_rejection)?;
    Ok(Json(cp.agent_poll(&poll).await?))
}

/// `POST /api/v1/agent/report`.
pub(crate) async fn report(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    body: Result<Json<AgentReport>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_join_token(&cp, &headers)?;
    let Json(report) = body.map_err(json_rejection)?;
    let outcome = cp.agent_report(&report).await?;
    Ok(Json(serde_json::json!({ "outcome": outcome })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentQuery {
    limit: Option<i64>,
    after: Option<String>,
}

/// `GET /api/v1/agents`: agents with their load, by id (admins and auditors).
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: crate::service::Authed,
    q: Result<axum::extract::Query<AgentQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.require_reader()?;
    let axum::extract::Query(q) = q.map_err(crate::error::query_rejection)?;
    let limit = match q.limit {
        None => 50,
        Some(n) if (1..=200).contains(&n) => n,
        Some(_) => return Err(ApiError::invalid("limit must be between 1 and 200")),
    };
    let mut agents = cp
        .store
        .list_agents(q.after.as_deref().unwrap_or(""), limit + 1)
        .await?;
    let next = (agents.len() as i64 > limit).then(|| {
        agents.truncate(limit as usize);
        agents.last().map(|a| a.registration.id.clone())
    });
    let items: Vec<_> = agents
        .iter()
        .map(|a| {
            let r = &a.registration;
            serde_json::json!({
                "id": r.id,
                "zone": r.zone,
                "labels": serde_json::from_str::<serde_json::Value>(&r.labels).unwrap_or_default(),
                "state": a.state,
                "max_sessions": r.max_sessions,
                "cpus": r.millicpus as f64 / 1000.0,
                "memory_mb": r.memory_mb,
                "gateway_url": r.gateway.as_ref().map(|g| g.url.clone()),
                "active_sessions": a.active_sessions,
                "reserved_memory_mb": a.reserved_memory_mb,
                "registered_at": rfc3339(a.registered_at),
                "last_seen_at": rfc3339(a.last_seen_at),
            })
        })
        .collect();
    Ok(Json(
        serde_json::json!({ "items": items, "next": next.flatten() }),
    ))
}
