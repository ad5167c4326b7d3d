//! Shared by the load tester's smoke tests: the binaries and a scratch
//! directory, and running a subcommand to its JSON report.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `oriel` binary beside the load tester (`target/debug/oriel`); built
/// here when missing (`cargo nextest run --workspace` builds it anyway).
pub fn oriel_binary() -> PathBuf {
    let loadtest = PathBuf::from(env!("CARGO_BIN_EXE_oriel-loadtest"));
    let oriel = loadtest.with_file_name("oriel");
    if !oriel.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "-p", "oriel"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build -p oriel");
        assert!(status.success(), "cargo build -p oriel failed");
    }
    assert!(oriel.exists(), "no oriel binary at {}", oriel.display());
    oriel
}

/// A fresh directory under the system's temporary directory.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "oriel-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs `oriel-loadtest <args> --oriel <oriel> --json <dir>/out.json` and
/// returns the report; panics with the output when it fails.
pub fn run_json(args: &[&str], dir: &Path) -> Value {
    let json = dir.join("out.json");
    let out = Command::new(env!("CARGO_BIN_EXE_oriel-loadtest"))
        .args(args)
        .arg("--oriel")
        .arg(oriel_binary())
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run oriel-loadtest");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(
        out.status.success(),
        "oriel-loadtest {args:?} failed:\n{text}"
    );
    serde_json::from_slice(&std::fs::read(&json).expect("JSON report")).expect("valid JSON")
}

/// A JSON number, or a panic naming it.
pub fn number(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}
