//! Smoke test of `oriel-loadtest stream`: a few seconds of two `office`
//! sessions on one Xtigervnc display against the debug `oriel` binary,
//! asserting that it measured real things (frames decoded, bytes, latency,
//! fidelity, the exact match after the screen settles). No wall-clock
//! performance threshold: CI machines are shared.

mod common;

use common::{number, run_json, scratch_dir};
use serde_json::Value;

#[test]
fn stream_office_smoke() {
    let dir = scratch_dir("stream-smoke");
    let plots = dir.join("plots");
    let r = run_json(
        &[
            "stream",
            "--workload",
            "office",
            "--sessions",
            "2",
            "--displays",
            "1",
            "--warmup",
            "2s",
            "--duration",
            "4s",
            "--samples",
            "1",
            "--settle-timeout",
            "30s",
            "--plot",
            plots.to_str().expect("utf-8 path"),
        ],
        &dir,
    );

    assert_eq!(r["errors"].as_array().map(Vec::len), Some(0), "{r:#}");
    assert_eq!(r["workload"], "office");
    assert_eq!(r["sessions"], 2);
    let sessions = r["per_session"].as_array().expect("per_session");
    assert_eq!(sessions.len(), 2);
    for s in sessions {
        assert!(number(&s["frames_per_second"], "fps") > 0.0, "{s}");
        assert!(number(&s["bytes_per_second"], "bytes/s") > 0.0, "{s}");
        assert!(s["latency"]["frames"].as_u64().unwrap_or(0) > 0, "{s}");
        assert_eq!(s["latency"]["negative"], 0, "{s}");
        assert_eq!(s["settle"]["exact"], true, "not exact after settle: {s}");
    }
    let total = &r["total"];
    assert!(total["frames"].as_u64().unwrap_or(0) > 0);
    assert!(total["bytes"].as_u64().unwrap_or(0) > 0);
    let p50 = number(&total["latency"]["p50_ms"], "p50");
    let p99 = number(&total["latency"]["p99_ms"], "p99");
    assert!(p50 > 0.0 && p99 >= p50, "latency p50 {p50} p99 {p99}");

    let fidelity = &r["fidelity"];
    assert_eq!(fidelity["measured"], true);
    assert_eq!(fidelity["settle_exact_all"], true, "{fidelity:#}");
    // A paused sample compares the same instant on both sides (once the
    // viewer caught up): a missing, misplaced or garbled region falls far
    // below this floor; lossy tiles and a viewer still catching up on a busy
    // machine do not (null = identical).
    let paused = &fidelity["paused"];
    assert_eq!(paused["samples"], 1, "{fidelity:#}");
    if !paused["min_psnr_db"].is_null() {
        assert!(
            number(&paused["min_psnr_db"], "paused PSNR") >= 20.0,
            "{fidelity:#}"
        );
    }
    assert_eq!(fidelity["moving"]["samples"], 1, "{fidelity:#}");

    let oriel = &r["oriel"];
    assert!(number(&oriel["cores"], "cores") > 0.0);
    assert!(number(&oriel["rss_idle_mib"], "idle RSS") > 0.0);
    assert!(!r["timeline"].as_array().expect("timeline").is_empty());
    for chart in ["fps", "bandwidth", "cpu", "rss"] {
        let svg = std::fs::read_to_string(plots.join(format!("{chart}.svg"))).expect("chart");
        assert!(
            svg.starts_with("<svg") && svg.contains("<polyline"),
            "{chart}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--viewers-per-session 2`: one session read by two viewers, both
/// measured, both exact after the freeze, and the gateway's counter of
/// tiles (encoded once for both) read from `/metrics`.
#[test]
fn stream_two_viewers_of_one_session() {
    let dir = scratch_dir("stream-smoke");
    let r = run_json(
        &[
            "stream",
            "--workload",
            "video",
            "--sessions",
            "1",
            "--viewers-per-session",
            "2",
            "--warmup",
            "2s",
            "--duration",
            "4s",
            "--samples",
            "1",
            "--settle-timeout",
            "30s",
        ],
        &dir,
    );
    assert_eq!(r["errors"].as_array().map(Vec::len), Some(0), "{r:#}");
    assert_eq!(
        (&r["sessions"], &r["viewers"]),
        (&Value::from(1), &Value::from(2))
    );
    let viewers = r["per_session"].as_array().expect("per_session");
    assert_eq!(viewers.len(), 2);
    for (k, v) in viewers.iter().enumerate() {
        assert_eq!(
            (&v["session"], &v["viewer"]),
            (&Value::from(0), &Value::from(k))
        );
        assert!(number(&v["frames_per_second"], "fps") > 0.0, "{v}");
        assert_eq!(v["settle"]["exact"], true, "not exact after settle: {v}");
    }
    // Both viewers were drawn from one encode: the gateway's tile counter
    // moved, once per session.
    let encoded = number(&r["gateway_tiles"]["encoded"], "tiles encoded");
    assert!(encoded > 0.0, "no tile encoded: {r:#}");
    let _ = std::fs::remove_dir_all(&dir);
}
