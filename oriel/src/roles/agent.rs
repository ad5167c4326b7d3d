//! The agent role: runs the container sessions the control plane places on
//! this host, on the local Docker engine.
//!
//! The agent connects **out** to the control plane: it registers (zone,
//! capacity, labels), then long-polls for the set of sessions it should run
//! — every poll is a heartbeat. It launches what it lacks (reporting each
//! desktop ready with its address and per-session VNC password, or failed),
//! and removes whatever of its own the set no longer has: sessions ended,
//! failed, or unknown after a crash. Under `oriel up` the same loop talks to
//! the control plane of the process without HTTP.

use super::Process;
use anyhow::bail;
use oriel_agent::{Agent, AgentSettings, ContainerSpec, Egress, SessionId};
use oriel_control::{
    AgentHello, AgentOrders, AgentPoll, AgentReport, ControlPlane, ReadyDesktop, ReportOutcome,
    WantedSession,
};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tracing::{info, warn};

/// How long a poll is held by the control plane.
const POLL_WAIT_MS: u64 = 10_000;

/// How the agent reaches the control plane.
pub(super) enum Link {
    /// The control plane of this process (`oriel up`).
    Local(Arc<ControlPlane>),
    /// A control plane over HTTPS.
    Remote {
        base: String,
        join_token: String,
        http: ureq::Agent,
    },
}

/// Why a call to the control plane failed.
#[derive(Debug)]
enum LinkError {
    /// The control plane does not know this agent (it must register).
    Unregistered,
    Other(String),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Unregistered => f.write_str("the control plane does not know this agent"),
            LinkError::Other(e) => f.write_str(e),
        }
    }
}

fn api_error(e: oriel_control::ApiError) -> LinkError {
    if e.code == "unregistered" {
        LinkError::Unregistered
    } else {
        LinkError::Other(format!("{}: {}", e.code, e.message))
    }
}

impl Link {
    /// A control plane at `base` whose certificate chains to `ca_pem`.
    pub(super) fn remote(base: &str, join_token: String, ca_pem: &[u8]) -> anyhow::Result<Link> {
        let mut roots = Vec::new();
        for item in ureq::tls::parse_pem(ca_pem) {
            if let ureq::tls::PemItem::Certificate(cert) = item? {
                roots.push(cert);
            }
        }
        if roots.is_empty() {
            bail!("agent.control_ca holds no certificate");
        }
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let http = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_global(Some(Duration::from_millis(POLL_WAIT_MS + 10_000)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Ok(Link::Remote {
            base: base.trim_end_matches('/').to_owned(),
            join_token,
            http,
        })
    }

    async fn post<B, R>(&self, path: &'static str, body: &B) -> Result<R, LinkError>
    where
        B: serde::Serialize,
        R: serde::de::DeserializeOwned + Send + 'static,
    {
        let Link::Remote {
            base,
            join_token,
            http,
        } = self
        else {
            return Err(LinkError::Other("not a remote link".into()));
        };
        let url = format!("{base}{path}");
        let auth = format!("Bearer {join_token}");
        let body = serde_json::to_vec(body).map_err(|e| LinkError::Other(e.to_string()))?;
        let http = http.clone();
        tokio::task::spawn_blocking(move || {
            let mut resp = http
                .post(&url)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .send(&body[..])
                .map_err(|e| LinkError::Other(format!("{url}: {e}")))?;
            let status = resp.status().as_u16();
            let value: serde_json::Value = resp
                .body_mut()
                .read_json()
                .map_err(|e| LinkError::Other(format!("{url}: HTTP {status}: {e}")))?;
            if status == 409 && value["error"]["code"] == "unregistered" {
                return Err(LinkError::Unregistered);
            }
            if !(200..300).contains(&status) {
                return Err(LinkError::Other(format!(
                    "{url}: HTTP {status}: {}",
                    value["error"]["message"].as_str().unwrap_or("no message")
                )));
            }
            serde_json::from_value(value).map_err(|e| LinkError::Other(format!("{url}: {e}")))
        })
        .await
        .map_err(|e| LinkError::Other(e.to_string()))?
    }

    async fn register(&self, hello: &AgentHello) -> Result<(), LinkError> {
        match self {
            Link::Local(cp) => cp.agent_register(hello).await.map(drop).map_err(api_error),
            Link::Remote { .. } => self
                .post::<_, serde_json::Value>("/api/v1/agent/register", hello)
                .await
                .map(drop),
        }
    }

    async fn poll(&self, poll: &AgentPoll) -> Result<AgentOrders, LinkError> {
        match self {
            Link::Local(cp) => cp.agent_poll(poll).await.map_err(api_error),
            Link::Remote { .. } => self.post("/api/v1/agent/poll", poll).await,
        }
    }

    async fn report(&self, report: &AgentReport) -> Result<ReportOutcome, LinkError> {
        match self {
            Link::Local(cp) => cp.agent_report(report).await.map_err(api_error),
            Link::Remote { .. } => {
                let v: serde_json::Value = self.post("/api/v1/agent/report", report).await?;
                serde_json::from_value(v["outcome"].clone())
                    .map_err(|e| LinkError::Other(e.to_string()))
            }
        }
    }
}

/// A running agent role.
pub(super) struct AgentRole {
    agent: Arc<Agent>,
    link: Link,
    hello: AgentHello,
    reconcile_every: Duration,
    /// Sessions being launched (the reconciler must not remove them).
    launching: Mutex<HashSet<String>>,
    /// Told of every session this agent stops running (`oriel agent`: its
    /// node gateway closes the streams at once and refuses the tokens).
    on_ended: Option<EndedHook>,
}

/// What to do when a session is no longer wanted on this agent.
pub(super) type EndedHook = Box<dyn Fn(&str) + Send + Sync>;

/// Connects to the local Docker engine with the `[agent]` settings
/// (checked in `crate::config`).
pub(super) async fn connect(p: &Process, default_id: &str) -> anyhow::Result<(Agent, AgentHello)> {
    let a = &p.config.agent;
    let id = a.id.clone().unwrap_or_else(|| default_id.to_owned());
    if id.is_empty() {
        bail!("agent.id (or --id) must name this agent");
    }
    let mut settings = AgentSettings::new(&id);
    settings.docker_socket.clone_from(&a.docker_socket);
    settings.host_firewall = a.host_firewall;
    settings.subnet_pool = a.subnet_pool;
    let agent = Agent::connect(settings).await?;
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
    Ok((agent, hello))
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

fn spec_of(w: &oriel_control::ContainerSettings) -> ContainerSpec {
    let mut spec = ContainerSpec::new(&w.image);
    spec.cpus = w.cpus;
    spec.memory_mb = u64::from(w.memory_mb);
    spec.pids = i64::from(w.pids);
    spec.egress = if w.egress == "internet" {
        Egress::Internet
    } else {
        Egress::None
    };
    spec.width = w.width;
    spec.height = w.height;
    spec
}

impl AgentRole {
    pub(super) fn new(
        p: &Process,
        agent: Arc<Agent>,
        hello: AgentHello,
        link: Link,
    ) -> anyhow::Result<Arc<AgentRole>> {
        Ok(Arc::new(AgentRole {
            agent,
            link,
            hello,
            reconcile_every: p.config.agent.reconcile_every,
            launching: Mutex::new(HashSet::new()),
            on_ended: None,
        }))
    }

    /// Calls `hook` with every session this agent stops running.
    pub(super) fn on_ended(self: Arc<Self>, hook: EndedHook) -> Arc<Self> {
        match Arc::try_unwrap(self) {
            Ok(mut role) => {
                role.on_ended = Some(hook);
                Arc::new(role)
            }
            Err(shared) => shared,
        }
    }

    fn launching(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.launching
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn register(&self) {
        let mut backoff = Duration::from_millis(250);
        loop {
            match self.link.register(&self.hello).await {
                Ok(()) => {
                    info!(agent = %self.hello.id, zone = %self.hello.zone, "registered with the control plane");
                    return;
                }
                Err(e) => {
                    warn!(error = %e, retry_in = ?backoff, "cannot register with the control plane");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    /// Registers, then polls and converges until the process ends.
    pub(super) async fn run(self: Arc<Self>) {
        self.register().await;
        let mut last_reconcile: Option<Instant> = None;
        loop {
            let mut have: HashSet<String> = match self.agent.sessions().await {
                Ok(s) => s.into_iter().map(|s| s.as_str().to_owned()).collect(),
                Err(e) => {
                    warn!(error = %e, "cannot list this agent's containers");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            };
            have.extend(self.launching().iter().cloned());
            let poll = AgentPoll {
                id: self.hello.id.clone(),
                running: have.iter().cloned().collect(),
                wait_ms: POLL_WAIT_MS,
            };
            let orders = match self.link.poll(&poll).await {
                Ok(o) => o,
                Err(LinkError::Unregistered) => {
                    self.register().await;
                    continue;
                }
                Err(e) => {
                    // Nothing is removed while the control plane is away.
                    warn!(error = %e, "cannot poll the control plane");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            };
            let wanted: HashSet<String> = orders.sessions.iter().map(|w| w.id.clone()).collect();
            for w in orders.sessions {
                if !have.contains(&w.id) {
                    if w.launched {
                        self.report_failed(&w.id, "the session's container is gone")
                            .await;
                    } else {
                        self.start(w);
                    }
                }
            }
            let stale = have.iter().any(|s| !wanted.contains(s));
            if let Some(hook) = &self.on_ended {
                let launching = self.launching().clone();
                for s in have
                    .iter()
                    .filter(|s| !wanted.contains(*s) && !launching.contains(*s))
                {
                    hook(s);
                }
            }
            if stale || last_reconcile.is_none_or(|t| t.elapsed() >= self.reconcile_every) {
                let mut keep: HashSet<SessionId> = wanted
                    .iter()
                    .filter_map(|s| SessionId::new(s.as_str()).ok())
                    .collect();
                keep.extend(
                    self.launching()
                        .iter()
                        .filter_map(|s| SessionId::new(s.as_str()).ok()),
                );
                match self.agent.reconcile(&keep).await {
                    Ok(r) if r != oriel_agent::ReconcileReport::default() => {
                        info!(report = ?r, "removed what no session needs any more");
                    }
                    Ok(_) => {}
                    Err(e) => warn!(error = %e, "reconcile pass failed"),
                }
                last_reconcile = Some(Instant::now());
            }
        }
    }

    fn start(self: &Arc<Self>, w: WantedSession) {
        if !self.launching().insert(w.id.clone()) {
            return;
        }
        let me = Arc::clone(self);
        tokio::spawn(async move {
            me.launch(&w).await;
            me.launching().remove(&w.id);
        });
    }

    async fn launch(&self, w: &WantedSession) {
        let Some(settings) = &w.container else {
            self.report_failed(&w.id, "the workspace was deleted").await;
            return;
        };
        let sid = match SessionId::new(w.id.as_str()) {
            Ok(s) => s,
            Err(e) => {
                self.report_failed(&w.id, &e.to_string()).await;
                return;
            }
        };
        let running = match self.agent.launch(&spec_of(settings), &sid).await {
            Ok(r) => r,
            Err(e) => {
                self.report_failed(&w.id, &e.to_string()).await;
                return;
            }
        };
        let report = AgentReport {
            id: self.hello.id.clone(),
            session: w.id.clone(),
            ready: Some(ReadyDesktop {
                host: running.vnc_addr.ip().to_string(),
                port: running.vnc_addr.port(),
                password: running.vnc_password.clone(),
            }),
            failed: None,
        };
        match self.link.report(&report).await {
            Ok(ReportOutcome::Accepted) => {}
            Ok(ReportOutcome::NotWanted) => {
                info!(session_id = %w.id, "session ended while its container started; removing it");
                if let Err(e) = self.agent.end(&sid).await {
                    warn!(session_id = %w.id, error = %e, "cannot remove an unwanted container");
                }
            }
            // The next poll sees it running; if the control plane never
            // heard, its start timeout fails the session and the
            // reconciler removes the container.
            Err(e) => warn!(session_id = %w.id, error = %e, "cannot report a ready container"),
        }
    }

    async fn report_failed(&self, session: &str, why: &str) {
        let report = AgentReport {
            id: self.hello.id.clone(),
            session: session.to_owned(),
            ready: None,
            failed: Some(why.to_owned()),
        };
        if let Err(e) = self.link.report(&report).await {
            warn!(session_id = %session, error = %e, "cannot report a failed container");
        }
    }
}

/// The `container` adapter: VNC to the session's container, and its files
/// through the agent (an `exec` as the session user, see
/// `oriel_agent::ContainerFiles`).
pub(super) struct ContainerConnector {
    vnc: oriel_protocols_vnc::VncConnector,
    agent: Arc<Agent>,
}

impl ContainerConnector {
    pub(super) fn new(vnc: oriel_protocols_vnc::VncConnector, agent: Arc<Agent>) -> Self {
        ContainerConnector { vnc, agent }
    }
}

impl oriel_protocols_session::Connector for ContainerConnector {
    fn kind(&self) -> &'static str {
        "container"
    }

    fn connect(
        &self,
        request: oriel_protocols_session::ConnectRequest,
    ) -> oriel_protocols_session::BoxFuture<
        'static,
        Result<oriel_protocols_session::RemoteSession, oriel_core_model::SessionError>,
    > {
        let files = SessionId::new(request.session_id.as_str()).ok().map(|sid| {
            Arc::new(self.agent.files(&sid)) as Arc<dyn oriel_protocols_session::FileTransfer>
        });
        let connecting = oriel_protocols_session::Connector::connect(&self.vnc, request);
        Box::pin(async move {
            let mut session = connecting.await?;
            session.files = files;
            Ok(session)
        })
    }
}
