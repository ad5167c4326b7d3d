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
mod config;
mod fidelity;
mod plot;
mod report;
mod session;
mod targets;

use crate::client::Client;
use crate::deploy::{Database, Deployment};
use crate::live::{
    create_workspace, end_sessions, idle_rss_mib, join_session, launch_session_with, rss_mib,
};
use crate::say;
use crate::stats::{load_average, machine_cpu, process_cpu};
use anyhow::{Context as _, bail};
pub use config::{Args, Config, Given};
use config::{Scenario, read_scenario};
use report::{Measured, Tick};
use serde_json::{Value, json};
use session::{Session, Shared};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use targets::Targets;

pub fn run(args: Args) -> anyhow::Result<()> {
    let scenario = match &args.scenario {
        Some(p) => read_scenario(p)?,
        None => Scenario::default(),
    };
    let configs = Config::resolve(&args, scenario)?;
    let binary = crate::deploy::oriel_binary(args.oriel.as_ref())?;
    let given = args.given();
    let target_host = args.target_host;
    if let Some(compare::Peer::Novnc) = args.compare {
        if given.is_some() {
            bail!("--compare starts its own deployment: it takes no --url");
        }
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
        let measured = run_one(
            &configs[0],
            &binary,
            args.database,
            given.as_ref(),
            target_host,
        )?;
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
        let measured = run_one(c, &binary, args.database, given.as_ref(), target_host)?;
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

/// One run: its targets, its `oriel up` (or the deployment given), the
/// measurement.
fn run_one(
    config: &Config,
    binary: &PathBuf,
    database: Database,
    given: Option<&Given>,
    target_host: Option<std::net::IpAddr>,
) -> anyhow::Result<Measured> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut targets = if config.targets.is_empty() {
        rt.block_on(Targets::start(config.workload, config.displays))?
    } else {
        Targets::Given(config.targets.clone())
    };
    if let Some(host) = target_host {
        rt.block_on(targets.expose(host))?;
    }
    let deployment = match given {
        Some(g) => Deployment::existing(g.url.clone(), g.ca.clone(), g.admin_password.clone())?,
        None => rt.block_on(Deployment::start(binary, database))?,
    };
    let result = measure(&rt, config, &deployment, given, &mut targets);
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
    given: Option<&Given>,
    targets: &mut Targets,
) -> anyhow::Result<Measured> {
    let load_start = load_average();
    let oriel_pid = match (&d.oriel, given) {
        (Some(g), _) => g.id(),
        (None, Some(g)) => g.oriel_pid,
        (None, None) => bail!("no oriel process"),
    };
    let admin = crate::live::admin(d)?;
    let metrics = Client::new(&d.base, &d.ca)?;
    let credentials = c.target_password.as_ref().map(|p| json!({ "password": p }));
    let zone = given.and_then(|g| g.zone.as_deref());
    let mut workspaces = Vec::new();
    for i in 0..targets.len() {
        let (host, port) = targets.address(i);
        workspaces.push(create_workspace(
            &admin,
            &format!("lt{}-stream-{i}", std::process::id()),
            "vnc",
            (&host, port),
            zone,
            credentials.clone(),
            c.policy.as_ref(),
        )?);
    }
    // In a zone: the sessions are a user's of the zone (entering at its
    // proxy); otherwise the admin's.
    let launcher = match zone {
        Some(z) => crate::live::zone_user(&admin, d, z, &workspaces)?,
        None => admin.clone(),
    };
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
                launch_session_with(rt, &launcher, &workspaces[target], &d.ca, capabilities)
                    .with_context(|| format!("session {i}"))?;
            ids.push(id.clone());
            let mut first = Some(first);
            for k in 0..c.viewers_per_session {
                let viewer = match first.take() {
                    Some(v) => v,
                    None => join_session(rt, &launcher, &id, &d.ca, capabilities)
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
    errors.extend(end_sessions(&launcher, &ids));
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
    if !matches!(targets, Targets::Given(_)) {
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

    #[test]
    fn tiles_from_metrics() {
        let text = "# HELP oriel_gateway_tiles_total Tiles sent\n\
            oriel_gateway_tiles_total{encoding=\"jpeg\"} 120\n\
            oriel_gateway_tiles_total{encoding=\"png\"} 7\n\
            oriel_gateway_frames_sent_total 9\n";
        let t = parse_tiles(text);
        assert_eq!(t.len(), 2);
        assert_eq!((t["jpeg"], t["png"]), (120.0, 7.0));
    }
}
