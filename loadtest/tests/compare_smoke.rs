//! Smoke test of `oriel-loadtest stream --compare novnc`: one round of a
//! few seconds per side of the `video` workload on one Xtigervnc display,
//! Oriel's web viewer and noVNC in the same headless Chromium, against the
//! debug `oriel` binary. Asserts real results (bytes on both paths, noVNC
//! connected with its encodings seen, CPU read from `/proc`), never a
//! speed. Skipped, with the reason printed, only when noVNC, websockify or
//! Chromium is not installed (`./x deps-test` installs them).

mod common;

use common::{number, run_json, scratch_dir};
use serde_json::Value;
use std::path::Path;

/// Why the peers are missing, if they are.
fn missing() -> Option<String> {
    let mut why = Vec::new();
    if !Path::new("/usr/share/novnc/vnc_lite.html").is_file() {
        why.push("novnc");
    }
    if !Path::new("/usr/bin/websockify").is_file() {
        why.push("websockify");
    }
    if !Path::new("/usr/bin/chromium").is_file() {
        why.push("chromium");
    }
    (!why.is_empty()).then(|| format!("not installed: {}", why.join(", ")))
}

#[test]
fn compare_novnc_smoke() {
    if let Some(why) = missing() {
        eprintln!("skipped: noVNC comparison peers {why} (./x deps-test)");
        return;
    }
    let dir = scratch_dir("compare-smoke");
    let r = run_json(
        &[
            "stream",
            "--compare",
            "novnc",
            "--workload",
            "video",
            "--sessions",
            "1",
            "--warmup",
            "1s",
            "--duration",
            "3s",
            "--rounds",
            "1",
        ],
        &dir,
    );
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(r["errors"].as_array().map(Vec::len), Some(0), "{r:#}");
    assert_eq!(r["workload"], "video");
    let phases = r["phases"].as_array().expect("phases");
    let sides: Vec<&str> = phases.iter().filter_map(|p| p["side"].as_str()).collect();
    for side in ["oriel", "novnc", "none"] {
        assert!(sides.contains(&side), "no {side} phase: {r:#}");
    }
    for side in ["oriel", "novnc"] {
        let s = &r["sides"][side];
        assert!(
            number(&s["bytes_per_second_per_session"], "bytes/s") > 0.0,
            "{side}: {s}"
        );
        assert!(
            number(&s["frames_per_second_per_session"], "frames/s") > 0.0,
            "{side}: {s}"
        );
        assert!(
            number(&s["translator_cores"], "translator") > 0.0,
            "{side}: {s}"
        );
        assert!(
            number(&s["xtigervnc_cores"], "Xtigervnc") > 0.0,
            "{side}: {s}"
        );
        assert!(number(&s["browser_cores"], "browser") > 0.0, "{side}: {s}");
    }
    let written = &r["sides"]["oriel"]["relay_written_bytes_per_second"];
    assert!(number(written, "oriel's written bytes") > 0.0, "{r:#}");
    // noVNC connected and decoded the server's rectangles; the encoding
    // and quality it negotiated are on record.
    let e = &r["novnc_encodings"];
    let rects: u64 = e["rects"]
        .as_object()
        .expect("rects")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert!(rects > 0, "{e}");
    assert!(e["quality_level"].is_u64(), "{e}");
    let ratio = number(&r["ratios_novnc_over_oriel"]["system_cores"], "ratio");
    assert!(ratio > 0.0, "{r:#}");
}
