//! `oriel-loadtest sessions`: what a live session costs the `oriel` process
//! (memory and CPU per session) and what its viewer receives (frames and
//! bytes per second), for VNC, RDP and SSH workspaces.
//!
//! Set-up (not measured): a real target started here, `oriel up` on a
//! temporary data directory, an admin-created workspace of the kind, and
//! the `oriel` process's resident memory while no session runs. Then
//! `count` sessions are launched through `POST /api/v1/sessions`, one
//! [`StreamViewer`] each (TLS, WebSocket, HELLO with the token, every tile
//! decoded, every frame acknowledged, as the browser does), and, after
//! `warmup`, `duration` is measured.
//!
//! Targets, one per run, shared by all sessions:
//! - `vnc`: one Xtigervnc display, all viewers on it (shared desktop);
//! - `rdp`: FreeRDP's shadow server (TLS, PAM login of the test user)
//!   mirroring one Xtigervnc display, one RDP connection per session;
//! - `ssh`: one OpenSSH `sshd`, one login shell per session.
//!
//! Workload: on the display (vnc, rdp) the `office` workload of
//! the `office` workload: an 80×40 xterm printing a new line 20 times
//! a second and an xclock moved 30 times a second. On ssh every session
//! types the same line loop into its own shell.
//!
//! CPU is read from `/proc` for `oriel`, for the peer's processes (the VNC
//! server, the shadow server, sshd, the shells), for this process (the
//! viewers decode every tile) and for the machine; memory from `VmRSS`.

use crate::deploy::{Database, Deployment};
use crate::live::{
    LINE_LOOP, RunningWorkload, Workload, create_workspace, end_sessions, idle_rss_mib,
    launch_session, rss_mib, spread,
};
use crate::say;
use crate::stats::{
    find_processes, load_average, machine_cpu, process_cpu, process_tree, processes_cpu, round,
};
use anyhow::{Context as _, bail};
use oriel_core_wire::ClientMessage;
use oriel_testkit::rdp::{ShadowSecurity, ShadowServer};
use oriel_testkit::sshd::Sshd;
use oriel_testkit::{
    StreamViewer, TEST_PASSWORD, TEST_USER, ViewerEvent, VncDisplay, VncOptions, ensure_test_user,
};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The kind of workspace measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Vnc,
    Rdp,
    Ssh,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Vnc => "vnc",
            Kind::Rdp => "rdp",
            Kind::Ssh => "ssh",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Workspace kind (and target) to measure.
    #[arg(long, value_enum)]
    kind: Kind,
    /// Concurrent sessions.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Measured time with all sessions running.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Time after the last session connected, before measuring.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Desktop width of the display (vnc, rdp).
    #[arg(long, default_value_t = 1920)]
    width: u32,
    /// Desktop height of the display (vnc, rdp).
    #[arg(long, default_value_t = 1080)]
    height: u32,
    /// Database of the deployment.
    #[arg(long, value_enum, default_value = "sqlite")]
    database: Database,
    /// The `oriel` binary to start (default: next to this one).
    #[arg(long)]
    oriel: Option<PathBuf>,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The real target of a run. Fields drop in order: the shadow server and
/// the workload before the display they use.
struct Target {
    shadow: Option<ShadowServer>,
    _workload: Option<RunningWorkload>,
    display: Option<VncDisplay>,
    sshd: Option<Sshd>,
}

impl Target {
    async fn start(kind: Kind, width: u32, height: u32) -> anyhow::Result<Target> {
        let mut t = Target {
            shadow: None,
            _workload: None,
            display: None,
            sshd: None,
        };
        match kind {
            Kind::Ssh => t.sshd = Some(Sshd::start().await?),
            Kind::Vnc | Kind::Rdp => {
                let display = VncDisplay::start(VncOptions::new(width, height)).await?;
                t._workload = Some(Workload::Office.start(&display).await?);
                if kind == Kind::Rdp {
                    ensure_test_user()?;
                    t.shadow = Some(ShadowServer::start(&display, ShadowSecurity::Tls).await?);
                }
                t.display = Some(display);
            }
        }
        Ok(t)
    }

    fn port(&self) -> anyhow::Result<u16> {
        if let Some(s) = &self.shadow {
            return Ok(s.port());
        }
        if let Some(s) = &self.sshd {
            return Ok(s.port());
        }
        Ok(self.display.as_ref().context("no target")?.rfb_port())
    }

    fn describe(&self, kind: Kind) -> String {
        let size = self
            .display
            .as_ref()
            .map(|d| d.size())
            .map(|(w, h)| format!("{w}x{h}"));
        match kind {
            Kind::Vnc => format!(
                "one Xtigervnc display {} shared by all sessions, office workload",
                size.unwrap_or_default()
            ),
            Kind::Rdp => format!(
                "FreeRDP shadow server (TLS) on one Xtigervnc display {}, one RDP connection per session, office workload",
                size.unwrap_or_default()
            ),
            Kind::Ssh => "OpenSSH sshd, one login shell per session printing 20 lines/s".to_owned(),
        }
    }

    /// The peer's processes now, by role: `(role, pids)`.
    fn processes(&self) -> Vec<(&'static str, Vec<u32>)> {
        let mut out = Vec::new();
        if let Some(d) = &self.display {
            let n = d.display();
            out.push((
                "xtigervnc",
                find_processes(|a| a[0].ends_with("Xtigervnc") && a.contains(&n)),
            ));
        }
        if let Some(s) = &self.shadow {
            let port = format!("/port:{}", s.port());
            out.push((
                "freerdp-shadow",
                find_processes(|a| a[0].ends_with("freerdp-shadow-cli") && a.contains(&port)),
            ));
        }
        if let Some(s) = &self.sshd {
            let config = s.scratch_dir().path().join("sshd_config");
            let config = config.to_string_lossy().into_owned();
            // The listener rewrites its title into one string holding its arguments.
            let roots = find_processes(|a| a.join(" ").contains(&config));
            let mut tree: Vec<(u32, String)> =
                roots.iter().flat_map(|r| process_tree(*r)).collect();
            tree.sort_unstable();
            tree.dedup();
            let (sshd, shells): (Vec<_>, Vec<_>) = tree.into_iter().partition(|(_, c)| c == "sshd");
            out.push(("sshd", sshd.into_iter().map(|p| p.0).collect()));
            out.push(("shells", shells.into_iter().map(|p| p.0).collect()));
        }
        out
    }
}

/// X keysym of a character: Latin-1 as itself, newline as Return, the
/// rest as Unicode keysyms.
fn keysym(c: char) -> u32 {
    match c {
        '\n' | '\r' => 0xff0d,
        ' '..='~' | '\u{a0}'..='\u{ff}' => c as u32,
        _ => 0x0100_0000 | c as u32,
    }
}

/// Frames and bytes a viewer has received so far.
#[derive(Debug, Default)]
struct Counters {
    frames: AtomicU64,
    bytes: AtomicU64,
}

/// Keeps a viewer reading (and acknowledging) until `stop`; types `typing`
/// once the first frame (the prompt) has arrived. A stream that closes
/// before `stop` is an error.
async fn drive(
    mut v: StreamViewer,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    mut typing: Option<String>,
) -> anyhow::Result<()> {
    let mut first_frame: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let event = v.next(Instant::now() + Duration::from_millis(200)).await?;
        if let Some(ViewerEvent::Closed(end, code)) = event {
            bail!("stream closed early (end {end:?}, close code {code:?})");
        }
        counters.frames.store(v.frames, Ordering::Relaxed);
        counters.bytes.store(v.bytes, Ordering::Relaxed);
        if v.frames > 0 && first_frame.is_none() {
            first_frame = Some(Instant::now());
        }
        if first_frame.is_some_and(|t| t.elapsed() > Duration::from_secs(1))
            && let Some(text) = typing.take()
        {
            for c in text.chars() {
                for down in [true, false] {
                    v.send(ClientMessage::Key {
                        down,
                        keysym: keysym(c),
                        scancode: 0,
                    })
                    .await?;
                }
            }
        }
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    if args.duration.is_zero() {
        bail!("--duration must be positive");
    }
    let binary = crate::deploy::oriel_binary(args.oriel.as_ref())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let target = rt.block_on(Target::start(args.kind, args.width, args.height))?;
    let deployment = rt.block_on(Deployment::start(&binary, args.database))?;
    let result = measure(&rt, &args, &deployment, &target);
    if result.is_err()
        && let Some(g) = &deployment.oriel
    {
        say(&format!("oriel's log:\n{}", g.log_tail(30)));
    }
    drop(deployment);
    drop(target);
    drop(rt);
    let report = result?;
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
    }
    Ok(())
}

/// One reading of every counter.
struct Sample {
    at: Instant,
    oriel: f64,
    peers: Vec<(&'static str, f64)>,
    machine: Option<(f64, f64)>,
    own: Option<f64>,
    viewers: Vec<(u64, u64)>,
}

fn sample(oriel_pid: u32, target: &Target, counters: &[Arc<Counters>]) -> Sample {
    Sample {
        at: Instant::now(),
        oriel: process_cpu(oriel_pid).unwrap_or(f64::NAN),
        peers: target
            .processes()
            .into_iter()
            .map(|(role, pids)| (role, processes_cpu(&pids)))
            .collect(),
        machine: machine_cpu(),
        own: process_cpu(std::process::id()),
        viewers: counters
            .iter()
            .map(|c| {
                (
                    c.frames.load(Ordering::Relaxed),
                    c.bytes.load(Ordering::Relaxed),
                )
            })
            .collect(),
    }
}

/// Rates of one viewer over the window: frames/s and bytes/s.
fn viewer_rates(a: &[(u64, u64)], b: &[(u64, u64)], secs: f64) -> Vec<(f64, f64)> {
    a.iter()
        .zip(b)
        .map(|((f0, b0), (f1, b1))| {
            (
                f1.saturating_sub(*f0) as f64 / secs,
                b1.saturating_sub(*b0) as f64 / secs,
            )
        })
        .collect()
}

/// CPU milliseconds spent per frame delivered to all viewers together
/// (`None` when nothing was delivered).
fn cpu_ms_per_frame(cores: f64, frames_per_second: f64) -> Option<f64> {
    (frames_per_second > 0.0).then(|| cores * 1000.0 / frames_per_second)
}

fn measure(
    rt: &tokio::runtime::Runtime,
    args: &Args,
    d: &Deployment,
    target: &Target,
) -> anyhow::Result<Value> {
    let load_start = load_average();
    let oriel_pid = d.oriel.as_ref().context("no oriel process")?.id();
    let admin = crate::live::admin(d)?;
    let credentials =
        (args.kind != Kind::Vnc).then(|| json!({"username": TEST_USER, "password": TEST_PASSWORD}));
    let ws_id = create_workspace(
        &admin,
        &format!("lt{}-{}", std::process::id(), args.kind.name()),
        args.kind.name(),
        ("127.0.0.1", target.port()?),
        None,
        credentials,
        None,
    )?;
    let rss_idle = idle_rss_mib(oriel_pid)?;
    say(&format!(
        "deployment: {}; target: {}; oriel idle RSS {rss_idle:.1} MiB",
        d.describe(),
        target.describe(args.kind)
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let mut counters = Vec::new();
    let mut tasks = Vec::new();
    let mut session_ids = Vec::new();
    let typing = (args.kind == Kind::Ssh).then(|| format!("{LINE_LOOP}\n"));
    let mut desktop: Option<(u16, u16)> = None;
    let connect_started = Instant::now();
    for i in 0..args.count {
        let (id, viewer) =
            launch_session(rt, &admin, &ws_id, &d.ca).with_context(|| format!("session {i}"))?;
        session_ids.push(id);
        if let Some(h) = &viewer.hello {
            desktop.get_or_insert((h.size.width, h.size.height));
        }
        let c = Arc::new(Counters::default());
        counters.push(c.clone());
        tasks.push(rt.spawn(drive(viewer, c, stop.clone(), typing.clone())));
    }
    let desktop = desktop.map(|(w, h)| format!("{w}x{h}"));
    say(&format!(
        "{} {} sessions connected in {:.1} s; desktop {}",
        args.count,
        args.kind.name(),
        connect_started.elapsed().as_secs_f64(),
        desktop.as_deref().unwrap_or("-")
    ));

    std::thread::sleep(args.warmup);
    let s0 = sample(oriel_pid, target, &counters);
    let end = s0.at + args.duration;
    let mut rss = Vec::new();
    while Instant::now() < end {
        rss.push(rss_mib(oriel_pid)?);
        std::thread::sleep(
            end.saturating_duration_since(Instant::now())
                .min(Duration::from_secs(1)),
        );
    }
    let s1 = sample(oriel_pid, target, &counters);
    let load_end = load_average();
    stop.store(true, Ordering::Relaxed);

    let mut errors = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match rt.block_on(t) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(format!("viewer {i}: {e:#}")),
            Err(e) => errors.push(format!("viewer {i}: task failed: {e}")),
        }
    }
    errors.extend(end_sessions(&admin, &session_ids));

    let n = args.count as f64;
    let secs = s1.at.duration_since(s0.at).as_secs_f64();
    let cores = |a: f64, b: f64| (b - a) / secs;
    let (rss_with, _, rss_max) = spread(rss.into_iter());
    let rss_per_session = (rss_with - rss_idle) / n;
    let oriel_cores = cores(s0.oriel, s1.oriel);
    let rates = viewer_rates(&s0.viewers, &s1.viewers, secs);
    let (fps, fps_min, fps_max) = spread(rates.iter().map(|r| r.0));
    let (bps, bps_min, bps_max) = spread(rates.iter().map(|r| r.1));
    let ms_per_frame = cpu_ms_per_frame(oriel_cores, rates.iter().map(|r| r.0).sum());
    let peers: Vec<Value> = s0
        .peers
        .iter()
        .zip(&s1.peers)
        .map(|((role, a), (_, b))| {
            let c = cores(*a, *b);
            json!({"process": role, "cores": round(c, 3), "cores_per_session": round(c / n, 4)})
        })
        .collect();
    let machine = match (s0.machine, s1.machine) {
        (Some((b0, _)), Some((b1, _))) => json!(round(cores(b0, b1), 2)),
        _ => Value::Null,
    };
    let own = match (s0.own, s1.own) {
        (Some(a), Some(b)) => json!(round(cores(a, b), 3)),
        _ => Value::Null,
    };

    say(&format!(
        "{} × {}: oriel RSS {rss_idle:.1} → {rss_with:.1} MiB (max {rss_max:.1}): {rss_per_session:+.2} MiB/session; \
         oriel {oriel_cores:.3} cores = {:.4}/session ({} CPU-ms per delivered frame); viewers {fps:.1} frames/s (min {fps_min:.1}, max {fps_max:.1}), \
         {:.1} KiB/s each (min {:.1}, max {:.1})",
        args.count,
        args.kind.name(),
        oriel_cores / n,
        ms_per_frame.map_or("-".to_owned(), |x| format!("{x:.2}")),
        bps / 1024.0,
        bps_min / 1024.0,
        bps_max / 1024.0,
    ));
    say(&format!(
        "peer: {}; this process (viewers): {own} cores; machine busy: {machine} cores; load {load_start:?} → {load_end:?}",
        peers
            .iter()
            .map(|p| format!("{} {} cores", p["process"], p["cores"]))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    say(&format!("errors: {}", errors.len()));
    for e in &errors {
        say(&format!("  {e}"));
    }

    Ok(json!({
        "kind": args.kind.name(),
        "sessions": args.count,
        "seconds": round(secs, 2),
        "deployment": d.describe(),
        "target": target.describe(args.kind),
        "desktop": desktop,
        "oriel": {
            "rss_idle_mib": round(rss_idle, 2),
            "rss_with_sessions_mib": round(rss_with, 2),
            "rss_max_mib": round(rss_max, 2),
            "rss_growth_per_session_mib": round(rss_per_session, 3),
            "cores": round(oriel_cores, 3),
            "cores_per_session": round(oriel_cores / n, 4),
            "cpu_ms_per_delivered_frame": ms_per_frame.map(|x| round(x, 3)),
        },
        "viewer": {
            "frames_per_second": {"mean": round(fps, 2), "min": round(fps_min, 2), "max": round(fps_max, 2)},
            "bytes_per_second": {"mean": round(bps, 0), "min": round(bps_min, 0), "max": round(bps_max, 0)},
        },
        "peer": peers,
        "loadtest_cores": own,
        "machine_busy_cores": machine,
        "load_average": {"start": load_start, "end": load_end},
        "errors": errors,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keysyms_of_typed_text() {
        assert_eq!(keysym('a'), 0x61);
        assert_eq!(keysym('$'), 0x24);
        assert_eq!(keysym('\n'), 0xff0d);
        assert_eq!(keysym('é'), 0xe9);
        assert_eq!(keysym('€'), 0x0100_20ac);
    }

    #[test]
    fn rates_and_spread() {
        let a = [(10, 1000), (0, 0)];
        let b = [(30, 3000), (10, 500)];
        let r = viewer_rates(&a, &b, 2.0);
        assert_eq!(r, vec![(10.0, 1000.0), (5.0, 250.0)]);
        assert_eq!(spread(r.iter().map(|x| x.0)), (7.5, 5.0, 10.0));
        assert_eq!(spread(std::iter::empty()), (0.0, 0.0, 0.0));
        // A counter that went backwards (never expected) counts as nothing.
        assert_eq!(viewer_rates(&[(5, 5)], &[(3, 3)], 1.0), vec![(0.0, 0.0)]);
        assert_eq!(cpu_ms_per_frame(0.5, 100.0), Some(5.0));
        assert_eq!(cpu_ms_per_frame(0.5, 0.0), None);
    }
}
