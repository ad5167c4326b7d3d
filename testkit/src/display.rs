//! X displays with a VNC server: Xtigervnc, or Xvfb with x11vnc.
//!
//! [`VncDisplay::start`] picks a display number and an RFB port nobody uses,
//! starts the servers on loopback only, retries with other numbers when another
//! test got there first, and returns once the X server accepts clients and the
//! RFB port sends its banner. X clients (xterm, xdotool, xclip, xwd, ffplay)
//! run against it with `DISPLAY` set. Everything it started stops when it drops.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::process::{ChildGuard, ScratchDir, run_command, wait_until};
use crate::{RgbImage, parse_xwd};

mod launch;

/// Timeout of short X client commands (xdotool, xclip, xwd).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long an X client may take to show its window.
const WINDOW_TIMEOUT: Duration = Duration::from_secs(20);

/// Which VNC server implementation serves the display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VncServer {
    /// `Xtigervnc`: an X server with VNC built in.
    #[default]
    Tigervnc,
    /// `Xvfb` plus `x11vnc` polling it.
    X11vnc,
}

/// How to start a [`VncDisplay`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VncOptions {
    pub width: u32,
    pub height: u32,
    pub server: VncServer,
    /// `None`: security type None; `Some`: VncAuth with this password (VNC
    /// authentication uses only its first 8 characters).
    pub password: Option<String>,
    /// Extra arguments for `Xtigervnc` or `x11vnc`.
    pub extra_args: Vec<String>,
}

impl Default for VncOptions {
    fn default() -> Self {
        Self {
            width: 1280,
            height: 720,
            server: VncServer::Tigervnc,
            password: None,
            extra_args: Vec::new(),
        }
    }
}

impl VncOptions {
    /// Xtigervnc at `width`×`height`, no password.
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            ..Self::default()
        }
    }

    pub fn server(mut self, server: VncServer) -> Self {
        self.server = server;
        self
    }

    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    pub fn extra_arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }
}

/// A running X display with a VNC server on 127.0.0.1.
#[derive(Debug)]
pub struct VncDisplay {
    // Fields drop in this order: clipboard owner, VNC server, X server.
    clipboard_owner: Mutex<Option<ChildGuard>>,
    vnc: Option<ChildGuard>,
    xserver: ChildGuard,
    number: u32,
    rfb_port: u16,
    options: VncOptions,
    dir: ScratchDir,
}

impl VncDisplay {
    /// Starts a display and its VNC server; returns once both accept clients.
    pub async fn start(options: VncOptions) -> Result<Self> {
        let dir = ScratchDir::new("vnc")?;
        let password_file = match &options.password {
            Some(password) => Some(launch::write_password_file(&dir, password).await?),
            None => None,
        };
        let started = match options.server {
            VncServer::Tigervnc => launch::start_tigervnc(options, dir, password_file).await?,
            VncServer::X11vnc => launch::start_xvfb_x11vnc(options, dir, password_file).await?,
        };
        tracing::debug!(
            display = %started.display(),
            rfb_port = started.rfb_port,
            server = ?started.options.server,
            "vnc display ready"
        );
        Ok(started)
    }

    /// The `DISPLAY` value, e.g. `":123"`.
    pub fn display(&self) -> String {
        format!(":{}", self.number)
    }

    /// The display number.
    pub fn display_number(&self) -> u32 {
        self.number
    }

    /// The RFB port on 127.0.0.1.
    pub fn rfb_port(&self) -> u16 {
        self.rfb_port
    }

    /// The RFB address, 127.0.0.1:port.
    pub fn rfb_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.rfb_port))
    }

    /// Screen size in pixels (width, height).
    pub fn size(&self) -> (u32, u32) {
        (self.options.width, self.options.height)
    }

    /// The VNC password, if the server asks for one.
    pub fn password(&self) -> Option<&str> {
        self.options.password.as_deref()
    }

    /// Which server implementation runs.
    pub fn server(&self) -> VncServer {
        self.options.server
    }

    /// The directory holding the servers' and clients' logs.
    pub fn scratch_dir(&self) -> &ScratchDir {
        &self.dir
    }

    /// The last lines of the X and VNC server logs, for failure messages.
    pub fn server_log_tail(&self, lines: usize) -> String {
        let mut out = format!(
            "--- {} ---\n{}",
            self.xserver.name(),
            self.xserver.log_tail(lines)
        );
        if let Some(vnc) = &self.vnc {
            out.push_str(&format!(
                "\n--- {} ---\n{}",
                vnc.name(),
                vnc.log_tail(lines)
            ));
        }
        out
    }

    /// Fails (with the servers' log tails) when a server has exited.
    pub fn ensure_running(&mut self) -> Result<()> {
        self.xserver.ensure_running()?;
        if let Some(vnc) = &mut self.vnc {
            vnc.ensure_running()?;
        }
        Ok(())
    }

    /// A command with `DISPLAY` set to this display.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("DISPLAY", self.display()).env_remove("XAUTHORITY");
        cmd
    }

    /// Starts a long-running X client (xterm, xclock, ffplay, ...) on this
    /// display; it stops when the guard drops (or when the display goes away).
    pub fn spawn<I, S>(&self, program: &str, args: I) -> Result<ChildGuard>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = self.command(program);
        cmd.args(args);
        let name = Path::new(program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| program.to_owned());
        ChildGuard::spawn(cmd, &name, &self.dir)
    }

    /// Plays ffmpeg's `testsrc2` pattern of `size` (e.g. `"640x360"`) at 30
    /// frames a second in a borderless window at the top-left corner
    /// (`ffplay`, software rendering): the video workload of the tests and
    /// the load tester. It stops when the guard drops.
    pub fn start_test_video(&self, size: &str) -> Result<ChildGuard> {
        let mut cmd = self.command("ffplay");
        cmd.env("SDL_RENDER_DRIVER", "software").args([
            "-loglevel",
            "warning",
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={size}:rate=30"),
            "-an",
            "-noborder",
            "-left",
            "0",
            "-top",
            "0",
        ]);
        ChildGuard::spawn(cmd, "ffplay", &self.dir)
    }

    /// Runs a short X client to completion (20 s timeout) and returns its stdout.
    pub async fn run(&self, program: &str, args: &[&str]) -> Result<String> {
        let mut cmd = tokio::process::Command::from(self.command(program));
        cmd.args(args);
        let output = run_command(cmd, CLIENT_TIMEOUT).await?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Runs `xdotool` with `args` and returns its stdout.
    pub async fn xdotool(&self, args: &[&str]) -> Result<String> {
        self.run("xdotool", args).await
    }

    /// The pointer position, from `xdotool getmouselocation --shell`.
    pub async fn pointer_location(&self) -> Result<(i32, i32)> {
        let out = self.xdotool(&["getmouselocation", "--shell"]).await?;
        let field = |name: &str| -> Result<i32> {
            out.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
                .with_context(|| format!("no {name}= in xdotool output {out:?}"))?
                .trim()
                .parse()
                .with_context(|| format!("bad {name} in xdotool output {out:?}"))
        };
        Ok((field("X")?, field("Y")?))
    }

    /// The raw `xwd -root` dump of the whole screen.
    pub async fn screenshot_xwd(&self) -> Result<Vec<u8>> {
        let mut cmd = tokio::process::Command::from(self.command("xwd"));
        cmd.args(["-root", "-silent", "-display", &self.display()]);
        Ok(run_command(cmd, CLIENT_TIMEOUT).await?.stdout)
    }

    /// The whole screen as the X server has it.
    pub async fn screenshot(&self) -> Result<RgbImage> {
        parse_xwd(&self.screenshot_xwd().await?).context("cannot parse the xwd screenshot")
    }

    /// Sets the CLIPBOARD selection to `text`. An `xclip` child owns the
    /// selection from then on (until the display drops or something else,
    /// such as a VNC client's cut text, takes the selection).
    pub async fn clipboard_set(&self, text: &str) -> Result<()> {
        let mut cmd = self.command("xclip");
        cmd.args(["-i", "-selection", "clipboard", "-quiet"]);
        let mut owner = ChildGuard::spawn_with_stdin(cmd, "xclip-in", &self.dir)?;
        owner.write_stdin_and_close(text.as_bytes().to_vec())?;
        // With -quiet, xclip says this once it owns the selection.
        let log_path = owner.log_path().to_path_buf();
        let mut exited = None;
        wait_until(CLIENT_TIMEOUT, "xclip to own the clipboard", || {
            let owns =
                crate::process::read_lossy(&log_path).contains("Waiting for selection request");
            if !owns {
                exited = owner.try_exit_status().ok().flatten();
            }
            let done = owns || exited.is_some();
            async move { done }
        })
        .await?;
        if let Some(status) = exited {
            bail!("xclip exited ({status}): {}", owner.log_tail(10));
        }
        let previous = self
            .clipboard_owner
            .lock()
            .map_err(|_| anyhow!("clipboard lock poisoned"))?
            .replace(owner);
        drop(previous);
        Ok(())
    }

    /// The CLIPBOARD selection's text; an error when nobody owns it.
    pub async fn clipboard_get(&self) -> Result<String> {
        let mut cmd = tokio::process::Command::from(self.command("xclip"));
        cmd.args(["-o", "-selection", "clipboard"]);
        let output = run_command(cmd, Duration::from_secs(5)).await?;
        String::from_utf8(output.stdout).context("clipboard text is not UTF-8")
    }

    /// Starts an xterm and waits until its window is mapped.
    pub async fn start_xterm(&self, options: XtermOptions) -> Result<Xterm> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let class_name = format!(
            "oriel-xterm-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut args = vec![
            "-name".to_owned(),
            class_name.clone(),
            "-geometry".to_owned(),
            format!(
                "{}x{}+{}+{}",
                options.columns, options.rows, options.x, options.y
            ),
        ];
        for (flag, value) in [
            ("-fn", &options.font),
            ("-bg", &options.background),
            ("-fg", &options.foreground),
            ("-T", &options.title),
        ] {
            if let Some(value) = value {
                args.extend([flag.to_owned(), value.clone()]);
            }
        }
        if let Some(command) = &options.command {
            args.extend([
                "-e".to_owned(),
                "sh".to_owned(),
                "-c".to_owned(),
                command.clone(),
            ]);
        }
        let mut guard = self.spawn("xterm", &args)?;
        let mut window = None;
        let deadline = tokio::time::Instant::now() + WINDOW_TIMEOUT;
        while window.is_none() {
            guard.ensure_running()?;
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "xterm window did not appear within {WINDOW_TIMEOUT:?}:\n{}",
                    guard.log_tail(20)
                );
            }
            // Exits 1 while no window matches.
            let found = self
                .xdotool(&[
                    "search",
                    "--onlyvisible",
                    "--limit",
                    "1",
                    "--classname",
                    &class_name,
                ])
                .await;
            window = found.ok().and_then(|out| out.trim().parse::<u64>().ok());
            if window.is_none() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let window_id = window.context("xterm window")?;
        Ok(Xterm { window_id, guard })
    }

    /// Fills the root window with one colour (`xsetroot -solid` where
    /// installed, else ImageMagick's `display -window root`).
    pub async fn set_background(&self, rgb: [u8; 3]) -> Result<()> {
        let [r, g, b] = rgb;
        if find_in_path("xsetroot").is_some() {
            self.run("xsetroot", &["-solid", &format!("#{r:02x}{g:02x}{b:02x}")])
                .await?;
            return Ok(());
        }
        if find_in_path("display").is_none() {
            bail!("neither xsetroot (x11-xserver-utils) nor ImageMagick's display is installed");
        }
        let ppm = self.dir.unique_path("background", "ppm");
        let mut bytes = b"P6\n1 1\n255\n".to_vec();
        bytes.extend_from_slice(&rgb);
        std::fs::write(&ppm, bytes).with_context(|| format!("cannot write {}", ppm.display()))?;
        let mut cmd = tokio::process::Command::from(self.command("display"));
        cmd.arg("-window").arg("root").arg(&ppm);
        cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
        let output = tokio::time::timeout(CLIENT_TIMEOUT, cmd.output())
            .await
            .map_err(|_| anyhow!("`display -window root` did not finish"))?
            .context("cannot run ImageMagick's display")?;
        // `display -window root` sets the background, then exits 1 silently.
        if output.status.code().is_none_or(|c| c > 1) || !output.stderr.is_empty() {
            bail!(
                "`display -window root` failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }
}

/// How to start an xterm with [`VncDisplay::start_xterm`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XtermOptions {
    pub columns: u16,
    pub rows: u16,
    /// Position of the top-left corner (there is no window manager).
    pub x: i32,
    pub y: i32,
    /// A core X font (`-fn`), e.g. `"fixed"` or `"9x15"`.
    pub font: Option<String>,
    pub background: Option<String>,
    pub foreground: Option<String>,
    pub title: Option<String>,
    /// A shell command to run instead of the login shell (`-e sh -c ...`).
    pub command: Option<String>,
}

impl Default for XtermOptions {
    fn default() -> Self {
        Self {
            columns: 80,
            rows: 24,
            x: 0,
            y: 0,
            font: None,
            background: None,
            foreground: None,
            title: None,
            command: None,
        }
    }
}

/// A running xterm and its window.
#[derive(Debug)]
pub struct Xterm {
    pub window_id: u64,
    pub guard: ChildGuard,
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}
