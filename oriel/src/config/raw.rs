//! The configuration as written: the file, `ORIEL_<SECTION>__<KEY>`
//! variables and flags deserialize into [`RawConfig`], every value still a
//! string, number or list as the operator typed it. Unknown keys are
//! refused (`deny_unknown_fields`). Nothing here is checked beyond its TOML
//! type: [`super::Config::from_raw`] turns it into the typed configuration
//! the roles use. The defaults are in `defaults.rs`.

use serde::{Deserialize, Serialize};

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

/// `[general]`: where the data lives, how the process logs.
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

/// `[http]`: the HTTPS front every role serves.
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
    /// A file holding the token `/metrics` asks for (`Authorization:
    /// Bearer …`); empty: `/metrics` is public.
    pub metrics_token_file: String,
}

/// `[control]`: the control plane.
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
    /// Where the control plane keeps the session recordings gateways hand
    /// over (empty: `<data_dir>/recordings-store`).
    pub recordings_dir: String,
    /// Store recordings encrypted with the data key (`data_key_file`).
    pub recordings_encrypt: bool,
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

/// `[gateway]`: the session plane.
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
    /// Where session recordings are written (empty: `<data_dir>/recordings`).
    pub recordings_dir: String,
    /// A signed checkpoint (and a sync to disk) of a recording at least this often.
    pub recording_checkpoint: String,
    /// A keyframe in a recording at least this often (where playback can start).
    pub recording_keyframe: String,
}
