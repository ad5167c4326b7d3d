//! Session tokens (core tier: no I/O, no clock — time is a parameter).
//!
//! The control plane signs a [`SessionClaims`] with its Ed25519 key; a gateway
//! verifies it with the public key alone ([`TokenVerifier`]) and learns
//! everything it needs — session, user, target, policy, expiry — without a
//! database. Target credentials travel inside the token sealed to the
//! gateway's X25519 key ([`sealed`]), so only a gateway can read them.
//!
//! Wire format: `<prefix>.<kid>.<payload>.<signature>` where `prefix` is
//! `s1` for session tokens, `c1` for control commands, `r1` for gateway
//! reports, `rt1` for relay routes and `rv1` for revocation lists (domain
//! separation: one can never be replayed as another), `kid` identifies the signing key,
//! `payload` is the claims as JSON and both it and `signature` are base64url
//! without padding. The signature covers `<prefix>.<kid>.<payload>`.

mod envelope;
mod jwk;
mod policy;
mod replay;
mod revocation;
pub mod sealed;

pub use envelope::{Kid, TokenError, TokenSigner, TokenVerifier};
pub use jwk::{Jwk, JwkSet};
pub use policy::{
    ClipboardDecision, DEFAULT_TRANSFER_MAX_BYTES, MAX_RECORDING_RETENTION_DAYS, Policy,
    PolicyOverrides, TransferDecision,
};
pub use replay::{ReplayCache, ReplayError};
pub use revocation::{
    MAX_REVOCATION_LIST_LEN, Revocation, RevocationClaims, RevocationList, Revoked, Stale,
};
pub use sealed::{Credentials, SealError, SealingKey, SealingPublicKey};

use serde::{Deserialize, Serialize};

/// Largest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 8192;

/// Clock skew tolerated between the control plane and a gateway, seconds.
pub const DEFAULT_LEEWAY_SECS: u64 = 30;

/// Longest lifetime a token may claim (`exp - nbf`), seconds. Tokens are
/// short-lived by design; anything longer is refused as malformed.
pub const MAX_LIFETIME_SECS: u64 = 24 * 3600;

/// The claims version this crate issues and accepts.
pub const CLAIMS_VERSION: u8 = 1;

/// Where a session connects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetClaims {
    /// Workspace kind, which picks the protocol adapter (`vnc`, later `rdp`, `ssh`).
    pub kind: String,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Recorded fingerprint of the target's certificate or host key
    /// (`SHA256:<base64>`); absent: trust on first use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

/// What a session token says.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionClaims {
    /// Claims version, [`CLAIMS_VERSION`].
    pub v: u8,
    /// Session id.
    pub sid: String,
    /// Token id, unique per token.
    pub jti: String,
    /// User id.
    pub sub: String,
    /// User name, for logs and watermarks.
    pub name: String,
    /// Workspace name, for the viewer's title.
    pub ws: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Not valid before, Unix seconds.
    pub nbf: u64,
    /// Expires at, Unix seconds (exclusive).
    pub exp: u64,
    /// Target of the session.
    pub target: TargetClaims,
    /// Policy the gateway enforces.
    pub policy: Policy,
    /// Target credentials sealed to the gateway ([`sealed`]), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creds: Option<String>,
    /// The session ends at this time (maximum session length), Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<u64>,
    /// Zones whose gateways may take the token (entry proxies and the
    /// serving gateway alike); empty: any zone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<String>,
    /// Ids of the gateways that may serve (translate) the session; empty:
    /// any gateway that holds the keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gws: Vec<String>,
    /// Where a dedicated proxy passes the stream on, undecoded: the
    /// gateway that serves the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Upstream>,
    /// How the token may be presented again after its first use
    /// (reconnection); absent: the gateway's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse: Option<Reuse>,
    /// Whether the holder's keyboard, pointer, clipboard, files and resizes
    /// reach the target; absent: yes (the session's owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<bool>,
    /// Set when the holder is not the session's owner but watches it (a
    /// share link, an admin shadowing it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watcher: Option<Watcher>,
}

/// Someone watching a session that is not theirs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watcher {
    /// How they came: a share link or an admin shadowing the session.
    pub via: WatchedVia,
    /// The share link's id (a link's control can be handed over and taken
    /// back, and its streams ended, by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The owner's viewers are shown who watches; `false` only for silent
    /// monitoring that the workspace's policy allows.
    pub notify: bool,
    /// The session owner's user id: if the watcher's stream is the one
    /// that connects the target, the session is still the owner's (its
    /// recording and watermark name the owner, not the watcher).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner_sub: String,
    /// The session owner's user name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner_name: String,
}

/// How a watcher came to the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchedVia {
    /// A share link of the session's owner.
    Share,
    /// An admin shadowing the session.
    Shadow,
}

impl SessionClaims {
    /// The session owner's user id and name: the holder's own, or for a
    /// watcher the owner's the token names.
    pub fn owner(&self) -> (&str, &str) {
        match &self.watcher {
            Some(w) if !w.owner_sub.is_empty() => (&w.owner_sub, &w.owner_name),
            _ => (&self.sub, &self.name),
        }
    }

    /// Whether the holder may drive the session.
    pub fn controls(&self) -> bool {
        self.control.unwrap_or(true)
    }
}

/// A gateway a stream is passed on to, and the only certificate accepted there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// `wss://host:port/stream` of the gateway.
    pub to: String,
    /// SHA-256 of its TLS certificate (hex, lowercase).
    pub cert_sha256: String,
}

/// Reconnection rules of a session token: after its first use it may be
/// presented again only from the same client address, for `window` seconds
/// after that first use (even past its expiry), at most `max` more times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reuse {
    /// Seconds after the first use during which the token may be used again.
    pub window: u32,
    /// How many more times it may be used.
    pub max: u16,
}

impl std::fmt::Debug for SessionClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionClaims")
            .field("sid", &self.sid)
            .field("jti", &self.jti)
            .field("sub", &self.sub)
            .field("name", &self.name)
            .field("ws", &self.ws)
            .field("nbf", &self.nbf)
            .field("exp", &self.exp)
            .field("target", &self.target)
            .field("policy", &self.policy)
            .field("creds", &self.creds.as_ref().map(|_| "<sealed>"))
            .field("deadline", &self.deadline)
            .field("zones", &self.zones)
            .field("gws", &self.gws)
            .field("via", &self.via)
            .field("reuse", &self.reuse)
            .finish()
    }
}

/// A command from the control plane to a gateway (prefix `c1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandClaims {
    /// Claims version, [`CLAIMS_VERSION`].
    pub v: u8,
    /// Command id, unique per command.
    pub jti: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Not valid before, Unix seconds.
    pub nbf: u64,
    /// Expires at, Unix seconds (exclusive).
    pub exp: u64,
    /// The id of the gateway the command is for; a gateway refuses a
    /// command addressed to another (absent: any gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// What to do.
    pub cmd: Command,
}

/// Commands a gateway accepts from the control plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Close every stream of this session and refuse its tokens until `until`.
    EndSession {
        /// Session id.
        sid: String,
        /// Unix seconds until which tokens of the session are refused
        /// (the latest expiry of any token issued for it).
        until: u64,
    },
    /// Answer with the sessions that have live streams here.
    ListSessions,
    /// Hand the control of a share link's viewers of this session over
    /// (`control: true`) or take it back; answers how many viewers changed.
    SetLinkControl {
        /// Session id.
        sid: String,
        /// The share link's id (`watcher.link` of its tokens).
        link: String,
        /// Whether they control the session from now on.
        control: bool,
    },
}

/// A watcher's stream that ended, in [`Report::StreamEnded`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatcherLeft {
    /// How they came.
    pub via: WatchedVia,
    /// The share link, for a link's guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Their token's `sub` (a user id, or `guest:…`).
    pub sub: String,
    /// Their token's `name`.
    pub name: String,
    /// Whether the owner was shown that they watched.
    pub notify: bool,
    /// How long the stream lasted from its admission, seconds.
    pub secs: u64,
}

/// A gateway's report to the control plane (prefix `r1`), signed with the
/// gateway's own Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportClaims {
    /// Claims version, [`CLAIMS_VERSION`].
    pub v: u8,
    /// Report id, unique per report.
    pub jti: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Not valid before, Unix seconds.
    pub nbf: u64,
    /// Expires at, Unix seconds (exclusive).
    pub exp: u64,
    /// What happened.
    pub report: Report,
}

/// What a gateway reports about a session's streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Report {
    /// A viewer's stream connected to the target.
    StreamStarted {
        /// Session id.
        sid: String,
        /// Identity the target presented (`SHA256:…`), if its protocol has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity: Option<String>,
    },
    /// A stream ended.
    StreamEnded {
        /// Session id.
        sid: String,
        /// Why: `client_closed`, `target_closed`, or a session error kind
        /// (`ended`, `target_auth_failed`, `idle_timeout`, …).
        reason: String,
        /// Whether reconnecting may help.
        retryable: bool,
        /// Who failed: `client`, `target`, `policy`, `internal`, or `none`.
        class: String,
        /// Set when the stream was a watcher's (a share link's guest, an
        /// admin shadowing): who, and how long they watched.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        watcher: Option<WatcherLeft>,
    },
    /// A viewer's file transfer finished or was refused (for the audit
    /// log).
    FileTransfer {
        /// Session id.
        sid: String,
        /// The viewer's token's `sub` (a user id, or `guest:…`).
        sub: String,
        /// The viewer's token's `name`.
        name: String,
        /// `upload` or `download`.
        direction: String,
        /// The file's path on the target.
        path: String,
        /// Its size in bytes, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bytes: Option<u64>,
        /// `done`, or the FILE_ERROR code that stopped or refused it
        /// (`denied`, `too_large`, `not_found`, …).
        outcome: String,
    },
    /// Every session with live streams on the gateway, sent periodically
    /// so that the control plane reconciles after a partition.
    Sessions {
        /// Session ids.
        sids: Vec<String>,
    },
}

impl Report {
    /// The session the report is about, if it is about one.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Report::StreamStarted { sid, .. }
            | Report::StreamEnded { sid, .. }
            | Report::FileTransfer { sid, .. } => Some(sid),
            Report::Sessions { .. } => None,
        }
    }
}

/// Claims that carry a validity window.
pub trait Claims: Serialize + serde::de::DeserializeOwned {
    /// Token prefix of this kind of claims.
    const PREFIX: &'static str;
    /// Claims version.
    fn version(&self) -> u8;
    /// Not before, Unix seconds.
    fn nbf(&self) -> u64;
    /// Expiry, Unix seconds.
    fn exp(&self) -> u64;
    /// Largest token of this kind accepted, in bytes.
    const MAX_LEN: usize = MAX_TOKEN_LEN;
}

/// `Claims` for a claims struct with `v`, `nbf` and `exp` fields.
macro_rules! claims {
    ($($ty:ident => $prefix:literal),* $(,)?) => {$(
        impl Claims for $ty {
            const PREFIX: &'static str = $prefix;
            fn version(&self) -> u8 {
                self.v
            }
            fn nbf(&self) -> u64 {
                self.nbf
            }
            fn exp(&self) -> u64 {
                self.exp
            }
        }
    )*};
}

claims!(
    SessionClaims => "s1",
    ReportClaims => "r1",
    CommandClaims => "c1",
    RouteClaims => "rt1",
);

impl Claims for RevocationClaims {
    const PREFIX: &'static str = "rv1";
    const MAX_LEN: usize = MAX_REVOCATION_LIST_LEN;
    fn version(&self) -> u8 {
        self.v
    }
    fn nbf(&self) -> u64 {
        self.nbf
    }
    fn exp(&self) -> u64 {
        self.exp
    }
}

/// A route through a relaying gateway (prefix `rt1`): the control plane
/// tells the gateway the browser reached to pass the stream on, untouched,
/// to the gateway of the node running the session. The relay verifies this
/// and nothing else; the session token inside the stream is checked by the
/// gateway at the end of the route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteClaims {
    /// Claims version, [`CLAIMS_VERSION`].
    pub v: u8,
    /// The session the route is for.
    pub sid: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Not valid before, Unix seconds.
    pub nbf: u64,
    /// Expires at, Unix seconds (exclusive): when a relay may no longer
    /// open the route (an open stream lives on).
    pub exp: u64,
    /// `wss://host:port/stream` of the gateway at the end of the route.
    pub to: String,
    /// SHA-256 of its TLS certificate (hex, lowercase): the only
    /// certificate the relay accepts there.
    pub cert_sha256: String,
}

#[cfg(test)]
mod tests;
