//! The rules a message must follow beyond its JSON shape. The control
//! plane refuses a message that breaks them (HTTP 422 naming the field);
//! an agent can check its own before it sends them.

use crate::{AgentHello, AgentReport};
use base64::Engine as _;

/// Longest agent id.
pub const MAX_AGENT_ID: usize = 24;
/// Longest failure reason the control plane keeps, in characters.
pub const MAX_FAILURE_REASON: usize = 300;
/// Longest zone name an agent may announce.
const MAX_ZONE: usize = 64;
/// Most sessions an agent may offer.
const MAX_SESSIONS: u32 = 10_000;
/// Most cores an agent may offer.
const MAX_CPUS: f64 = 4096.0;
/// Longest node gateway URL.
const MAX_URL: usize = 512;

/// A message that breaks a rule of the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidMessage {
    /// The field at fault (`gateway.url`), when one is.
    pub field: Option<&'static str>,
    /// For people: what is wrong.
    pub message: &'static str,
}

fn invalid(field: Option<&'static str>, message: &'static str) -> InvalidMessage {
    InvalidMessage { field, message }
}

/// Whether `id` is an agent id: 1-24 lowercase ASCII letters, digits and
/// `-`, not starting with `-` (it names containers and networks).
pub fn valid_agent_id(id: &str) -> bool {
    (1..=MAX_AGENT_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

/// A 32-byte public key in standard base64 (surrounding whitespace
/// ignored), as node gateways announce theirs.
pub fn decode_key32(b64: &str) -> Option<[u8; 32]> {
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?
        .try_into()
        .ok()
}

impl AgentHello {
    /// Checks the registration: id, zone, capacity and, when the agent
    /// announces its node's gateway, its URL, keys and fingerprint.
    pub fn validate(&self) -> Result<(), InvalidMessage> {
        if !valid_agent_id(&self.id) {
            return Err(invalid(
                Some("id"),
                "an agent id is 1-24 lowercase letters, digits and -",
            ));
        }
        if self.zone.is_empty() || self.zone.len() > MAX_ZONE {
            return Err(invalid(Some("zone"), "a zone is 1-64 characters"));
        }
        if self.max_sessions == 0 || self.max_sessions > MAX_SESSIONS {
            return Err(invalid(
                Some("max_sessions"),
                "max_sessions must be 1-10000",
            ));
        }
        // Written so that NaN fails too.
        if !(self.cpus > 0.0 && self.cpus <= MAX_CPUS) || self.memory_mb == 0 {
            return Err(invalid(None, "cpus and memory_mb must be positive"));
        }
        if let Some(g) = &self.gateway {
            if !g.url.starts_with("https://") || g.url.len() > MAX_URL {
                return Err(invalid(
                    Some("gateway.url"),
                    "gateway.url must be https://…",
                ));
            }
            if decode_key32(&g.sealing_key).is_none() || decode_key32(&g.signing_key).is_none() {
                return Err(invalid(None, "gateway keys must be 32 bytes in base64"));
            }
            if g.cert_sha256.len() != 64 || !g.cert_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid(
                    Some("gateway.cert_sha256"),
                    "gateway.cert_sha256 must be 64 hex digits",
                ));
            }
        }
        Ok(())
    }
}

impl AgentReport {
    /// Checks the report says exactly one thing: ready or failed.
    pub fn validate(&self) -> Result<(), InvalidMessage> {
        match (&self.ready, &self.failed) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            _ => Err(invalid(None, "a report is either ready or failed")),
        }
    }

    /// The failure reason as the control plane keeps it: its first
    /// [`MAX_FAILURE_REASON`] characters.
    pub fn failure_reason(&self) -> Option<String> {
        self.failed
            .as_ref()
            .map(|why| why.chars().take(MAX_FAILURE_REASON).collect())
    }
}
