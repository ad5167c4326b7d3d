//! Admission as a pure decision: a verified token's claims, who this
//! gateway is, the revocation list, the replay cache, the client's address
//! and the time in; [`Admitted`] or a [`Refusal`] out. No clock, no lock,
//! no metric: the gateway reads the time, holds the locks, counts and logs.

use crate::admission::{GatewayIdentity, GatewayRole};
use crate::registry::TokenRef;
use oriel_core_model::{SessionError, SessionErrorKind};
use oriel_core_token::{
    Policy, ReplayCache, ReplayError, Reuse, Revocation, RevocationList, SessionClaims, TokenError,
};
use std::net::IpAddr;

/// A token taken here.
#[derive(Debug)]
pub(crate) struct Admitted {
    /// What the token says.
    pub(crate) claims: SessionClaims,
    /// The token as revocations name it.
    pub(crate) token: TokenRef,
}

/// A token refused: the metric's reason label, and the error whose kind
/// picks the close code and whose detail the viewer and the log see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// `oriel_gateway_token_refusals_total{reason}`.
    pub(crate) reason: &'static str,
    /// What the viewer is told.
    pub(crate) error: SessionError,
}

impl Refusal {
    fn new(reason: &'static str, kind: SessionErrorKind, detail: impl Into<String>) -> Self {
        Refusal {
            reason,
            error: SessionError::new(kind, detail),
        }
    }
}

/// A token whose signature, key or validity failed.
pub(crate) fn refuse_token(e: &TokenError) -> Refusal {
    let reason = match e {
        TokenError::UnknownKey => "unknown_key",
        TokenError::BadSignature => "bad_signature",
        TokenError::NotYetValid => "not_yet_valid",
        TokenError::Expired => "expired",
        _ => "malformed",
    };
    Refusal::new(reason, e.kind(), e.to_string())
}

/// The session control a policy requires that this gateway does not
/// provide, as the viewer is told: recording on a gateway without a
/// recordings directory, or a watermark whose settings are out of range.
pub(crate) fn missing_control(policy: &Policy, can_record: bool) -> Option<String> {
    if policy.recording && !can_record {
        return Some(
            "the workspace requires session recording, which this gateway cannot do (no recordings directory)"
                .to_owned(),
        );
    }
    if policy.watermark
        && let Err(e) = policy.check_watermark()
    {
        return Some(format!("the workspace's watermark cannot be drawn: {e}"));
    }
    None
}

/// A token whose signature and key are good.
#[derive(Debug)]
pub(crate) struct Verified {
    /// What it says.
    pub(crate) claims: SessionClaims,
    /// Valid but past its expiry: only a reconnection may use it.
    pub(crate) expired: bool,
}

/// The gateway that decides: who it is, what it can do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gate<'a> {
    /// Who it is, as tokens name it.
    pub(crate) identity: &'a GatewayIdentity,
    /// Reconnection rules for tokens that carry none.
    pub(crate) default_reuse: Reuse,
    /// It has a recordings directory and a key to sign recordings.
    pub(crate) can_record: bool,
}

/// The rest of the checks, once the token is verified: zone, gateway and
/// role, controls the policy requires, revocation, then the replay cache,
/// which remembers the use.
pub(crate) fn admit(
    token: Verified,
    gate: Gate<'_>,
    revocations: &RevocationList,
    replay: &mut ReplayCache,
    peer: Option<IpAddr>,
    now: u64,
) -> Result<Admitted, Refusal> {
    use SessionErrorKind::{Forbidden, TokenExpired};
    let Verified { claims, expired } = token;
    let me = gate.identity;
    if !claims.zones.is_empty() && !claims.zones.contains(&me.zone) {
        return Err(Refusal::new(
            "wrong_zone",
            Forbidden,
            format!("the token is not for zone {:?}", me.zone),
        ));
    }
    if me.role == GatewayRole::DedicatedProxy {
        if claims.via.is_none() {
            return Err(Refusal::new(
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
            return Err(Refusal::new(
                "wrong_gateway",
                Forbidden,
                "the session is served by another gateway",
            ));
        }
    }
    // Fail closed: a session whose policy requires a control this gateway
    // cannot apply does not stream without it. A dedicated proxy applies
    // none itself; the gateway serving the session refuses it.
    if me.role != GatewayRole::DedicatedProxy
        && let Some(detail) = missing_control(&claims.policy, gate.can_record)
    {
        return Err(Refusal::new(
            "feature_unavailable",
            SessionErrorKind::FeatureUnavailable,
            detail,
        ));
    }
    if let Some(why) = revocations.check(&claims) {
        let (kind, detail) = match why {
            Revocation::Session => (SessionErrorKind::Ended, "the session has been ended"),
            Revocation::Token => (Forbidden, "the token has been revoked"),
            Revocation::User => (Forbidden, "the user's access has been revoked"),
            Revocation::Link => (Forbidden, "the share link has been revoked"),
        };
        return Err(Refusal::new("revoked", kind, detail));
    }
    let reuse = claims.reuse.unwrap_or(gate.default_reuse);
    // Without an address (not over TCP) every reuse counts as another's.
    let addr = peer.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    if let Err(e) = replay.admit(&claims.jti, addr, now, claims.exp, expired, reuse) {
        let (reason, kind) = match e {
            ReplayError::Expired => ("expired", TokenExpired),
            ReplayError::OtherAddress => ("replay_address", Forbidden),
            ReplayError::WindowPassed => ("replay_window", TokenExpired),
            ReplayError::TooManyUses => ("replay_limit", Forbidden),
            ReplayError::Full => ("replay_full", SessionErrorKind::Internal),
        };
        return Err(Refusal::new(reason, kind, e.to_string()));
    }
    let token = TokenRef {
        jti: claims.jti.clone(),
        sub: claims.sub.clone(),
        iat: claims.iat,
        link: claims.watcher.as_ref().and_then(|w| w.link.clone()),
    };
    Ok(Admitted { claims, token })
}

#[cfg(test)]
mod tests;
