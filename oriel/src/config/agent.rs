//! `[agent]` typed: container sessions on this host's Docker engine. What
//! `oriel agent` cannot run without (its id, the control plane's URL and
//! certificate, a join token, this node's public URL) is required only for
//! that role; under `oriel up` the agent is `local` and in-process.

use super::gateway::ControlLink;
use super::problems::{HttpsUrl, Problems, SECOND, path};
use super::raw;
use oriel_agent::SubnetPool;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use zeroize::Zeroizing;

/// Where `oriel agent`'s join token is.
#[derive(Clone)]
pub enum JoinToken {
    /// `agent.join_token` (or `--join-token`).
    Inline(Zeroizing<String>),
    /// `agent.join_token_file`.
    File(PathBuf),
}

impl std::fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JoinToken::Inline(_) => f.write_str("Inline(..)"),
            JoinToken::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// `[agent]`, checked.
#[derive(Debug, Clone)]
pub struct Agent {
    pub enabled: bool,
    /// `None` only under `oriel up`, where it is `local`.
    pub id: Option<String>,
    pub zone: String,
    pub labels: BTreeMap<String, String>,
    pub max_sessions: u32,
    /// Cores offered; `None`: every core of the host.
    pub cpus: Option<f64>,
    /// MiB offered; `None`: 80% of the host's memory.
    pub memory_mb: Option<u64>,
    /// The control plane (`oriel agent`).
    pub control: Option<ControlLink>,
    pub join_token: Option<JoinToken>,
    /// This node's public URL (`oriel agent`).
    pub gateway_url: Option<HttpsUrl>,
    pub docker_socket: PathBuf,
    pub subnet_pool: Option<SubnetPool>,
    pub host_firewall: bool,
    pub reconcile_every: Duration,
}

impl Agent {
    /// `standalone`: the role is `oriel agent`, which needs the keys
    /// `oriel up` does without.
    pub(super) fn from_raw(a: &raw::Agent, standalone: bool, p: &mut Problems) -> Agent {
        let id = match a.id.trim() {
            "" => {
                if standalone {
                    p.required("agent.id", "this agent's id (--id)");
                }
                None
            }
            id if oriel_core_agent_protocol::valid_agent_id(id) => Some(id.to_owned()),
            id => {
                p.push(
                    "agent.id",
                    format!("{id:?} is not 1-24 lowercase letters, digits and -"),
                );
                None
            }
        };
        if a.zone.trim().is_empty() {
            p.required("agent.zone", "this agent's zone");
        }
        let mut labels = BTreeMap::new();
        for (i, l) in a.labels.iter().enumerate() {
            match l.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    labels.insert(k.trim().to_owned(), v.trim().to_owned());
                }
                _ => p.push(
                    format!("agent.labels[{i}]"),
                    format!("{l:?} is not key=value"),
                ),
            }
        }
        if !(a.cpus.is_finite() && (0.0..=4096.0).contains(&a.cpus)) {
            p.push(
                "agent.cpus",
                format!("{} is not a number of cores from 0 to 4096", a.cpus),
            );
        }
        let control_url = p.https_url("agent.control_url", &a.control_url, false);
        let control_ca = path(&a.control_ca);
        let control = match (control_url, control_ca) {
            (Some(url), Some(ca)) => Some(ControlLink {
                url,
                ca,
                ca_key: "agent.control_ca",
            }),
            (url, ca) => {
                if standalone && url.is_none() && a.control_url.is_empty() {
                    p.required("agent.control_url", "the control plane's URL (--control)");
                }
                if standalone && ca.is_none() {
                    p.required(
                        "agent.control_ca",
                        "the control plane's PEM certificate or CA (--control-ca)",
                    );
                }
                None
            }
        };
        // The inline token wins (so --join-token overrides a file set in
        // the configuration).
        let join_token = if !a.join_token.trim().is_empty() {
            Some(JoinToken::Inline(Zeroizing::new(
                a.join_token.trim().to_owned(),
            )))
        } else {
            path(&a.join_token_file).map(JoinToken::File)
        };
        if standalone && join_token.is_none() {
            p.required(
                "agent.join_token_file",
                "the control plane's join token (or agent.join_token, --join-token)",
            );
        }
        let gateway_url = p.https_url("agent.gateway_url", &a.gateway_url, false);
        if standalone && a.gateway_url.is_empty() {
            p.required(
                "agent.gateway_url",
                "the public https:// URL of this node, whose gateway streams its sessions",
            );
        }
        let subnet_pool = if a.subnet_pool.trim().is_empty() {
            None
        } else {
            match SubnetPool::new(a.subnet_pool.trim(), a.subnet_len) {
                Ok(pool) => Some(pool),
                Err(e) => {
                    p.push("agent.subnet_pool", e.to_string());
                    None
                }
            }
        };
        Agent {
            enabled: a.enabled,
            id,
            zone: a.zone.trim().to_owned(),
            labels,
            max_sessions: p.within("agent.max_sessions", a.max_sessions, 1..=10_000),
            cpus: (a.cpus > 0.0).then_some(a.cpus),
            memory_mb: (a.memory_mb > 0).then_some(a.memory_mb),
            control,
            join_token,
            gateway_url,
            docker_socket: PathBuf::from(&a.docker_socket),
            subnet_pool,
            host_firewall: a.host_firewall,
            reconcile_every: p.duration(
                "agent.reconcile_every",
                &a.reconcile_every,
                SECOND..=86_400 * SECOND,
            ),
        }
    }
}
