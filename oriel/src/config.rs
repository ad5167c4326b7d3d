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
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Gateway {
    pub control_public_keys: Vec<String>,
    pub control_url: String,
    pub control_ca: String,
    pub allowed_origins: Vec<String>,
    pub max_frames_in_flight: u8,
    pub tile_size: u16,
    pub jpeg_quality: u8,
    pub lossless_max_colors: usize,
    pub settle: String,
    pub encode_threads: usize,
    pub encode_queue: usize,
    pub hello_timeout: String,
    pub connect_timeout: String,
    pub vnc_encodings: Vec<String>,
    pub vnc_max_update_rate: u32,
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
        }
    }
}

impl Default for Gateway {
    fn default() -> Self {
        Gateway {
            control_public_keys: Vec::new(),
            control_url: String::new(),
            control_ca: String::new(),
            allowed_origins: Vec::new(),
            max_frames_in_flight: 2,
            tile_size: 64,
            jpeg_quality: 80,
            lossless_max_colors: 64,
            settle: "300ms".into(),
            encode_threads: 0,
            encode_queue: 0,
            hello_timeout: "10s".into(),
            connect_timeout: "15s".into(),
            vnc_encodings: vec!["tight".into(), "zrle".into(), "raw".into()],
            vnc_max_update_rate: 60,
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

/// Applies `ORIEL_<SECTION>__<KEY>=value` variables to a TOML table.
fn apply_env(
    table: &mut toml::Table,
    vars: impl Iterator<Item = (String, String)>,
) -> anyhow::Result<()> {
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix("ORIEL_") else {
            continue;
        };
        let Some((section, key)) = rest.split_once("__") else {
            continue;
        };
        if section.is_empty() || key.is_empty() {
            bail!("malformed configuration variable {name}");
        }
        let section = section.to_ascii_lowercase();
        let key = key.to_ascii_lowercase();
        let entry = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(sect) = entry else {
            bail!("{name}: [{section}] is not a section");
        };
        sect.insert(key, env_value(&value));
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
