//! RDP servers for tests: FreeRDP's shadow server mirroring an X display
//! (TLS checked against PAM, or NLA against a SAM file), and xrdp with the
//! Xorg backend logging a real local user in.
//!
//! Both listen on 127.0.0.1 on a free port and stop when dropped. xrdp's
//! session manager always listens on 127.0.0.1:3350 (xrdp reads the port from
//! `/etc/xrdp/sesman.ini`), so [`XrdpServer`]s are serialised across test
//! processes by a lock directory; each waits for the previous one to drop.
//! Everything below needs root (PAM, sesman); CI runs as root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::process::{ChildGuard, ScratchDir, free_port, wait_for_port, wait_until};
use crate::{TEST_PASSWORD, TEST_USER, VncDisplay};

/// How long a server may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Attempts when a picked port turns out to be taken.
const START_ATTEMPTS: u32 = 5;

/// Whether the process runs as root (the RDP fixtures need it).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// How FreeRDP's shadow server authenticates clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShadowSecurity {
    /// TLS only; the credentials of the Client Info PDU are checked with PAM.
    Tls,
    /// NLA (CredSSP/NTLM) against a SAM file holding [`TEST_USER`]'s hash.
    Nla,
}

/// `freerdp-shadow-cli` serving an X display.
#[derive(Debug)]
pub struct ShadowServer {
    guard: ChildGuard,
    port: u16,
    dir: ScratchDir,
}

impl ShadowServer {
    /// Starts a shadow server on `display`, returning once it listens.
    /// Call [`crate::ensure_test_user`] first: clients log in as [`TEST_USER`].
    pub async fn start(display: &VncDisplay, security: ShadowSecurity) -> Result<Self> {
        let dir = ScratchDir::new("rdp-shadow")?;
        let sam = match security {
            ShadowSecurity::Tls => None,
            ShadowSecurity::Nla => Some(write_sam_file(&dir)?),
        };
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            let mut cmd = display.command("freerdp-shadow-cli");
            // The shadow server keeps its self-signed certificate under
            // $HOME/.config/freerdp: one per fixture.
            cmd.env("HOME", dir.path())
                .arg("/bind-address:127.0.0.1")
                .arg(format!("/port:{port}"))
                .arg("+auth");
            match &sam {
                None => {
                    cmd.arg("/sec:tls");
                }
                Some(sam) => {
                    cmd.arg("/sec:nla")
                        .arg(format!("/sam-file:{}", sam.display()));
                }
            }
            let mut guard = ChildGuard::spawn(cmd, "freerdp-shadow", &dir)?;
            match wait_for_port(port, START_TIMEOUT).await {
                Ok(()) if guard.is_running() => {
                    return Ok(ShadowServer { guard, port, dir });
                }
                Ok(()) => last_error = Some(anyhow::anyhow!("{}", guard.log_tail(20))),
                Err(e) => {
                    last_error = Some(e.context(guard.log_tail(20)));
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no attempt made")))
            .context("freerdp-shadow-cli did not start")
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.guard.log()
    }

    /// Fails (with the log's tail) when the server has exited.
    pub fn ensure_running(&mut self) -> Result<()> {
        self.guard.ensure_running()
    }

    /// The scratch directory holding the log and the certificate.
    pub fn scratch_dir(&self) -> &ScratchDir {
        &self.dir
    }
}

fn write_sam_file(dir: &ScratchDir) -> Result<PathBuf> {
    let out = Command::new("winpr-hash")
        .args(["-u", TEST_USER, "-p", TEST_PASSWORD, "-f", "sam"])
        .output()
        .context("cannot run winpr-hash (winpr-utils)")?;
    if !out.status.success() {
        bail!(
            "winpr-hash failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let path = dir.path().join("SAM");
    std::fs::write(&path, &out.stdout).context("cannot write the SAM file")?;
    Ok(path)
}

/// A machine-wide lock: a directory holding the owner's pid; a lock whose
/// owner died is taken over.
#[derive(Debug)]
struct DirLock {
    path: PathBuf,
}

impl DirLock {
    async fn acquire(path: &Path, timeout: Duration) -> Result<Self> {
        let mut result = None;
        wait_until(timeout, &format!("the lock {}", path.display()), || {
            let taken = try_lock(path);
            let done = taken.is_some();
            if done {
                result = taken;
            }
            async move { done }
        })
        .await?;
        result.context("lock")
    }
}

fn try_lock(path: &Path) -> Option<DirLock> {
    let pid_file = path.join("pid");
    if std::fs::create_dir(path).is_ok() {
        std::fs::write(&pid_file, std::process::id().to_string()).ok()?;
        return Some(DirLock {
            path: path.to_path_buf(),
        });
    }
    // Stale when the owner is gone (its pid file may not be written yet: wait).
    let owner = std::fs::read_to_string(&pid_file).ok()?;
    let alive = Path::new("/proc").join(owner.trim()).exists();
    if !alive {
        let _ = std::fs::remove_dir_all(path);
    }
    None
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Direct and indirect children of `pid`, deepest first.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((child, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(child, ppid) in &parent_of {
            if ppid == p && !out.contains(&child) {
                out.push(child);
                frontier.push(child);
            }
        }
    }
    out.reverse();
    out
}

fn signal(pids: &[u32], sig: &str) {
    if pids.is_empty() {
        return;
    }
    let mut cmd = Command::new("kill");
    cmd.arg(format!("-{sig}"));
    for pid in pids {
        cmd.arg(pid.to_string());
    }
    let _ = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// xrdp and its session manager, logging [`TEST_USER`] into an Xorg session
/// (xorgxrdp) that runs the user's `~/startwm.sh`.
#[derive(Debug)]
pub struct XrdpServer {
    // Drop order: xrdp, then sesman (whose session processes are stopped in
    // `Drop`), then the lock.
    xrdp: ChildGuard,
    sesman: ChildGuard,
    port: u16,
    dir: ScratchDir,
    _lock: DirLock,
}

/// Where [`XrdpServer`]s take turns.
const XRDP_LOCK: &str = "/tmp/oriel-testkit-xrdp.lock";

impl XrdpServer {
    /// Writes `startwm` as the test user's `~/startwm.sh` (the session's
    /// script: start programs in the background with `</dev/null`, then wait),
    /// starts sesman and xrdp (TLS only), and returns once xrdp listens.
    /// Call [`crate::ensure_test_user`] first.
    pub async fn start(startwm: &str) -> Result<Self> {
        let lock = DirLock::acquire(Path::new(XRDP_LOCK), Duration::from_secs(120)).await?;
        let dir = ScratchDir::new("xrdp")?;
        let home = PathBuf::from(format!("/home/{TEST_USER}"));
        let script = home.join("startwm.sh");
        std::fs::write(&script, startwm).context("cannot write ~/startwm.sh")?;
        let status = Command::new("chown")
            .arg(format!("{TEST_USER}:"))
            .arg(&script)
            .status()?;
        if !status.success() {
            bail!("chown of ~/startwm.sh failed");
        }
        let status = Command::new("chmod").arg("755").arg(&script).status()?;
        if !status.success() {
            bail!("chmod of ~/startwm.sh failed");
        }
        let _ = Command::new("sh").arg("/usr/share/xrdp/socksetup").status();

        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let out = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=oriel-test-xrdp", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .context("cannot run openssl")?;
        if !out.status.success() {
            bail!(
                "openssl req failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }

        let sesman_ini = dir.path().join("sesman.ini");
        let sesman_conf = edit_ini(
            &std::fs::read_to_string("/etc/xrdp/sesman.ini").context("read sesman.ini")?,
            &[
                ("Globals", "ListenAddress", "127.0.0.1".to_owned()),
                ("Globals", "ListenPort", "3350".to_owned()),
                ("Sessions", "KillDisconnected", "true".to_owned()),
                ("Sessions", "DisconnectedTimeLimit", "0".to_owned()),
                (
                    "Logging",
                    "LogFile",
                    dir.path().join("sesman-file.log").display().to_string(),
                ),
                ("Logging", "EnableSyslog", "false".to_owned()),
            ],
        );
        std::fs::write(&sesman_ini, sesman_conf)?;
        let mut sesman_cmd = Command::new("xrdp-sesman");
        sesman_cmd
            .arg("--nodaemon")
            .arg("--config")
            .arg(&sesman_ini);
        let mut sesman = ChildGuard::spawn(sesman_cmd, "xrdp-sesman", &dir)?;
        // sesman 0.9 binds "127.0.0.1" as [::1] where IPv6 is up.
        let sesman_up = wait_until(START_TIMEOUT, "xrdp-sesman on port 3350", || async {
            for addr in ["127.0.0.1:3350", "[::1]:3350"] {
                if tokio::net::TcpStream::connect(addr).await.is_ok() {
                    return true;
                }
            }
            false
        })
        .await;
        if let Err(e) = sesman_up {
            return Err(e.context(sesman.log_tail(30)));
        }
        sesman.ensure_running()?;

        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            let xrdp_ini = dir.unique_path("xrdp", "ini");
            let conf = edit_ini(
                &std::fs::read_to_string("/etc/xrdp/xrdp.ini").context("read xrdp.ini")?,
                &[
                    ("Globals", "port", format!("tcp://127.0.0.1:{port}")),
                    ("Globals", "security_layer", "tls".to_owned()),
                    ("Globals", "certificate", cert.display().to_string()),
                    ("Globals", "key_file", key.display().to_string()),
                    ("Globals", "autorun", "Xorg".to_owned()),
                    (
                        "Logging",
                        "LogFile",
                        dir.path().join("xrdp-file.log").display().to_string(),
                    ),
                    ("Logging", "EnableSyslog", "false".to_owned()),
                    ("Logging", "LogLevel", "DEBUG".to_owned()),
                ],
            );
            std::fs::write(&xrdp_ini, conf)?;
            let mut cmd = Command::new("xrdp");
            cmd.arg("--nodaemon").arg("--config").arg(&xrdp_ini);
            let mut xrdp = ChildGuard::spawn(cmd, "xrdp", &dir)?;
            match wait_for_port(port, START_TIMEOUT).await {
                Ok(()) if xrdp.is_running() => {
                    return Ok(XrdpServer {
                        xrdp,
                        sesman,
                        port,
                        dir,
                        _lock: lock,
                    });
                }
                Ok(()) => last_error = Some(anyhow::anyhow!("{}", xrdp.log_tail(20))),
                Err(e) => last_error = Some(e.context(xrdp.log_tail(20))),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no attempt made")))
            .context("xrdp did not start")
    }

    /// xrdp's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The scratch directory holding the logs.
    pub fn scratch_dir(&self) -> &ScratchDir {
        &self.dir
    }

    /// The tails of xrdp's and sesman's logs, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let file = |name: &str| {
            crate::process::tail_lines(
                &crate::process::read_lossy(&self.dir.path().join(name)),
                lines,
            )
        };
        format!(
            "--- xrdp ---\n{}\n{}\n--- sesman ---\n{}\n{}",
            self.xrdp.log_tail(lines),
            file("xrdp-file.log"),
            self.sesman.log_tail(lines),
            file("sesman-file.log")
        )
    }
}

impl Drop for XrdpServer {
    fn drop(&mut self) {
        let _ = self.xrdp.stop();
        // The session (Xorg, the user's script, chansrv) runs under sesman's
        // per-session child: stop the whole tree by pid, deepest first.
        let tree = descendants(self.sesman.id());
        signal(&tree, "TERM");
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while std::time::Instant::now() < deadline
            && tree
                .iter()
                .any(|p| Path::new("/proc").join(p.to_string()).exists())
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        signal(&descendants(self.sesman.id()), "KILL");
        let _ = self.sesman.stop();
    }
}

/// Sets `key = value` in `[section]` of an INI text, adding what is missing.
fn edit_ini(text: &str, edits: &[(&str, &str, String)]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut section = String::new();
    let mut done = vec![false; edits.len()];
    let flush = |section: &str, out: &mut Vec<String>, done: &mut Vec<bool>| {
        for (i, (s, k, v)) in edits.iter().enumerate() {
            if *s == section && !done[i] {
                out.push(format!("{k}={v}"));
                done[i] = true;
            }
        }
    };
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            flush(&section, &mut out, &mut done);
            section = trimmed[1..trimmed.len() - 1].to_owned();
            out.push(line.to_owned());
            continue;
        }
        if let Some((key, _)) = trimmed.split_once('=') {
            let key = key.trim();
            if let Some(i) = edits
                .iter()
                .position(|(s, k, _)| *s == section && k.eq_ignore_ascii_case(key))
            {
                if !done[i] {
                    out.push(format!("{}={}", edits[i].1, edits[i].2));
                    done[i] = true;
                }
                continue;
            }
        }
        out.push(line.to_owned());
    }
    flush(&section, &mut out, &mut done);
    let mut text = out.join("\n");
    for (i, (s, k, v)) in edits.iter().enumerate() {
        if !done[i] {
            text.push_str(&format!("\n[{s}]\n{k}={v}"));
        }
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_edits_replace_and_add() {
        let text = "[Globals]\nport=3389\n;port=x\n[Logging]\nLogFile=a.log\n";
        let out = edit_ini(
            text,
            &[
                ("Globals", "port", "tcp://127.0.0.1:1".into()),
                ("Globals", "autorun", "Xorg".into()),
                ("Logging", "LogFile", "b.log".into()),
                ("Sessions", "KillDisconnected", "true".into()),
            ],
        );
        assert_eq!(
            out,
            "[Globals]\nport=tcp://127.0.0.1:1\n;port=x\nautorun=Xorg\n[Logging]\nLogFile=b.log\n\
             [Sessions]\nKillDisconnected=true\n"
        );
    }
}
