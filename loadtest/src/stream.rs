//! `oriel-loadtest stream`: N concurrent sessions through the real stream
//! protocol, measured per session and in total (loadtest/README.md).
//!
//! Set-up (not measured): the targets — K Xtigervnc displays at 1920×1080
//! started here, each running a standard workload (`idle`, `office`,
//! `video`, `video720`), or VNC servers given with `--targets` — then
//! `oriel up` on a temporary data directory, one VNC workspace per target,
//! and `oriel`'s resident memory with no session. Sessions are launched
//! through `POST /api/v1/sessions` (spread over `ramp_up`), session `i` on
//! target `i mod K`, each read by an `oriel_testkit::StreamViewer` that
//! decodes every tile (a broken frame is an error, not a fast result) and
//! acknowledges every frame, as the browser does. After `warmup`,
//! `duration` is measured:
//!
//! - per session: frames decoded per second, bytes per second, and frame
//!   latency (the frame's `damage_time_us`, stamped by the gateway with its
//!   wall clock when the target's pixels reached its damage tracker, to the
//!   moment the viewer read the message, same clock, same machine: the
//!   latency the gateway and the stream add, not the target's own);
//! - `oriel`'s CPU (user + system from `/proc/PID/stat`; `oriel up` runs the
//!   control plane and the gateway in one process) in cores and per session,
//!   and its RSS with no session and with them (÷ N); the targets' CPU
//!   (Xtigervnc, the workload) separately, not counted as ours;
//! - fidelity ([`fidelity`]): at `samples` points, PSNR of a viewer's
//!   framebuffer against the X server's screenshot; after the window the
//!   workload is frozen and every viewer must match its server exactly.
//!
//! Each session may have several viewers (`--viewers-per-session`, the
//! others with tokens of their own), all measured and all checked; the
//! gateway's `oriel_gateway_tiles_total` (from `/metrics`) before and after
//! the window tells how many images were encoded once for several viewers.
//! `--webp` makes the viewers offer WebP as a browser does.
//!
//! Settings come from flags or a TOML scenario file (`--scenario`, the
//! same names with `_`; flags win). `--sessions 1,5,10` is a sweep: one run
//! per count, one after another, each on its own targets and its own
//! `oriel up`. Output: a table, `--json FILE`, `--plot DIR` (SVG charts of
//! fps, bandwidth and `oriel`'s CPU over time; for a sweep also against the
//! session count).

mod compare;
mod fidelity;
mod plot;
mod report;
mod session;
mod targets;

use crate::client::Client;
use crate::deploy::{Database, Deployment};
use crate::live::{
    Workload, create_workspace, end_sessions, idle_rss_mib, join_session, launch_session_with,
    rss_mib,
};
use crate::say;
use crate::stats::{load_average, machine_cpu, process_cpu};
use anyhow::{Context as _, bail};
use report::{Measured, Tick};
use serde::Deserialize;
use serde_json::{Value, json};
use session::{Session, Shared};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use targets::{Targets, parse_target};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A TOML file with any of the settings below (same names, `_` for `-`,
    /// durations as strings like "30s"); flags given here win.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Workload on the displays started here [default: office].
    #[arg(long, value_enum)]
    workload: Option<Workload>,
    /// Concurrent sessions [default: 1]; several (`1,5,10`): a sweep, one
    /// run per count, one after another.
    #[arg(long, value_delimiter = ',')]
    sessions: Option<Vec<usize>>,
    /// Viewers on each session (the first with the launch token, the
    /// others with tokens of their own) [default: 1].
    #[arg(long)]
    viewers_per_session: Option<usize>,
    /// The viewers offer WebP (`caps::WEBP`) as a browser does.
    #[arg(long)]
    webp: bool,
    /// Displays to start, shared round-robin by the sessions [default: one
    /// per session].
    #[arg(long)]
    displays: Option<usize>,
    /// Use these VNC servers (host:port,...) instead of starting displays.
    #[arg(long, value_delimiter = ',')]
    targets: Option<Vec<String>>,
    /// VNC password of the given targets.
    #[arg(long)]
    target_password: Option<String>,
    /// Time over which the sessions are launched [default: 0s].
    #[arg(long, value_parser = humantime::parse_duration)]
    ramp_up: Option<Duration>,
    /// Time after the last session connected, before measuring [default: 5s].
    #[arg(long, value_parser = humantime::parse_duration)]
    warmup: Option<Duration>,
    /// Measured time [default: 30s].
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Fidelity samples during the measured time [default: 3].
    #[arg(long)]
    samples: Option<usize>,
    /// How long viewers may take to match the server after the workload
    /// freezes [default: 20s].
    #[arg(long, value_parser = humantime::parse_duration)]
    settle_timeout: Option<Duration>,
    /// Database of the deployment.
    #[arg(long, value_enum, default_value = "sqlite")]
    database: Database,
    /// The `oriel` binary to start (default: next to this one).
    #[arg(long)]
    oriel: Option<PathBuf>,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write SVG charts (fps, bandwidth, oriel CPU over time; for a sweep
    /// also against the session count) into this directory.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Instead: compare with a peer on the same displays and workload, in
    /// the same run (Oriel's web viewer and noVNC in one Chromium,
    /// alternating; see loadtest/README.md).
    #[arg(long, value_enum)]
    compare: Option<compare::Peer>,
    /// Rounds of the comparison (each side once per round) [default: 3].
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// A scenario file: the same settings as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    workload: Option<Workload>,
    sessions: Option<Counts>,
    viewers_per_session: Option<usize>,
    webp: Option<bool>,
    displays: Option<usize>,
    targets: Option<Vec<String>>,
    target_password: Option<String>,
    ramp_up: Option<String>,
    warmup: Option<String>,
    duration: Option<String>,
    samples: Option<usize>,
    settle_timeout: Option<String>,
}

/// `sessions` in a scenario: one count or a sweep.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Counts {
    One(usize),
    Sweep(Vec<usize>),
}

/// The settings of a run, flags over scenario over defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub workload: Workload,
    pub sessions: usize,
    pub viewers_per_session: usize,
    pub webp: bool,
    pub displays: usize,
    pub targets: Vec<(String, u16)>,
    pub target_password: Option<String>,
    pub ramp_up: Duration,
    pub warmup: Duration,
    pub duration: Duration,
    pub samples: usize,
    pub settle_timeout: Duration,
}

fn duration_field(name: &str, v: Option<&String>) -> anyhow::Result<Option<Duration>> {
    v.map(|s| humantime::parse_duration(s).with_context(|| format!("scenario {name}: {s:?}")))
        .transpose()
}

impl Config {
    /// One configuration per session count (more than one: a sweep).
    fn resolve(args: &Args, scenario: Scenario) -> anyhow::Result<Vec<Config>> {
        let counts = match (&args.sessions, &scenario.sessions) {
            (Some(v), _) => v.clone(),
            (None, Some(Counts::One(n))) => vec![*n],
            (None, Some(Counts::Sweep(v))) => v.clone(),
            (None, None) => vec![1],
        };
        if counts.is_empty() || counts.contains(&0) {
            bail!("sessions must be at least 1");
        }
        let viewers_per_session = args
            .viewers_per_session
            .or(scenario.viewers_per_session)
            .unwrap_or(1);
        if viewers_per_session == 0 {
            bail!("viewers per session must be at least 1");
        }
        let webp = args.webp || scenario.webp.unwrap_or(false);
        counts
            .into_iter()
            .map(|sessions| {
                let mut c = Self::resolve_one(args, &scenario, sessions)?;
                c.viewers_per_session = viewers_per_session;
                c.webp = webp;
                Ok(c)
            })
            .collect()
    }

    fn resolve_one(args: &Args, scenario: &Scenario, sessions: usize) -> anyhow::Result<Config> {
        let targets = args
            .targets
            .clone()
            .or(scenario.targets.clone())
            .unwrap_or_default()
            .iter()
            .map(|t| parse_target(t.trim()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let displays = if targets.is_empty() {
            args.displays.or(scenario.displays).unwrap_or(sessions)
        } else {
            targets.len()
        };
        if displays == 0 {
            bail!("displays must be at least 1");
        }
        let duration = match args.duration {
            Some(d) => d,
            None => duration_field("duration", scenario.duration.as_ref())?
                .unwrap_or(Duration::from_secs(30)),
        };
        if duration.is_zero() {
            bail!("duration must be positive");
        }
        Ok(Config {
            workload: args
                .workload
                .or(scenario.workload)
                .unwrap_or(Workload::Office),
            sessions,
            viewers_per_session: 1,
            webp: false,
            displays: displays.min(sessions),
            targets,
            target_password: args
                .target_password
                .clone()
                .or(scenario.target_password.clone()),
            ramp_up: match args.ramp_up {
                Some(d) => d,
                None => duration_field("ramp_up", scenario.ramp_up.as_ref())?.unwrap_or_default(),
            },
            warmup: match args.warmup {
                Some(d) => d,
                None => duration_field("warmup", scenario.warmup.as_ref())?
                    .unwrap_or(Duration::from_secs(5)),
            },
            duration,
            samples: args.samples.or(scenario.samples).unwrap_or(3),
            settle_timeout: match args.settle_timeout {
                Some(d) => d,
                None => duration_field("settle_timeout", scenario.settle_timeout.as_ref())?
                    .unwrap_or(Duration::from_secs(20)),
            },
        })
    }
}

fn read_scenario(path: &Path) -> anyhow::Result<Scenario> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("scenario {}", path.display()))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let scenario = match &args.scenario {
        Some(p) => read_scenario(p)?,
        None => Scenario::default(),
    };
    let configs = Config::resolve(&args, scenario)?;
    let binary = crate::deploy::oriel_binary(args.oriel.as_ref())?;
    if let Some(compare::Peer::Novnc) = args.compare {
        if configs.len() > 1 || configs[0].viewers_per_session > 1 || configs[0].webp {
            bail!("--compare takes one session count, one viewer per session and no --webp");
        }
        return compare::run(
            &configs[0],
            &binary,
            args.database,
            args.rounds,
            args.json.as_deref(),
        );
    }
    if configs.len() == 1 {
        let measured = run_one(&configs[0], &binary, args.database)?;
        let report = measured.to_json();
        for line in measured.table() {
            say(&line);
        }
        write_json(args.json.as_deref(), &report)?;
        if let Some(dir) = &args.plot {
            measured.plot(dir)?;
        }
        return Ok(());
    }
    // A sweep: the runs one after another, each on fresh targets and a
    // fresh `oriel up` (idle RSS and the gateway's counters start clean).
    let mut runs = Vec::new();
    for c in &configs {
        let measured = run_one(c, &binary, args.database)?;
        for line in measured.table() {
            say(&line);
        }
        if let Some(dir) = &args.plot {
            measured.plot(&dir.join(format!("sessions-{}", c.sessions)))?;
        }
        runs.push(measured);
    }
    for line in report::sweep_table(&runs) {
        say(&line);
    }
    write_json(args.json.as_deref(), &report::sweep_json(&runs))?;
    if let Some(dir) = &args.plot {
        report::sweep_plot(&runs, dir)?;
    }
    Ok(())
}

fn write_json(path: Option<&Path>, report: &Value) -> anyhow::Result<()> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_string_pretty(report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// One run: its targets, its `oriel up`, the measurement.
fn run_one(config: &Config, binary: &PathBuf, database: Database) -> anyhow::Result<Measured> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut targets = if config.targets.is_empty() {
        rt.block_on(Targets::start(config.workload, config.displays))?
    } else {
        Targets::Given(config.targets.clone())
    };
    let deployment = rt.block_on(Deployment::start(binary, database))?;
    let result = measure(&rt, config, &deployment, &mut targets);
    if result.is_err()
        && let Some(g) = &deployment.oriel
    {
        say(&format!("oriel's log:\n{}", g.log_tail(30)));
    }
    drop(deployment);
    drop(targets);
    drop(rt);
    result
}

/// The gateway's `oriel_gateway_tiles_total` by encoding (`GET /metrics`,
/// no login); `None` when it cannot be read.
fn gateway_tiles(metrics: &Client) -> Option<BTreeMap<String, f64>> {
    let (200, Value::String(text)) = metrics.call("GET", "/metrics", None).ok()? else {
        return None;
    };
    Some(parse_tiles(&text))
}

fn parse_tiles(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("oriel_gateway_tiles_total{encoding=\"")?;
            let (encoding, value) = rest.split_once("\"}")?;
            Some((encoding.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn tick(oriel_pid: u32, targets: &Targets, sessions: &[Session]) -> anyhow::Result<Tick> {
    Ok(Tick {
        at: Instant::now(),
        unix_us: unix_us(),
        oriel_cpu: process_cpu(oriel_pid).context("CPU time of oriel")?,
        rss_mib: rss_mib(oriel_pid)?,
        targets: targets.cpu(),
        machine: machine_cpu(),
        own: process_cpu(std::process::id()),
        viewers: sessions.iter().map(|s| s.shared.counters()).collect(),
    })
}

fn measure(
    rt: &tokio::runtime::Runtime,
    c: &Config,
    d: &Deployment,
    targets: &mut Targets,
) -> anyhow::Result<Measured> {
    let load_start = load_average();
    let oriel_pid = d.oriel.as_ref().context("no oriel process")?.id();
    let admin = crate::live::admin(d)?;
    let metrics = Client::new(&d.base, &d.ca)?;
    let credentials = c.target_password.as_ref().map(|p| json!({ "password": p }));
    let mut workspaces = Vec::new();
    for i in 0..targets.len() {
        let (host, port) = targets.address(i);
        workspaces.push(create_workspace(
            &admin,
            &format!("lt{}-stream-{i}", std::process::id()),
            "vnc",
            &host,
            port,
            credentials.clone(),
        )?);
    }
    let rss_idle = idle_rss_mib(oriel_pid)?;
    say(&format!(
        "stream {}: {} session(s) × {} viewer(s){}; deployment: {}; targets: {}; oriel idle RSS {rss_idle:.1} MiB",
        c.workload.name(),
        c.sessions,
        c.viewers_per_session,
        if c.webp { " offering WebP" } else { "" },
        d.describe(),
        targets.describe(c.workload)
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let mut sessions: Vec<Session> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    let capabilities = if c.webp {
        oriel_core_wire::caps::WEBP
    } else {
        0
    };
    let launched = (|| {
        let started = Instant::now();
        for i in 0..c.sessions {
            let due = started + c.ramp_up.mul_f64(i as f64 / c.sessions as f64);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            let target = i % targets.len();
            let (id, first) =
                launch_session_with(rt, &admin, &workspaces[target], &d.ca, capabilities)
                    .with_context(|| format!("session {i}"))?;
            ids.push(id.clone());
            let mut first = Some(first);
            for k in 0..c.viewers_per_session {
                let viewer = match first.take() {
                    Some(v) => v,
                    None => join_session(rt, &admin, &id, &d.ca, capabilities)
                        .with_context(|| format!("viewer {k} of session {i}"))?,
                };
                let shared = Arc::new(Shared::default());
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let task = rt.spawn(session::drive(viewer, shared.clone(), stop.clone(), rx));
                sessions.push(Session {
                    id: id.clone(),
                    session: i,
                    viewer: k,
                    target,
                    shared,
                    snapshots: tx,
                    task,
                });
            }
        }
        say(&format!(
            "{} session(s), {} viewer(s), connected in {:.1} s",
            c.sessions,
            sessions.len(),
            started.elapsed().as_secs_f64()
        ));
        anyhow::Ok(())
    })();
    let result = launched.and_then(|()| window(rt, c, oriel_pid, targets, &sessions, &metrics));
    stop.store(true, Ordering::Relaxed);
    let mut errors = Vec::new();
    for s in sessions {
        let who = format!("viewer {} of session {}", s.viewer, s.session);
        match rt.block_on(s.task) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(format!("{who}: {e:#}")),
            Err(e) => errors.push(format!("{who}: task failed: {e}")),
        }
    }
    errors.extend(end_sessions(&admin, &ids));
    let mut m = result?;
    m.errors.extend(errors);
    m.rss_idle_mib = rss_idle;
    m.load_start = load_start;
    m.load_end = load_average();
    m.deployment = d.describe();
    m.targets = targets.describe(c.workload);
    Ok(m)
}

/// Warm-up, the measured window (with fidelity samples and a progress line
/// on long runs), then the freeze and the exact-match check.
fn window(
    rt: &tokio::runtime::Runtime,
    c: &Config,
    oriel_pid: u32,
    targets: &mut Targets,
    sessions: &[Session],
    metrics: &Client,
) -> anyhow::Result<Measured> {
    std::thread::sleep(c.warmup);
    let mut errors = Vec::new();
    let tiles_before = gateway_tiles(metrics);
    let mut ticks = vec![tick(oriel_pid, targets, sessions)?];
    let t0 = ticks[0].at;
    let end = t0 + c.duration;
    let sample_at: Vec<Instant> = (0..c.samples)
        .map(|j| t0 + c.duration.mul_f64((j as f64 + 0.5) / c.samples as f64))
        .collect();
    let mut next_sample = 0;
    let mut samples = Vec::new();
    let progress = c.duration >= Duration::from_secs(10);
    let mut last_progress = t0;
    while Instant::now() < end {
        let next = (ticks.last().map_or(t0, |t| t.at) + Duration::from_secs(1)).min(end);
        if next_sample < sample_at.len() && sample_at[next_sample] <= Instant::now() {
            let i = next_sample % sessions.len();
            let s = &sessions[i];
            if let Some(display) = targets.display(s.target) {
                let at_s = t0.elapsed().as_secs_f64();
                match rt.block_on(fidelity::sample(display, s, i, at_s)) {
                    Ok(x) => samples.push(x),
                    Err(e) => errors.push(format!("fidelity sample of session {i}: {e:#}")),
                }
            }
            next_sample += 1;
        }
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        if Instant::now() >= next {
            ticks.push(tick(oriel_pid, targets, sessions)?);
        }
        if progress && last_progress.elapsed() >= Duration::from_secs(5) {
            last_progress = Instant::now();
            report::progress(&ticks, c.duration, sessions.len());
        }
    }
    if ticks.last().is_some_and(|t| t.at < end) {
        ticks.push(tick(oriel_pid, targets, sessions)?);
    }
    let tiles_after = gateway_tiles(metrics);
    if let Err(e) = targets.ensure_running() {
        errors.push(format!("target: {e:#}"));
    }
    let latencies: Vec<Vec<i64>> = {
        let (from, to) = (ticks[0].unix_us, ticks.last().map_or(0, |t| t.unix_us));
        sessions
            .iter()
            .map(|s| s.shared.latencies_between(from, to))
            .collect()
    };

    // Paused samples (the workload frozen briefly, then running again for a
    // second), then the freeze for good: every viewer must converge to its
    // server exactly.
    let mut settles = Vec::new();
    if matches!(targets, Targets::Started(_)) {
        for j in 0..c.samples {
            let i = j % sessions.len();
            let s = &sessions[i];
            let Some(display) = targets.display(s.target) else {
                continue;
            };
            targets.freeze(true)?;
            let at_s = t0.elapsed().as_secs_f64();
            let sample = rt.block_on(fidelity::paused(display, s, i, at_s));
            targets.freeze(false)?;
            match sample {
                Ok(x) => samples.push(x),
                Err(e) => errors.push(format!("paused sample of session {i}: {e:#}")),
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        targets.freeze(true)?;
        let frozen = Instant::now();
        let deadline = frozen + c.settle_timeout;
        for (i, s) in sessions.iter().enumerate() {
            let Some(display) = targets.display(s.target) else {
                continue;
            };
            match rt.block_on(fidelity::settle(display, s, frozen, deadline)) {
                Ok(x) => settles.push(Some(x)),
                Err(e) => {
                    errors.push(format!("settle check of session {i}: {e:#}"));
                    settles.push(None);
                }
            }
        }
        targets.freeze(false)?;
    }
    Ok(Measured {
        config: c.clone(),
        viewers: sessions.iter().map(|s| (s.session, s.viewer)).collect(),
        session_targets: sessions.iter().map(|s| targets.name(s.target)).collect(),
        tiles: tiles_before.zip(tiles_after),
        ticks,
        latencies,
        samples,
        settles,
        errors,
        rss_idle_mib: 0.0,
        load_start: None,
        load_end: None,
        deployment: String::new(),
        targets: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn args(flags: &[&str]) -> Args {
        Cli::try_parse_from(std::iter::once("stream").chain(flags.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn defaults() {
        let c = Config::resolve(&args(&[]), Scenario::default()).unwrap();
        assert_eq!(c.len(), 1);
        let c = &c[0];
        assert_eq!((c.viewers_per_session, c.webp), (1, false));
        assert_eq!(c.workload, Workload::Office);
        assert_eq!((c.sessions, c.displays), (1, 1));
        assert_eq!(c.duration, Duration::from_secs(30));
        assert!(c.targets.is_empty());
    }

    #[test]
    fn flags_win_over_the_scenario() {
        let scenario: Scenario = toml::from_str(
            r#"
            workload = "video720"
            sessions = 10
            displays = 2
            duration = "1m"
            ramp_up = "5s"
            "#,
        )
        .unwrap();
        let c = Config::resolve(&args(&["--sessions", "4", "--duration", "10s"]), scenario)
            .unwrap()
            .remove(0);
        assert_eq!(c.workload, Workload::Video720);
        assert_eq!((c.sessions, c.displays), (4, 2));
        assert_eq!(c.duration, Duration::from_secs(10));
        assert_eq!(c.ramp_up, Duration::from_secs(5));
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(toml::from_str::<Scenario>("sesions = 3").is_err());
        assert!(toml::from_str::<Scenario>("workload = \"movie\"").is_err());
        let s: Scenario = toml::from_str("duration = \"soon\"").unwrap();
        assert!(Config::resolve(&args(&[]), s).is_err());
        assert!(Config::resolve(&args(&["--sessions", "0"]), Scenario::default()).is_err());
        assert!(Config::resolve(&args(&["--sessions", "1,0"]), Scenario::default()).is_err());
        assert!(
            Config::resolve(&args(&["--viewers-per-session", "0"]), Scenario::default()).is_err()
        );
        assert!(Config::resolve(&args(&["--targets", "nohost"]), Scenario::default()).is_err());
        let c = Config::resolve(
            &args(&[
                "--targets",
                "127.0.0.1:5901,127.0.0.1:5902",
                "--sessions",
                "4",
            ]),
            Scenario::default(),
        )
        .unwrap()
        .remove(0);
        assert_eq!(c.displays, 2);
        assert_eq!(c.targets[1], ("127.0.0.1".to_owned(), 5902));
    }

    #[test]
    fn sweeps_viewers_and_webp() {
        let c = Config::resolve(
            &args(&[
                "--sessions",
                "1,5,10",
                "--viewers-per-session",
                "2",
                "--webp",
            ]),
            Scenario::default(),
        )
        .unwrap();
        let counts: Vec<(usize, usize)> = c.iter().map(|c| (c.sessions, c.displays)).collect();
        assert_eq!(counts, vec![(1, 1), (5, 5), (10, 10)]);
        assert!(c.iter().all(|c| c.viewers_per_session == 2 && c.webp));
        let c = Config::resolve(
            &args(&["--sessions", "2,8", "--displays", "4"]),
            Scenario::default(),
        )
        .unwrap();
        assert_eq!((c[0].displays, c[1].displays), (2, 4));
        let scenario: Scenario =
            toml::from_str("sessions = [1, 3]\nviewers_per_session = 3\nwebp = true").unwrap();
        let c = Config::resolve(&args(&[]), scenario).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[1].sessions, c[1].viewers_per_session, c[1].webp),
            (3, 3, true)
        );
    }

    #[test]
    fn tiles_from_metrics() {
        let text = "# HELP oriel_gateway_tiles_total Tiles sent\n\
            oriel_gateway_tiles_total{encoding=\"jpeg\"} 120\n\
            oriel_gateway_tiles_total{encoding=\"shared\"} 7\n\
            oriel_gateway_frames_sent_total 9\n";
        let t = parse_tiles(text);
        assert_eq!(t.len(), 2);
        assert_eq!((t["jpeg"], t["shared"]), (120.0, 7.0));
    }
}
