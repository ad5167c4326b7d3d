//! CI smoke of `oriel-loadtest relay`: a second of every phase with tiny
//! counts against the debug `oriel` beside the load tester, then checks of
//! what it wrote in `--json`: bytes went through every path it ran (one
//! stream and several), echoes came back, idle streams were all opened,
//! the relays' processes did the work, and no error was recorded. nginx
//! and websockify are skipped (with a line saying why) only when they are
//! not installed; `./x deps-test` installs both.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use oriel_testkit::ScratchDir;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn installed(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].iter().map(PathBuf::from))
        .any(|dir| dir.join(program).is_file())
}

#[test]
fn relay_moves_bytes_through_every_path() {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_oriel-loadtest"));
    let oriel = exe.with_file_name("oriel");
    assert!(
        oriel.exists(),
        "no oriel binary at {} (cargo build -p oriel first)",
        oriel.display()
    );
    let mut paths = vec!["direct", "oriel", "proxy"];
    for peer in ["nginx", "websockify"] {
        if installed(peer) {
            paths.push(peer);
        } else {
            eprintln!("skipping {peer}: it is not installed (./x deps-test installs it)");
        }
    }
    let dir = ScratchDir::new("relay-smoke").unwrap();
    let json = dir.path().join("relay.json");
    let out = Command::new(&exe)
        .args(["relay", "--paths", &paths.join(",")])
        .args(["--streams", "3", "--duration", "1s", "--warmup", "200ms"])
        .args([
            "--rounds",
            "1",
            "--echo-count",
            "20",
            "--message-size",
            "65536",
        ])
        .args(["--idle", "10", "--websockify-idle", "3", "--pin", "false"])
        .arg("--oriel")
        .arg(&oriel)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "relay failed:\n{stdout}\n{stderr}");
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["skipped"], serde_json::json!([]), "{stdout}");
    for path in &paths {
        let p = &report["paths"][path];
        let context = format!("{path}: {p:#}\n{stdout}");
        assert_eq!(p["errors"], serde_json::json!([]), "{context}");
        for phase in ["one_stream", "many_streams"] {
            let gbps = p[phase]["gbit_per_s"].as_f64().unwrap_or(0.0);
            assert!(gbps > 0.0, "no bytes through {path} ({phase}): {context}");
        }
        let p50 = p["echo"]["p50_us"].as_f64().unwrap_or(0.0);
        assert!(p50 > 0.0, "no echo through {path}: {context}");
        if *path == "direct" {
            continue;
        }
        // The relay process itself carried the bytes.
        let cores = p["many_streams"]["relay_cores"].as_f64().unwrap_or(0.0);
        assert!(cores > 0.0, "{path} used no CPU: {context}");
        let wanted = if *path == "websockify" { 3 } else { 10 };
        assert_eq!(p["idle"]["streams"], wanted, "{context}");
        assert!(p["idle"]["kib_per_stream_pss"].is_number(), "{context}");
    }
    assert!(
        stdout.contains("oriel / nginx") || !paths.contains(&"nginx"),
        "{stdout}"
    );
    assert!(
        stdout.contains("proxy / nginx") || !paths.contains(&"nginx"),
        "{stdout}"
    );
}
