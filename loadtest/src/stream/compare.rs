//! `oriel-loadtest stream --compare novnc`: Oriel and noVNC + websockify
//! side by side on the same Xtigervnc displays and workload, in the same
//! run (loadtest/README.md).
//!
//! One headless Chromium holds one tab per session. Each round measures,
//! for `duration` after `warmup`, three phases in turn (the order reversed
//! every other round):
//!
//! - `oriel`: every tab shows Oriel's real web viewer (`/viewer.html` of an
//!   `oriel up` started here, logged in as the admin, one session per tab
//!   launched with `POST /api/v1/sessions`): TLS WebSocket, tiles decoded
//!   by the browser;
//! - `novnc`: every tab shows noVNC's `vnc_lite.html` (Debian's `novnc`),
//!   served by websockify (`--web /usr/share/novnc`, one per display, plain
//!   `ws://`) which relays to the same Xtigervnc;
//! - `none`: every tab on `about:blank`: what Xtigervnc spends drawing the
//!   workload with no VNC client, so its encoding cost is the difference.
//!
//! Read at the start and end of each window, from `/proc`: CPU of
//! Xtigervnc, of `oriel` and of websockify's process tree (it forks one
//! process per connection), of Chromium's processes (all of them, and its
//! renderers), bytes written by `oriel` (`wchar` of `/proc/PID/io`,
//! mostly the TLS it sends to the browser; websockify uses `send(2)`,
//! which `wchar` does not count); in each tab (a `WebSocket` hook
//! injected before the page's scripts) the WebSocket payload bytes
//! received and the frames drawn (`orielViewer.framesDrawn`; noVNC: every
//! FramebufferUpdate finished, hooked on its `RFB` class, with a tally of
//! the rectangles' encodings and Tight sub-encodings and its quality and
//! compression levels). Ratios noVNC ÷ Oriel are taken per round and their
//! median reported.

mod report;

use super::Config;
use super::targets::Targets;
use crate::deploy::{Database, Deployment};
use crate::live::create_workspace;
use crate::say;
use crate::stats::{
    find_processes, load_average, machine_cpu, package_version, process_cpu, process_tree,
    processes_cpu,
};
use anyhow::{Context as _, bail};
use oriel_testkit::{
    Browser, BrowserOptions, ChildGuard, Page, ScratchDir, free_port, wait_for_port,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub use report::Compared;

/// A peer to compare with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Peer {
    /// noVNC 1.3 (`vnc_lite.html`) in the same Chromium through websockify.
    Novnc,
}

/// Where Debian's `novnc` puts the web client.
pub const NOVNC_DIR: &str = "/usr/share/novnc";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Which side a phase measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Oriel,
    Novnc,
    /// No viewer: the display and workload alone.
    None,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Oriel => "oriel",
            Side::Novnc => "novnc",
            Side::None => "none",
        }
    }
}

/// Runs before any script of every page: counts WebSocket payload bytes
/// and messages; on noVNC's page also FramebufferUpdates, rectangle
/// encodings and Tight sub-encodings, by wrapping the methods of the very
/// module instances the page imports.
const HOOK: &str = r#"(() => {
  const bench = window.__orielBench = {
    bytes: 0, messages: 0, updates: 0, rects: {}, tight: {}, quality: null, compression: null, hooked: false,
  };
  const Native = window.WebSocket;
  // A plain function returning the native object: noVNC checks the
  // object's own prototype for the WebSocket methods.
  const Hooked = function WebSocket(...args) {
    const ws = new Native(...args);
    ws.addEventListener('message', (e) => {
      const d = e.data;
      bench.messages += 1;
      bench.bytes += typeof d === 'string' ? d.length : (d.byteLength ?? d.size ?? 0);
    });
    return ws;
  };
  Hooked.prototype = Native.prototype;
  for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Hooked[k] = Native[k];
  window.WebSocket = Hooked;
  if (!location.pathname.endsWith('/vnc_lite.html')) return;
  const count = (o, k) => { o[k] = (o[k] || 0) + 1; };
  Promise.all([import('/core/rfb.js'), import('/core/decoders/tight.js')]).then(([rfb, tight]) => {
    const RFB = rfb.default;
    const fbu = RFB.prototype._framebufferUpdate;
    RFB.prototype._framebufferUpdate = function () {
      const done = fbu.call(this);
      if (done) {
        bench.updates += 1;
        bench.quality = this._qualityLevel;
        bench.compression = this._compressionLevel;
      }
      return done;
    };
    const rect = RFB.prototype._handleDataRect;
    RFB.prototype._handleDataRect = function () {
      const encoding = this._FBU.encoding;
      const done = rect.call(this);
      if (done) count(bench.rects, encoding);
      return done;
    };
    const Tight = tight.default;
    for (const name of ['_fillRect', '_jpegRect', '_pngRect', '_basicRect']) {
      const f = Tight.prototype[name];
      Tight.prototype[name] = function (...a) {
        const done = f.apply(this, a);
        if (done !== false) count(bench.tight, name.slice(1, -4));
        return done;
      };
    }
    bench.hooked = true;
  });
})()"#;

/// What a tab reports at one instant.
const COUNTERS: &str = r#"(() => {
  const b = window.__orielBench;
  if (!b) return null;
  const v = window.orielViewer;
  return {
    bytes: b.bytes, messages: b.messages,
    frames: v ? v.framesDrawn : b.updates,
    rects: b.rects, tight: b.tight, quality: b.quality, compression: b.compression, hooked: b.hooked,
  };
})()"#;

/// Why the comparison cannot run here, if it cannot.
pub fn missing_peers() -> Option<String> {
    let mut missing = Vec::new();
    if which("websockify").is_none() {
        missing.push("websockify (Debian: websockify)");
    }
    if !Path::new(NOVNC_DIR).join("vnc_lite.html").is_file() {
        missing.push("noVNC (Debian: novnc)");
    }
    if !Path::new(CHROMIUM).is_file() {
        missing.push("chromium (Debian: chromium)");
    }
    (!missing.is_empty()).then(|| format!("not installed: {}", missing.join(", ")))
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/sbin"].iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// websockify serving noVNC and relaying to one display.
struct Websockify {
    port: u16,
    guard: ChildGuard,
}

async fn start_websockify(
    binary: &Path,
    scratch: &ScratchDir,
    rfb_port: u16,
) -> anyhow::Result<Websockify> {
    let port = free_port()?;
    let mut cmd = Command::new(binary);
    cmd.arg("--web")
        .arg(NOVNC_DIR)
        .arg(format!("127.0.0.1:{port}"))
        .arg(format!("127.0.0.1:{rfb_port}"));
    let mut guard = ChildGuard::spawn(cmd, "websockify", scratch)?;
    if wait_for_port(port, Duration::from_secs(15)).await.is_err() || !guard.is_running() {
        bail!(
            "websockify did not start on 127.0.0.1:{port}:\n{}",
            guard.log_tail(15)
        );
    }
    Ok(Websockify { port, guard })
}

/// `rchar` and `wchar` of a process (`/proc/PID/io`), bytes.
fn process_io(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
    };
    Some((field("rchar:")?, field("wchar:")?))
}

/// One tab's counters at an instant.
#[derive(Debug, Clone, Default)]
pub struct TabCounters {
    pub bytes: u64,
    pub frames: u64,
    /// noVNC only: the counters as the page reports them (encodings…).
    pub raw: Value,
}

/// Everything read at one instant.
#[derive(Debug, Clone)]
pub struct Reading {
    pub at: Instant,
    pub xtigervnc: f64,
    pub workload: f64,
    pub oriel: f64,
    pub oriel_wchar: u64,
    pub websockify: f64,
    pub websockify_wchar: u64,
    pub browser: f64,
    pub renderers: f64,
    pub machine: Option<(f64, f64)>,
    pub own: Option<f64>,
    pub tabs: Vec<TabCounters>,
}

/// One measured window.
#[derive(Debug, Clone)]
pub struct Phase {
    pub round: usize,
    pub side: Side,
    pub start: Reading,
    pub end: Reading,
}

struct Rig<'a> {
    rt: &'a tokio::runtime::Runtime,
    config: &'a Config,
    targets: &'a Targets,
    oriel_pid: u32,
    websockify: &'a [Websockify],
    browser: &'a Browser,
    tabs: Vec<Page>,
    /// The viewer URL of each tab's Oriel session.
    oriel_urls: Vec<String>,
    /// The noVNC URL of each tab's display.
    novnc_urls: Vec<String>,
}

/// Runs the comparison: set-up, the rounds, the report.
pub fn run(
    c: &Config,
    binary: &Path,
    database: Database,
    rounds: usize,
    json_path: Option<&Path>,
) -> anyhow::Result<()> {
    if !c.targets.is_empty() {
        bail!(
            "--compare needs displays started here (not --targets): both sides read the same display"
        );
    }
    if rounds == 0 {
        bail!("rounds must be at least 1");
    }
    if let Some(why) = missing_peers() {
        bail!("cannot compare with noVNC: {why}");
    }
    let websockify_bin = which("websockify").context("websockify")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let targets = rt.block_on(Targets::start(c.workload, c.displays))?;
    let deployment = rt.block_on(Deployment::start(&binary.to_path_buf(), database))?;
    let scratch = ScratchDir::new("oriel-compare")?;
    let mut relays = Vec::new();
    for i in 0..targets.len() {
        let (_, port) = targets.address(i);
        relays.push(rt.block_on(start_websockify(&websockify_bin, &scratch, port))?);
    }
    let (w, h) = (super::targets::WIDTH, super::targets::HEIGHT);
    let browser = rt.block_on(Browser::launch_with(BrowserOptions {
        extra_args: vec![format!("--window-size={w},{h}")],
        viewport: Some((w, h)),
        ..BrowserOptions::default()
    }))?;
    let result = compare(&rt, c, &deployment, &targets, &relays, &browser, rounds);
    if result.is_err() {
        if let Some(g) = &deployment.oriel {
            say(&format!("oriel's log:\n{}", g.log_tail(30)));
        }
        say(&format!("chromium's log:\n{}", browser.log_tail(20)));
        for r in &relays {
            say(&format!("websockify's log:\n{}", r.guard.log_tail(10)));
        }
    }
    drop(browser);
    drop(relays);
    let deployment_name = deployment.describe();
    drop(deployment);
    drop(targets);
    drop(rt);
    let mut compared = result?;
    compared.deployment = deployment_name;
    for line in compared.table() {
        say(&line);
    }
    if let Some(path) = json_path {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&compared.to_json())? + "\n",
        )
        .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn compare(
    rt: &tokio::runtime::Runtime,
    c: &Config,
    d: &Deployment,
    targets: &Targets,
    relays: &[Websockify],
    browser: &Browser,
    rounds: usize,
) -> anyhow::Result<Compared> {
    let load_start = load_average();
    let oriel_pid = d.oriel.as_ref().context("no oriel process")?.id();
    let admin = crate::live::admin(d)?;
    let mut workspaces = Vec::new();
    for i in 0..targets.len() {
        let (host, port) = targets.address(i);
        workspaces.push(create_workspace(
            &admin,
            &format!("lt{}-compare-{i}", std::process::id()),
            "vnc",
            (&host, port),
            None,
            None,
            None,
        )?);
    }
    let mut tabs = Vec::new();
    for _ in 0..c.sessions {
        let tab = rt.block_on(browser.new_page())?;
        rt.block_on(tab.call(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": HOOK }),
        ))?;
        tabs.push(tab);
    }
    // Log the browser in and launch one session per tab, as the index page does.
    let ids = rt.block_on(launch_in_browser(d, &tabs[0], &workspaces, c.sessions))?;
    let oriel_urls = ids
        .iter()
        .map(|id| format!("{}/viewer.html?session={id}", d.base))
        .collect();
    let novnc_urls = (0..c.sessions)
        .map(|i| {
            let port = relays[i % relays.len()].port;
            format!(
                "http://127.0.0.1:{port}/vnc_lite.html?host=127.0.0.1&port={port}&path=websockify&scale=false"
            )
        })
        .collect();
    let rig = Rig {
        rt,
        config: c,
        targets,
        oriel_pid,
        websockify: relays,
        browser,
        tabs,
        oriel_urls,
        novnc_urls,
    };
    say(&format!(
        "compare {}: {} session(s) per side on {} display(s), {rounds} round(s) of oriel / novnc / none, {:?} each after {:?} warm-up",
        c.workload.name(),
        c.sessions,
        targets.len(),
        c.duration,
        c.warmup,
    ));
    let mut phases = Vec::new();
    let mut errors = Vec::new();
    for round in 0..rounds {
        let mut order = [Side::Oriel, Side::Novnc, Side::None];
        if round % 2 == 1 {
            order.reverse();
        }
        for side in order {
            match rig.phase(round, side) {
                Ok(p) => {
                    say(&report::phase_line(&p, c.sessions));
                    phases.push(p);
                }
                Err(e) => {
                    errors.push(format!("round {round} {}: {e:#}", side.name()));
                    let _ = rig.blank();
                }
            }
        }
    }
    errors.extend(crate::live::end_sessions(&admin, &ids));
    for (i, tab) in rig.tabs.iter().enumerate() {
        for e in tab.console_errors() {
            errors.push(format!("tab {i}: javascript: {e}"));
        }
    }
    Ok(Compared {
        workload: c.workload.name().to_owned(),
        sessions: c.sessions,
        displays: targets.len(),
        rounds,
        warmup: c.warmup,
        duration: c.duration,
        phases,
        errors,
        load_start,
        load_end: load_average(),
        chromium: rt.block_on(browser.version()).unwrap_or_default(),
        novnc: package_version("novnc"),
        websockify: package_version("websockify"),
        tigervnc: package_version("tigervnc-standalone-server"),
        deployment: String::new(),
        targets: targets.describe(c.workload),
    })
}

/// Logs the browser in as the admin (the cookie is the profile's, for
/// every tab) and launches `count` sessions, session `i` on workspace
/// `i mod K`; returns their ids.
async fn launch_in_browser(
    d: &Deployment,
    tab: &Page,
    workspaces: &[String],
    count: usize,
) -> anyhow::Result<Vec<String>> {
    tab.goto(&format!("{}/", d.base)).await?;
    let login = tab
        .eval(&format!(
            "fetch('/api/v1/auth/login', {{ method: 'POST', credentials: 'same-origin', \
             headers: {{ 'Content-Type': 'application/json', Accept: 'application/json' }}, \
             body: JSON.stringify({{ username: 'admin', password: {} }}) }}).then(r => r.status)",
            serde_json::to_string(&d.admin_password)?
        ))
        .await?;
    if login != json!(200) {
        bail!("browser login: status {login}");
    }
    let mut ids = Vec::new();
    for i in 0..count {
        let body = json!({ "workspace": workspaces[i % workspaces.len()] }).to_string();
        let launched = tab
            .eval(&format!(
                "fetch('/api/v1/sessions', {{ method: 'POST', credentials: 'same-origin', \
                 headers: {{ 'Content-Type': 'application/json', Accept: 'application/json' }}, \
                 body: {} }}).then(async r => ({{ status: r.status, body: await r.json() }}))",
                serde_json::to_string(&body)?
            ))
            .await?;
        if launched["status"] != 201 {
            bail!("launch of session {i} in the browser: {launched}");
        }
        ids.push(
            launched["body"]["id"]
                .as_str()
                .context("session id")?
                .to_owned(),
        );
    }
    tab.goto("about:blank").await?;
    Ok(ids)
}

impl Rig<'_> {
    /// Every tab on `about:blank`.
    fn blank(&self) -> anyhow::Result<()> {
        for tab in &self.tabs {
            self.rt.block_on(tab.goto("about:blank"))?;
        }
        Ok(())
    }

    /// Opens the side's viewers, waits until each is connected, warms up,
    /// measures, then closes them.
    fn phase(&self, round: usize, side: Side) -> anyhow::Result<Phase> {
        let connect = Duration::from_secs(30);
        for (i, tab) in self.tabs.iter().enumerate() {
            let (url, ready) = match side {
                Side::Oriel => (
                    &self.oriel_urls[i],
                    "window.orielViewer && orielViewer.state === 'connected' && orielViewer.framesDrawn > 0",
                ),
                Side::Novnc => (
                    &self.novnc_urls[i],
                    "window.__orielBench && __orielBench.hooked && document.getElementById('status').textContent.startsWith('Connected')",
                ),
                Side::None => continue,
            };
            self.rt.block_on(async {
                tab.goto(url).await?;
                tab.wait_for(ready, connect)
                    .await
                    .with_context(|| format!("tab {i} never connected to {}", side.name()))
            })?;
        }
        std::thread::sleep(self.config.warmup);
        let start = self.read()?;
        std::thread::sleep(self.config.duration);
        let end = self.read()?;
        if side == Side::Novnc {
            for (i, tab) in end.tabs.iter().enumerate() {
                let status = self
                    .rt
                    .block_on(self.tabs[i].eval("document.getElementById('status').textContent"))?;
                if !status.as_str().unwrap_or_default().starts_with("Connected") {
                    bail!(
                        "noVNC tab {i} is no longer connected: {status} ({:?})",
                        tab.raw
                    );
                }
            }
        }
        if side == Side::Oriel {
            for (i, tab) in self.tabs.iter().enumerate() {
                let state = self.rt.block_on(tab.eval("orielViewer.state"))?;
                if state != "connected" {
                    bail!("Oriel tab {i} is no longer connected: {state}");
                }
            }
        }
        self.blank()?;
        // Streams and relay processes close; Xtigervnc stops encoding for them.
        std::thread::sleep(Duration::from_secs(1));
        Ok(Phase {
            round,
            side,
            start,
            end,
        })
    }

    /// Reads every counter now.
    fn read(&self) -> anyhow::Result<Reading> {
        let mut tabs = Vec::new();
        for tab in &self.tabs {
            let v = self.rt.block_on(tab.eval(COUNTERS))?;
            tabs.push(TabCounters {
                bytes: v["bytes"].as_u64().unwrap_or(0),
                frames: v["frames"].as_u64().unwrap_or(0),
                raw: v,
            });
        }
        let (xtigervnc, workload) = self.targets.cpu().unwrap_or((0.0, 0.0));
        let relay_pids: Vec<u32> = self
            .websockify
            .iter()
            .flat_map(|w| process_tree(w.guard.id()).into_iter().map(|p| p.0))
            .collect();
        let profile = self.browser.scratch_dir().path().join("profile");
        let marker = format!("--user-data-dir={}", profile.display());
        // The browser process names our profile; its helpers (zygotes,
        // renderers, GPU, network service) are its descendants.
        let mut chromium: Vec<u32> = find_processes(|a| a.contains(&marker))
            .into_iter()
            .flat_map(|root| process_tree(root).into_iter().map(|p| p.0))
            .collect();
        chromium.sort_unstable();
        chromium.dedup();
        let renderers: Vec<u32> = chromium
            .iter()
            .copied()
            .filter(|pid| {
                // Chromium rewrites its helpers' argv (one string with spaces).
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("--type=renderer"))
            })
            .collect();
        Ok(Reading {
            at: Instant::now(),
            xtigervnc,
            workload,
            oriel: process_cpu(self.oriel_pid).context("CPU time of oriel")?,
            oriel_wchar: process_io(self.oriel_pid).map_or(0, |io| io.1),
            websockify: processes_cpu(&relay_pids),
            websockify_wchar: relay_pids
                .iter()
                .filter_map(|p| process_io(*p))
                .map(|io| io.1)
                .sum(),
            browser: processes_cpu(&chromium),
            renderers: processes_cpu(&renderers),
            machine: machine_cpu(),
            own: process_cpu(std::process::id()),
            tabs,
        })
    }
}
