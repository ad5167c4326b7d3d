//! Starting X and VNC servers on a display number and port nobody else uses.
//!
//! Display numbers are random in 100..=2000, skipping those with a lock file
//! or socket; ports come from [`free_port`]. Another test can still win the
//! race for either: the server then exits saying so, and we try other ones.
//! A server is ready when its lock file names its pid (the display is ours),
//! an X11 connection setup succeeds, and, for VNC, its log says it listens on
//! our port and the port sends an RFB banner.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{CLIENT_TIMEOUT, VncDisplay, VncOptions};
use crate::process::{ChildGuard, ScratchDir, free_port, random_u64};
use crate::rfb::read_rfb_banner;

/// Display numbers are drawn from this range.
const DISPLAY_RANGE: std::ops::RangeInclusive<u32> = 100..=2000;
/// Attempts when a display number or port turns out to be taken.
const START_ATTEMPTS: u32 = 8;
/// How long one server start may take before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Log lines meaning "someone else has this display number or port".
const CLASH_MARKERS: &[&str] = &[
    "Server is already active for display",
    "server already running",
    "Cannot establish any listening sockets",
    "Address already in use",
    "could not obtain listening port",
];

/// Why one start attempt failed.
enum AttemptError {
    /// The display number or port was taken: try other ones.
    Clash(String),
    Fatal(anyhow::Error),
}

impl From<anyhow::Error> for AttemptError {
    fn from(error: anyhow::Error) -> Self {
        Self::Fatal(error)
    }
}

pub(super) async fn write_password_file(dir: &ScratchDir, password: &str) -> Result<PathBuf> {
    let mut cmd = tokio::process::Command::new("tigervncpasswd");
    cmd.arg("-f")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().context("cannot run tigervncpasswd")?;
    let mut stdin = child.stdin.take().context("tigervncpasswd stdin")?;
    stdin.write_all(format!("{password}\n").as_bytes()).await?;
    drop(stdin);
    let output = tokio::time::timeout(CLIENT_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| anyhow!("tigervncpasswd did not finish"))??;
    if !output.status.success() || output.stdout.len() != 8 {
        bail!(
            "tigervncpasswd -f failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let path = dir.path().join("passwd");
    std::fs::write(&path, &output.stdout)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// A display number in [`DISPLAY_RANGE`] with no lock file and no socket.
fn pick_display_number() -> Result<u32> {
    let span = u64::from(DISPLAY_RANGE.end() - DISPLAY_RANGE.start() + 1);
    for _ in 0..1000 {
        let n = DISPLAY_RANGE.start() + (random_u64() % span) as u32;
        let lock = PathBuf::from(format!("/tmp/.X{n}-lock"));
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
        if !lock.exists() && !socket.exists() {
            return Ok(n);
        }
    }
    bail!("no free X display number in {DISPLAY_RANGE:?}")
}

/// True when `/tmp/.X{n}-lock` names `pid`: the display is that server's,
/// not another test's that took the number first.
fn owns_display(n: u32, pid: u32) -> bool {
    std::fs::read_to_string(format!("/tmp/.X{n}-lock"))
        .is_ok_and(|content| content.trim().parse::<u32>().ok() == Some(pid))
}

/// True once the X server on display `n` completes a connection setup
/// (X11 protocol, chapter 8: byte order 'l', version 11.0, no authorization).
async fn x11_accepts_clients(n: u32) -> bool {
    let attempt = async {
        let mut stream = tokio::net::UnixStream::connect(format!("/tmp/.X11-unix/X{n}")).await?;
        stream
            .write_all(&[b'l', 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0])
            .await?;
        let status = stream.read_u8().await?;
        Ok::<bool, std::io::Error>(status == 1)
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Ok(true))
    )
}

/// Waits until `ready` holds, or fails: a clash when the child exited saying
/// its display or port is taken, fatal otherwise.
async fn wait_started<F, Fut>(
    child: &mut ChildGuard,
    what: &str,
    mut ready: F,
) -> Result<(), AttemptError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        if ready().await {
            // Still ours? A clash can make a twin's port answer for a moment.
            if child.try_exit_status()?.is_none() {
                return Ok(());
            }
        }
        if let Some(status) = child.try_exit_status()? {
            let log = child.log();
            if CLASH_MARKERS.iter().any(|m| log.contains(m)) {
                return Err(AttemptError::Clash(crate::process::tail_lines(&log, 3)));
            }
            return Err(AttemptError::Fatal(anyhow!(
                "{what} exited ({status}) while starting; last log lines:\n{}",
                child.log_tail(30)
            )));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(AttemptError::Fatal(anyhow!(
                "{what} not ready within {START_TIMEOUT:?}; last log lines:\n{}",
                child.log_tail(30)
            )));
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// True when the child's log says it listens for RFB on `port` and the port
/// sends a banner.
async fn rfb_listening(log_path: &Path, port: u16) -> bool {
    let log = crate::process::read_lossy(log_path);
    let said = log.lines().any(|line| {
        (line.contains("Listening for VNC connections on")
            && line.ends_with(&format!("port {port}")))
            || line.trim() == format!("PORT={port}")
    });
    said && read_rfb_banner(port).await.is_ok()
}

pub(super) async fn start_tigervnc(
    options: VncOptions,
    dir: ScratchDir,
    password_file: Option<PathBuf>,
) -> Result<VncDisplay> {
    let mut clashes = Vec::new();
    for _ in 0..START_ATTEMPTS {
        let number = pick_display_number()?;
        let port = free_port()?;
        let mut cmd = Command::new("Xtigervnc");
        cmd.arg(format!(":{number}"))
            .args([
                "-geometry",
                &format!("{}x{}", options.width, options.height),
            ])
            .args(["-depth", "24", "-rfbport", &port.to_string()])
            .args([
                "-interface",
                "127.0.0.1",
                "-localhost",
                "-AlwaysShared",
                "-ac",
            ])
            .args(["-nolisten", "tcp", "-desktop", "oriel-test"]);
        match &password_file {
            Some(file) => {
                cmd.args(["-SecurityTypes", "VncAuth", "-rfbauth"])
                    .arg(file);
            }
            None => {
                cmd.args(["-SecurityTypes", "None"]);
            }
        }
        cmd.args(&options.extra_args);
        let mut server = ChildGuard::spawn(cmd, &format!("Xtigervnc-{number}"), &dir)?;
        let log_path = server.log_path().to_path_buf();
        let pid = server.id();
        let ready = wait_started(&mut server, "Xtigervnc", || {
            let log_path = log_path.clone();
            async move {
                owns_display(number, pid)
                    && x11_accepts_clients(number).await
                    && rfb_listening(&log_path, port).await
            }
        })
        .await;
        match ready {
            Ok(()) => {
                return Ok(VncDisplay {
                    clipboard_owner: Mutex::new(None),
                    vnc: None,
                    xserver: server,
                    number,
                    rfb_port: port,
                    options,
                    dir,
                });
            }
            Err(AttemptError::Clash(why)) => {
                tracing::debug!(
                    display = number,
                    port,
                    why,
                    "display or port taken, retrying"
                );
                clashes.push(why);
            }
            Err(AttemptError::Fatal(error)) => return Err(error),
        }
    }
    bail!(
        "Xtigervnc could not get a free display and port in {START_ATTEMPTS} attempts: {clashes:?}"
    )
}

pub(super) async fn start_xvfb_x11vnc(
    options: VncOptions,
    dir: ScratchDir,
    password_file: Option<PathBuf>,
) -> Result<VncDisplay> {
    let (number, xserver) = start_xvfb(&options, &dir).await?;
    let mut clashes = Vec::new();
    for _ in 0..START_ATTEMPTS {
        let port = free_port()?;
        let mut cmd = Command::new("x11vnc");
        cmd.args([
            "-display",
            &format!(":{number}"),
            "-rfbport",
            &port.to_string(),
        ])
        .args(["-localhost", "-listen", "127.0.0.1", "-noipv6", "-norc"])
        .args(["-forever", "-shared"]);
        match &password_file {
            Some(file) => {
                cmd.arg("-rfbauth").arg(file);
            }
            None => {
                cmd.arg("-nopw");
            }
        }
        cmd.args(&options.extra_args);
        let mut vnc = ChildGuard::spawn(cmd, &format!("x11vnc-{number}"), &dir)?;
        let log_path = vnc.log_path().to_path_buf();
        let ready = wait_started(&mut vnc, "x11vnc", || {
            let log_path = log_path.clone();
            async move { rfb_listening(&log_path, port).await }
        })
        .await;
        match ready {
            Ok(()) => {
                return Ok(VncDisplay {
                    clipboard_owner: Mutex::new(None),
                    vnc: Some(vnc),
                    xserver,
                    number,
                    rfb_port: port,
                    options,
                    dir,
                });
            }
            Err(AttemptError::Clash(why)) => {
                tracing::debug!(display = number, port, why, "port taken, retrying");
                clashes.push(why);
            }
            Err(AttemptError::Fatal(error)) => return Err(error),
        }
    }
    bail!("x11vnc could not get a free port in {START_ATTEMPTS} attempts: {clashes:?}")
}

async fn start_xvfb(options: &VncOptions, dir: &ScratchDir) -> Result<(u32, ChildGuard)> {
    let mut clashes = Vec::new();
    for _ in 0..START_ATTEMPTS {
        let number = pick_display_number()?;
        let mut cmd = Command::new("Xvfb");
        cmd.arg(format!(":{number}"))
            .args([
                "-screen",
                "0",
                &format!("{}x{}x24", options.width, options.height),
            ])
            .args(["-nolisten", "tcp", "-ac"]);
        let mut server = ChildGuard::spawn(cmd, &format!("Xvfb-{number}"), dir)?;
        let pid = server.id();
        let ready = wait_started(&mut server, "Xvfb", || async move {
            owns_display(number, pid) && x11_accepts_clients(number).await
        })
        .await;
        match ready {
            Ok(()) => return Ok((number, server)),
            Err(AttemptError::Clash(why)) => clashes.push(why),
            Err(AttemptError::Fatal(error)) => return Err(error),
        }
    }
    bail!("Xvfb could not get a free display in {START_ATTEMPTS} attempts: {clashes:?}")
}
