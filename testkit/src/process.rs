//! Child processes owned by a test, scratch directories and waiting helpers.
//!
//! Every peer a test starts is a [`ChildGuard`]: its stdout and stderr go to a
//! log file in a [`ScratchDir`], and dropping the guard stops it (SIGTERM, up to
//! two seconds of grace, then SIGKILL). Nothing is ever killed by name.
//!
//! Children stay in the test's process group, so a test runner that kills the
//! group on timeout or Ctrl-C (nextest does) also stops them.

use std::collections::hash_map::RandomState;
use std::fs::{self, File};
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

/// How long a child gets between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Environment variable: when set to anything but `0`, scratch directories are
/// kept after the test (they are always kept when the test panics).
pub const KEEP_ENV: &str = "ORIEL_TESTKIT_KEEP";

/// A temporary directory shared by the processes of one test fixture.
///
/// Cloning shares the directory; it is removed when the last clone drops,
/// unless the thread is panicking (a failing test) or [`KEEP_ENV`] is set, in
/// which case it is kept and its path printed to stderr so the logs can be read.
#[derive(Debug, Clone)]
pub struct ScratchDir {
    inner: Arc<ScratchInner>,
}

#[derive(Debug)]
struct ScratchInner {
    dir: Mutex<tempfile::TempDir>,
    path: PathBuf,
}

impl ScratchDir {
    /// Creates a new directory under the system temp dir, named `oriel-{prefix}-XXXX`.
    pub fn new(prefix: &str) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("oriel-{prefix}-"))
            .tempdir()
            .context("cannot create a scratch directory")?;
        let path = dir.path().to_path_buf();
        Ok(Self {
            inner: Arc::new(ScratchInner {
                dir: Mutex::new(dir),
                path,
            }),
        })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Keeps the directory after the test whatever happens.
    pub fn keep(&self) {
        if let Ok(mut dir) = self.inner.dir.lock() {
            dir.disable_cleanup(true);
        }
    }

    /// A path in the directory that no file uses yet: `stem.ext`, `stem-2.ext`, ...
    pub fn unique_path(&self, stem: &str, ext: &str) -> PathBuf {
        let mut n = 1;
        loop {
            let name = if n == 1 {
                format!("{stem}.{ext}")
            } else {
                format!("{stem}-{n}.{ext}")
            };
            let path = self.path().join(name);
            if !path.exists() {
                return path;
            }
            n += 1;
        }
    }
}

impl Drop for ScratchInner {
    fn drop(&mut self) {
        let keep_env = std::env::var(KEEP_ENV).is_ok_and(|v| v != "0");
        if std::thread::panicking() || keep_env {
            if let Ok(mut dir) = self.dir.lock() {
                dir.disable_cleanup(true);
            }
            eprintln!("oriel-testkit: kept logs in {}", self.path.display());
        }
    }
}

/// A child process that is stopped when dropped, with its output in a log file.
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    log_path: PathBuf,
    exited: Option<ExitStatus>,
    // Keeps the log directory alive as long as the process.
    _dir: ScratchDir,
}

impl ChildGuard {
    /// Starts `cmd` with stdin from `/dev/null` and stdout and stderr appended
    /// to `{dir}/{name}.log`.
    pub fn spawn(cmd: Command, name: &str, dir: &ScratchDir) -> Result<Self> {
        Self::spawn_inner(cmd, name, dir, false)
    }

    /// Like [`ChildGuard::spawn`], but with stdin piped; take it with
    /// [`ChildGuard::take_stdin`] (or let [`ChildGuard::write_stdin_and_close`] do it).
    pub fn spawn_with_stdin(cmd: Command, name: &str, dir: &ScratchDir) -> Result<Self> {
        Self::spawn_inner(cmd, name, dir, true)
    }

    fn spawn_inner(mut cmd: Command, name: &str, dir: &ScratchDir, stdin: bool) -> Result<Self> {
        let log_path = dir.unique_path(name, "log");
        let log = File::create(&log_path)
            .with_context(|| format!("cannot create log file {}", log_path.display()))?;
        let log2 = log
            .try_clone()
            .context("cannot duplicate the log file handle")?;
        cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2));
        let program = cmd.get_program().to_string_lossy().into_owned();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {program} ({name})"))?;
        tracing::debug!(name, pid = child.id(), log = %log_path.display(), "started child");
        let stdin = child.stdin.take();
        Ok(Self {
            name: name.to_owned(),
            child,
            stdin,
            log_path,
            exited: None,
            _dir: dir.clone(),
        })
    }

    /// The name given at spawn (also the log file's stem).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The log file holding stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Takes the piped stdin (only after [`ChildGuard::spawn_with_stdin`]).
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.stdin.take()
    }

    /// Writes `input` to the piped stdin from a helper thread, then closes it.
    pub fn write_stdin_and_close(&mut self, input: Vec<u8>) -> Result<()> {
        let mut stdin = self
            .stdin
            .take()
            .ok_or_else(|| anyhow!("{}: stdin is not piped or already taken", self.name))?;
        std::thread::Builder::new()
            .name(format!("{}-stdin", self.name))
            .spawn(move || {
                // An error here means the child went away; its log says why.
                let _ = stdin.write_all(&input);
            })
            .context("cannot start a stdin writer thread")?;
        Ok(())
    }

    /// The whole log so far (lossy UTF-8).
    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    /// The last `lines` lines of the log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        tail_lines(&read_tail_bytes(&self.log_path, 64 * 1024), lines)
    }

    /// Whether the process has exited, without waiting.
    pub fn try_exit_status(&mut self) -> Result<Option<ExitStatus>> {
        if self.exited.is_none() {
            self.exited = self
                .child
                .try_wait()
                .with_context(|| format!("cannot query {}", self.name))?;
        }
        Ok(self.exited)
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_exit_status(), Ok(None))
    }

    /// Fails with the log's tail when the process has exited.
    pub fn ensure_running(&mut self) -> Result<()> {
        match self.try_exit_status()? {
            None => Ok(()),
            Some(status) => bail!(
                "{} exited ({status}); last log lines:\n{}",
                self.name,
                self.log_tail(30)
            ),
        }
    }

    /// Stops the process: SIGTERM, up to two seconds to exit, then SIGKILL.
    /// Returns its exit status. Blocks the calling thread while waiting.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.try_exit_status()? {
            return Ok(status);
        }
        let pid = self.child.id().to_string();
        let term = Command::new("kill")
            .args(["-TERM", &pid])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if matches!(term, Ok(s) if s.success()) {
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline {
                if let Some(status) = self.try_exit_status()? {
                    tracing::debug!(name = %self.name, %status, "child stopped");
                    return Ok(status);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            tracing::warn!(name = %self.name, "child ignored SIGTERM, killing it");
        }
        // SIGKILL; an error means it exited meanwhile, which wait() reports.
        let _ = self.child.kill();
        let status = self
            .child
            .wait()
            .with_context(|| format!("cannot wait for {}", self.name))?;
        self.exited = Some(status);
        Ok(status)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            tracing::warn!(name = %self.name, error = %error, "cannot stop child");
        }
    }
}

pub(crate) fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

fn read_tail_bytes(path: &Path, max: u64) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > max {
        let _ = file.seek(SeekFrom::Start(len - max));
    }
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

pub(crate) fn tail_lines(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A port that was free on 127.0.0.1 a moment ago (bind to port 0, read, drop).
///
/// Another process may take it before you use it: servers started with it
/// should be retried on "address in use" (as [`crate::VncDisplay`] does).
pub fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot bind 127.0.0.1:0")?;
    Ok(listener.local_addr().context("no local address")?.port())
}

/// A random number, different at each call (no extra crate needed).
pub(crate) fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// Waits until `check` returns true, polling every 50 ms; fails after `timeout`
/// with a message naming `what`.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for_value(timeout, what, || {
        let fut = check();
        async move { fut.await.then_some(()) }
    })
    .await
}

/// Waits until `check` returns `Some(value)`, polling every 50 ms, and returns
/// the value; fails after `timeout` with a message naming `what`.
pub async fn wait_for_value<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
pub async fn wait_for_port(port: u16, timeout: Duration) -> Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    wait_until(timeout, &format!("a listener on {addr}"), || async move {
        tokio::net::TcpStream::connect(addr).await.is_ok()
    })
    .await
}

/// Runs a short command to completion with a timeout (the child is killed when
/// the timeout expires) and returns its output; a non-zero exit is an error
/// carrying stderr.
pub async fn run_command(mut cmd: tokio::process::Command, timeout: Duration) -> Result<Output> {
    let program = cmd.as_std().get_program().to_string_lossy().into_owned();
    let args: Vec<String> = cmd
        .as_std()
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let shown = format!("{program} {}", args.join(" "));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(timeout, cmd.output())
        .await
        .map_err(|_| anyhow!("`{shown}` did not finish within {timeout:?}"))?
        .with_context(|| format!("cannot run `{shown}`"))?;
    if !output.status.success() {
        bail!(
            "`{shown}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output)
}
