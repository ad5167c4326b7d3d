//! ChildGuard, ports and waiting helpers.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Result;
use oriel_testkit::{ChildGuard, ScratchDir, free_port, wait_for_port, wait_until};

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn guard_captures_output_and_stops_on_drop() -> Result<()> {
    let dir = ScratchDir::new("process-test")?;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo one; echo two >&2; echo three; exec sleep 30"]);
    let guard = ChildGuard::spawn(cmd, "echoer", &dir)?;
    let pid = guard.id();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !guard.log().contains("three") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(guard.log_tail(2), "two\nthree");
    assert!(guard.log_path().starts_with(dir.path()));
    assert!(alive(pid));
    let started = Instant::now();
    drop(guard);
    assert!(!alive(pid), "process {pid} survived its guard");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "SIGTERM was enough"
    );
    Ok(())
}

#[test]
fn guard_kills_a_child_that_ignores_sigterm() -> Result<()> {
    let dir = ScratchDir::new("process-test")?;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "trap '' TERM; echo ready; exec sleep 30"]);
    let mut guard = ChildGuard::spawn(cmd, "stubborn", &dir)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !guard.log().contains("ready") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = guard.id();
    let status = guard.stop()?;
    assert!(!status.success());
    assert!(!alive(pid));
    assert!(guard.ensure_running().is_err());
    Ok(())
}

#[test]
fn guard_reports_an_exited_child() -> Result<()> {
    let dir = ScratchDir::new("process-test")?;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo 'bad thing happened' >&2; exit 3"]);
    let mut guard = ChildGuard::spawn(cmd, "failing", &dir)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while guard.is_running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let error = guard
        .ensure_running()
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
    assert!(
        error.contains("bad thing happened") && error.contains("3"),
        "{error}"
    );
    Ok(())
}

#[tokio::test]
async fn ports_and_waiting() -> Result<()> {
    let port = free_port()?;
    assert_ne!(port, 0);
    assert!(
        wait_for_port(port, Duration::from_millis(200))
            .await
            .is_err()
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    wait_for_port(port, Duration::from_secs(2)).await?;
    drop(listener);

    let start = Instant::now();
    wait_until(Duration::from_secs(5), "a short while", || async {
        start.elapsed() > Duration::from_millis(120)
    })
    .await?;
    let error = wait_until(Duration::from_millis(100), "never", || async { false })
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("never"), "{error}");
    Ok(())
}
