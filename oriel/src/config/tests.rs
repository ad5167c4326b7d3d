//! Reading (precedence, refused keys), typed validation (every error at
//! once, each under its key) and the file checks of each role.

use super::problems::HttpsUrl;
use super::raw::{Agent, Control, Gateway, Oidc};
use super::*;
use std::path::Path;
use std::time::Duration;

fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect::<Vec<_>>()
        .into_iter()
}

fn load(toml: &str, vars: &[(&str, &str)]) -> Loaded {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oriel.toml");
    std::fs::write(&file, toml).unwrap();
    RawConfig::load_with_env(Some(&file), env(vars)).unwrap()
}

/// The keys of every error, in order.
fn keys(e: &ConfigErrors) -> Vec<&str> {
    e.0.iter().map(|e| e.key.as_str()).collect()
}

fn message<'e>(e: &'e ConfigErrors, key: &str) -> &'e str {
    e.0.iter()
        .find(|e| e.key == key)
        .map(|e| e.message.as_str())
        .unwrap_or_else(|| panic!("no error for {key} in {e}"))
}

#[test]
fn file_then_environment_override_defaults() {
    let loaded = load(
        "[http]\nlisten = \"127.0.0.1:9000\"\n[gateway]\njpeg_quality = 60\n",
        &[
            ("ORIEL_GATEWAY__JPEG_QUALITY", "70"),
            ("ORIEL_GATEWAY__VNC_ENCODINGS", "[\"raw\"]"),
            ("ORIEL_HTTP__PUBLIC_URL", "https://oriel.example.com/"),
            ("ORIEL_ADMIN_PASSWORD", "not a config key"),
            ("HOME", "/x"),
        ],
    );
    let c = Config::from_loaded(loaded, Role::Up).unwrap();
    assert_eq!(c.http.listen, "127.0.0.1:9000".parse().unwrap());
    assert_eq!(c.gateway.plan.jpeg_quality, 70);
    assert_eq!(
        c.gateway.vnc.encodings,
        [oriel_protocols_vnc::Encoding::Raw]
    );
    assert_eq!(
        c.http.public_url.as_ref().map(HttpsUrl::as_str),
        Some("https://oriel.example.com")
    );
    assert_eq!(c.control.token_ttl, Duration::from_secs(300));
}

#[test]
fn every_refused_key_is_reported_with_where_it_came_from() {
    let loaded = load(
        "[http]\nlistn = \"x\"\n[gateway]\njpeg_quality = \"high\"\ntile_size = 99999\n[nope]\nx = 1\n",
        &[
            ("ORIEL_GATEWAY__JPEG_QUALTY", "5"),
            ("ORIEL_CONTROL__OIDC__ISSUR", "x"),
            ("ORIEL_CONTROL__TOKEN_TTL__X", "1"),
            ("ORIEL_CONTROL____X", "1"),
            ("ORIEL_GENERAL", "not a key: no double underscore"),
        ],
    );
    let err = loaded.refused().unwrap_err();
    let mut got = keys(&err);
    got.sort_unstable();
    assert_eq!(
        got,
        [
            "ORIEL_CONTROL____X",
            "control.oidc.issur",
            "control.token_ttl",
            "gateway.jpeg_quality",
            "gateway.jpeg_qualty",
            "gateway.tile_size",
            "http.listn",
            "nope",
        ],
        "{err}"
    );
    assert!(message(&err, "gateway.jpeg_qualty").contains("ORIEL_GATEWAY__JPEG_QUALTY"));
    assert!(message(&err, "gateway.jpeg_quality").contains("expected a whole number"));
    assert!(message(&err, "gateway.tile_size").contains("99999"));
    assert!(
        message(&err, "control.token_ttl").contains("expected a string"),
        "{err}"
    );
    // What was refused keeps its default, so the rest can still be checked.
    assert_eq!(loaded.raw.gateway.jpeg_quality, 80);
    let text = Config::from_loaded(loaded, Role::Up)
        .unwrap_err()
        .to_string();
    assert!(
        text.starts_with("invalid configuration, 8 errors"),
        "{text}"
    );
}

#[test]
fn a_string_key_set_from_the_environment_keeps_its_text() {
    let loaded = load(
        "",
        &[("ORIEL_GATEWAY__ID", "7"), ("ORIEL_AGENT__ZONE", "true")],
    );
    assert_eq!(loaded.raw.gateway.id, "7");
    assert_eq!(loaded.raw.agent.zone, "true");
    loaded.refused().unwrap();
}

#[test]
fn printed_config_parses_back_to_the_same() {
    let c = RawConfig::load_with_env(None, env(&[("ORIEL_GENERAL__DATA_DIR", "/tmp/o")]))
        .unwrap()
        .raw;
    let text = c.to_toml().unwrap();
    let back: RawConfig = toml::from_str(&text).unwrap();
    assert_eq!(back, c);
}

#[test]
fn the_example_file_in_deploy_shows_the_defaults_and_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/oriel.example.toml");
    let loaded = RawConfig::load_with_env(Some(&path), env(&[])).unwrap();
    loaded.refused().unwrap();
    let c = &loaded.raw;
    assert_eq!(c.agent, Agent::default());
    assert_eq!(c.gateway, Gateway::default());
    let mut control = c.control.clone();
    control.oidc = Oidc::default();
    assert_eq!(control, Control::default());
    for role in [Role::Up, Role::Control, Role::Gateway] {
        Config::from_raw(c, role).unwrap();
    }
    // `oriel agent` needs what only its operator knows.
    let err = Config::from_raw(c, Role::Agent).unwrap_err();
    assert_eq!(
        keys(&err),
        [
            "agent.id",
            "agent.control_url",
            "agent.control_ca",
            "agent.join_token_file",
            "agent.gateway_url",
        ],
        "{err}"
    );
}

#[test]
fn every_bad_value_is_reported_at_once_under_its_key() {
    let loaded = load(
        r#"
[general]
log_format = "xml"
log_level = "info,=["
[http]
listen = "nope"
public_url = "oriel.example.com"
tls_cert = "/etc/cert.pem"
max_body_bytes = 10
[control]
database = "mysql://root:hunter2@db/oriel"
token_ttl = "2h"
login_ttl = "soon"
agent_streams = "carrier-pigeon"
workspace_kinds = ["vnc", "telnet", "vnc"]
password_min_len = 4
gateway_urls = ["http://gw.example.com"]
[gateway]
role = "proxy"
settle = "5 parsecs"
jpeg_quality = 0
motion_quality = 101
tile_size = 8
max_frames_in_flight = 0
lossy_codec = "avif"
vnc_encodings = ["hextile"]
vnc_max_update_rate = 0
allowed_origins = ["not an origin"]
control_url = "https://control.example.com"
[agent]
id = "Not_Valid"
labels = ["novalue"]
max_sessions = 0
subnet_pool = "10.0.0.0/30"
reconcile_every = "0s"
"#,
        &[],
    );
    let err = Config::from_loaded(loaded, Role::Up).unwrap_err();
    let want = [
        "general.log_format",
        "general.log_level",
        "http.listen",
        "http.public_url",
        "http.tls_key",
        "http.max_body_bytes",
        "agent.id",
        "agent.labels[0]",
        "agent.subnet_pool",
        "agent.max_sessions",
        "agent.reconcile_every",
        "gateway.role",
        "gateway.control_ca",
        "gateway.allowed_origins[0]",
        "gateway.jpeg_quality",
        "gateway.motion_quality",
        "gateway.settle",
        "gateway.lossy_codec",
        "gateway.vnc_encodings[0]",
        "gateway.max_frames_in_flight",
        "gateway.tile_size",
        "gateway.vnc_max_update_rate",
        "control.database",
        "control.gateway_urls[0]",
        "control.gateway_ca",
        "control.workspace_kinds[1]",
        "control.workspace_kinds[2]",
        "control.token_ttl",
        "control.login_ttl",
        "control.password_min_len",
        "control.agent_streams",
    ];
    let mut got = keys(&err);
    got.sort_unstable();
    let mut sorted = want.to_vec();
    sorted.sort_unstable();
    assert_eq!(got, sorted, "{err}");
    assert_eq!(
        message(&err, "gateway.settle"),
        "invalid duration \"5 parsecs\" (write e.g. 300ms, 5s, 2m, 12h)"
    );
    assert_eq!(
        message(&err, "gateway.jpeg_quality"),
        "0 is out of range: 1 to 100"
    );
    assert!(message(&err, "control.token_ttl").contains("10s to 1h"));
    assert!(message(&err, "gateway.lossy_codec").contains("auto, jpeg, webp"));
    assert!(message(&err, "http.public_url").contains("https://"));
    let text = err.to_string();
    assert!(
        !text.contains("hunter2"),
        "database passwords are not echoed: {text}"
    );
    assert!(text.contains(&format!("{} errors", want.len())), "{text}");
    assert!(
        text.contains("\n  gateway.settle: invalid duration"),
        "{text}"
    );
}

#[test]
fn requirements_hold_only_for_the_role_that_needs_them() {
    let mut raw = RawConfig::default();
    raw.gateway.control_url = "https://control.example.com".into();
    // The control plane does not use [gateway]: its keys need not agree.
    Config::from_raw(&raw, Role::Control).unwrap();
    let err = Config::from_raw(&raw, Role::Gateway).unwrap_err();
    assert_eq!(keys(&err), ["gateway.control_ca"]);
    // But a bad value is an error whatever the role.
    raw.gateway.control_ca = "/ca.pem".into();
    raw.gateway.settle = "soon".into();
    let err = Config::from_raw(&raw, Role::Control).unwrap_err();
    assert_eq!(keys(&err), ["gateway.settle"]);
}

#[test]
fn an_agent_node_gateway_takes_the_agent_control_plane_id_and_zone() {
    let mut raw = RawConfig::default();
    raw.agent.id = "node-1".into();
    raw.agent.zone = "paris".into();
    raw.agent.control_url = "https://control.example.com:8443/".into();
    raw.agent.control_ca = "/etc/oriel/control.pem".into();
    raw.agent.join_token_file = "/etc/oriel/join".into();
    raw.agent.gateway_url = "https://node-1.example.com:8443".into();
    raw.agent.labels = vec!["gpu=yes".into()];
    let c = Config::from_raw(&raw, Role::Agent).unwrap();
    assert_eq!(c.gateway.id, "node-1");
    assert_eq!(c.gateway.zone, "paris");
    let link = c.gateway.control.as_ref().unwrap();
    assert_eq!(link.url.as_str(), "https://control.example.com:8443");
    assert_eq!(link.ca_key, "agent.control_ca");
    assert_eq!(c.agent.labels["gpu"], "yes");
    assert!(matches!(c.agent.join_token, Some(JoinToken::File(_))));
    // Set for the gateway: its own values win.
    raw.gateway.id = "gw".into();
    raw.gateway.zone = "lyon".into();
    let c = Config::from_raw(&raw, Role::Agent).unwrap();
    assert_eq!(
        (c.gateway.id.as_str(), c.gateway.zone.as_str()),
        ("gw", "lyon")
    );
}

#[test]
fn https_urls_are_checked() {
    for ok in [
        "https://oriel.example.com",
        "https://oriel.example.com:8443/",
        "https://[::1]:8443",
        "https://10.0.0.1/oriel",
    ] {
        HttpsUrl::parse(ok, false).unwrap();
    }
    assert_eq!(
        HttpsUrl::parse("https://[::1]:8443/", false)
            .unwrap()
            .host(),
        "::1"
    );
    for bad in [
        "oriel.example.com",
        "http://oriel.example.com",
        "ftp://x",
        "https://user@host",
        "https://host/?q=1",
        "https://",
        "",
    ] {
        assert!(HttpsUrl::parse(bad, false).is_err(), "{bad}");
    }
    assert!(HttpsUrl::parse("http://127.0.0.1:8000/openid", true).is_ok());
    assert!(HttpsUrl::parse("http://localhost/", true).is_ok());
    let err = HttpsUrl::parse("http://idp.example/", true).unwrap_err();
    assert!(err.contains("loopback"), "{err}");
}

#[test]
fn the_oidc_section_takes_nested_environment_keys() {
    let loaded = load(
        "[control.oidc]\nissuer = \"https://idp.example\"\nadmin_groups = [\"a\"]\n",
        &[
            ("ORIEL_CONTROL__OIDC__CLIENT_ID", "oriel"),
            ("ORIEL_CONTROL__OIDC__AUDITOR_GROUPS", "[\"audit\"]"),
            ("ORIEL_CONTROL__OIDC__CLOCK_SKEW_SECS", "30"),
            ("ORIEL_CONTROL__OIDC__CLIENT_SECRET_FILE", "/run/secret"),
            ("ORIEL_CONTROL__TOKEN_TTL", "2m"),
        ],
    );
    let c = Config::from_loaded(loaded, Role::Control).unwrap();
    let o = c.control.oidc.unwrap();
    assert_eq!(o.issuer, "https://idp.example");
    assert_eq!(o.client_id, "oriel");
    assert_eq!(o.admin_groups, ["a"]);
    assert_eq!(o.auditor_groups, ["audit"]);
    assert_eq!(o.clock_skew, Duration::from_secs(30));
    assert_eq!(o.username_claim, "preferred_username");
    assert!(matches!(o.client_secret, control::OidcSecret::File(_)));
    assert_eq!(c.control.token_ttl, Duration::from_secs(120));
}

#[test]
fn the_oidc_client_secret_is_accepted_only_sealed() {
    use std::os::unix::fs::PermissionsExt as _;
    let key = oriel_control_store::DataKey::from_bytes(&[5; 32]).unwrap();
    let settings = |raw: &RawConfig| -> anyhow::Result<Option<oriel_control::OidcSettings>> {
        let c = Config::from_raw(raw, Role::Control)?;
        c.control
            .oidc
            .as_ref()
            .map(|o| oidc_settings(o, &key))
            .transpose()
    };
    let mut c = RawConfig::default();
    assert!(settings(&c).unwrap().is_none(), "off by default");
    c.control.oidc.client_id = "oriel".into();
    let err = format!("{:#}", settings(&c).unwrap_err());
    assert!(
        err.contains("control.oidc.issuer"),
        "set without an issuer: {err}"
    );
    c.control.oidc.issuer = "https://idp.example".into();
    let err = format!("{:#}", settings(&c).unwrap_err());
    assert!(err.contains("seal-secret"), "{err}");
    c.control.oidc.client_secret = "hunter2hunter2".into();
    let err = format!("{:#}", settings(&c).unwrap_err());
    assert!(err.contains("must be sealed"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    c.control.oidc.client_secret =
        seal_secret("s3cret", "control.oidc.client_secret", &key).unwrap();
    assert!(!c.control.oidc.client_secret.contains("s3cret"));
    let s = settings(&c).unwrap().unwrap();
    assert_eq!(s.client_secret.as_str(), "s3cret");
    assert!(!format!("{s:?}").contains("s3cret"), "Debug redacts");
    // Another installation's key, or a value sealed for another key.
    let other = oriel_control_store::DataKey::from_bytes(&[6; 32]).unwrap();
    let typed = Config::from_raw(&c, Role::Control).unwrap();
    let err = format!(
        "{:#}",
        oidc_settings(typed.control.oidc.as_ref().unwrap(), &other).unwrap_err()
    );
    assert!(err.contains("does not open"), "{err}");
    c.control.oidc.client_secret = seal_secret("s3cret", "other.key", &key).unwrap();
    assert!(settings(&c).is_err());
    // From a file: sealed, or plain when only the owner can read it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, "plain-secret\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    c.control.oidc.client_secret_file = file.display().to_string();
    let err = format!("{:#}", settings(&c).unwrap_err());
    assert!(err.contains("not both"), "{err}");
    c.control.oidc.client_secret = String::new();
    let err = format!("{:#}", settings(&c).unwrap_err());
    assert!(err.contains("chmod 600"), "{err}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        settings(&c).unwrap().unwrap().client_secret.as_str(),
        "plain-secret"
    );
    std::fs::write(
        &file,
        seal_secret("from-file", "control.oidc.client_secret", &key).unwrap(),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        settings(&c).unwrap().unwrap().client_secret.as_str(),
        "from-file"
    );
    // Plain http only on loopback.
    c.control.oidc.issuer = "http://idp.example".into();
    assert!(settings(&c).is_err());
    c.control.oidc.issuer = "http://127.0.0.1:8000/openid".into();
    assert!(settings(&c).is_ok());
}

#[test]
fn the_files_a_role_reads_are_checked_together() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let mut raw = RawConfig::default();
    raw.general.data_dir = dir.path().join("data").display().to_string();
    // Apart, each role needs the other's public key; `oriel up` makes both.
    let check = |raw: &RawConfig, role| Config::from_raw(raw, role).unwrap().check_files();
    let err = check(&raw, Role::Gateway).unwrap_err();
    assert_eq!(keys(&err), ["gateway.control_public_keys"]);
    assert!(message(&err, "gateway.control_public_keys").contains("signing.pub"));
    let err = check(&raw, Role::Control).unwrap_err();
    assert_eq!(keys(&err), ["control.gateway_sealing_key"]);
    assert!(message(&err, "control.gateway_sealing_key").contains("gateway-sealing.pub"));
    check(&raw, Role::Up).unwrap();
    assert!(
        !dir.path().join("data").exists(),
        "checking creates nothing"
    );

    // Every file named in the configuration, wrong in its own way.
    let write = |name: &str, text: &str, mode: u32| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path.display().to_string()
    };
    raw.http.tls_cert = write("cert.pem", "not a certificate", 0o644);
    raw.http.tls_key = write("key.pem", "not a key", 0o600);
    raw.gateway.control_url = "https://control.example.com".into();
    raw.gateway.control_ca = write("ca.pem", "no certificate here", 0o644);
    raw.gateway.control_public_keys = vec![write("short.pub", "AAAA\n", 0o644)];
    raw.control.data_key_file = write(
        "data.key",
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=\n",
        0o644,
    );
    raw.control.agent_join_token_file = write("join", "short\n", 0o600);
    raw.http.metrics_token_file = write("metrics.token", "a-long-enough-metrics-token\n", 0o644);
    raw.control.gateway_report_keys = vec![dir.path().join("missing.pub").display().to_string()];
    let err = check(&raw, Role::Up).unwrap_err();
    assert_eq!(
        keys(&err),
        [
            "http.metrics_token_file",
            "http.tls_cert",
            "gateway.control_ca",
            "gateway.control_public_keys[0]",
            "control.gateway_report_keys[0]",
            "control.data_key_file",
            "control.agent_join_token_file",
        ],
        "{err}"
    );
    assert!(message(&err, "control.data_key_file").contains("chmod 600"));
    assert!(message(&err, "http.metrics_token_file").contains("chmod 600"));
    assert!(message(&err, "control.agent_join_token_file").contains("at least 16"));
    assert!(message(&err, "gateway.control_ca").contains("no PEM certificate"));

    // The same keys, right.
    let tls = oriel_gateway_http::ensure_self_signed(dir.path(), &[]).unwrap();
    raw.http.tls_cert = tls.cert.display().to_string();
    raw.http.tls_key = tls.key.display().to_string();
    raw.gateway.control_ca = raw.http.tls_cert.clone();
    let key = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=\n";
    raw.gateway.control_public_keys = vec![write("signing.pub", key, 0o644)];
    raw.control.data_key_file = write("data.key", key, 0o600);
    raw.control.agent_join_token_file = write("join", "a-join-token-long-enough\n", 0o600);
    raw.control.gateway_report_keys = vec![write("report.pub", key, 0o644)];
    raw.http.metrics_token_file = write("metrics.token", "a-long-enough-metrics-token\n", 0o600);
    check(&raw, Role::Up).unwrap();
    // A token too short, or with a space, even in a private file.
    for bad in ["short\n", "a long enough token with spaces\n"] {
        raw.http.metrics_token_file = write("metrics.token", bad, 0o600);
        let err = check(&raw, Role::Gateway).unwrap_err();
        assert!(
            message(&err, "http.metrics_token_file").contains("at least 16"),
            "{err}"
        );
    }
    raw.http.metrics_token_file = write("metrics.token", "a-long-enough-metrics-token\n", 0o600);
    // A key and a certificate that do not belong together.
    let other = tempfile::tempdir().unwrap();
    let other = oriel_gateway_http::ensure_self_signed(other.path(), &[]).unwrap();
    raw.http.tls_key = other.key.display().to_string();
    let err = check(&raw, Role::Up).unwrap_err();
    assert_eq!(keys(&err), ["http.tls_cert"]);
}
