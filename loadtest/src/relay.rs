//! `oriel-loadtest relay`: WebSocket pass-through through the gateway's
//! relay path (`/relay/<route>`, `gateway/src/relay.rs`) against nginx and
//! websockify relaying to the same far server, in the same run, plus a
//! direct baseline (client straight to the far server).
//!
//! Set-up (not measured): `oriel up` on a temporary data directory (agent
//! off), a far TLS WebSocket server inside this process ([`far`]: self-signed
//! certificate, accepts the stream subprotocol; sink, echo or source chosen
//! by the first message) and a far plain TCP server for websockify, one
//! route token (`rt1.…`, [`RouteClaims`]) signed with the deployment's own
//! signing key (`<data>/keys/signing.key`) naming the far server and its
//! certificate's SHA-256, nginx and websockify from configurations
//! generated into the same temporary directory.
//!
//! Measured, in rounds that alternate the order of the paths (A B …, then
//! … B A): one stream's throughput and `--streams` streams' aggregate
//! throughput (messages of `--message-size` bytes one way, counted where
//! they arrive), the relay process's CPU over the same window (user +
//! system from `/proc/PID/stat`, its whole process tree) → cores and
//! Gbit/s per core, and small-message echo round trips (p50/p99) on one
//! stream. Then, once per relay, memory per idle stream: the proportional
//! set size (`Pss`, fair to websockify's forked processes) of the relay's
//! process tree before and after `--idle` streams that each carried one
//! echo. With more than one CPU the relay under test is pinned to the last
//! one and this process to the others (`taskset`), so the relay's figures
//! are its own.

mod client;
mod far;
mod host;
mod peers;
mod phases;
mod proxy;
mod report;

use crate::deploy::{Database, Deployment};
use crate::say;
use crate::stats::{load_average, package_version, process_tree, processes_cpu, round};
use anyhow::{Context as _, bail};
use far::FarServers;
use host::Pinning;
use oriel_core_token::{CLAIMS_VERSION, RouteClaims};
use oriel_core_wire::SUBPROTOCOL;
use oriel_testkit::ScratchDir;
use peers::{NginxOptions, PeerRelay};
use phases::Env;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A path from the client to the far server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum PathKind {
    /// Straight to the far server: the baseline.
    Direct,
    /// Through `oriel`'s `/relay/<route>`.
    Oriel,
    /// Through nginx (TLS termination, `proxy_pass https://`).
    Nginx,
    /// Through websockify (WebSocket → plain TCP: another shape).
    Websockify,
    /// Through an `oriel gateway --role dedicated-proxy`: HELLO read and its
    /// session token checked (a token per stream, naming the far server as
    /// the gateway to pass it on to), then bytes copied as by the relay.
    Proxy,
}

impl PathKind {
    fn name(self) -> &'static str {
        match self {
            PathKind::Direct => "direct",
            PathKind::Oriel => "oriel",
            PathKind::Nginx => "nginx",
            PathKind::Websockify => "websockify",
            PathKind::Proxy => "proxy",
        }
    }
}

/// Which way the bulk data flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Direction {
    /// Far server → client: the way frames go (the client counts).
    Down,
    /// Client → far server: the way input goes (the far server counts;
    /// the relay caps these messages at 1 MiB + 16 bytes).
    Up,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Paths to measure, comma separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "direct,oriel,proxy,nginx,websockify"
    )]
    paths: Vec<PathKind>,
    /// Concurrent streams of the many-streams throughput phase.
    #[arg(long, default_value_t = 100)]
    streams: usize,
    /// Measured time of each throughput phase.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Time after the streams started, before measuring.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Bytes per message of the throughput phases.
    #[arg(long, default_value_t = 1 << 20)]
    message_size: usize,
    /// Which way the throughput phases send.
    #[arg(long, value_enum, default_value = "down")]
    direction: Direction,
    /// Rounds of every throughput and latency phase (paths alternated).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Echo round trips per latency phase (after 100 not counted).
    #[arg(long, default_value_t = 2000)]
    echo_count: usize,
    /// Bytes per echo message.
    #[arg(long, default_value_t = 64)]
    echo_size: usize,
    /// Idle streams held open for the memory measurement (0: skip it).
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
    /// Idle streams for websockify (one process per connection).
    #[arg(long, default_value_t = 100)]
    websockify_idle: usize,
    /// nginx `worker_processes`.
    #[arg(long, default_value_t = 1)]
    nginx_workers: usize,
    /// nginx `proxy_buffer_size` (e.g. `64k`); default: nginx's own.
    #[arg(long)]
    nginx_proxy_buffer_size: Option<String>,
    /// Pin the relay under test to the last CPU and this process to the others.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pin: bool,
    /// The `oriel` binary to start (default: next to this one).
    #[arg(long)]
    oriel: Option<PathBuf>,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// `--idle` as asked, when the open files limit made it smaller.
    #[arg(skip)]
    idle_wanted: Option<usize>,
}

/// Throughput of one phase.
#[derive(Debug, Clone, Copy)]
struct Rate {
    gbps: f64,
    /// The relay's CPU over the window, cores (none for direct).
    relay_cores: Option<f64>,
    /// This process's CPU (clients and far servers), cores.
    generator_cores: f64,
    /// Streams that ended before the window closed.
    ended_early: u64,
}

impl Rate {
    fn per_core(&self) -> Option<f64> {
        self.relay_cores
            .filter(|c| *c > 0.01)
            .map(|c| self.gbps / c)
    }

    fn json(&self) -> Value {
        json!({
            "gbit_per_s": round(self.gbps, 3),
            "relay_cores": self.relay_cores.map(|c| round(c, 3)),
            "gbit_per_s_per_relay_core": self.per_core().map(|c| round(c, 3)),
            "generator_cores": round(self.generator_cores, 3),
            "streams_ended_early": self.ended_early,
        })
    }
}

/// Echo round trips of one phase, µs.
#[derive(Debug, Clone, Copy)]
struct Echo {
    p50_us: f64,
    p99_us: f64,
}

/// Memory of idle streams.
#[derive(Debug, Clone, Copy)]
struct Idle {
    opened: usize,
    wanted: usize,
    pss_before_kib: u64,
    pss_after_kib: u64,
    rss_before_kib: u64,
    rss_after_kib: u64,
    connect_secs: f64,
}

impl Idle {
    fn kib_per_stream(&self) -> Option<f64> {
        (self.opened > 0).then(|| {
            self.pss_after_kib.saturating_sub(self.pss_before_kib) as f64 / self.opened as f64
        })
    }
}

/// One measured path: where clients connect and which processes relay.
struct PathRun {
    kind: PathKind,
    url: String,
    subprotocol: &'static str,
    /// The relay's root process (none: direct).
    relay_pid: Option<u32>,
    rounds_one: Vec<Option<Rate>>,
    rounds_many: Vec<Option<Rate>>,
    rounds_echo: Vec<Option<Echo>>,
    idle: Option<Idle>,
    errors: Vec<String>,
    /// Makes each stream's HELLO (the dedicated proxy's path).
    hello: Option<Arc<dyn Fn() -> Vec<u8> + Send + Sync>>,
    /// Keeps nginx or websockify running.
    _peer: Option<PeerRelay>,
    /// Keeps the dedicated proxy running.
    _proxy: Option<oriel_testkit::ChildGuard>,
}

impl PathRun {
    fn new(kind: PathKind, url: String, subprotocol: &'static str, relay_pid: Option<u32>) -> Self {
        PathRun {
            kind,
            url,
            subprotocol,
            relay_pid,
            rounds_one: Vec::new(),
            rounds_many: Vec::new(),
            rounds_echo: Vec::new(),
            idle: None,
            errors: Vec::new(),
            hello: None,
            _peer: None,
            _proxy: None,
        }
    }

    /// The HELLO a new stream sends first, if this path wants one.
    pub(super) fn hello(&self) -> Option<Vec<u8>> {
        self.hello.as_ref().map(|f| f())
    }

    fn relay_pids(&self) -> Vec<u32> {
        self.relay_pid
            .map(|p| process_tree(p).into_iter().map(|(pid, _)| pid).collect())
            .unwrap_or_default()
    }

    fn relay_cpu(&self) -> Option<f64> {
        self.relay_pid.map(|_| processes_cpu(&self.relay_pids()))
    }
}

/// Descriptors kept for everything but the streams' sockets.
const FD_SPARE: u64 = 512;

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.streams == 0 || args.rounds == 0 || args.echo_count == 0 || args.echo_size == 0 {
        bail!("--streams, --rounds, --echo-count and --echo-size must be at least 1");
    }
    if args.duration.is_zero() {
        bail!("--duration must be positive");
    }
    if args.message_size == 0 || args.message_size > far::MAX_MESSAGE {
        bail!("--message-size must be 1 to {} bytes", far::MAX_MESSAGE);
    }
    if args.direction == Direction::Up && args.message_size > oriel_core_wire::MAX_CLIENT_MESSAGE {
        bail!(
            "--direction up: the relay takes client messages of at most {} bytes",
            oriel_core_wire::MAX_CLIENT_MESSAGE
        );
    }
    if let Some(size) = &args.nginx_proxy_buffer_size
        && (size.is_empty() || !size.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        bail!("--nginx-proxy-buffer-size must look like 16k");
    }
    if args.nginx_workers == 0 {
        bail!("--nginx-workers must be at least 1");
    }
    let mut paths = args.paths.clone();
    paths.sort();
    paths.dedup();
    let binary = crate::deploy::oriel_binary(args.oriel.as_ref())?;

    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinning = host::pin_self(args.pin, cpus);
    let mut args = args;
    let most = args.idle.max(args.websockify_idle).max(args.streams);
    let nofile = host::raise_nofile((most as u64) * 2 + FD_SPARE);
    // This process holds both ends of every stream, a relay both of its
    // sockets: two descriptors per stream in each.
    let fit = (nofile.saturating_sub(FD_SPARE) / 2) as usize;
    if args.idle > fit || args.websockify_idle > fit {
        say(&format!(
            "relay: the open files limit {nofile} (hard limit; raising it needs CAP_SYS_RESOURCE) fits {fit} idle streams (two sockets each per process): measuring {fit} instead of {}",
            args.idle.max(args.websockify_idle)
        ));
        args.idle_wanted = Some(args.idle);
        args.idle = args.idle.min(fit);
        args.websockify_idle = args.websockify_idle.min(fit);
    }
    if args.streams > fit {
        bail!(
            "--streams {} needs an open files limit of at least {}",
            args.streams,
            args.streams * 2 + FD_SPARE as usize
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(pinning.as_ref().map_or(cpus, |p| p.generator_count).max(1))
        .enable_all()
        .build()?;
    rt.block_on(measure(args, paths, binary, cpus, pinning, nofile))
}

async fn measure(
    args: Args,
    kinds: Vec<PathKind>,
    binary: PathBuf,
    cpus: usize,
    pinning: Option<Pinning>,
    nofile: u64,
) -> anyhow::Result<()> {
    let load_start = load_average();
    let scratch = ScratchDir::new("oriel-loadtest-relay")?;
    let far = FarServers::start(scratch.path()).await?;
    let mut skipped: Vec<(PathKind, String)> = Vec::new();
    let mut runs: Vec<PathRun> = Vec::new();
    let relay_cpus = pinning.as_ref().map(|p| p.relay.as_str());

    // oriel is started even when not measured: its CA is in the trust store.
    let deployment = Deployment::start_with(
        &binary,
        Database::Sqlite,
        &[("ORIEL_AGENT__ENABLED", "false"), ("RUST_LOG", "warn")],
    )
    .await?;
    let oriel_pid = deployment.oriel.as_ref().map(|g| g.id());
    if let (Some(p), Some(pid)) = (&pinning, oriel_pid)
        && !host::taskset(&p.relay, pid)
    {
        say("relay: could not pin oriel");
    }
    let tls = oriel_testkit::tls_connector_trusting(&[&far.cert_pem, &deployment.ca])?;
    let mut versions = serde_json::Map::new();
    for kind in &kinds {
        match kind {
            PathKind::Direct => runs.push(PathRun::new(
                *kind,
                format!("wss://127.0.0.1:{}/stream", far.ws.port()),
                SUBPROTOCOL,
                None,
            )),
            PathKind::Oriel => {
                let route = mint_route(&deployment, &far)?;
                let base = deployment.base.replacen("https://", "wss://", 1);
                runs.push(PathRun::new(
                    *kind,
                    format!("{base}/relay/{route}"),
                    SUBPROTOCOL,
                    oriel_pid,
                ));
                versions.insert("oriel".into(), json!(binary.display().to_string()));
            }
            PathKind::Proxy => {
                let signer = Arc::new(proxy::deployment_signer(&deployment)?);
                let (guard, url) = proxy::start_proxy(&binary, &deployment, &scratch).await?;
                if let Some(p) = &pinning
                    && !host::taskset(&p.relay, guard.id())
                {
                    say("relay: could not pin the dedicated proxy");
                }
                let mut run = PathRun::new(*kind, url, SUBPROTOCOL, Some(guard.id()));
                let to = format!("wss://127.0.0.1:{}/stream", far.ws.port());
                let cert = far.cert_sha256.clone();
                run.hello = Some(Arc::new(move || proxy::proxy_hello(&signer, &to, &cert)));
                run._proxy = Some(guard);
                runs.push(run);
            }
            PathKind::Nginx => {
                let Some(nginx) = peers::which("nginx") else {
                    skipped.push((*kind, "nginx is not installed (Debian: nginx-light)".into()));
                    continue;
                };
                let opt = NginxOptions {
                    workers: args.nginx_workers,
                    proxy_buffer_size: args.nginx_proxy_buffer_size.clone(),
                    max_connections: most_connections(&args),
                    nofile,
                };
                let peer = peers::start_nginx(&nginx, &scratch, &far, &opt, relay_cpus).await?;
                let mut run = PathRun::new(
                    *kind,
                    format!("wss://127.0.0.1:{}/stream", peer.port),
                    SUBPROTOCOL,
                    Some(peer.pid()),
                );
                run._peer = Some(peer);
                runs.push(run);
                versions.insert("nginx".into(), json!(package_version("nginx-light")));
            }
            PathKind::Websockify => {
                let Some(ws) = peers::which("websockify") else {
                    skipped.push((
                        *kind,
                        "websockify is not installed (Debian: websockify)".into(),
                    ));
                    continue;
                };
                let peer = peers::start_websockify(&ws, &scratch, &far, relay_cpus).await?;
                let mut run = PathRun::new(
                    *kind,
                    format!("wss://127.0.0.1:{}/", peer.port),
                    "binary",
                    Some(peer.pid()),
                );
                run._peer = Some(peer);
                runs.push(run);
                versions.insert("websockify".into(), json!(package_version("websockify")));
            }
        }
    }
    for (kind, why) in &skipped {
        say(&format!("relay: skipping {}: {why}", kind.name()));
    }
    if runs.is_empty() {
        bail!("no path to measure");
    }
    let env = Env {
        far,
        tls,
        direction: args.direction,
        message_size: args.message_size,
        warmup: args.warmup,
        duration: args.duration,
    };
    say(&format!(
        "relay: {} round(s); throughput {} s per phase, {} B messages {}; {} streams; pinned: {}",
        args.rounds,
        args.duration.as_secs_f64(),
        args.message_size,
        match args.direction {
            Direction::Down => "far → client",
            Direction::Up => "client → far",
        },
        args.streams,
        pinning.as_ref().map_or("no".to_owned(), |p| format!(
            "relay on CPU {}, load generator on CPU {}",
            p.relay, p.generator
        )),
    ));

    for round in 0..args.rounds {
        let mut order: Vec<usize> = (0..runs.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for &i in &order {
            let r = phases::throughput(&env, &runs[i], 1).await;
            record(&mut runs[i], round, "1 stream", r, |run| {
                &mut run.rounds_one
            });
        }
        for &i in &order {
            let r = phases::throughput(&env, &runs[i], args.streams).await;
            let what = format!("{} streams", args.streams);
            record(&mut runs[i], round, &what, r, |run| &mut run.rounds_many);
        }
        for &i in &order {
            let r = phases::echo(&env, &runs[i], args.echo_count, args.echo_size).await;
            let kind = runs[i].kind.name();
            match r {
                Ok(e) => {
                    say(&format!(
                        "round {}: echo {kind}: p50 {:.0} µs, p99 {:.0} µs",
                        round + 1,
                        e.p50_us,
                        e.p99_us
                    ));
                    runs[i].rounds_echo.push(Some(e));
                }
                Err(e) => {
                    say(&format!("round {}: echo {kind}: error: {e:#}", round + 1));
                    runs[i]
                        .errors
                        .push(format!("round {} echo: {e:#}", round + 1));
                    runs[i].rounds_echo.push(None);
                }
            }
        }
    }

    if args.idle > 0 {
        for run in runs.iter_mut().filter(|r| r.relay_pid.is_some()) {
            let n = if run.kind == PathKind::Websockify {
                args.websockify_idle
            } else {
                args.idle
            };
            if n == 0 {
                continue;
            }
            match phases::idle(&env, run, n).await {
                Ok(i) => {
                    say(&format!(
                        "idle {}: {} of {} streams, {:.1} KiB per stream (Pss {} → {} KiB)",
                        run.kind.name(),
                        i.opened,
                        i.wanted,
                        i.kib_per_stream().unwrap_or(0.0),
                        i.pss_before_kib,
                        i.pss_after_kib
                    ));
                    if i.opened < i.wanted {
                        run.errors.push(format!(
                            "idle: only {} of {} streams opened",
                            i.opened, i.wanted
                        ));
                    }
                    run.idle = Some(i);
                }
                Err(e) => {
                    say(&format!("idle {}: error: {e:#}", run.kind.name()));
                    run.errors.push(format!("idle: {e:#}"));
                }
            }
        }
    }

    let load_end = load_average();
    let report = report::report(
        &args,
        &runs,
        &skipped,
        cpus,
        pinning.as_ref(),
        nofile,
        load_start,
        load_end,
        versions,
    );
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        say(&format!("relay: results written to {}", path.display()));
    }
    drop(deployment);
    Ok(())
}

fn most_connections(args: &Args) -> usize {
    args.idle.max(args.streams).max(args.websockify_idle) * 2
}

/// Records one round's result of a phase and prints it.
fn record(
    run: &mut PathRun,
    round: usize,
    what: &str,
    result: anyhow::Result<Rate>,
    rounds: fn(&mut PathRun) -> &mut Vec<Option<Rate>>,
) {
    let kind = run.kind.name();
    match result {
        Ok(rate) => {
            say(&format!(
                "round {}: {what} {kind}: {:.2} Gbit/s, relay {}, generator {:.2} cores{}",
                round + 1,
                rate.gbps,
                rate.relay_cores
                    .map_or("-".to_owned(), |c| format!("{c:.2} cores")),
                rate.generator_cores,
                if rate.ended_early > 0 {
                    format!(", {} streams ended early", rate.ended_early)
                } else {
                    String::new()
                }
            ));
            if rate.ended_early > 0 {
                run.errors.push(format!(
                    "round {} {what}: {} streams ended early",
                    round + 1,
                    rate.ended_early
                ));
            }
            rounds(run).push(Some(rate));
        }
        Err(e) => {
            say(&format!("round {}: {what} {kind}: error: {e:#}", round + 1));
            run.errors
                .push(format!("round {} {what}: {e:#}", round + 1));
            rounds(run).push(None);
        }
    }
}

/// Signs a route to the far server with the deployment's signing key,
/// read as `oriel` reads it (`<data>/keys/signing.key`, base64 seed).
fn mint_route(deployment: &Deployment, far: &FarServers) -> anyhow::Result<String> {
    let signer = proxy::deployment_signer(deployment)?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)?
        .as_secs();
    let claims = RouteClaims {
        v: CLAIMS_VERSION,
        sid: "loadtest-relay".to_owned(),
        iat: now,
        nbf: now,
        exp: now + 6 * 3600,
        to: format!("wss://127.0.0.1:{}/stream", far.ws.port()),
        cert_sha256: far.cert_sha256.clone(),
    };
    Ok(signer.sign(&claims)?)
}
