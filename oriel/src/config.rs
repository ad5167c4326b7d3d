//! One TOML configuration with environment overrides (devolutions-gateway's
//! dto → typed config split): the file and `ORIEL_<SECTION>__<KEY>`
//! variables deserialize into [`RawConfig`] with unknown keys refused; it is
//! then validated into the typed values each role uses. Precedence:
//! defaults < file < environment < command-line flags. Every key is
//! documented in `docs/configuration.md`.

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The configuration as written (file + environment + flags).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub general: General,
    pub http: Http,
    pub control: Control,
    pub gateway: Gateway,
    pub agent: Agent,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct General {
    /// Where keys, the TLS certificate and the SQLite database live.
    pub data_dir: String,
    /// `plain` or `json`.
    pub log_format: String,
    /// A tracing filter, e.g. `info` or `info,oriel_gateway=debug`.
    pub log_level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    pub listen: String,
    pub public_url: String,
    pub tls_cert: String,
    pub tls_key: String,
    /// Extra names (DNS names or IP addresses) of the self-signed
    /// certificate made when `tls_cert` is unset, besides the public URL's
    /// host and the host name: how other hosts reach this one.
    pub tls_names: Vec<String>,
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Control {
    pub database: String,
    pub database_max_connections: u32,
    pub token_ttl: String,
    pub login_ttl: String,
    pub gateway_public_url: String,
    pub gateway_urls: Vec<String>,
    pub gateway_ca: String,
    pub gateway_sealing_key: String,
    pub gateway_report_keys: Vec<String>,
    pub workspace_kinds: Vec<String>,
    pub password_min_len: usize,
    /// The key that encrypts secrets at rest, from a file (e.g. a mounted
    /// secret shared by several control planes); empty: `keys/data.key` in
    /// the data directory, made on first start.
    pub data_key_file: String,
    /// The token agents join with, from a file; empty: `keys/agent-join.token`
    /// in the data directory, made on first start.
    pub agent_join_token_file: String,
    /// An agent silent this long is lost and its sessions fail.
    pub agent_lost_after: String,
    /// A container session whose desktop is not ready this long after
    /// launch fails.
    pub container_start_timeout: String,
    /// How browsers reach the gateway of an agent's node: `direct` (its
    /// public URL) or `relay` (through this node's gateway, undecoded).
    pub agent_streams: String,
    /// How long after its first use a session token may be presented again
    /// (reconnection, from the same address); written in every token.
    pub reconnect_window: String,
    /// How many more times.
    pub reconnect_max: u16,
    /// Public keys (files) of retired signing keys, still published at
    /// `/api/v1/keys` while tokens they signed may be alive.
    pub retired_public_keys: Vec<String>,
    /// Single sign-on (`[control.oidc]`); off while `issuer` is empty.
    pub oidc: Oidc,
}

/// `[agent]`: the role that runs container sessions on the local Docker
/// engine (`oriel agent`, and in-process under `oriel up`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Agent {
    /// Under `oriel up`: run the agent in the process (when Docker answers).
    pub enabled: bool,
    /// The agent's id (its containers carry it); empty: `local` under
    /// `oriel up`, required for `oriel agent`.
    pub id: String,
    pub zone: String,
    /// Free-form `key=value` labels shown to admins.
    pub labels: Vec<String>,
    pub max_sessions: u32,
    /// CPU cores offered; 0: every core of the host.
    pub cpus: f64,
    /// Memory offered to sessions, MiB; 0: 80% of the host's.
    pub memory_mb: u64,
    /// `oriel agent`: the control plane's URL (`https://…`).
    pub control_url: String,
    /// `oriel agent`: PEM certificate (or CA) of the control plane.
    pub control_ca: String,
    /// `oriel agent`: the join token, or a file holding it.
    pub join_token: String,
    pub join_token_file: String,
    /// `oriel agent`: public URL of the gateway on this node
    /// (`https://host:port`), which streams its sessions.
    pub gateway_url: String,
    pub docker_socket: String,
    /// A private range session subnets are cut from, e.g. `10.213.0.0/16`;
    /// empty: Docker's default pools (about 30 networks).
    pub subnet_pool: String,
    pub subnet_len: u8,
    /// Host firewall rules per session (iptables; needs root).
    pub host_firewall: bool,
    /// How often containers are reconciled with the control plane.
    pub reconcile_every: String,
}

impl Default for Agent {
    fn default() -> Self {
        Agent {
            enabled: true,
            id: String::new(),
            zone: "default".into(),
            labels: Vec::new(),
            max_sessions: 8,
            cpus: 0.0,
            memory_mb: 0,
            control_url: String::new(),
            control_ca: String::new(),
            join_token: String::new(),
            join_token_file: String::new(),
            gateway_url: String::new(),
            docker_socket: "/var/run/docker.sock".into(),
            subnet_pool: String::new(),
            subnet_len: 28,
            host_firewall: true,
            reconcile_every: "10s".into(),
        }
    }
}

/// `[control.oidc]`: the OpenID Connect provider users may log in with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Oidc {
    /// Issuer URL as the provider's discovery document says it; empty: off.
    pub issuer: String,
    pub client_id: String,
    /// `sealed:…` from `oriel seal-secret` (plain text is refused).
    pub client_secret: String,
    /// A file holding the secret (sealed, or plain if only its owner can read it).
    pub client_secret_file: String,
    pub display_name: String,
    pub scopes: Vec<String>,
    pub username_claim: String,
    pub groups_claim: String,
    pub admin_groups: Vec<String>,
    pub auditor_groups: Vec<String>,
    pub clock_skew_secs: u64,
    /// PEM CA certificates for the provider's HTTPS; empty: the public roots.
    pub ca_file: String,
}

impl Default for Oidc {
    fn default() -> Self {
        Oidc {
            issuer: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            client_secret_file: String::new(),
            display_name: "Single sign-on".into(),
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            username_claim: "preferred_username".into(),
            groups_claim: "groups".into(),
            admin_groups: Vec::new(),
            auditor_groups: Vec::new(),
            clock_skew_secs: 60,
            ca_file: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Gateway {
    /// `gateway` (serves sessions), `connection-proxy` (serves the sessions
    /// placed on it, for targets of its network) or `dedicated-proxy`
    /// (passes streams on to the gateway each token names).
    pub role: String,
    /// This gateway's id as tokens name it (empty: the host name).
    pub id: String,
    /// Its zone.
    pub zone: String,
    /// How long after its first use a session token may be presented again
    /// (reconnection), from the same address, unless the token says.
    pub reconnect_window: String,
    /// How many more times, unless the token says.
    pub reconnect_max: u16,
    /// How often the control plane's key set is fetched (with control_url).
    pub keys_refresh: String,
    /// How often the revocation list is fetched (with control_url).
    pub revocations_refresh: String,
    /// How often the list of live sessions is reported (with control_url).
    pub sessions_report: String,
    pub control_public_keys: Vec<String>,
    pub control_url: String,
    pub control_ca: String,
    pub allowed_origins: Vec<String>,
    pub max_frames_in_flight: u8,
    pub tile_size: u16,
    pub jpeg_quality: u8,
    pub motion_quality: u8,
    pub motion_half_life: String,
    pub max_merged_pixels: usize,
    pub detect_scroll: bool,
    pub lossy_codec: String,
    pub webp_cpu_budget: f64,
    pub lossless_max_colors: usize,
    pub settle: String,
    pub encode_threads: usize,
    pub encode_queue: usize,
    pub hello_timeout: String,
    pub connect_timeout: String,
    pub vnc_encodings: Vec<String>,
    pub vnc_max_update_rate: u32,
    /// RDP: advertise the graphics pipeline (EGFX, without H.264).
    pub rdp_graphics_pipeline: bool,
    /// RDP: advertise RemoteFX (lossy wavelets: less bandwidth, the picture
    /// no longer converges exactly).
    pub rdp_remotefx: bool,
}

fn default_data_dir() -> String {
    let is_root = std::env::var("USER").is_ok_and(|u| u == "root")
        || std::env::var("HOME").is_ok_and(|h| h == "/root");
    if is_root {
        return "/var/lib/oriel".into();
    }
    if let Ok(xdg) = std::env::var("XDG_DATA_HOME")
        && !xdg.is_empty()
    {
        return format!("{xdg}/oriel");
    }
    match std::env::var("HOME") {
        Ok(home) if !home.is_empty() => format!("{home}/.local/share/oriel"),
        _ => "./oriel-data".into(),
    }
}

impl Default for General {
    fn default() -> Self {
        General {
            data_dir: default_data_dir(),
            log_format: "plain".into(),
            log_level: "info".into(),
        }
    }
}

impl Default for Http {
    fn default() -> Self {
        Http {
            listen: "0.0.0.0:8443".into(),
            public_url: String::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
            tls_names: Vec::new(),
            max_body_bytes: 1 << 20,
        }
    }
}

impl Default for Control {
    fn default() -> Self {
        Control {
            database: String::new(),
            database_max_connections: 16,
            token_ttl: "5m".into(),
            login_ttl: "12h".into(),
            gateway_public_url: String::new(),
            gateway_urls: Vec::new(),
            gateway_ca: String::new(),
            gateway_sealing_key: String::new(),
            gateway_report_keys: Vec::new(),
            workspace_kinds: Vec::new(),
            password_min_len: 12,
            data_key_file: String::new(),
            agent_join_token_file: String::new(),
            agent_lost_after: "30s".into(),
            container_start_timeout: "2m".into(),
            agent_streams: "direct".into(),
            reconnect_window: "5m".into(),
            reconnect_max: 20,
            retired_public_keys: Vec::new(),
            oidc: Oidc::default(),
        }
    }
}

impl Default for Gateway {
    fn default() -> Self {
        Gateway {
            role: "gateway".into(),
            id: String::new(),
            zone: "default".into(),
            reconnect_window: "5m".into(),
            reconnect_max: 20,
            keys_refresh: "5m".into(),
            revocations_refresh: "5s".into(),
            sessions_report: "30s".into(),
            control_public_keys: Vec::new(),
            control_url: String::new(),
            control_ca: String::new(),
            allowed_origins: Vec::new(),
            max_frames_in_flight: 2,
            tile_size: 64,
            jpeg_quality: 80,
            motion_quality: 50,
            motion_half_life: "500ms".into(),
            max_merged_pixels: 524_288,
            detect_scroll: true,
            lossy_codec: "auto".into(),
            webp_cpu_budget: 0.02,
            lossless_max_colors: 64,
            settle: "300ms".into(),
            encode_threads: 0,
            encode_queue: 0,
            hello_timeout: "10s".into(),
            connect_timeout: "15s".into(),
            vnc_encodings: vec!["tight".into(), "zrle".into(), "raw".into()],
            vnc_max_update_rate: 60,
            rdp_graphics_pipeline: true,
            rdp_remotefx: false,
        }
    }
}

/// Turns an environment value into TOML: numbers, booleans and arrays as
/// themselves, anything else as a string.
fn env_value(raw: &str) -> toml::Value {
    let probe = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&probe) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

/// Applies `ORIEL_<SECTION>__<KEY>=value` variables to a TOML table;
/// `ORIEL_<SECTION>__<SUBSECTION>__<KEY>` reaches `[section.subsection]`.
fn apply_env(
    table: &mut toml::Table,
    vars: impl Iterator<Item = (String, String)>,
) -> anyhow::Result<()> {
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix("ORIEL_") else {
            continue;
        };
        if !rest.contains("__") {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if path.iter().any(String::is_empty) {
            bail!("malformed configuration variable {name}");
        }
        let Some((key, sections)) = path.split_last() else {
            continue;
        };
        let mut here = &mut *table;
        for (depth, section) in sections.iter().enumerate() {
            let entry = here
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let toml::Value::Table(sect) = entry else {
                bail!("{name}: [{}] is not a section", path[..=depth].join("."));
            };
            here = sect;
        }
        here.insert(key.clone(), env_value(&value));
    }
    Ok(())
}

impl RawConfig {
    /// Defaults, then the file (if any), then the environment.
    pub fn load(file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        Self::load_with_env(file, std::env::vars())
    }

    pub(crate) fn load_with_env(
        file: Option<&std::path::Path>,
        vars: impl Iterator<Item = (String, String)>,
    ) -> anyhow::Result<Self> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read configuration file {}", path.display())
                })?;
                toml::from_str::<toml::Table>(&text)
                    .with_context(|| format!("{} is not valid TOML", path.display()))?
            }
            None => toml::Table::new(),
        };
        apply_env(&mut table, vars)?;
        RawConfig::deserialize(toml::Value::Table(table))
            .context("invalid configuration (see docs/configuration.md)")
    }

    /// The effective configuration as TOML.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }

    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(&self.general.data_dir)
    }

    pub fn listen(&self) -> anyhow::Result<SocketAddr> {
        self.http
            .listen
            .parse()
            .with_context(|| format!("http.listen {:?} is not an address:port", self.http.listen))
    }

    pub fn public_url(&self) -> anyhow::Result<Option<String>> {
        url_option("http.public_url", &self.http.public_url)
    }

    #[cfg(feature = "control")]
    pub fn database_url(&self) -> String {
        if self.control.database.is_empty() {
            format!("sqlite://{}/oriel.db", self.data_dir().display())
        } else {
            self.control.database.clone()
        }
    }
}

fn url_option(key: &str, value: &str) -> anyhow::Result<Option<String>> {
    if value.is_empty() {
        return Ok(None);
    }
    if !(value.starts_with("https://") || value.starts_with("http://")) {
        bail!("{key} must be an https:// URL, got {value:?}");
    }
    Ok(Some(value.trim_end_matches('/').to_owned()))
}

pub fn duration(key: &str, value: &str) -> anyhow::Result<Duration> {
    humantime::parse_duration(value)
        .with_context(|| format!("{key} {value:?} is not a duration like 5m or 300ms"))
}

#[cfg(feature = "control")]
pub fn gateway_public_url(raw: &RawConfig) -> anyhow::Result<Option<String>> {
    url_option(
        "control.gateway_public_url",
        &raw.control.gateway_public_url,
    )
}

/// Prefix of values sealed with the data key (`oriel seal-secret`).
#[cfg(feature = "control")]
pub const SEALED_PREFIX: &str = "sealed:";

/// Configuration keys whose values may be sealed (the key name is bound
/// into the ciphertext: a value sealed for one key opens for no other).
#[cfg(feature = "control")]
pub const SEALED_KEYS: &[&str] = &["control.oidc.client_secret"];

/// Seals `plain` with the data key for the configuration key `key`.
#[cfg(feature = "control")]
pub fn seal_secret(
    plain: &str,
    key: &str,
    data: &oriel_control_store::DataKey,
) -> anyhow::Result<String> {
    Ok(format!(
        "{SEALED_PREFIX}{}",
        data.seal(plain.as_bytes(), &format!("config:{key}"))?
    ))
}

/// Opens a `sealed:…` value of the configuration key `key`.
#[cfg(feature = "control")]
pub fn open_secret(
    value: &str,
    key: &str,
    data: &oriel_control_store::DataKey,
) -> anyhow::Result<zeroize::Zeroizing<String>> {
    let Some(sealed) = value.trim().strip_prefix(SEALED_PREFIX) else {
        bail!(
            "{key} must be sealed (`oriel seal-secret` prints sealed:…); plain-text secrets are refused"
        );
    };
    let plain = data.open(sealed, &format!("config:{key}")).map_err(|_| {
        anyhow::anyhow!(
            "{key} does not open with this installation's data key (sealed elsewhere, or for another key?)"
        )
    })?;
    let text = String::from_utf8(plain.to_vec())
        .map_err(|_| anyhow::anyhow!("{key} is not UTF-8 once opened"))?;
    Ok(zeroize::Zeroizing::new(text))
}

/// The client secret of `[control.oidc]`: `client_secret` (sealed) or the
/// contents of `client_secret_file` (sealed, or plain in a file only its
/// owner can read).
#[cfg(feature = "control")]
fn oidc_client_secret(
    o: &Oidc,
    data: &oriel_control_store::DataKey,
) -> anyhow::Result<zeroize::Zeroizing<String>> {
    const KEY: &str = "control.oidc.client_secret";
    match (o.client_secret.is_empty(), o.client_secret_file.is_empty()) {
        (false, false) => {
            bail!("set control.oidc.client_secret or control.oidc.client_secret_file, not both")
        }
        (true, true) => bail!(
            "control.oidc needs the client secret: client_secret = \"sealed:…\" (see `oriel seal-secret`) or client_secret_file"
        ),
        (false, true) => open_secret(&o.client_secret, KEY, data),
        (true, false) => {
            let path = std::path::Path::new(&o.client_secret_file);
            let text =
                zeroize::Zeroizing::new(std::fs::read_to_string(path).with_context(|| {
                    format!(
                        "cannot read control.oidc.client_secret_file {}",
                        path.display()
                    )
                })?);
            let value = text.trim_end_matches(['\r', '\n']);
            if value.trim_start().starts_with(SEALED_PREFIX) {
                return open_secret(value, KEY, data);
            }
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                bail!(
                    "control.oidc.client_secret_file {} holds a plain secret and others may read it (mode {:o}): chmod 600 it, or put a sealed value in it",
                    path.display(),
                    mode & 0o777
                );
            }
            if value.is_empty() {
                bail!(
                    "control.oidc.client_secret_file {} is empty",
                    path.display()
                );
            }
            Ok(zeroize::Zeroizing::new(value.to_owned()))
        }
    }
}

/// `[control.oidc]` validated: `None` while `issuer` is empty.
#[cfg(feature = "control")]
pub fn oidc_settings(
    raw: &RawConfig,
    data: &oriel_control_store::DataKey,
) -> anyhow::Result<Option<oriel_control::OidcSettings>> {
    let o = &raw.control.oidc;
    if o.issuer.is_empty() {
        if *o != Oidc::default() {
            bail!("control.oidc is set but control.oidc.issuer is empty");
        }
        return Ok(None);
    }
    let ca_pem = if o.ca_file.is_empty() {
        Vec::new()
    } else {
        std::fs::read(&o.ca_file)
            .with_context(|| format!("cannot read control.oidc.ca_file {}", o.ca_file))?
    };
    let settings = oriel_control::OidcSettings {
        issuer: o.issuer.clone(),
        client_id: o.client_id.clone(),
        client_secret: oidc_client_secret(o, data)?,
        display_name: if o.display_name.trim().is_empty() {
            Oidc::default().display_name
        } else {
            o.display_name.clone()
        },
        scopes: o.scopes.clone(),
        username_claim: o.username_claim.clone(),
        groups_claim: o.groups_claim.clone(),
        admin_groups: o.admin_groups.clone(),
        auditor_groups: o.auditor_groups.clone(),
        clock_skew: Duration::from_secs(o.clock_skew_secs),
        ca_pem,
    };
    settings
        .validate()
        .map_err(|e| anyhow::anyhow!("control.oidc: {e}"))?;
    Ok(Some(settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn file_then_environment_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("oriel.toml");
        std::fs::write(
            &file,
            "[http]\nlisten = \"127.0.0.1:9000\"\n[gateway]\njpeg_quality = 60\n",
        )
        .unwrap();
        let c = RawConfig::load_with_env(
            Some(&file),
            env(&[
                ("ORIEL_GATEWAY__JPEG_QUALITY", "70"),
                ("ORIEL_GATEWAY__VNC_ENCODINGS", "[\"raw\"]"),
                ("ORIEL_HTTP__PUBLIC_URL", "https://oriel.example.com/"),
                ("ORIEL_ADMIN_PASSWORD", "not a config key"),
                ("HOME", "/x"),
            ]),
        )
        .unwrap();
        assert_eq!(c.http.listen, "127.0.0.1:9000");
        assert_eq!(c.gateway.jpeg_quality, 70);
        assert_eq!(c.gateway.vnc_encodings, vec!["raw".to_owned()]);
        assert_eq!(
            c.public_url().unwrap().as_deref(),
            Some("https://oriel.example.com")
        );
        assert_eq!(c.control.token_ttl, "5m");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("oriel.toml");
        std::fs::write(&file, "[http]\nlistn = \"x\"\n").unwrap();
        let err = format!(
            "{:#}",
            RawConfig::load_with_env(Some(&file), env(&[])).unwrap_err()
        );
        assert!(err.contains("listn"), "{err}");
        let err = format!(
            "{:#}",
            RawConfig::load_with_env(None, env(&[("ORIEL_GATEWAY__JPEG_QUALTY", "5")]))
                .unwrap_err()
        );
        assert!(err.contains("jpeg_qualty"), "{err}");
        assert!(RawConfig::load_with_env(None, env(&[("ORIEL_NOPE__X", "5")])).is_err());
    }

    #[test]
    fn printed_config_parses_back_to_the_same() {
        let c =
            RawConfig::load_with_env(None, env(&[("ORIEL_GENERAL__DATA_DIR", "/tmp/o")])).unwrap();
        let text = c.to_toml().unwrap();
        let back: RawConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn the_example_file_in_deploy_is_valid() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/oriel.example.toml");
        let c = RawConfig::load_with_env(Some(&path), env(&[])).unwrap();
        assert!(c.listen().is_ok());
        assert!(duration("x", &c.control.token_ttl).is_ok());
        assert!(duration("x", &c.gateway.settle).is_ok());
        // It shows the defaults.
        assert_eq!(c.agent, Agent::default());
        assert_eq!(c.gateway, Gateway::default());
        let mut control = c.control.clone();
        control.oidc = Oidc::default();
        assert_eq!(control, Control::default());
    }

    #[test]
    fn the_oidc_section_takes_nested_environment_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("oriel.toml");
        std::fs::write(
            &file,
            "[control.oidc]\nissuer = \"https://idp.example\"\nadmin_groups = [\"a\"]\n",
        )
        .unwrap();
        let c = RawConfig::load_with_env(
            Some(&file),
            env(&[
                ("ORIEL_CONTROL__OIDC__CLIENT_ID", "oriel"),
                ("ORIEL_CONTROL__OIDC__AUDITOR_GROUPS", "[\"audit\"]"),
                ("ORIEL_CONTROL__OIDC__CLOCK_SKEW_SECS", "30"),
                ("ORIEL_CONTROL__TOKEN_TTL", "2m"),
            ]),
        )
        .unwrap();
        let o = &c.control.oidc;
        assert_eq!(o.issuer, "https://idp.example");
        assert_eq!(o.client_id, "oriel");
        assert_eq!(o.admin_groups, ["a"]);
        assert_eq!(o.auditor_groups, ["audit"]);
        assert_eq!(o.clock_skew_secs, 30);
        assert_eq!(o.username_claim, "preferred_username");
        assert_eq!(o.groups_claim, "groups");
        assert_eq!(c.control.token_ttl, "2m");
        let err = format!(
            "{:#}",
            RawConfig::load_with_env(None, env(&[("ORIEL_CONTROL__OIDC__ISSUR", "x")]))
                .unwrap_err()
        );
        assert!(err.contains("issur"), "{err}");
        assert!(
            RawConfig::load_with_env(None, env(&[("ORIEL_CONTROL__TOKEN_TTL__X", "1")])).is_err(),
            "a key is not a section"
        );
        assert!(RawConfig::load_with_env(None, env(&[("ORIEL_CONTROL____X", "1")])).is_err());
    }

    #[cfg(feature = "control")]
    #[test]
    fn the_oidc_client_secret_is_accepted_only_sealed() {
        use std::os::unix::fs::PermissionsExt as _;
        let key = oriel_control_store::DataKey::from_bytes(&[5; 32]).unwrap();
        let mut c = RawConfig::default();
        assert!(oidc_settings(&c, &key).unwrap().is_none(), "off by default");
        c.control.oidc.client_id = "oriel".into();
        assert!(oidc_settings(&c, &key).is_err(), "set without an issuer");
        c.control.oidc.issuer = "https://idp.example".into();
        let err = format!("{:#}", oidc_settings(&c, &key).unwrap_err());
        assert!(err.contains("seal-secret"), "{err}");
        c.control.oidc.client_secret = "hunter2hunter2".into();
        let err = format!("{:#}", oidc_settings(&c, &key).unwrap_err());
        assert!(err.contains("must be sealed"), "{err}");
        c.control.oidc.client_secret =
            seal_secret("s3cret", "control.oidc.client_secret", &key).unwrap();
        assert!(!c.control.oidc.client_secret.contains("s3cret"));
        let s = oidc_settings(&c, &key).unwrap().unwrap();
        assert_eq!(s.client_secret.as_str(), "s3cret");
        assert!(!format!("{s:?}").contains("s3cret"), "Debug redacts");
        // Another installation's key, or a value sealed for another key.
        let other = oriel_control_store::DataKey::from_bytes(&[6; 32]).unwrap();
        assert!(oidc_settings(&c, &other).is_err());
        c.control.oidc.client_secret = seal_secret("s3cret", "other.key", &key).unwrap();
        assert!(oidc_settings(&c, &key).is_err());
        // From a file: sealed, or plain when only the owner can read it.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "plain-secret\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        c.control.oidc.client_secret = String::new();
        c.control.oidc.client_secret_file = file.display().to_string();
        let err = format!("{:#}", oidc_settings(&c, &key).unwrap_err());
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let s = oidc_settings(&c, &key).unwrap().unwrap();
        assert_eq!(s.client_secret.as_str(), "plain-secret");
        std::fs::write(
            &file,
            seal_secret("from-file", "control.oidc.client_secret", &key).unwrap(),
        )
        .unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            oidc_settings(&c, &key)
                .unwrap()
                .unwrap()
                .client_secret
                .as_str(),
            "from-file"
        );
        // Plain http only on loopback.
        c.control.oidc.issuer = "http://idp.example".into();
        assert!(oidc_settings(&c, &key).is_err());
        c.control.oidc.issuer = "http://127.0.0.1:8000/openid".into();
        assert!(oidc_settings(&c, &key).is_ok());
    }

    #[test]
    fn bad_values_give_clear_errors() {
        let mut c = RawConfig::default();
        c.http.listen = "nope".into();
        assert!(format!("{:#}", c.listen().unwrap_err()).contains("http.listen"));
        c.http.public_url = "oriel.example.com".into();
        assert!(c.public_url().is_err());
        assert!(duration("control.token_ttl", "soon").is_err());
    }
}
