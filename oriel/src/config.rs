//! One TOML configuration with environment overrides, turned once into
//! typed values (devolutions-gateway's dto → `Conf` split):
//!
//! 1. `sources` reads defaults < file < `ORIEL_<SECTION>__<KEY>` variables
//!    into [`RawConfig`] (`raw`, defaults in `defaults`); the command line's
//!    flags go on top (`crate::cli`). Unknown keys and values of the wrong
//!    type are recorded, not fatal.
//! 2. [`Config::from_loaded`] checks every value (durations, addresses,
//!    URLs, names, ranges; `problems`) into the typed sections `general`,
//!    `control`, `gateway` and `agent`, and what the role to run needs.
//! 3. [`Config::check_files`] (`files`) checks the files the role reads at
//!    start.
//!
//! Each step collects every error under its key's full name and reports
//! them together ([`ConfigErrors`]). Roles only wire typed values. Every
//! key is documented in `docs/configuration.md`.

#[cfg(feature = "agent")]
mod agent;
#[cfg(feature = "control")]
mod control;
mod defaults;
mod files;
#[cfg(feature = "gateway")]
mod gateway;
mod general;
mod problems;
mod raw;
#[cfg(feature = "control")]
mod secrets;
mod sources;
mod summary;
#[cfg(test)]
mod tests;

#[cfg(feature = "agent")]
pub use agent::{Agent, JoinToken};
#[cfg(feature = "control")]
pub use control::{Control, redact};
#[cfg(feature = "gateway")]
pub use gateway::{ControlLink, Gateway};
pub use general::{General, Http, LogFormat, Tls, read_metrics_token};
pub use problems::ConfigErrors;
pub use raw::RawConfig;
#[cfg(feature = "control")]
pub use secrets::{SEALED_KEYS, oidc_settings, seal_secret};
pub use sources::Loaded;

/// The role a process runs: what it reads of the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `oriel up`: control plane, gateway and (when Docker answers) agent.
    Up,
    /// `oriel control`.
    Control,
    /// `oriel gateway`.
    Gateway,
    /// `oriel agent`: an agent and the gateway of its node.
    Agent,
}

impl Role {
    /// The command that runs it.
    pub fn command(self) -> &'static str {
        match self {
            Role::Up => "oriel up",
            Role::Control => "oriel control",
            Role::Gateway => "oriel gateway",
            Role::Agent => "oriel agent",
        }
    }

    #[cfg_attr(not(feature = "control"), allow(dead_code))]
    pub fn runs_control(self) -> bool {
        matches!(self, Role::Up | Role::Control)
    }

    #[cfg_attr(not(feature = "gateway"), allow(dead_code))]
    pub fn runs_gateway(self) -> bool {
        matches!(self, Role::Up | Role::Gateway | Role::Agent)
    }
}

/// The configuration, checked, for one role. Sections of roles this build
/// lacks are not compiled in (their keys are still read, and refused if
/// unknown).
#[derive(Debug, Clone)]
pub struct Config {
    pub role: Role,
    pub general: General,
    pub http: Http,
    #[cfg(feature = "control")]
    pub control: Control,
    #[cfg(feature = "gateway")]
    pub gateway: Gateway,
    #[cfg(feature = "agent")]
    pub agent: Agent,
}

impl Config {
    /// The configuration as loaded (with what loading refused) turned into
    /// typed values for `role`: every value of every section is checked,
    /// and what `role` needs.
    pub fn from_loaded(loaded: Loaded, role: Role) -> Result<Config, ConfigErrors> {
        let Loaded { raw, mut problems } = loaded;
        let typed = Self::check(&raw, role, &mut problems);
        problems.into_result(typed)
    }

    /// [`Self::from_loaded`] for a configuration built in code.
    #[cfg(test)]
    pub fn from_raw(raw: &RawConfig, role: Role) -> Result<Config, ConfigErrors> {
        let mut problems = problems::Problems::default();
        let typed = Self::check(raw, role, &mut problems);
        problems.into_result(typed)
    }

    fn check(raw: &RawConfig, role: Role, p: &mut problems::Problems) -> Config {
        let general = General::from_raw(&raw.general, p);
        let http = Http::from_raw(&raw.http, p);
        #[cfg(feature = "agent")]
        let agent = Agent::from_raw(&raw.agent, role == Role::Agent, p);
        // On an agent's node the gateway reports to the agent's control
        // plane with the same trust, and tokens name it by the agent's id
        // and zone, unless configured otherwise.
        #[cfg(feature = "agent")]
        let gateway_raw = if role == Role::Agent {
            let mut g = raw.gateway.clone();
            if g.control_url.is_empty() {
                g.control_url.clone_from(&raw.agent.control_url);
            }
            if g.control_ca.is_empty() {
                g.control_ca.clone_from(&raw.agent.control_ca);
            }
            if g.id.is_empty() {
                g.id.clone_from(&raw.agent.id);
            }
            if g.zone == "default" {
                g.zone.clone_from(&raw.agent.zone);
            }
            g
        } else {
            raw.gateway.clone()
        };
        #[cfg(not(feature = "agent"))]
        let gateway_raw = raw.gateway.clone();
        #[cfg(feature = "gateway")]
        #[allow(unused_mut)]
        let mut gateway = Gateway::from_raw(
            &gateway_raw,
            http.public_url.as_ref(),
            &general.data_dir,
            role.runs_gateway(),
            p,
        );
        #[cfg(feature = "agent")]
        if role == Role::Agent
            && raw.gateway.control_ca.is_empty()
            && let Some(link) = &mut gateway.control
        {
            link.ca_key = "agent.control_ca";
        }
        #[cfg(not(feature = "gateway"))]
        let _ = gateway_raw;
        Config {
            role,
            #[cfg(feature = "control")]
            control: Control::from_raw(&raw.control, &raw.general.data_dir, p),
            #[cfg(feature = "gateway")]
            gateway,
            #[cfg(feature = "agent")]
            agent,
            general,
            http,
        }
    }
}

/// This host's name (`/etc/hostname`), if it has one.
pub fn host_name() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}
