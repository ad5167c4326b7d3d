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
//! Settings come from flags or a TOML scenario file (`--scenario`, the
//! same names with `_`; flags win). Output: a table, `--json FILE`,
//! `--plot DIR` (SVG charts of fps, bandwidth and `oriel`'s CPU over time).

mod compare;
mod fidelity;
mod plot;
mod report;
mod session;
mod targets;

use crate::deploy::{Database, Deployment};
use crate::live::{
    Workload, create_workspace, end_sessions, idle_rss_mib, launch_session, rss_mib,
};
use crate::say;
use crate::stats::{load_average, machine_cpu, process_cpu};
use anyhow::{Context as _, bail};
use report::{Measured, Tick};
use serde::Deserialize;
use serde_json::json;
use session::{Session, Shared};
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
    /// Concurrent sessions [default: 1].
    #[arg(long)]
    sessions: Option<usize>,
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
    /// Write SVG charts (fps, bandwidth, oriel CPU over time) into this directory.
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
    sessions: Option<usize>,
    displays: Option<usize>,
    targets: Option<Vec<String>>,
    target_password: Option<String>,
    ramp_up: Option<String>,
    warmup: Option<String>,
    duration: Option<String>,
    samples: Option<usize>,
    settle_timeout: Option<String>,
}

/// The settings of a run, flags over scenario over defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub workload: Workload,
    pub sessions: usize,
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
    fn resolve(args: &Args, scenario: Scenario) -> anyhow::Result<Config> {
        let sessions = args.sessions.or(scenario.sessions).unwrap_or(1);
        if sessions == 0 {
            bail!("sessions must be at least 1");
        }
        let targets = args
            .targets
            .clone()
            .or(scenario.targets)
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
            displays: displays.min(sessions),
            targets,
            target_password: args.target_password.clone().or(scenario.target_password),
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
    let config = Config::resolve(&args, scenario)?;
    let binary = crate::deploy::oriel_binary(args.oriel.as_ref())?;
    if let Some(compare::Peer::Novnc) = args.compare {
        return compare::run(
            &config,
            &binary,
            args.database,
            args.rounds,
            args.json.as_deref(),
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut targets = if config.targets.is_empty() {
        rt.block_on(Targets::start(config.workload, config.displays))?
    } else {
        Targets::Given(config.targets.clone())
    };
    let deployment = rt.block_on(Deployment::start(&binary, args.database))?;
    let result = measure(&rt, &config, &deployment, &mut targets);
    if result.is_err()
        && let Some(g) = &deployment.oriel
    {
        say(&format!("oriel's log:\n{}", g.log_tail(30)));
    }
    drop(deployment);
    drop(targets);
    drop(rt);
    let measured = result?;
    let report = measured.to_json();
    for line in measured.table() {
        say(&line);
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(dir) = &args.plot {
        measured.plot(dir)?;
    }
    Ok(())
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
        "stream {}: {} session(s); deployment: {}; targets: {}; oriel idle RSS {rss_idle:.1} MiB",
        c.workload.name(),
        c.sessions,
        d.describe(),
        targets.describe(c.workload)
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let mut sessions: Vec<Session> = Vec::new();
    let launched = (|| {
        let started = Instant::now();
        for i in 0..c.sessions {
            let due = started + c.ramp_up.mul_f64(i as f64 / c.sessions as f64);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            let target = i % targets.len();
            let (id, viewer) = launch_session(rt, &admin, &workspaces[target], &d.ca)
                .with_context(|| format!("session {i}"))?;
            let shared = Arc::new(Shared::default());
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let task = rt.spawn(session::drive(viewer, shared.clone(), stop.clone(), rx));
            sessions.push(Session {
                id,
                target,
                shared,
                snapshots: tx,
                task,
            });
        }
        say(&format!(
            "{} session(s) connected in {:.1} s",
            c.sessions,
            started.elapsed().as_secs_f64()
        ));
        anyhow::Ok(())
    })();
    let result = launched.and_then(|()| window(rt, c, oriel_pid, targets, &sessions));
    stop.store(true, Ordering::Relaxed);
    let mut errors = Vec::new();
    let ids: Vec<String> = sessions.iter().map(|s| s.id.clone()).collect();
    for (i, s) in sessions.into_iter().enumerate() {
        match rt.block_on(s.task) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(format!("viewer {i}: {e:#}")),
            Err(e) => errors.push(format!("viewer {i}: task failed: {e}")),
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
) -> anyhow::Result<Measured> {
    std::thread::sleep(c.warmup);
    let mut errors = Vec::new();
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
        session_targets: sessions.iter().map(|s| targets.name(s.target)).collect(),
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
        let c =
            Config::resolve(&args(&["--sessions", "4", "--duration", "10s"]), scenario).unwrap();
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
        .unwrap();
        assert_eq!(c.displays, 2);
        assert_eq!(c.targets[1], ("127.0.0.1".to_owned(), 5902));
    }
}
