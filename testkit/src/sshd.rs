//! An OpenSSH server owned by a test: `sshd` on a free loopback port with a
//! fresh ed25519 host key, password (PAM) and public-key authentication for
//! the shared [`TEST_USER`](crate::TEST_USER), and SFTP.
//!
//! Keys the test authorizes go to an `authorized_keys` file in the fixture's
//! scratch directory (`AuthorizedKeysFile` points there), so nothing is
//! written to the user's home. `StrictModes no` because that file lives
//! under the world-writable temporary directory. Needs root, like CI.

use crate::process::{ChildGuard, ScratchDir, free_port, wait_for_port};
use crate::users::{TEST_PASSWORD, TEST_USER, ensure_test_user};
use anyhow::{Context as _, Result, bail};
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SSHD: &str = "/usr/sbin/sshd";

/// A running `sshd`, stopped when dropped.
#[derive(Debug)]
pub struct Sshd {
    child: ChildGuard,
    port: u16,
    dir: ScratchDir,
    home: PathBuf,
}

/// A client key pair made with `ssh-keygen`.
#[derive(Debug, Clone)]
pub struct ClientKey {
    /// The private key, OpenSSH format.
    pub private_openssh: String,
    /// The `authorized_keys` line.
    pub public_line: String,
}

fn ssh_keygen(args: &[&str]) -> Result<String> {
    let out = Command::new("ssh-keygen")
        .args(args)
        .output()
        .context("cannot run ssh-keygen")?;
    if !out.status.success() {
        bail!(
            "ssh-keygen {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Generates an ed25519 key pair at `path` (and `path.pub`), replacing any.
fn generate(path: &Path, comment: &str) -> Result<()> {
    let _ = fs::remove_file(path);
    let _ = fs::remove_file(path.with_extension("pub"));
    let p = path.to_string_lossy();
    ssh_keygen(&["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", &p])?;
    Ok(())
}

impl Sshd {
    /// Starts sshd; returns once it accepts connections.
    pub async fn start() -> Result<Self> {
        let home = ensure_test_user()?;
        fs::create_dir_all("/run/sshd").context("create /run/sshd")?;
        let dir = ScratchDir::new("sshd")?;
        // The user reads authorized_keys from here (sshd drops privileges).
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
        let keys = dir.path().join("authorized_keys");
        fs::write(&keys, "")?;
        fs::set_permissions(&keys, fs::Permissions::from_mode(0o644))?;
        generate(&dir.path().join("host_ed25519"), "oriel-test-host")?;
        let (child, port) = Self::launch(&dir, None).await?;
        Ok(Sshd {
            child,
            port,
            dir,
            home,
        })
    }

    fn write_config(dir: &ScratchDir, port: u16) -> Result<PathBuf> {
        let d = dir.path().display();
        let config = format!(
            "Port {port}\n\
             ListenAddress 127.0.0.1\n\
             HostKey {d}/host_ed25519\n\
             PidFile {d}/sshd.pid\n\
             PasswordAuthentication yes\n\
             KbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\n\
             AuthorizedKeysFile {d}/authorized_keys\n\
             StrictModes no\n\
             UsePAM yes\n\
             PermitRootLogin no\n\
             AllowUsers {TEST_USER}\n\
             Subsystem sftp internal-sftp\n\
             PrintMotd no\n\
             PrintLastLog no\n\
             UseDNS no\n\
             MaxStartups 100\n\
             MaxSessions 50\n\
             LogLevel VERBOSE\n"
        );
        let path = dir.path().join("sshd_config");
        fs::write(&path, config)?;
        Ok(path)
    }

    /// Starts sshd on `port` (or a free one), retrying on another free port
    /// when the chosen one was taken meanwhile.
    async fn launch(dir: &ScratchDir, port: Option<u16>) -> Result<(ChildGuard, u16)> {
        let mut last_error = None;
        for attempt in 0..5 {
            let port = match (port, attempt) {
                (Some(p), 0..=2) => p,
                _ => free_port()?,
            };
            let config = Self::write_config(dir, port)?;
            let check = Command::new(SSHD)
                .arg("-t")
                .arg("-f")
                .arg(&config)
                .output()?;
            if !check.status.success() {
                bail!(
                    "sshd rejects its configuration: {}",
                    String::from_utf8_lossy(&check.stderr).trim()
                );
            }
            let mut cmd = Command::new(SSHD);
            cmd.arg("-D").arg("-e").arg("-f").arg(&config);
            let mut child = ChildGuard::spawn(cmd, "sshd", dir)?;
            match wait_for_port(port, Duration::from_secs(10)).await {
                Ok(()) if child.is_running() => return Ok((child, port)),
                Ok(()) => last_error = Some(format!("sshd exited:\n{}", child.log_tail(20))),
                Err(e) => last_error = Some(format!("{e}:\n{}", child.log_tail(20))),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("sshd did not start: {}", last_error.unwrap_or_default())
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The login name ([`TEST_USER`]).
    pub fn user(&self) -> &'static str {
        TEST_USER
    }

    /// The login password ([`TEST_PASSWORD`]).
    pub fn password(&self) -> &'static str {
        TEST_PASSWORD
    }

    /// The user's home directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The scratch directory (configuration, keys, log).
    pub fn scratch_dir(&self) -> &ScratchDir {
        &self.dir
    }

    /// The host key's fingerprint as `ssh-keygen -l` prints it (`SHA256:...`).
    pub fn host_fingerprint(&self) -> Result<String> {
        let public = self.dir.path().join("host_ed25519.pub");
        let out = ssh_keygen(&["-l", "-E", "sha256", "-f", &public.to_string_lossy()])?;
        out.split_whitespace()
            .nth(1)
            .map(str::to_owned)
            .context("no fingerprint in ssh-keygen's output")
    }

    /// Generates an ed25519 client key pair (not yet authorized).
    pub fn generate_client_key(&self, name: &str) -> Result<ClientKey> {
        let path = self.dir.path().join(format!("client_{name}"));
        generate(&path, name)?;
        Ok(ClientKey {
            private_openssh: fs::read_to_string(&path)?,
            public_line: fs::read_to_string(path.with_extension("pub"))?
                .trim()
                .to_owned(),
        })
    }

    /// Lets the key in.
    pub fn authorize(&self, key: &ClientKey) -> Result<()> {
        use std::io::Write as _;
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("authorized_keys"))?;
        writeln!(file, "{}", key.public_line)?;
        Ok(())
    }

    /// Stops sshd, makes a new host key and starts it again (on the same
    /// port when it is still free).
    pub async fn restart_with_new_host_key(&mut self) -> Result<()> {
        self.child.stop()?;
        generate(&self.dir.path().join("host_ed25519"), "oriel-test-host-2")?;
        let (child, port) = Self::launch(&self.dir, Some(self.port)).await?;
        self.child = child;
        self.port = port;
        Ok(())
    }

    /// The last lines of sshd's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        self.child.log_tail(lines)
    }
}
