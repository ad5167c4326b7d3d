//! Admission: whether a session token is taken here, and the state that
//! decides it without a database — the control plane's keys (which may be
//! refreshed while the gateway runs), the replay cache and the revocation
//! list.
//!
//! Every refusal is a [`SessionError`] whose kind picks the close code
//! (docs/protocol.md) and whose detail is the clear reason the viewer and
//! the log see; each is counted in `oriel_gateway_token_refusals_total` by
//! reason.

use crate::registry::TokenRef;
use crate::{Gateway, now_secs};
use oriel_core_model::{SessionError, SessionErrorKind};
use oriel_core_token::{
    Claims, ReplayCache, ReplayError, Reuse, Revocation, RevocationClaims, RevocationList,
    SessionClaims, Stale, TokenError, TokenVerifier,
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

/// A refusal: the error for the viewer and the metric's reason label.
fn refuse(
    gw: &Gateway,
    reason: &'static str,
    kind: SessionErrorKind,
    detail: &str,
) -> SessionError {
    gw.metrics.token_refusals.with_label_values(&[reason]).inc();
    SessionError::new(kind, detail)
}

impl Gateway {
    /// Admits a session token presented from `peer`: signature and key,
    /// validity (an expired token only as a reconnection within its
    /// window), zone, gateway, role, revocation, replay.
    pub(crate) fn admit(
        &self,
        token: &str,
        peer: Option<IpAddr>,
    ) -> Result<(SessionClaims, TokenRef), SessionError> {
        use SessionErrorKind::{Forbidden, TokenExpired};
        let now = now_secs();
        let (claims, expired): (SessionClaims, bool) =
            match self.keys.verifier.verify_allowing_expired(token, now) {
                Ok(c) => c,
                Err(e) => {
                    let reason = match e {
                        TokenError::UnknownKey => "unknown_key",
                        TokenError::BadSignature => "bad_signature",
                        TokenError::NotYetValid => "not_yet_valid",
                        _ => "malformed",
                    };
                    return Err(refuse(self, reason, e.kind(), &e.to_string()));
                }
            };
        let me = &self.settings.identity;
        if !claims.zones.is_empty() && !claims.zones.contains(&me.zone) {
            return Err(refuse(
                self,
                "wrong_zone",
                Forbidden,
                &format!("the token is not for zone {:?}", me.zone),
            ));
        }
        if me.role == GatewayRole::DedicatedProxy {
            if claims.via.is_none() {
                return Err(refuse(
                    self,
                    "no_route",
                    Forbidden,
                    "this proxy serves no session itself and the token names no gateway to pass it on to",
                ));
            }
        } else {
            // A connection proxy serves only the sessions placed on it; a
            // gateway, those of tokens that name it or no gateway at all.
            let must_be_named = me.role == GatewayRole::ConnectionProxy || !claims.gws.is_empty();
            if must_be_named && !claims.gws.contains(&me.id) {
                return Err(refuse(
                    self,
                    "wrong_gateway",
                    Forbidden,
                    "the session is served by another gateway",
                ));
            }
        }
        if let Some(why) = self.admission.revocations.read().check(&claims) {
            let (kind, detail) = match why {
                Revocation::Session => (SessionErrorKind::Ended, "the session has been ended"),
                Revocation::Token => (Forbidden, "the token has been revoked"),
                Revocation::User => (Forbidden, "the user's access has been revoked"),
            };
            return Err(refuse(self, "revoked", kind, detail));
        }
        let reuse = claims.reuse.unwrap_or(self.settings.reuse);
        // Without an address (not over TCP) every reuse counts as another's.
        let addr = peer.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let admitted =
            self.admission
                .replay
                .lock()
                .admit(&claims.jti, addr, now, claims.exp, expired, reuse);
        if let Err(e) = admitted {
            let (reason, kind) = match e {
                ReplayError::Expired => ("expired", TokenExpired),
                ReplayError::OtherAddress => ("replay_address", Forbidden),
                ReplayError::WindowPassed => ("replay_window", TokenExpired),
                ReplayError::TooManyUses => ("replay_limit", Forbidden),
                ReplayError::Full => ("replay_full", SessionErrorKind::Internal),
            };
            return Err(refuse(self, reason, kind, &e.to_string()));
        }
        let token = TokenRef {
            jti: claims.jti.clone(),
            sub: claims.sub.clone(),
            iat: claims.iat,
        };
        Ok((claims, token))
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
