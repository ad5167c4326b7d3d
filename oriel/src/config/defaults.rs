//! The defaults of every key: what `oriel up` runs on with no configuration
//! at all (`deploy/oriel.example.toml` shows them, and a test keeps the two
//! equal).

use super::raw::{Agent, Control, Gateway, General, Http, Oidc};

/// `/var/lib/oriel` as root, else `$XDG_DATA_HOME/oriel` or
/// `~/.local/share/oriel`, else `./oriel-data`.
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
            metrics_token_file: String::new(),
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
            recordings_dir: String::new(),
            recordings_encrypt: false,
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
            recordings_dir: String::new(),
            recording_checkpoint: "5s".into(),
            recording_keyframe: "10s".into(),
        }
    }
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
