//! `oriel-loadtest containers`: what a container session costs and how fast
//! it starts.
//!
//! Set-up (not measured): the desktop image (`deploy/images/desktop`, built
//! if its recipe changed, or `--image`), `oriel up` on a temporary data
//! directory with its agent in the process (a unique agent id), and an
//! admin-created `container` workspace.
//!
//! - **Launch → first frame**, `runs` times one after the other: from
//!   `POST /api/v1/sessions` until a [`StreamViewer`] (TLS, WebSocket, HELLO
//!   with the token, every tile decoded and acknowledged, as the browser
//!   does) has drawn its first frame. Split into launch → token (the agent
//!   created the network and container and the VNC server answered) and
//!   token → first frame (gateway connect, VNC handshake, first encode).
//!   Each session is ended (and its container removed) before the next.
//! - **Idle session**: one session with its viewer connected, nobody typing,
//!   for `idle`: the container's memory and CPU from its cgroup (v1 or v2),
//!   and what the session adds to the `oriel` process (resident memory
//!   against before the launch, CPU over the idle time).

use crate::client::Client;
use crate::deploy::{Database, Deployment};
use crate::say;
use crate::stats::{Latencies, process_cpu, process_rss_kib};
use anyhow::{Context as _, bail};
use oriel_testkit::{StreamViewer, ViewerEvent};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Launches measured one after the other.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// How long the idle session is watched.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    idle: Duration,
    /// Image to run (default: build `deploy/images/desktop`).
    #[arg(long)]
    image: Option<String>,
    /// Desktop size of the workspace.
    #[arg(long, default_value_t = 1600)]
    width: u32,
    #[arg(long, default_value_t = 900)]
    height: u32,
    /// The `oriel` binary to start (default: next to this one).
    #[arg(long)]
    oriel: Option<PathBuf>,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let binary = crate::deploy::oriel_binary(args.oriel.as_ref())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let image = match &args.image {
        Some(i) => i.clone(),
        None => rt.block_on(oriel_testkit::images::desktop_image())?,
    };
    let agent = format!("lt{}", std::process::id());
    let deployment = rt.block_on(Deployment::start_with(
        &binary,
        Database::Sqlite,
        &[
            ("ORIEL_AGENT__ID", &agent),
            ("ORIEL_AGENT__MAX_SESSIONS", "4"),
        ],
    ))?;
    let result = measure(&rt, &args, &deployment, &image);
    if result.is_err()
        && let Some(g) = &deployment.oriel
    {
        say(&format!("oriel's log:\n{}", g.log_tail(30)));
    }
    drop(deployment);
    oriel_testkit::docker::remove_agent_leftovers(&agent);
    drop(rt);
    let report = result?;
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
    }
    Ok(())
}

/// Launches, waits for the token (the desktop is ready) and the first
/// frame; returns the session id, both durations and the live viewer.
async fn launch(
    client: &Client,
    d: &Deployment,
) -> anyhow::Result<(String, Duration, Duration, StreamViewer)> {
    let t0 = Instant::now();
    let launched = client.expect(
        "POST",
        "/api/v1/sessions",
        Some(&json!({"workspace": "bench-desktop"})),
        201,
    )?;
    let id = launched["id"].as_str().context("no id")?.to_owned();
    let grant = loop {
        let (status, body) = client.call("POST", &format!("/api/v1/sessions/{id}/token"), None)?;
        match status {
            200 => break body,
            202 => tokio::time::sleep(Duration::from_millis(25)).await,
            _ => bail!("token: {status} {body}"),
        }
        if t0.elapsed() > Duration::from_secs(120) {
            bail!("the desktop was not ready in 2 minutes");
        }
    };
    let ready = t0.elapsed();
    let url = grant["stream_url"].as_str().context("no stream_url")?;
    let mut v = StreamViewer::connect(url, &d.ca, Some(&d.base)).await?;
    v.hello(
        grant["token"].as_str().context("no token")?,
        Duration::from_secs(30),
    )
    .await?;
    v.wait_for(Duration::from_secs(30), "the first frame", |e| {
        matches!(e, ViewerEvent::Frame(_))
    })
    .await?;
    Ok((id, ready, t0.elapsed(), v))
}

fn end(client: &Client, id: &str) -> anyhow::Result<()> {
    client.expect("DELETE", &format!("/api/v1/sessions/{id}"), None, 204)?;
    Ok(())
}

/// Memory (bytes) and CPU (seconds) of a container's cgroup.
fn cgroup_usage(container: &str) -> anyhow::Result<(u64, f64)> {
    let out = std::process::Command::new("docker")
        .args(["inspect", "--format", "{{.State.Pid}}", container])
        .output()?;
    let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse()?;
    let groups = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    let read = |p: String| -> anyhow::Result<String> {
        Ok(std::fs::read_to_string(&p)
            .with_context(|| format!("cannot read {p}"))?
            .trim()
            .to_owned())
    };
    // cgroup v2 (unified) when the root has cgroup.controllers; a v1 host
    // also lists a `0::` line, for its empty unified hierarchy.
    let unified = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    if let Some(path) = groups
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .filter(|_| unified)
    {
        let base = format!("/sys/fs/cgroup{path}");
        let mem: u64 = read(format!("{base}/memory.current"))?.parse()?;
        let usec: f64 = read(format!("{base}/cpu.stat"))?
            .lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .context("no usage_usec")?
            .parse()?;
        return Ok((mem, usec / 1e6));
    }
    let find = |ctrl: &str| {
        groups.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            ctrls
                .split(',')
                .any(|c| c == ctrl)
                .then(|| (ctrls.to_owned(), path.to_owned()))
        })
    };
    let (mctrl, mpath) = find("memory").context("no memory cgroup")?;
    let (cctrl, cpath) = find("cpuacct").context("no cpuacct cgroup")?;
    // Resident use without the page cache the container's files left.
    let stat = read(format!("/sys/fs/cgroup/{mctrl}{mpath}/memory.stat"))?;
    let field = |name: &str| -> u64 {
        stat.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let mem = field("total_rss ") + field("total_shmem ");
    let ns: f64 = read(format!("/sys/fs/cgroup/{cctrl}{cpath}/cpuacct.usage"))?.parse()?;
    Ok((mem, ns / 1e9))
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

fn measure(
    rt: &tokio::runtime::Runtime,
    args: &Args,
    d: &Deployment,
    image: &str,
) -> anyhow::Result<Value> {
    let mut client = Client::new(&d.base, &d.ca)?;
    if client.login("admin", &d.admin_password)? != 200 {
        bail!("admin login failed");
    }
    let oriel_pid = d.oriel.as_ref().context("no oriel process")?.id();
    // The agent registers right after start.
    let started = Instant::now();
    loop {
        let agents = client.expect("GET", "/api/v1/agents", None, 200)?;
        if agents["items"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("no agent registered: is Docker running (and are we root)?");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    client.expect(
        "POST",
        "/api/v1/workspaces",
        Some(&json!({
            "name": "bench-desktop",
            "kind": "container",
            "container": {"image": image, "cpus": 1, "memory_mb": 1024,
                          "width": args.width, "height": args.height},
        })),
        201,
    )?;
    say(&format!(
        "container sessions: image {image}, {}x{}, oriel up (SQLite) with its agent in process",
        args.width, args.height
    ));

    // Launch → first frame, one after the other.
    let (mut to_ready, mut to_frame) = (Latencies::default(), Latencies::default());
    for i in 0..args.runs {
        let (id, ready, frame, v) = rt.block_on(launch(&client, d))?;
        drop(v);
        end(&client, &id)?;
        to_ready.push(ready);
        to_frame.push(frame);
        say(&format!(
            "  run {:>2}: desktop ready {:>7.1} ms, first frame {:>7.1} ms",
            i + 1,
            ms(ready),
            ms(frame)
        ));
        // Let the agent remove it before the next launch.
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(500)).await });
    }
    say(&format!(
        "launch → desktop ready: p50 {} ms, p90 {} ms, max {} ms",
        ms(to_ready.percentile(50.0)),
        ms(to_ready.percentile(90.0)),
        ms(to_ready.percentile(100.0))
    ));
    say(&format!(
        "launch → first frame:   p50 {} ms, p90 {} ms, max {} ms",
        ms(to_frame.percentile(50.0)),
        ms(to_frame.percentile(90.0)),
        ms(to_frame.percentile(100.0))
    ));

    // One idle session.
    rt.block_on(async { tokio::time::sleep(Duration::from_secs(2)).await });
    let rss_before = process_rss_kib(oriel_pid).unwrap_or(0);
    let (id, _, _, mut viewer) = rt.block_on(launch(&client, d))?;
    let session = client.expect("GET", &format!("/api/v1/sessions/{id}"), None, 200)?;
    let agent = session["agent_id"].as_str().context("no agent")?;
    let container = format!("oriel-{agent}-{id}");
    // Settle (the desktop's start-up), then watch.
    rt.block_on(viewer.pump(Duration::from_secs(3)))?;
    let (mem0, cpu0) = cgroup_usage(&container)?;
    let oriel_cpu0 = process_cpu(oriel_pid).unwrap_or(0.0);
    let t0 = Instant::now();
    let closed = rt.block_on(viewer.pump(args.idle))?;
    if closed {
        bail!("the idle session's stream closed");
    }
    let secs = t0.elapsed().as_secs_f64();
    let (mem1, cpu1) = cgroup_usage(&container)?;
    let oriel_cpu1 = process_cpu(oriel_pid).unwrap_or(0.0);
    let rss_after = process_rss_kib(oriel_pid).unwrap_or(0);
    drop(viewer);
    end(&client, &id)?;
    let mib = |b: u64| (b as f64 / 1048576.0 * 10.0).round() / 10.0;
    let pct = |c: f64| (c / secs * 1000.0).round() / 10.0;
    let container_mem = mib(mem0.max(mem1));
    let container_cpu = pct(cpu1 - cpu0);
    let oriel_cpu = pct(oriel_cpu1 - oriel_cpu0);
    let oriel_mem = ((rss_after as f64 - rss_before as f64) / 1024.0 * 10.0).round() / 10.0;
    say(&format!(
        "idle session over {secs:.0} s: container {container_mem} MiB, {container_cpu}% of a core; \
         oriel +{oriel_mem} MiB resident, {oriel_cpu}% of a core"
    ));
    Ok(json!({
        "image": image,
        "desktop": format!("{}x{}", args.width, args.height),
        "runs": args.runs,
        "launch_to_ready": to_ready.summary(),
        "launch_to_first_frame": to_frame.summary(),
        "idle": {
            "seconds": secs,
            "container_memory_mib": container_mem,
            "container_cpu_percent": container_cpu,
            "oriel_memory_delta_mib": oriel_mem,
            "oriel_cpu_percent": oriel_cpu,
        },
    }))
}
