//! Smoke runs (seconds) of `launch`, `sessions` and `containers` against the
//! debug `oriel` binary, asserting that each measured real work. No
//! wall-clock threshold: CI machines are shared.

mod common;

use common::{number, run_json, scratch_dir};

#[test]
fn launch_logs_in_and_launches() {
    let dir = scratch_dir("launch-smoke");
    let r = run_json(
        &[
            "launch",
            "--database",
            "sqlite",
            "--concurrency",
            "3",
            "--login-concurrency",
            "3",
            "--bursts",
            "1",
            "--warmup",
            "1s",
            "--duration",
            "2s",
        ],
        &dir,
    );
    assert_eq!(number(&r["logins"]["latency"]["count"], "logins"), 3.0);
    assert_eq!(
        number(&r["bursts"]["latency"]["count"], "burst launches"),
        3.0
    );
    assert!(number(&r["sustained"]["launches"], "sustained launches") > 0.0);
    assert_eq!(number(&r["sustained"]["errors"], "errors"), 0.0);
    assert!(number(&r["sustained"]["latency"]["p50_ms"], "p50") > 0.0);
}

#[test]
fn sessions_streams_a_vnc_desktop() {
    let dir = scratch_dir("sessions-smoke");
    let r = run_json(
        &[
            "sessions",
            "--kind",
            "vnc",
            "--count",
            "1",
            "--warmup",
            "1s",
            "--duration",
            "3s",
        ],
        &dir,
    );
    assert_eq!(r["errors"].as_array().map(Vec::len), Some(0), "{r}");
    assert!(number(&r["viewer"]["frames_per_second"]["min"], "fps") > 0.0);
    assert!(number(&r["viewer"]["bytes_per_second"]["min"], "bytes") > 0.0);
    assert!(number(&r["oriel"]["cores"], "oriel cores") > 0.0);
    assert!(number(&r["oriel"]["rss_with_sessions_mib"], "rss") > 0.0);
}

#[test]
fn containers_launch_a_desktop_to_its_first_frame() {
    // Root and a running Docker engine, as the agent's tests; the desktop
    // image is built once and cached by recipe hash.
    let dir = scratch_dir("containers-smoke");
    let r = run_json(&["containers", "--runs", "1", "--idle", "2s"], &dir);
    assert_eq!(
        number(&r["launch_to_first_frame"]["count"], "launches"),
        1.0
    );
    assert!(number(&r["launch_to_first_frame"]["p50_ms"], "first frame") > 0.0);
    assert!(number(&r["idle"]["container_memory_mib"], "container memory") > 0.0);
}
