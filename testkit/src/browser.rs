//! Headless Chromium driven over the Chrome DevTools Protocol.
//!
//! [`Browser::launch`] starts `/usr/bin/chromium` with a temporary profile and
//! `--remote-debugging-port=0`, reads the `DevTools listening on ws://...` line
//! from its log and connects. [`Browser::new_page`] opens a tab attached with a
//! flat session: a [`Page`] (see [`crate::page`]). Every call has a timeout
//! (30 s by default) so a hung browser fails the test instead of hanging CI.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::cdp::{CdpConnection, CdpEvent};
use crate::page::Page;
use crate::process::{ChildGuard, ScratchDir, wait_for_value};

/// The default timeout of every browser call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The Chromium binary (Debian's wrapper script, which `exec`s the browser).
const CHROMIUM: &str = "/usr/bin/chromium";

/// Flags from PEERS.md: no sandbox (root), no GPU, nothing that phones home.
const BASE_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--remote-debugging-address=127.0.0.1",
    "--ignore-certificate-errors",
    "--window-size=1600,1000",
];

/// How to launch a [`Browser`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserOptions {
    /// Extra command-line flags, e.g. `--window-size=800,600` (a later flag wins).
    pub extra_args: Vec<String>,
    /// Timeout of each call and of the launch itself.
    pub timeout: Duration,
    /// The viewport of every new page in CSS pixels, at device scale factor 1
    /// (`Emulation.setDeviceMetricsOverride`). Without it the viewport is the
    /// window less headless Chromium's pretend browser UI: 1600×913 here.
    pub viewport: Option<(u32, u32)>,
    /// How long a page's waits wait ([`Page::wait_timeout`]).
    pub wait_timeout: Duration,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        Self {
            extra_args: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            viewport: Some(DEFAULT_VIEWPORT),
            wait_timeout: DEFAULT_WAIT,
        }
    }
}

/// The default wait timeout of new pages: how long a page may take to
/// show what an action changes.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// The default viewport of new pages, the same as the window size.
pub const DEFAULT_VIEWPORT: (u32, u32) = (1600, 1000);

/// A headless Chromium; stopped (with its renderers) when dropped.
#[derive(Debug)]
pub struct Browser {
    cdp: Arc<CdpConnection>,
    chromium: ChromiumProcess,
    dir: ScratchDir,
    viewport: Option<(u32, u32)>,
    wait_timeout: Duration,
}

/// The browser process and its profile; dropping stops both.
#[derive(Debug)]
struct ChromiumProcess {
    process: ChildGuard,
    profile: PathBuf,
}

impl Drop for ChromiumProcess {
    fn drop(&mut self) {
        if let Err(error) = self.process.stop() {
            tracing::warn!(error = %error, "cannot stop chromium");
        }
        // The zygote, GPU and renderer processes outlive the browser process
        // for a moment and keep writing to the profile; they are ours (their
        // command line names our unique profile directory).
        let marker = format!("--user-data-dir={}", self.profile.display());
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut leftovers = processes_with_arg(&marker);
        while !leftovers.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            leftovers = processes_with_arg(&marker);
        }
        for pid in leftovers {
            tracing::warn!(pid, "killing a chromium helper that outlived the browser");
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        for _ in 0..20 {
            match std::fs::remove_dir_all(&self.profile) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => break,
            }
        }
    }
}

/// Pids of live processes with `arg` among their arguments.
fn processes_with_arg(arg: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| cmdline.split(|&b| b == 0).any(|a| a == arg.as_bytes()))
        })
        .collect()
}

impl Browser {
    /// Launches Chromium with the default options.
    pub async fn launch() -> Result<Self> {
        Self::launch_with(BrowserOptions::default()).await
    }

    /// Launches Chromium with extra flags and a chosen timeout.
    pub async fn launch_with(options: BrowserOptions) -> Result<Self> {
        let dir = ScratchDir::new("chromium")?;
        let profile = dir.path().join("profile");
        std::fs::create_dir(&profile).context("cannot create the chromium profile directory")?;
        let mut cmd = Command::new(CHROMIUM);
        cmd.args(BASE_FLAGS)
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(&options.extra_args)
            .arg("about:blank");
        let mut chromium = ChromiumProcess {
            process: ChildGuard::spawn(cmd, "chromium", &dir)?,
            profile,
        };
        let process = &mut chromium.process;
        let log_path = process.log_path().to_path_buf();
        let mut exited = None;
        let ws_url = wait_for_value(options.timeout, "chromium's DevTools url", || {
            let log = crate::process::read_lossy(&log_path);
            let url = log
                .lines()
                .find_map(|line| line.trim().strip_prefix("DevTools listening on "))
                .map(str::to_owned);
            if url.is_none() {
                exited = process.try_exit_status().ok().flatten();
            }
            let found = url.map(Ok).or_else(|| exited.map(Err));
            async move { found }
        })
        .await
        .with_context(|| format!("chromium did not start:\n{}", useful_log_tail(process, 30)))?
        .map_err(|status| {
            anyhow!(
                "chromium exited ({status}):\n{}",
                useful_log_tail(process, 30)
            )
        })?;
        let cdp = CdpConnection::connect(&ws_url, options.timeout)
            .await
            .with_context(|| format!("chromium log:\n{}", useful_log_tail(process, 30)))?;
        tracing::debug!(pid = process.id(), ws_url, "chromium ready");
        Ok(Self {
            cdp: Arc::new(cdp),
            chromium,
            dir,
            viewport: options.viewport,
            wait_timeout: options.wait_timeout,
        })
    }

    /// The DevTools connection, for protocol calls this kit does not wrap.
    pub fn cdp(&self) -> &CdpConnection {
        &self.cdp
    }

    /// The last lines of Chromium's stderr, for failure messages (without
    /// the dbus complaints it prints all the time on a machine without dbus).
    pub fn log_tail(&self, lines: usize) -> String {
        useful_log_tail(&self.chromium.process, lines)
    }

    /// The directory with Chromium's log and profile.
    pub fn scratch_dir(&self) -> &ScratchDir {
        &self.dir
    }

    /// The browser's version string, e.g. `"Chrome/156.0.8078.108"`.
    pub async fn version(&self) -> Result<String> {
        let version = self.cdp.call(None, "Browser.getVersion", json!({})).await?;
        Ok(version["product"].as_str().unwrap_or_default().to_owned())
    }

    /// Opens a new tab on `about:blank`, attached with a flat session, with
    /// the Page and Runtime domains enabled.
    pub async fn new_page(&self) -> Result<Page> {
        let target = self
            .cdp
            .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await?;
        let target_id = target["targetId"]
            .as_str()
            .context("Target.createTarget returned no targetId")?
            .to_owned();
        let attached = self
            .cdp
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await?;
        let session_id = attached["sessionId"]
            .as_str()
            .context("Target.attachToTarget returned no sessionId")?
            .to_owned();

        let console_errors = Arc::new(Mutex::new(Vec::new()));
        let collector = spawn_error_collector(
            self.cdp.subscribe(),
            session_id.clone(),
            console_errors.clone(),
        );
        let page = Page {
            cdp: self.cdp.clone(),
            session_id,
            target_id,
            console_errors,
            collector,
            wait_timeout: self.wait_timeout,
            artefacts: self.dir.clone(),
        };
        page.call("Page.enable", json!({})).await?;
        page.call("Page.setLifecycleEventsEnabled", json!({ "enabled": true }))
            .await?;
        page.call("Runtime.enable", json!({})).await?;
        if let Some((width, height)) = self.viewport {
            page.set_viewport(width, height).await?;
        }
        Ok(page)
    }
}

fn useful_log_tail(process: &ChildGuard, lines: usize) -> String {
    let log = process.log();
    let useful: Vec<&str> = log
        .lines()
        .filter(|line| !line.contains(":ERROR:dbus/"))
        .collect();
    useful[useful.len().saturating_sub(lines)..].join("\n")
}

/// Collects `Runtime.exceptionThrown` and `console.error` of one session.
fn spawn_error_collector(
    mut events: tokio::sync::broadcast::Receiver<CdpEvent>,
    session_id: String,
    errors: Arc<Mutex<Vec<String>>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    if let Ok(mut errors) = errors.lock() {
                        errors.push(format!("(testkit: {n} browser events were missed)"));
                    }
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            if event.session_id.as_deref() != Some(session_id.as_str()) {
                continue;
            }
            let message = match event.method.as_str() {
                "Runtime.exceptionThrown" => {
                    Some(exception_text(&event.params["exceptionDetails"]))
                }
                "Runtime.consoleAPICalled" if event.params["type"] == "error" => Some(
                    event.params["args"]
                        .as_array()
                        .map(|args| {
                            args.iter()
                                .map(remote_object_text)
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .unwrap_or_default(),
                ),
                _ => None,
            };
            if let (Some(message), Ok(mut errors)) = (message, errors.lock()) {
                errors.push(message);
            }
        }
    })
}

/// A readable text for a `Runtime.RemoteObject`.
fn remote_object_text(object: &Value) -> String {
    match &object["value"] {
        Value::String(s) => s.clone(),
        Value::Null => object["description"]
            .as_str()
            .or_else(|| object["type"].as_str())
            .unwrap_or_default()
            .to_owned(),
        other => other.to_string(),
    }
}

/// A readable text for a `Runtime.ExceptionDetails`.
pub(crate) fn exception_text(details: &Value) -> String {
    details["exception"]["description"]
        .as_str()
        .or_else(|| details["exception"]["value"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| details["text"].as_str().unwrap_or("exception").to_owned())
}
