//! `[control]` and `[control.oidc]` typed: the control plane's settings,
//! every duration, URL, name and range checked. Files are only named here;
//! `files.rs` checks them, `secrets.rs` opens the sealed OIDC secret.

use super::problems::{DAY, HttpsUrl, Problems, SECOND, path, paths, reuse};
use super::raw;
use oriel_control::AgentStreams;
use oriel_core_token::Reuse;
use std::path::PathBuf;
use std::time::Duration;

/// `[control]`, checked.
#[derive(Debug, Clone)]
pub struct Control {
    /// The database URL (`sqlite://<data_dir>/oriel.db` when unset).
    pub database: String,
    pub database_max_connections: u32,
    pub token_ttl: Duration,
    pub login_ttl: Duration,
    pub gateway_public_url: Option<HttpsUrl>,
    pub gateway_urls: Vec<HttpsUrl>,
    pub gateway_ca: Option<PathBuf>,
    /// `None`: `<data_dir>/keys/gateway-sealing.pub`.
    pub gateway_sealing_key: Option<PathBuf>,
    pub gateway_report_keys: Vec<PathBuf>,
    /// Empty: the kinds the build's gateway serves.
    pub workspace_kinds: Vec<String>,
    pub password_min_len: usize,
    /// Resolved: empty in the file is `<data_dir>/recordings-store`.
    pub recordings_dir: PathBuf,
    pub recordings_encrypt: bool,
    /// `None`: `<data_dir>/keys/data.key`, made on first start.
    pub data_key_file: Option<PathBuf>,
    /// `None`: `<data_dir>/keys/agent-join.key`, made on first start.
    pub agent_join_token_file: Option<PathBuf>,
    pub agent_lost_after: Duration,
    pub container_start_timeout: Duration,
    pub agent_streams: AgentStreams,
    /// Written in every session token.
    pub reconnect: Reuse,
    pub retired_public_keys: Vec<PathBuf>,
    /// `None` while `control.oidc.issuer` is empty.
    pub oidc: Option<Oidc>,
}

/// Where the OIDC client secret is.
#[derive(Clone)]
pub enum OidcSecret {
    /// `control.oidc.client_secret`: a `sealed:…` value.
    Sealed(String),
    /// `control.oidc.client_secret_file`.
    File(PathBuf),
}

impl std::fmt::Debug for OidcSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OidcSecret::Sealed(_) => f.write_str("Sealed(..)"),
            OidcSecret::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// `[control.oidc]`, checked (the secret still sealed or in its file).
#[derive(Debug, Clone)]
pub struct Oidc {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: OidcSecret,
    pub display_name: String,
    pub scopes: Vec<String>,
    pub username_claim: String,
    pub groups_claim: String,
    pub admin_groups: Vec<String>,
    pub auditor_groups: Vec<String>,
    pub clock_skew: Duration,
    pub ca_file: Option<PathBuf>,
}

/// The workspace kinds a control plane may accept.
const KINDS: &[&str] = &["vnc", "rdp", "ssh", "container"];

impl Control {
    pub(super) fn from_raw(c: &raw::Control, data_dir: &str, p: &mut Problems) -> Control {
        let database = if c.database.trim().is_empty() {
            format!("sqlite://{data_dir}/oriel.db")
        } else {
            c.database.trim().to_owned()
        };
        if !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|s| database.starts_with(s))
        {
            // Not echoed: a database URL may hold a password.
            p.push(
                "control.database",
                "must be sqlite://PATH or postgres://USER:PASS@HOST/DB",
            );
        }
        let gateway_urls = c
            .gateway_urls
            .iter()
            .enumerate()
            .filter_map(|(i, u)| p.https_url(&format!("control.gateway_urls[{i}]"), u, false))
            .collect::<Vec<_>>();
        let gateway_ca = path(&c.gateway_ca);
        if !c.gateway_urls.is_empty() && gateway_ca.is_none() {
            p.required(
                "control.gateway_ca",
                "the PEM certificate (or CA) of the gateways in control.gateway_urls",
            );
        }
        let mut workspace_kinds = Vec::new();
        for (i, k) in c.workspace_kinds.iter().enumerate() {
            let key = format!("control.workspace_kinds[{i}]");
            if !KINDS.contains(&k.as_str()) {
                p.push(key, format!("{k:?} is not one of {}", KINDS.join(", ")));
            } else if workspace_kinds.contains(k) {
                p.push(key, format!("{k:?} is listed twice"));
            } else {
                workspace_kinds.push(k.clone());
            }
        }
        Control {
            database,
            database_max_connections: p.within(
                "control.database_max_connections",
                c.database_max_connections,
                1..=1000,
            ),
            token_ttl: p.duration(
                "control.token_ttl",
                &c.token_ttl,
                10 * SECOND..=3600 * SECOND,
            ),
            login_ttl: p.duration("control.login_ttl", &c.login_ttl, 60 * SECOND..=30 * DAY),
            gateway_public_url: p.https_url(
                "control.gateway_public_url",
                &c.gateway_public_url,
                false,
            ),
            gateway_urls,
            gateway_ca,
            gateway_sealing_key: path(&c.gateway_sealing_key),
            gateway_report_keys: paths("control.gateway_report_keys", &c.gateway_report_keys, p),
            workspace_kinds,
            password_min_len: p.within("control.password_min_len", c.password_min_len, 8..=128),
            recordings_dir: match path(&c.recordings_dir) {
                Some(dir) => dir,
                None => std::path::Path::new(data_dir).join("recordings-store"),
            },
            recordings_encrypt: c.recordings_encrypt,
            data_key_file: path(&c.data_key_file),
            agent_join_token_file: path(&c.agent_join_token_file),
            agent_lost_after: p.duration(
                "control.agent_lost_after",
                &c.agent_lost_after,
                SECOND..=DAY,
            ),
            container_start_timeout: p.duration(
                "control.container_start_timeout",
                &c.container_start_timeout,
                SECOND..=DAY,
            ),
            agent_streams: p
                .choice(
                    "control.agent_streams",
                    &c.agent_streams,
                    &[
                        ("direct", AgentStreams::Direct),
                        ("relay", AgentStreams::Relay),
                    ],
                )
                .unwrap_or_default(),
            reconnect: reuse(
                "control.reconnect_window",
                &c.reconnect_window,
                c.reconnect_max,
                p,
            ),
            retired_public_keys: paths("control.retired_public_keys", &c.retired_public_keys, p),
            oidc: Oidc::from_raw(&c.oidc, p),
        }
    }
}

impl Oidc {
    fn from_raw(o: &raw::Oidc, p: &mut Problems) -> Option<Oidc> {
        if o.issuer.trim().is_empty() {
            if *o != raw::Oidc::default() {
                p.push(
                    "control.oidc.issuer",
                    "is empty but other control.oidc keys are set (single sign-on needs its issuer)",
                );
            }
            return None;
        }
        // The issuer stays exactly as written: it is compared with the
        // provider's discovery document.
        let issuer = p
            .https_url("control.oidc.issuer", &o.issuer, true)
            .map(|_| o.issuer.clone())
            .unwrap_or_default();
        if o.client_id.trim().is_empty() {
            p.required(
                "control.oidc.client_id",
                "the client id registered at the provider",
            );
        }
        let client_secret = match (o.client_secret.is_empty(), path(&o.client_secret_file)) {
            (false, Some(_)) => {
                p.push(
                    "control.oidc.client_secret",
                    "set control.oidc.client_secret or control.oidc.client_secret_file, not both",
                );
                OidcSecret::Sealed(String::new())
            }
            (true, None) => {
                p.push(
                    "control.oidc.client_secret",
                    "must be set: client_secret = \"sealed:…\" (see `oriel seal-secret`) or client_secret_file",
                );
                OidcSecret::Sealed(String::new())
            }
            (false, None) => {
                if !o
                    .client_secret
                    .trim()
                    .starts_with(super::secrets::SEALED_PREFIX)
                {
                    // The value itself is never echoed.
                    p.push(
                        "control.oidc.client_secret",
                        "must be sealed (`oriel seal-secret` prints sealed:…); plain-text secrets are refused",
                    );
                }
                OidcSecret::Sealed(o.client_secret.clone())
            }
            (true, Some(file)) => OidcSecret::File(file),
        };
        for (key, claim) in [
            ("control.oidc.username_claim", &o.username_claim),
            ("control.oidc.groups_claim", &o.groups_claim),
        ] {
            if claim.trim().is_empty() {
                p.required(key, "the name of a claim");
            }
        }
        let clock_skew = p.within("control.oidc.clock_skew_secs", o.clock_skew_secs, 0..=600);
        Some(Oidc {
            issuer,
            client_id: o.client_id.clone(),
            client_secret,
            display_name: if o.display_name.trim().is_empty() {
                raw::Oidc::default().display_name
            } else {
                o.display_name.clone()
            },
            scopes: o.scopes.clone(),
            username_claim: o.username_claim.clone(),
            groups_claim: o.groups_claim.clone(),
            admin_groups: o.admin_groups.clone(),
            auditor_groups: o.auditor_groups.clone(),
            clock_skew: Duration::from_secs(clock_skew),
            ca_file: path(&o.ca_file),
        })
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}
