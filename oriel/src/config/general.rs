//! `[general]` and `[http]` typed: what every role uses (the data
//! directory, logging, the HTTPS listener and its certificate).

use super::problems::{HttpsUrl, Problems};
use super::raw;
use oriel_gateway_http::TlsFiles;
use std::net::SocketAddr;
use std::path::PathBuf;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Plain,
    Json,
}

/// `[general]`, checked.
#[derive(Debug, Clone)]
pub struct General {
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    /// A tracing filter that parses.
    pub log_level: String,
}

impl General {
    pub(super) fn from_raw(g: &raw::General, p: &mut Problems) -> General {
        if g.data_dir.trim().is_empty() {
            p.required(
                "general.data_dir",
                "the directory of keys, certificate and database",
            );
        }
        let log_format = p
            .choice(
                "general.log_format",
                &g.log_format,
                &[("plain", LogFormat::Plain), ("json", LogFormat::Json)],
            )
            .unwrap_or(LogFormat::Plain);
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&g.log_level) {
            p.push(
                "general.log_level",
                format!("{:?} is not a tracing filter: {e}", g.log_level),
            );
        }
        General {
            data_dir: PathBuf::from(&g.data_dir),
            log_format,
            log_level: g.log_level.clone(),
        }
    }

    /// `<data_dir>/keys`.
    pub fn keys_dir(&self) -> PathBuf {
        crate::keys::dir(&self.data_dir)
    }
}

/// Where the HTTPS certificate comes from.
#[derive(Debug, Clone)]
pub enum Tls {
    /// `http.tls_cert` and `http.tls_key`.
    Files(TlsFiles),
    /// A self-signed certificate in `<data_dir>/tls`, made on first start,
    /// for these names besides `localhost` and the loopback addresses.
    SelfSigned { names: Vec<String> },
}

/// `[http]`, checked.
#[derive(Debug, Clone)]
pub struct Http {
    pub listen: SocketAddr,
    pub public_url: Option<HttpsUrl>,
    pub tls: Tls,
    pub max_body_bytes: usize,
    /// `None`: `/metrics` is public.
    pub metrics_token_file: Option<PathBuf>,
}

/// Largest request body allowed (`http.max_body_bytes`).
const MAX_BODY: usize = 1 << 30;

impl Http {
    pub(super) fn from_raw(h: &raw::Http, p: &mut Problems) -> Http {
        let listen = match h.listen.trim().parse::<SocketAddr>() {
            Ok(a) => a,
            Err(_) => {
                p.push(
                    "http.listen",
                    format!(
                        "{:?} is not an address:port (e.g. 0.0.0.0:8443 or [::]:8443)",
                        h.listen
                    ),
                );
                SocketAddr::from(([0, 0, 0, 0], 0))
            }
        };
        let public_url = p.https_url("http.public_url", &h.public_url, false);
        let tls = match (h.tls_cert.is_empty(), h.tls_key.is_empty()) {
            (false, false) => Tls::Files(TlsFiles {
                cert: PathBuf::from(&h.tls_cert),
                key: PathBuf::from(&h.tls_key),
            }),
            (true, true) => {
                let mut names = Vec::new();
                if let Some(url) = &public_url {
                    names.push(url.host().to_owned());
                }
                if let Some(host) = super::host_name() {
                    names.push(host);
                }
                for (i, n) in h.tls_names.iter().enumerate() {
                    if n.trim().is_empty() {
                        p.push(format!("http.tls_names[{i}]"), "is empty");
                    } else {
                        names.push(n.trim().to_owned());
                    }
                }
                Tls::SelfSigned { names }
            }
            (true, false) => {
                p.push(
                    "http.tls_cert",
                    "must be set with http.tls_key (they go together)",
                );
                Tls::SelfSigned { names: Vec::new() }
            }
            (false, true) => {
                p.push(
                    "http.tls_key",
                    "must be set with http.tls_cert (they go together)",
                );
                Tls::SelfSigned { names: Vec::new() }
            }
        };
        let max_body_bytes = p.within("http.max_body_bytes", h.max_body_bytes, 1024..=MAX_BODY);
        Http {
            listen,
            public_url,
            tls,
            max_body_bytes,
            metrics_token_file: super::problems::path(&h.metrics_token_file),
        }
    }
}

/// The token `/metrics` asks for, from `http.metrics_token_file`: a file
/// only its owner can read, holding one token of at least 16 printable
/// characters.
pub fn read_metrics_token(path: &std::path::Path) -> anyhow::Result<String> {
    use anyhow::{Context as _, bail};
    use std::os::unix::fs::PermissionsExt as _;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read http.metrics_token_file {}", path.display()))?;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "http.metrics_token_file {} may be read by others (mode {:o}): chmod 600 it",
            path.display(),
            mode & 0o777
        );
    }
    let token = text.trim();
    if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        bail!(
            "http.metrics_token_file {} must hold one token of at least 16 printable characters without spaces",
            path.display()
        );
    }
    Ok(token.to_owned())
}
