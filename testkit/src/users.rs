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
    // Test processes run in parallel: two `useradd`s at once can leave the
    // home directory owned by another uid than the user's. One process at
    // a time, machine-wide.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("oriel-test-user.lock"))
        .context("open the test user's lock file")?;
    lock.lock().context("lock the test user's lock file")?;
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
    let Ok(meta) = std::fs::metadata(&home) else {
        bail!("{} has no home directory", TEST_USER);
    };
    // A home left by an earlier account of the name (or by a race before
    // the lock above) is given to the user.
    let uid = Command::new("id").args(["-u", TEST_USER]).output()?;
    let uid: u32 = String::from_utf8_lossy(&uid.stdout)
        .trim()
        .parse()
        .context("the test user's uid")?;
    use std::os::unix::fs::MetadataExt as _;
    if meta.uid() != uid {
        let status = Command::new("chown")
            .args(["-R", &format!("{TEST_USER}:"), &home.to_string_lossy()])
            .status()
            .context("run chown")?;
        if !status.success() {
            bail!("chown of {} failed", home.display());
        }
    }
    Ok(home)
}
