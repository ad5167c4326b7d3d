//! The binary's configuration surface: --print-config, precedence,
//! --check-config (every error at once, or a summary), and clear errors
//! for unknown keys and bad values.

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

/// A scratch directory with files a configuration may name.
struct Files(tempfile::TempDir);

impl Files {
    fn new() -> Files {
        Files(tempfile::tempdir().unwrap())
    }

    fn path(&self, name: &str) -> String {
        self.0.path().join(name).display().to_string()
    }

    /// Writes `name` with `mode`; returns its path.
    fn write(&self, name: &str, text: &str, mode: u32) -> String {
        use std::os::unix::fs::PermissionsExt as _;
        let path = self.0.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path.display().to_string()
    }

    /// A real certificate and key (made by `oriel up`'s own code path: a
    /// first `--check-config` makes nothing, so make them with openssl).
    fn tls(&self) -> (String, String) {
        let (cert, key) = (self.path("tls.crt"), self.path("tls.key"));
        let out = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
            .args(["-subj", "/CN=localhost", "-keyout", &key, "-out", &cert])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        (cert, key)
    }
}

const KEY32: &str = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=\n";

#[test]
fn check_config_lists_every_error_at_once_and_creates_nothing() {
    let files = Files::new();
    let data = files.path("data");
    let file = files.write(
        "oriel.toml",
        "[gateway]\nsettle = \"5 parsecs\"\njpeg_quality = 0\nlossy_codec = \"avif\"\ntile_sise = 64\n",
        0o644,
    );
    let not_a_cert = files.write("ca.pem", "no certificate here", 0o644);
    let (ok, out, err) = oriel(
        &[
            "gateway",
            "--config",
            &file,
            "--data-dir",
            &data,
            "--listen",
            "nowhere",
            "--control",
            "https://control.example.com",
            "--control-ca",
            &not_a_cert,
            "--check-config",
        ],
        &[
            ("ORIEL_GATEWAY__ROLE", "proxy"),
            ("ORIEL_GATEWAY__HELLO_TIMEOUT", "ever"),
        ],
    );
    assert!(!ok);
    assert!(out.is_empty(), "{out}");
    // Every value error, each under its key's full name, in one message.
    for want in [
        "gateway.tile_sise: unknown key",
        "http.listen: \"nowhere\" is not an address:port",
        "gateway.role: \"proxy\" is not one of gateway, connection-proxy, dedicated-proxy",
        "gateway.jpeg_quality: 0 is out of range: 1 to 100",
        "gateway.settle: invalid duration \"5 parsecs\"",
        "gateway.lossy_codec: \"avif\" is not one of auto, jpeg, webp",
        "gateway.hello_timeout: invalid duration \"ever\"",
    ] {
        assert!(err.contains(want), "{want:?} missing in:\n{err}");
    }
    assert!(err.contains("invalid configuration, 7 errors"), "{err}");
    // The values right, the files it would read are checked, all together.
    let (ok, _, err) = oriel(
        &[
            "gateway",
            "--data-dir",
            &data,
            "--control",
            "https://control.example.com",
            "--control-ca",
            &not_a_cert,
            "--tls-cert",
            &files.write("cert.pem", "not a certificate", 0o644),
            "--tls-key",
            &files.write("key.pem", "not a key", 0o600),
            "--check-config",
        ],
        &[(
            "ORIEL_GATEWAY__CONTROL_PUBLIC_KEYS",
            &format!("[\"{}\"]", files.write("short.pub", "AAAA", 0o644)),
        )],
    );
    assert!(!ok);
    for want in [
        "http.tls_cert: the certificate and key do not load",
        "gateway.control_ca: ",
        "holds no PEM certificate",
        "gateway.control_public_keys[0]: ",
        "must hold 32 bytes",
    ] {
        assert!(err.contains(want), "{want:?} missing in:\n{err}");
    }
    assert!(err.contains("invalid configuration, 3 errors"), "{err}");
    assert!(
        !std::path::Path::new(&data).exists(),
        "checking creates nothing"
    );
}

#[test]
fn check_config_of_a_valid_configuration_prints_a_summary() {
    let files = Files::new();
    let data = files.path("data");
    // The example in deploy/ is valid for `oriel up`, which makes its keys.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/oriel.example.toml");
    let (ok, out, err) = oriel(
        &[
            "up",
            "--config",
            example,
            "--data-dir",
            &data,
            "--check-config",
        ],
        &[],
    );
    assert!(ok, "{err}");
    assert!(
        out.starts_with("oriel up: the configuration is valid\n"),
        "{out}"
    );
    assert!(out.contains("listen    https://0.0.0.0:8443"), "{out}");
    assert!(out.contains("no single sign-on"), "{out}");
    assert!(!std::path::Path::new(&data).exists(), "{out}");

    // A stand-alone gateway with the control plane's key copied, and an
    // agent with everything `oriel agent` needs.
    let (cert, key) = files.tls();
    let signing = files.write("signing.pub", KEY32, 0o644);
    let (ok, out, err) = oriel(
        &[
            "gateway",
            "--data-dir",
            &data,
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--id",
            "gw-1",
            "--check-config",
        ],
        &[(
            "ORIEL_GATEWAY__CONTROL_PUBLIC_KEYS",
            &format!("[\"{signing}\"]"),
        )],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("gateway   gateway \"gw-1\" in zone \"default\", static keys"),
        "{out}"
    );
    let socket = files.write("docker.sock", "", 0o600);
    let (ok, out, err) = oriel(
        &[
            "agent",
            "--data-dir",
            &data,
            "--control",
            "https://control.example.com:8443",
            "--control-ca",
            &cert,
            "--id",
            "node-1",
            "--zone",
            "paris",
            "--check-config",
        ],
        &[
            (
                "ORIEL_AGENT__JOIN_TOKEN_FILE",
                &files.write("join", "a-join-token-long-enough\n", 0o600),
            ),
            (
                "ORIEL_AGENT__GATEWAY_URL",
                "https://node-1.example.com:8443",
            ),
            ("ORIEL_AGENT__DOCKER_SOCKET", &socket),
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("gateway   gateway \"node-1\" in zone \"paris\", keys and revocations from https://control.example.com:8443"),
        "{out}"
    );
    assert!(
        out.contains("agent     \"node-1\" in zone \"paris\""),
        "{out}"
    );
    assert!(!std::path::Path::new(&data).exists());
}
