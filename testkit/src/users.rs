//! A local Unix user for peers that log real users in (sshd, xrdp, FreeRDP's
//! shadow server with PAM). One shared account, created idempotently: tests
//! of different crates and parallel tests all use the same name and password.

use anyhow::{Context as _, bail};
use std::process::Command;
use std::sync::Mutex;

/// Login name of the test user.
pub const TEST_USER: &str = "oriel-peer";
/// Its password.
pub const TEST_PASSWORD: &str = "oriel-peer-Passw0rd";

static LOCK: Mutex<()> = Mutex::new(());

/// Makes sure [`TEST_USER`] exists with [`TEST_PASSWORD`] and a home
/// directory; returns the home directory. Needs root (CI runs as root).
pub fn ensure_test_user() -> anyhow::Result<std::path::PathBuf> {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let exists = Command::new("id").arg(TEST_USER).output()?.status.success();
    if !exists {
        let out = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/bash", TEST_USER])
            .output()
            .context("run useradd")?;
        // Another process may have created it meanwhile (exit 9: already exists).
        if !out.status.success() && out.status.code() != Some(9) {
            bail!("useradd failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let mut chpasswd = Command::new("chpasswd")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("run chpasswd")?;
    {
        use std::io::Write as _;
        let stdin = chpasswd.stdin.as_mut().context("chpasswd stdin")?;
        writeln!(stdin, "{TEST_USER}:{TEST_PASSWORD}")?;
    }
    if !chpasswd.wait()?.success() {
        bail!("chpasswd failed");
    }
    let home = std::path::PathBuf::from(format!("/home/{TEST_USER}"));
    if !home.exists() {
        bail!("{} has no home directory", TEST_USER);
    }
    Ok(home)
}
