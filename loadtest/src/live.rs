//! Live sessions, shared by `sessions` and `stream`: the standard workloads
//! (loadtest/README.md) on an X display, a workspace and its
//! sessions through the REST API with one verifying [`StreamViewer`] per
//! session (TLS, WebSocket, HELLO with the token, every tile decoded, every
//! frame acknowledged, as the browser does), and the small statistics both
//! reports use.

use crate::client::Client;
use crate::deploy::Deployment;
use crate::stats::{process_rss_kib, process_tree};
use anyhow::{Context as _, bail};
use oriel_testkit::{ChildGuard, StreamViewer, VncDisplay, Xterm, XtermOptions};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// Prints a new line every 50 ms (new text each time, so every line is a
/// real change on the screen).
pub const LINE_LOOP: &str =
    r#"i=0; while :; do i=$((i+1)); echo "line $i $(date +%T.%N)"; sleep 0.05; done"#;

/// Moves the xclock window 30 times a second (`--sync`: chained moves are
/// otherwise lost).
const MOVER: &str = r#"W=$(xdotool search --sync --classname xclock | head -n 1); x=0
while :; do x=$(( (x + 8) % 600 )); xdotool windowmove --sync "$W" $((1000 + x)) 120; sleep 0.033; done"#;

/// A standard workload (loadtest/README.md), on a 1920×1080 display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// Nothing moves.
    Idle,
    /// An 80×40 xterm printing a new line 20 times a second and an xclock
    /// moved 30 times a second.
    Office,
    /// ffplay `testsrc2` 640×360 at 30 fps at the top-left.
    Video,
    /// ffplay `testsrc2` 1280×720 at 30 fps at the top-left.
    Video720,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Idle => "idle",
            Workload::Office => "office",
            Workload::Video => "video",
            Workload::Video720 => "video720",
        }
    }

    /// Starts the workload's programs on `display`.
    pub async fn start(self, display: &VncDisplay) -> anyhow::Result<RunningWorkload> {
        let mut w = RunningWorkload {
            guards: Vec::new(),
            xterm: None,
        };
        match self {
            Workload::Idle => {}
            Workload::Office => {
                w.xterm = Some(
                    display
                        .start_xterm(XtermOptions {
                            columns: 80,
                            rows: 40,
                            x: 20,
                            y: 20,
                            command: Some(LINE_LOOP.to_owned()),
                            ..Default::default()
                        })
                        .await?,
                );
                let xclock = display.spawn("xclock", ["-geometry", "120x120+1000+120"])?;
                // The mover first: it drops (stops) before the window it moves.
                w.guards.push(display.spawn("sh", ["-c", MOVER])?);
                w.guards.push(xclock);
            }
            Workload::Video | Workload::Video720 => {
                let size = if self == Workload::Video {
                    "640x360"
                } else {
                    "1280x720"
                };
                w.guards.push(display.start_test_video(size)?);
            }
        }
        Ok(w)
    }
}

/// The programs of a workload; they stop when this drops.
#[derive(Debug)]
pub struct RunningWorkload {
    guards: Vec<ChildGuard>,
    xterm: Option<Xterm>,
}

impl RunningWorkload {
    /// Every process of the workload now (the programs and their children).
    pub fn processes(&self) -> Vec<u32> {
        let roots = self
            .guards
            .iter()
            .map(ChildGuard::id)
            .chain(self.xterm.as_ref().map(|x| x.guard.id()));
        let mut all: Vec<u32> = roots
            .flat_map(|r| process_tree(r).into_iter().map(|p| p.0))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) every process of the
    /// workload: frozen, the screen keeps its last picture. The tree is
    /// signalled twice: a child started meanwhile is caught the second time.
    pub fn signal(&self, freeze: bool) -> anyhow::Result<()> {
        let sig = if freeze { "-STOP" } else { "-CONT" };
        for _ in 0..2 {
            for pid in self.processes() {
                let status = std::process::Command::new("kill")
                    .args([sig, &pid.to_string()])
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .context("running kill")?;
                // A short-lived child (xdotool) may have exited meanwhile.
                if !status.success() && Path::new(&format!("/proc/{pid}")).exists() {
                    bail!("kill {sig} {pid} failed ({status})");
                }
            }
        }
        Ok(())
    }

    /// Whether every program still runs.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        for g in &mut self.guards {
            g.ensure_running()?;
        }
        if let Some(x) = &mut self.xterm {
            x.guard.ensure_running()?;
        }
        Ok(())
    }
}

impl Drop for RunningWorkload {
    fn drop(&mut self) {
        // A frozen process ignores SIGTERM until it runs again.
        let _ = self.signal(false);
    }
}

/// The admin's API client of a deployment, logged in.
pub fn admin(d: &Deployment) -> anyhow::Result<Client> {
    let mut admin = Client::new(&d.base, &d.ca)?;
    if admin.login("admin", &d.admin_password)? != 200 {
        bail!("admin login failed");
    }
    Ok(admin)
}

/// Creates a workspace (its target in `zone`, when given; its policy, when
/// given); returns its id.
pub fn create_workspace(
    admin: &Client,
    name: &str,
    kind: &str,
    (host, port): (&str, u16),
    zone: Option<&str>,
    credentials: Option<Value>,
    policy: Option<&Value>,
) -> anyhow::Result<String> {
    let mut body = json!({
        "name": name,
        "kind": kind,
        "target": {"host": host, "port": port},
    });
    if let Some(p) = policy {
        body["policy"] = p.clone();
    }
    if let Some(z) = zone {
        body["target"]["zone"] = json!(z);
    }
    if let Some(c) = credentials {
        body["credentials"] = c;
    }
    let ws = admin.expect("POST", "/api/v1/workspaces", Some(&body), 201)?;
    Ok(ws["id"].as_str().context("workspace id")?.to_owned())
}

/// A user of `zone` made for this run (a group of the zone holding the
/// user and `workspaces`), logged in: its sessions enter at the zone's
/// dedicated proxy, as a user near it would.
pub fn zone_user(
    admin: &Client,
    d: &Deployment,
    zone: &str,
    workspaces: &[String],
) -> anyhow::Result<Client> {
    let name = format!("lt{}-{zone}", std::process::id());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let password = format!("lt-{}-{nanos}-pw", std::process::id());
    let user = admin.expect(
        "POST",
        "/api/v1/users",
        Some(&json!({"username": name, "password": password})),
        201,
    )?;
    admin.expect(
        "POST",
        "/api/v1/groups",
        Some(&json!({"name": name, "settings": {"zone": zone},
                     "members": [user["id"]], "workspaces": workspaces})),
        201,
    )?;
    let mut client = Client::new(&d.base, &d.ca)?;
    if client.login(&name, &password)? != 200 {
        bail!("login of the zone's user {name} failed");
    }
    Ok(client)
}

/// Launches a session of `workspace` (`POST /api/v1/sessions`) and connects
/// a viewer to its stream (HELLO answered). Returns the session id and the
/// viewer.
pub fn launch_session(
    rt: &tokio::runtime::Runtime,
    admin: &Client,
    workspace: &str,
    ca: &Path,
) -> anyhow::Result<(String, StreamViewer)> {
    launch_session_with(rt, admin, workspace, ca, 0)
}

/// [`launch_session`] with a viewer offering `capabilities` in its HELLO
/// (`oriel_core_wire::caps`).
pub fn launch_session_with(
    rt: &tokio::runtime::Runtime,
    admin: &Client,
    workspace: &str,
    ca: &Path,
    capabilities: u32,
) -> anyhow::Result<(String, StreamViewer)> {
    let launched = admin.expect(
        "POST",
        "/api/v1/sessions",
        Some(&json!({ "workspace": workspace })),
        201,
    )?;
    let id = launched["id"].as_str().context("session id")?.to_owned();
    let viewer = connect_viewer(rt, &launched, ca, admin.base(), capabilities)?;
    Ok((id, viewer))
}

/// Connects one more viewer to a running session, with a token of its own
/// (`POST /api/v1/sessions/{id}/token`, as a browser's second tab does).
pub fn join_session(
    rt: &tokio::runtime::Runtime,
    admin: &Client,
    id: &str,
    ca: &Path,
    capabilities: u32,
) -> anyhow::Result<StreamViewer> {
    let started = std::time::Instant::now();
    let grant = loop {
        let (status, body) = admin.call("POST", &format!("/api/v1/sessions/{id}/token"), None)?;
        match status {
            200 => break body,
            202 if started.elapsed() < Duration::from_secs(30) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => bail!("token of session {id}: {status} {body}"),
        }
    };
    connect_viewer(rt, &grant, ca, admin.base(), capabilities)
}

/// Connects a viewer with a grant (`stream_url`, `token`) and waits for
/// the gateway's HELLO.
/// A viewer of a launch's (or a token's) stream, opened from `origin` (the
/// web app's, as a browser does: the stream may enter elsewhere, at a
/// node's gateway or a zone's proxy).
fn connect_viewer(
    rt: &tokio::runtime::Runtime,
    grant: &Value,
    ca: &Path,
    origin: &str,
    capabilities: u32,
) -> anyhow::Result<StreamViewer> {
    let url = grant["stream_url"]
        .as_str()
        .context("stream_url")?
        .to_owned();
    let token = grant["token"].as_str().context("token")?.to_owned();
    let origin = origin.to_owned();
    rt.block_on(async move {
        let mut v = StreamViewer::connect(&url, ca, Some(&origin)).await?;
        v.capabilities = capabilities;
        v.hello(&token, Duration::from_secs(30)).await?;
        if v.hello.is_none() {
            bail!("no HELLO (END {:?}, close code {:?})", v.end, v.close_code);
        }
        anyhow::Ok(v)
    })
}

/// Ends sessions (`DELETE`); returns one message per failure.
pub fn end_sessions(admin: &Client, ids: &[String]) -> Vec<String> {
    let mut errors = Vec::new();
    for id in ids {
        match admin.call("DELETE", &format!("/api/v1/sessions/{id}"), None) {
            Ok((204, _)) => {}
            Ok((status, body)) => errors.push(format!("end of session {id}: {status} {body}")),
            Err(e) => errors.push(format!("end of session {id}: {e:#}")),
        }
    }
    errors
}

/// `VmRSS` of a process, MiB.
pub fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    Ok(process_rss_kib(pid).context("VmRSS of oriel")? as f64 / 1024.0)
}

/// Resident memory with no session: the mean of a few readings after the
/// set-up settled (2 s).
pub fn idle_rss_mib(pid: u32) -> anyhow::Result<f64> {
    std::thread::sleep(Duration::from_secs(2));
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(rss_mib(pid)?);
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(spread(idle.into_iter()).0)
}

/// Mean, min and max of some values (zeros when there are none).
pub fn spread(v: impl Iterator<Item = f64>) -> (f64, f64, f64) {
    let v: Vec<f64> = v.collect();
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, min, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::round;

    #[test]
    fn spread_and_round() {
        assert_eq!(spread([1.0, 3.0, 2.0].into_iter()), (2.0, 1.0, 3.0));
        assert_eq!(spread(std::iter::empty()), (0.0, 0.0, 0.0));
        assert_eq!(round(1.23456, 2), 1.23);
    }
}
