//! Wiring of the roles: shared set-up (data directory, TLS, listener,
//! signals), then the control plane and/or the gateway behind one HTTPS front.

#[cfg(feature = "agent")]
mod agent;
#[cfg(feature = "control")]
mod control;
#[cfg(feature = "gateway")]
mod gateway;

use crate::cli::Command;
use crate::config::{Config, RawConfig, Role, Tls};
use anyhow::{Context as _, bail};
use oriel_gateway_http::{Front, FrontBuilder, Health, TlsFiles};
use std::os::unix::fs::DirBuilderExt as _;
#[cfg(any(feature = "control", feature = "agent"))]
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::info;

/// Grace period for streams to say goodbye when shutting down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Where stand-alone gateways upload recordings: a body limit of its own.
#[cfg(feature = "control")]
const RECORDING_UPLOAD_PATH: &str = "/api/v1/gateway/recordings";

/// Reads the configuration for the command's role, checks it (every
/// error at once), then runs the role, prints it or only checks it.
pub fn run(command: Command) -> anyhow::Result<()> {
    let common = command.common();
    let mut loaded = RawConfig::load(common.config.as_deref())?;
    command.apply(&mut loaded.raw);
    if common.print_config {
        loaded.refused()?;
        #[allow(clippy::print_stdout)]
        {
            print!("{}", loaded.raw.to_toml()?);
        }
        if !common.check_config {
            return Ok(());
        }
    }
    let config = Config::from_loaded(loaded, command.role())?;
    if common.check_config {
        config.check_files()?;
        #[allow(clippy::print_stdout)]
        {
            print!("{}", config.summary());
        }
        return Ok(());
    }
    crate::telemetry::init(&config.general)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("oriel")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match config.role {
            Role::Up => up(config).await,
            Role::Control => control_only(config).await,
            Role::Gateway => gateway_only(config).await,
            Role::Agent => agent_only(config).await,
        }
    })
}

/// What every role shares: the checked configuration, the process's
/// metrics registry and health.
struct Process {
    config: Config,
    registry: prometheus::Registry,
    health: Health,
}

impl Process {
    fn new(config: Config) -> anyhow::Result<Self> {
        let data_dir = &config.general.data_dir;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
        Ok(Process {
            config,
            registry: prometheus::Registry::new(),
            health: Health::new(),
        })
    }

    /// The configured certificate and key, or the self-signed pair of the
    /// data directory (made on first start).
    fn tls_files(&self) -> anyhow::Result<TlsFiles> {
        match &self.config.http.tls {
            Tls::Files(files) => Ok(files.clone()),
            Tls::SelfSigned { names } => {
                let dir = self.config.general.data_dir.join("tls");
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                Ok(oriel_gateway_http::ensure_self_signed(&dir, names)?)
            }
        }
    }

    fn front(&self) -> anyhow::Result<FrontBuilder> {
        let token = self
            .config
            .http
            .metrics_token_file
            .as_deref()
            .map(crate::config::read_metrics_token)
            .transpose()?;
        Ok(Front::builder(self.health.clone(), self.registry.clone())
            .max_body(self.config.http.max_body_bytes)
            .metrics_token(token))
    }

    /// Binds, prints where users go, and serves until SIGINT/SIGTERM.
    async fn serve(&self, front: Front, role: &str) -> anyhow::Result<()> {
        let files = self.tls_files()?;
        let identity = oriel_gateway_http::load_identity(&files)?;
        let addr = self.config.http.listen;
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("cannot listen on {addr} (http.listen)"))?;
        let bound = listener.local_addr()?;
        let shown = match &self.config.http.public_url {
            Some(url) => format!("{url}/"),
            None if bound.ip().is_unspecified() => format!("https://localhost:{}/", bound.port()),
            None => format!("https://{bound}/"),
        };
        #[allow(clippy::print_stdout)]
        {
            println!("oriel: {role} ready at {shown}");
        }
        info!(%bound, url = %shown, cert = %files.cert.display(), "listening");
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            info!("shutting down");
            let _ = shutdown_tx.send(true);
        });
        let mut stopped = shutdown_rx.clone();
        let server = tokio::spawn(front.serve(listener, identity, shutdown_rx));
        let _ = stopped.wait_for(|s| *s).await;
        // Let live streams send END before the process exits.
        tokio::time::sleep(SHUTDOWN_GRACE).await;
        server.abort();
        Ok(())
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(feature = "gateway")]
fn keys_dir(p: &Process) -> std::path::PathBuf {
    p.config.general.keys_dir()
}

#[cfg(all(feature = "control", feature = "gateway"))]
async fn up(config: Config) -> anyhow::Result<()> {
    let p = Process::new(config)?;
    // What this node makes itself (its keys, its self-signed certificate)
    // comes before the check of what it reads from others: peers that read
    // each other's files at start (a control plane and the gateways it
    // commands) would otherwise each wait for the other forever.
    control::ensure_keys(&p.config)?;
    p.tls_files()?;
    p.config.check_files()?;
    // The control plane's keys first: the gateway trusts its signing key.
    let control_keys = control::keys(&p.config, true)?;
    // The gateway reports to the control plane of this process, which exists
    // only after the gateway (the control plane's link needs the gateway).
    let control_cell: Arc<std::sync::OnceLock<Arc<oriel_control::ControlPlane>>> = Arc::default();
    let cell = Arc::clone(&control_cell);
    let reporter = Arc::new(oriel_gateway::ReportFn::new(move |report| {
        if let Some(cp) = cell.get() {
            let cp = Arc::clone(cp);
            tokio::spawn(async move { cp.on_report(&report).await });
        }
    }));
    // Finished recordings go into the control plane's storage, in process.
    let cell = Arc::clone(&control_cell);
    let handover = Arc::new(oriel_gateway::handover::HandoverFn::new(move |path| {
        let cell = Arc::clone(&cell);
        tokio::spawn(control::take_recording(cell, path));
    }));
    // The agent of this process, when Docker answers: its containers are
    // streamed by this gateway, which also moves their files.
    let local = local_agent(&p).await;
    let connectors = with_containers(&p, gateway::connectors(&p), local.as_ref());
    let kinds = connectors.kinds().into_iter().map(str::to_owned).collect();
    let gw = gateway::build(&p, reporter, handover, connectors)?;
    let gw_for_link = Arc::clone(&gw);
    let gw_for_lists = Arc::clone(&gw);
    let gw_for_control = Arc::clone(&gw);
    let in_process: Arc<dyn oriel_control::GatewayLink> = Arc::new(
        oriel_control::InProcessGateway::new(move |sid, until| gw_for_link.end_session(sid, until))
            .with_revocations(move |list| {
                gw_for_lists
                    .apply_revocations(list)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .with_link_control(move |sid, link, control| {
                let gw = Arc::clone(&gw_for_control);
                Box::pin(async move { gw.set_link_control(&sid, &link, control).await })
            }),
    );
    // Stand-alone gateways of this deployment (connection proxies) are told
    // too: the end of a session closes their streams at once.
    let link: Arc<dyn oriel_control::GatewayLink> = if p.config.control.gateway_urls.is_empty() {
        in_process
    } else {
        Arc::new(oriel_control::AllGateways::new(vec![
            in_process,
            control::remote_gateways(&p.config, &control_keys)?,
        ]))
    };
    // Stand-alone gateways (connection proxies) may report here too.
    let report_verifier = control::report_verifier(&p.config)?;
    let cp = control::build(&p, control_keys, link, report_verifier, kinds).await?;
    let _ = control_cell.set(Arc::clone(&cp));
    // Several `oriel up` on one database: what another node revoked reaches
    // this node's gateway from the database, as remote gateways poll theirs.
    let every = p.config.gateway.revocations_refresh;
    let (cp_lists, gw_lists) = (Arc::clone(&cp), Arc::clone(&gw));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
        loop {
            tick.tick().await;
            match cp_lists.signed_revocation_list().await {
                Ok(list) => {
                    if let Err(e) = gw_lists.apply_revocations(&list) {
                        tracing::warn!(error = %e, "the revocation list was not applied");
                    }
                }
                Err(e) => tracing::debug!(error = %e, "cannot read the revocation list"),
            }
            gw_lists.prune_admission();
        }
    });
    start_local_agent(&p, &cp, local);
    let front = p
        .front()?
        .websocket(gw.stream_route())
        .websocket(gw.relay_route())
        .http("/gateway/v1/", gw.command_endpoint())
        .http("/api/", cp.api_handler())
        .http_with_limit(
            RECORDING_UPLOAD_PATH,
            cp.api_handler(),
            oriel_control::MAX_RECORDING_BYTES as usize,
        )
        .http("/", Arc::new(oriel_web::WebClient::new()))
        .build()?;
    p.serve(front, "all roles").await
}

/// Under `oriel up`: the agent in this process, on the local Docker
/// engine. Without one, the rest runs and container workspaces say no
/// agent has room.
#[cfg(all(feature = "agent", feature = "control", feature = "gateway"))]
type LocalAgent = (
    Arc<oriel_agent::DockerRuntime>,
    oriel_core_agent_protocol::AgentHello,
);
#[cfg(all(not(feature = "agent"), feature = "control", feature = "gateway"))]
type LocalAgent = ();

#[cfg(all(feature = "agent", feature = "control", feature = "gateway"))]
async fn local_agent(p: &Process) -> Option<LocalAgent> {
    if !p.config.agent.enabled {
        info!("agent.enabled is false: no container sessions on this host");
        return None;
    }
    match agent::connect(p, "local").await {
        Ok((docker, hello)) => Some((Arc::new(docker), hello)),
        Err(e) => {
            #[allow(clippy::print_stdout)]
            {
                println!(
                    "oriel: container workspaces are off on this host: {e:#} (start Docker and restart oriel, or set agent.enabled = false)"
                );
            }
            tracing::warn!(error = %format!("{e:#}"), "no agent in this process: container workspaces cannot run here");
            None
        }
    }
}

#[cfg(all(not(feature = "agent"), feature = "control", feature = "gateway"))]
async fn local_agent(_p: &Process) -> Option<LocalAgent> {
    None
}

/// Adds the `container` adapter (VNC to the container, files through the
/// agent) when an agent runs in this process.
#[cfg(all(feature = "agent", feature = "control", feature = "gateway"))]
fn with_containers(
    p: &Process,
    connectors: oriel_protocols_session::Connectors,
    local: Option<&LocalAgent>,
) -> oriel_protocols_session::Connectors {
    match local {
        Some((runtime, _)) => connectors.with(oriel_agent::ContainerConnector::new(
            oriel_protocols_vnc::VncConnector::new(p.config.gateway.vnc.clone()),
            Arc::clone(runtime),
        )),
        None => connectors,
    }
}

#[cfg(all(not(feature = "agent"), feature = "control", feature = "gateway"))]
fn with_containers(
    _p: &Process,
    connectors: oriel_protocols_session::Connectors,
    _local: Option<&LocalAgent>,
) -> oriel_protocols_session::Connectors {
    connectors
}

#[cfg(all(feature = "agent", feature = "control", feature = "gateway"))]
fn start_local_agent(
    p: &Process,
    cp: &Arc<oriel_control::ControlPlane>,
    local: Option<LocalAgent>,
) {
    let Some((runtime, hello)) = local else {
        return;
    };
    let link = agent::InProcessLink(Arc::clone(cp));
    let agent = oriel_agent::Agent::new(link, runtime, hello, p.config.agent.reconcile_every);
    tokio::spawn(Arc::new(agent).run());
}

#[cfg(all(not(feature = "agent"), feature = "control", feature = "gateway"))]
fn start_local_agent(
    _p: &Process,
    _cp: &Arc<oriel_control::ControlPlane>,
    _local: Option<LocalAgent>,
) {
}

#[cfg(not(all(feature = "control", feature = "gateway")))]
async fn up(_config: Config) -> anyhow::Result<()> {
    bail!("this build of oriel lacks the control or gateway role; `oriel up` needs both")
}

#[cfg(feature = "control")]
async fn control_only(config: Config) -> anyhow::Result<()> {
    let p = Process::new(config)?;
    // Its own keys first: a first start that stops for lack of the
    // gateway's key still leaves signing.pub for the operator to copy.
    control::ensure_keys(&p.config)?;
    // Its certificate too: the gateways it commands read it at start.
    p.tls_files()?;
    p.config.check_files()?;
    let keys = control::keys(&p.config, false)?;
    let link = control::remote_gateways(&p.config, &keys)?;
    let verifier = control::report_verifier(&p.config)?;
    let cp = control::build(&p, keys, link, verifier, vec!["vnc".into()]).await?;
    let front = p
        .front()?
        .http("/api/", cp.api_handler())
        .http_with_limit(
            RECORDING_UPLOAD_PATH,
            cp.api_handler(),
            oriel_control::MAX_RECORDING_BYTES as usize,
        )
        .http("/", Arc::new(oriel_web::WebClient::new()))
        .build()?;
    p.serve(front, "control plane").await
}

#[cfg(not(feature = "control"))]
async fn control_only(_config: Config) -> anyhow::Result<()> {
    bail!("this build of oriel has no control plane (built without the `control` feature)")
}

#[cfg(feature = "gateway")]
async fn gateway_only(config: Config) -> anyhow::Result<()> {
    let p = Process::new(config)?;
    gateway::ensure_keys(&p)?;
    // Its certificate too, before the check of the files it reads (the
    // control plane's certificate): a control plane that commands this
    // gateway reads this one at start.
    p.tls_files()?;
    p.config.check_files()?;
    let reporter = gateway::remote_reporter(&p)?;
    let handover = gateway::remote_handover(&p)?;
    let gw = gateway::build(&p, reporter, handover, gateway::connectors(&p))?;
    let front = p
        .front()?
        .websocket(gw.stream_route())
        .websocket(gw.relay_route())
        .http("/gateway/v1/", gw.command_endpoint())
        .build()?;
    p.serve(front, "gateway").await
}

/// `oriel agent`: container sessions on this host, and the gateway that
/// streams them; reaches the control plane over HTTPS. The configuration
/// required them all (`config/agent.rs`); the gateway of this node reports
/// to the same control plane and is named by the agent's id and zone
/// unless configured otherwise (`Config::from_loaded`).
#[cfg(feature = "agent")]
async fn agent_only(config: Config) -> anyhow::Result<()> {
    use crate::config::JoinToken;
    let p = Process::new(config)?;
    gateway::ensure_keys(&p)?;
    p.tls_files()?;
    p.config.check_files()?;
    let a = &p.config.agent;
    let (Some(control), Some(token), Some(node_url)) = (&a.control, &a.join_token, &a.gateway_url)
    else {
        bail!(
            "oriel agent needs agent.control_url, agent.control_ca, a join token and agent.gateway_url"
        );
    };
    let token = match token {
        JoinToken::Inline(t) => t.to_string(),
        JoinToken::File(path) => std::fs::read_to_string(path)
            .with_context(|| format!("agent.join_token_file: cannot read {}", path.display()))?
            .trim()
            .to_owned(),
    };
    let ca = std::fs::read(&control.ca)
        .with_context(|| format!("agent.control_ca: cannot read {}", control.ca.display()))?;
    let link = oriel_agent::HttpsLink::new(control.url.as_str(), token, &ca)
        .with_context(|| format!("agent.control_ca: {}", control.ca.display()))?;
    let (runtime, mut hello) = agent::connect(&p, "").await?;
    let runtime = Arc::new(runtime);
    let node_url = node_url.clone();
    let reporter = gateway::remote_reporter(&p)?;
    let handover = gateway::remote_handover(&p)?;
    let connectors = gateway::connectors(&p).with(oriel_agent::ContainerConnector::new(
        oriel_protocols_vnc::VncConnector::new(p.config.gateway.vnc.clone()),
        Arc::clone(&runtime),
    ));
    let gw = gateway::build(&p, reporter, handover, connectors)?;
    hello.gateway = Some(node_gateway(&p, node_url.as_str())?);
    // A session ended anywhere ends here at once: this node's gateway
    // closes its streams and refuses its tokens (well past their expiry).
    let gw_for_ends = Arc::clone(&gw);
    let every = p.config.agent.reconcile_every;
    let agent =
        oriel_agent::Agent::new(link, runtime, hello, every).on_ended(Box::new(move |sid| {
            let until = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
                + 3600;
            let closed = gw_for_ends.end_session(sid, until);
            if closed > 0 {
                info!(session_id = %sid, streams = closed, "session ended: streams closed");
            }
        }));
    let front = p
        .front()?
        .websocket(gw.stream_route())
        .http("/gateway/v1/", gw.command_endpoint())
        .build()?;
    tokio::spawn(Arc::new(agent).run());
    p.serve(front, "agent").await
}

/// What the control plane needs to know of this node's gateway: its URL,
/// public keys and certificate fingerprint.
#[cfg(feature = "agent")]
fn node_gateway(
    p: &Process,
    url: &str,
) -> anyhow::Result<oriel_core_agent_protocol::NodeGatewayHello> {
    let dir = keys_dir(p);
    let read = |name: &str| -> anyhow::Result<String> {
        Ok(std::fs::read_to_string(dir.join(name))
            .with_context(|| format!("cannot read {}", dir.join(name).display()))?
            .trim()
            .to_owned())
    };
    let files = p.tls_files()?;
    let pem = std::fs::read(&files.cert)
        .with_context(|| format!("cannot read {}", files.cert.display()))?;
    let der = ureq::tls::parse_pem(&pem)
        .find_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c.der().to_vec()),
            _ => None,
        })
        .with_context(|| format!("{} holds no certificate", files.cert.display()))?;
    let digest = ring::digest::digest(&ring::digest::SHA256, &der);
    Ok(oriel_core_agent_protocol::NodeGatewayHello {
        url: url.to_owned(),
        sealing_key: read("gateway-sealing.pub")?,
        signing_key: read("gateway-signing.pub")?,
        cert_sha256: digest.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
    })
}

#[cfg(not(feature = "agent"))]
async fn agent_only(_config: Config) -> anyhow::Result<()> {
    bail!("this build of oriel has no agent role (built without the `agent` feature)")
}

#[cfg(not(feature = "gateway"))]
async fn gateway_only(_config: Config) -> anyhow::Result<()> {
    bail!("this build of oriel has no gateway (built without the `gateway` feature)")
}
