//! The binary's configuration surface: --print-config, precedence, and
//! clear errors for unknown keys and bad values.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn oriel(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oriel"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn print_config_shows_file_env_and_flags_in_order_of_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oriel.toml");
    std::fs::write(
        &file,
        "[http]\nlisten = \"127.0.0.1:1111\"\n[gateway]\njpeg_quality = 50\ntile_size = 32\n",
    )
    .unwrap();
    let (ok, out, err) = oriel(
        &[
            "up",
            "--config",
            file.to_str().unwrap(),
            "--listen",
            "127.0.0.1:3333",
            "--data-dir",
            "/tmp/oriel-print-config",
            "--print-config",
        ],
        &[
            ("ORIEL_GATEWAY__JPEG_QUALITY", "60"),
            ("ORIEL_HTTP__LISTEN", "127.0.0.1:2222"),
        ],
    );
    assert!(ok, "{err}");
    let cfg: toml::Table = toml::from_str(&out).unwrap();
    assert_eq!(
        cfg["http"]["listen"].as_str(),
        Some("127.0.0.1:3333"),
        "flag wins"
    );
    assert_eq!(
        cfg["gateway"]["jpeg_quality"].as_integer(),
        Some(60),
        "env beats file"
    );
    assert_eq!(
        cfg["gateway"]["tile_size"].as_integer(),
        Some(32),
        "file beats default"
    );
    assert_eq!(
        cfg["general"]["data_dir"].as_str(),
        Some("/tmp/oriel-print-config")
    );
    assert!(
        !std::path::Path::new("/tmp/oriel-print-config").exists(),
        "printing creates nothing"
    );
}

#[test]
fn unknown_keys_and_bad_values_stop_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oriel.toml");
    std::fs::write(&file, "[gateway]\njpeg_qualty = 50\n").unwrap();
    let (ok, _, err) = oriel(
        &["up", "--config", file.to_str().unwrap(), "--print-config"],
        &[],
    );
    assert!(!ok);
    assert!(err.contains("jpeg_qualty"), "{err}");

    let (ok, _, err) = oriel(
        &["gateway", "--print-config"],
        &[("ORIEL_HTTP__LISTN", "x")],
    );
    assert!(!ok);
    assert!(err.contains("listn"), "{err}");

    let data = dir.path().join("data");
    let (ok, _, err) = oriel(
        &[
            "up",
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "not-an-address",
        ],
        &[],
    );
    assert!(!ok);
    assert!(err.contains("http.listen"), "{err}");

    let (ok, _, err) = oriel(
        &[
            "up",
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[("ORIEL_CONTROL__TOKEN_TTL", "soon")],
    );
    assert!(!ok);
    assert!(err.contains("control.token_ttl"), "{err}");
}
