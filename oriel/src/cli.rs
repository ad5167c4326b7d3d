//! Command line.

use crate::config::{RawConfig, Role};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Oriel: zero-trust browser workspaces.
#[derive(Debug, Parser)]
#[command(name = "oriel", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Invocation,
}

/// What the binary is asked to do: run roles, or a one-off tool.
// Parsed once at start: the size of the role variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Invocation {
    #[command(flatten)]
    Role(Command),
    /// Seal a secret for the configuration with this installation's data
    /// key: reads it from standard input, prints `sealed:…` (the value of
    /// e.g. control.oidc.client_secret). Creates the data key if missing.
    SealSecret(SealSecretArgs),
}

/// Flags of `oriel seal-secret`.
#[derive(Debug, Args)]
pub struct SealSecretArgs {
    /// TOML configuration file (for general.data_dir).
    #[arg(long, value_name = "FILE", env = "ORIEL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory whose keys/data.key seals the secret.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,
    /// The configuration key the secret is for (a sealed value opens for
    /// that key only).
    #[arg(
        long = "for",
        value_name = "KEY",
        default_value = "control.oidc.client_secret"
    )]
    pub for_key: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every role in one process (single server, zero configuration).
    Up(Common),
    /// Run the control plane alone (REST API, database, web UI).
    Control(ControlArgs),
    /// Run the gateway alone (session plane: no database), as a serving
    /// gateway, a connection proxy or a dedicated proxy.
    Gateway(GatewayArgs),
    /// Run an agent: container sessions on this host's Docker engine, with
    /// a gateway for them. Connects out to the control plane.
    Agent(AgentArgs),
}

impl Command {
    /// The role this command runs.
    pub fn role(&self) -> Role {
        match self {
            Command::Up(_) => Role::Up,
            Command::Control(_) => Role::Control,
            Command::Gateway(_) => Role::Gateway,
            Command::Agent(_) => Role::Agent,
        }
    }

    pub fn common(&self) -> &Common {
        match self {
            Command::Up(c) => c,
            Command::Gateway(g) => &g.common,
            Command::Control(c) => &c.common,
            Command::Agent(a) => &a.common,
        }
    }
}

/// Flags every role takes. They override the configuration file and the
/// environment.
#[derive(Debug, Args)]
pub struct Common {
    /// TOML configuration file (see docs/configuration.md).
    #[arg(long, value_name = "FILE", env = "ORIEL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (keys, TLS certificate, SQLite database).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,
    /// Address to listen on with HTTPS, e.g. 0.0.0.0:8443.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// PEM certificate chain (default: a self-signed certificate made on first start).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<String>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<String>,
    /// Public URL users open, e.g. https://oriel.example.com.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Print the effective configuration (as read, before its values are
    /// checked) and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Check the configuration for this role (every value, and the files
    /// it would read at start) and exit: 0 with a short summary, or 1
    /// listing every error. Creates nothing.
    #[arg(long)]
    pub check_config: bool,
}

#[derive(Debug, Args)]
pub struct ControlArgs {
    #[command(flatten)]
    pub common: Common,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
}

#[derive(Debug, Args)]
pub struct GatewayArgs {
    #[command(flatten)]
    pub common: Common,
    /// gateway, connection-proxy or dedicated-proxy.
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// This gateway's id (tokens name the gateways that may serve a session).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Its zone.
    #[arg(long, value_name = "ZONE")]
    pub zone: Option<String>,
    /// The control plane's URL: keys, revocations, reports.
    #[arg(long = "control", value_name = "URL")]
    pub control_url: Option<String>,
    /// PEM certificate (or CA) of the control plane.
    #[arg(long, value_name = "FILE")]
    pub control_ca: Option<String>,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    #[command(flatten)]
    pub common: Common,
    /// The control plane's URL, e.g. https://control.example.com:8443.
    #[arg(long = "control", value_name = "URL")]
    pub control_url: Option<String>,
    /// The join token (see the control plane's keys/agent-join.token); prefer
    /// ORIEL_AGENT__JOIN_TOKEN_FILE, which no process listing shows.
    #[arg(long, value_name = "TOKEN")]
    pub join_token: Option<String>,
    /// PEM certificate (or CA) of the control plane.
    #[arg(long, value_name = "FILE")]
    pub control_ca: Option<String>,
    /// This agent's id.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Its zone.
    #[arg(long, value_name = "ZONE")]
    pub zone: Option<String>,
}

impl Command {
    /// Applies the flags on top of the loaded configuration.
    pub fn apply(&self, raw: &mut RawConfig) {
        let c = self.common();
        if let Some(v) = &c.data_dir {
            raw.general.data_dir.clone_from(v);
        }
        if let Some(v) = &c.listen {
            raw.http.listen.clone_from(v);
        }
        if let Some(v) = &c.tls_cert {
            raw.http.tls_cert.clone_from(v);
        }
        if let Some(v) = &c.tls_key {
            raw.http.tls_key.clone_from(v);
        }
        if let Some(v) = &c.public_url {
            raw.http.public_url.clone_from(v);
        }
        if let Command::Control(ControlArgs {
            database: Some(db), ..
        }) = self
        {
            raw.control.database.clone_from(db);
        }
        if let Command::Gateway(g) = self {
            for (flag, key) in [
                (&g.role, &mut raw.gateway.role),
                (&g.id, &mut raw.gateway.id),
                (&g.zone, &mut raw.gateway.zone),
                (&g.control_url, &mut raw.gateway.control_url),
                (&g.control_ca, &mut raw.gateway.control_ca),
            ] {
                if let Some(v) = flag {
                    key.clone_from(v);
                }
            }
        }
        if let Command::Agent(a) = self {
            for (flag, key) in [
                (&a.control_url, &mut raw.agent.control_url),
                (&a.join_token, &mut raw.agent.join_token),
                (&a.control_ca, &mut raw.agent.control_ca),
                (&a.id, &mut raw.agent.id),
                (&a.zone, &mut raw.agent.zone),
            ] {
                if let Some(v) = flag {
                    key.clone_from(v);
                }
            }
        }
    }
}
