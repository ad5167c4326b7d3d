//! Admission: whether a session token is taken here, and the state that
//! decides it without a database — the control plane's keys (which may be
//! refreshed while the gateway runs), the replay cache and the revocation
//! list.
//!
//! The decision itself is pure ([`decide`]): every refusal is a
//! [`SessionError`] whose kind picks the close code (docs/protocol.md) and
//! whose detail is the clear reason the viewer and the log see; the gateway
//! counts each in `oriel_gateway_token_refusals_total` by reason.

mod decide;

use crate::registry::TokenRef;
use crate::{Gateway, now_secs};
use oriel_core_model::SessionError;
use oriel_core_token::{
    Claims, ReplayCache, Reuse, RevocationClaims, RevocationList, SessionClaims, Stale, TokenError,
    TokenVerifier,
};
use parking_lot::{Mutex, RwLock};
use std::net::IpAddr;
use tracing::info;

/// What a gateway is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayRole {
    /// Serves sessions (translates RDP/VNC/SSH) and relays routes: the
    /// gateway of `oriel up`, of a web node or of an agent's node.
    Gateway,
    /// Serves sessions of targets in its own network (a remote site); takes
    /// only tokens that name it among the session's gateways.
    ConnectionProxy,
    /// Serves no session: passes each stream on, undecoded, to the gateway
    /// its token names, after checking the token.
    DedicatedProxy,
}

impl GatewayRole {
    /// The role's name in configuration and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayRole::Gateway => "gateway",
            GatewayRole::ConnectionProxy => "connection-proxy",
            GatewayRole::DedicatedProxy => "dedicated-proxy",
        }
    }

    /// The role named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        [
            GatewayRole::Gateway,
            GatewayRole::ConnectionProxy,
            GatewayRole::DedicatedProxy,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// Who this gateway is, as tokens name it.
#[derive(Debug, Clone)]
pub struct GatewayIdentity {
    /// Gateway id (tokens' `gws`).
    pub id: String,
    /// Zone (tokens' `zones`).
    pub zone: String,
    /// What it is for.
    pub role: GatewayRole,
}

impl Default for GatewayIdentity {
    fn default() -> Self {
        GatewayIdentity {
            id: "gateway".into(),
            zone: "default".into(),
            role: GatewayRole::Gateway,
        }
    }
}

/// The control plane's public keys, replaceable while the gateway runs
/// (keys fetched from the control plane, rotation).
#[derive(Debug)]
pub struct KeyRing {
    verifier: RwLock<TokenVerifier>,
}

impl KeyRing {
    /// A ring holding `verifier`'s keys.
    pub fn new(verifier: TokenVerifier) -> Self {
        KeyRing {
            verifier: RwLock::new(verifier),
        }
    }

    /// Verifies a token of kind `C` at `now`.
    pub fn verify<C: Claims>(&self, token: &str, now: u64) -> Result<C, TokenError> {
        self.verifier.read().verify(token, now)
    }

    /// Verifies, returning an expired (otherwise valid) token with `true`.
    pub fn verify_allowing_expired<C: Claims>(
        &self,
        token: &str,
        now: u64,
    ) -> Result<(C, bool), TokenError> {
        self.verifier.read().verify_allowing_expired(token, now)
    }

    /// Replaces the keys.
    pub fn replace(&self, verifier: TokenVerifier) {
        *self.verifier.write() = verifier;
    }

    /// The key ids held, sorted.
    pub fn kids(&self) -> Vec<String> {
        let mut kids: Vec<String> = self
            .verifier
            .read()
            .keys()
            .map(|(k, _)| k.as_str().to_owned())
            .collect();
        kids.sort();
        kids
    }
}

/// The replay cache and revocation list of one gateway.
#[derive(Debug)]
pub(crate) struct AdmissionState {
    replay: Mutex<ReplayCache>,
    revocations: RwLock<RevocationList>,
}

impl AdmissionState {
    pub(crate) fn new(replay_entries: usize) -> Self {
        AdmissionState {
            replay: Mutex::new(ReplayCache::new(replay_entries)),
            revocations: RwLock::new(RevocationList::new()),
        }
    }
}

impl Gateway {
    /// Admits a session token presented from `peer` ([`decide`]): signature
    /// and key, validity (an expired token only as a reconnection within its
    /// window), zone, gateway, role, revocation, replay. Refusals are
    /// counted by reason.
    pub(crate) fn admit(
        &self,
        token: &str,
        peer: Option<IpAddr>,
    ) -> Result<(SessionClaims, TokenRef), SessionError> {
        let now = now_secs();
        let decision = self
            .keys
            .verifier
            .verify_allowing_expired(token, now)
            .map_err(|e| decide::refuse_token(&e))
            .and_then(|(claims, expired)| {
                let gate = decide::Gate {
                    identity: &self.settings.identity,
                    default_reuse: self.settings.reuse,
                    can_record: self.settings.recordings.dir.is_some()
                        && self.keys.signing.is_some(),
                };
                decide::admit(
                    decide::Verified { claims, expired },
                    gate,
                    &self.admission.revocations.read(),
                    &mut self.admission.replay.lock(),
                    peer,
                    now,
                )
            });
        match decision {
            Ok(admitted) => Ok((admitted.claims, admitted.token)),
            Err(refusal) => {
                self.metrics
                    .token_refusals
                    .with_label_values(&[refusal.reason])
                    .inc();
                Err(refusal.error)
            }
        }
    }

    /// Applies a signed revocation list (`rv1.…`) if it is newer than the
    /// one held, and stops the live streams it revokes. Returns the
    /// sequence number now held.
    pub fn apply_revocations(&self, list: &str) -> Result<u64, RevocationsError> {
        let now = now_secs();
        let claims: RevocationClaims = self.keys.verifier.verify(list, now)?;
        self.hold_revocations(&claims, now)
    }

    /// Applies a list this gateway cached itself, even past the list's
    /// expiry (its entries carry their own end; a newer list replaces it).
    pub fn apply_revocations_cached(&self, list: &str) -> Result<u64, RevocationsError> {
        let now = now_secs();
        let (claims, _expired): (RevocationClaims, bool) =
            self.keys.verifier.verify_allowing_expired(list, now)?;
        self.hold_revocations(&claims, now)
    }

    fn hold_revocations(
        &self,
        claims: &RevocationClaims,
        now: u64,
    ) -> Result<u64, RevocationsError> {
        let mut held = self.admission.revocations.write();
        match held.apply(claims, now) {
            Ok(()) => {}
            Err(Stale { held, .. }) => return Ok(held),
        }
        let stopped = self.registry.end_revoked(&held);
        self.metrics.revocation_seq.set(held.seq() as i64);
        info!(
            seq = held.seq(),
            entries = held.len(),
            streams_stopped = stopped,
            "revocation list applied"
        );
        if stopped > 0 {
            self.metrics
                .sessions_active
                .set(self.registry.active_sessions() as i64);
        }
        Ok(held.seq())
    }

    /// The sequence number of the revocation list held (0: none).
    pub fn revocations_seq(&self) -> u64 {
        self.admission.revocations.read().seq()
    }

    /// Forgets tokens and revocations that no longer matter.
    pub fn prune_admission(&self) {
        let now = now_secs();
        self.admission.replay.lock().prune(now);
        self.admission.revocations.write().prune(now);
    }

    /// The control plane's keys this gateway trusts.
    pub fn key_ring(&self) -> &KeyRing {
        &self.keys.verifier
    }

    /// Who this gateway is.
    pub fn identity(&self) -> &GatewayIdentity {
        &self.settings.identity
    }
}

/// Why a revocation list was not applied.
#[derive(Debug, thiserror::Error)]
#[error("revocation list refused: {0}")]
pub struct RevocationsError(#[from] TokenError);

/// The reuse rules for tokens that carry none.
pub const DEFAULT_REUSE: Reuse = Reuse {
    window: 300,
    max: 20,
};
