//! What gateways need from the control plane without a database of their
//! own: its public keys and the signed revocation list (served by
//! `crate::api::revocations`).
//!
//! - `GET /api/v1/keys`: the JWK set of the keys tokens are signed with
//!   (the current key and retired ones still trusted), with key ids, so a
//!   dedicated proxy needs only this URL and the control plane's CA.
//! - `GET /api/v1/revocations`: the revocation list (`rv1.…`), signed,
//!   numbered; gateways fetch it every few seconds and keep the newest.
//! - `POST /api/v1/revocations` (admins): revoke a token id, a session or a
//!   user now; the list is pushed to the gateways this control plane knows.
//!
//! Ending a session and disabling or deleting a user revoke them too, so a
//! gateway refuses their tokens (reconnections included) and stops their
//! streams even when the end command does not reach it.

use super::ServiceError;
use crate::ControlPlane;
use crate::audit::Audit;
use crate::service::Authed;
use crate::time::now_ms;
use oriel_control_store::{RevocationKind, RevocationRecord};
use oriel_core_token::{CLAIMS_VERSION, DEFAULT_LEEWAY_SECS, JwkSet, RevocationClaims, Revoked};
use tracing::{info, warn};

/// How long a published list is accepted by a gateway that receives it.
const LIST_LIFETIME_SECS: u64 = 3600;

impl ControlPlane {
    /// How long a revocation must last: until every token it refuses is
    /// dead (`latest_token_exp_ms`, reconnection window and clock skew
    /// included), and at least a list's lifetime from now. Live streams
    /// outlive their tokens: a session ended after its token expired (a long
    /// session, the end of an outage) must still reach every gateway through
    /// the list, a partitioned one coming back within the hour included
    /// (later ones learn it from reconciliation).
    pub(crate) fn revocation_until(&self, latest_token_exp_ms: i64) -> i64 {
        let tokens_dead = latest_token_exp_ms
            + i64::from(self.settings.reconnect.window) * 1000
            + DEFAULT_LEEWAY_SECS as i64 * 1000;
        tokens_dead.max(now_ms() + LIST_LIFETIME_SECS as i64 * 1000)
    }

    /// Revokes `subject` now and tells the gateways. A failure to tell them
    /// is logged: they fetch the list themselves within seconds.
    pub(crate) async fn revoke(
        &self,
        kind: RevocationKind,
        subject: &str,
        until_ms: i64,
    ) -> Result<i64, ServiceError> {
        let now = now_ms();
        let seq = self.store.revoke(kind, subject, now, until_ms).await?;
        info!(kind = kind.as_str(), subject, seq, "revoked");
        self.publish_revocations(seq).await;
        Ok(seq)
    }

    /// Pushes the current list (number `seq` or newer) to the gateways. A
    /// failure is logged: they fetch the list themselves within seconds.
    pub(crate) async fn publish_revocations(&self, seq: i64) {
        match self.revocation_list().await {
            Ok(list) => {
                if let Err(e) = self.gateways.push_revocations(&list).await {
                    warn!(error = %e, seq, "the revocation list did not reach every gateway (they fetch it themselves)");
                }
            }
            Err(e) => warn!(error = %e, "cannot sign the revocation list"),
        }
    }

    /// The current revocation list, signed (`rv1.…`): what gateways hold.
    pub async fn signed_revocation_list(&self) -> Result<String, String> {
        self.revocation_list().await.map_err(|e| e.to_string())
    }

    /// The current revocation list, signed.
    pub(crate) async fn revocation_list(&self) -> Result<String, ServiceError> {
        let now = now_ms();
        let (seq, records) = self.store.revocations(now).await?;
        // Read after the number: a link revoked meanwhile is listed early,
        // never late.
        let links = self.store.revoked_share_links(now).await?;
        let secs = (now / 1000) as u64;
        let entry = |r: &RevocationRecord| Revoked {
            id: r.subject.clone(),
            at: (r.revoked_at / 1000) as u64,
            until: (r.until_at as u64).div_ceil(1000),
        };
        let pick = |kind| {
            records
                .iter()
                .filter(|r| r.kind == kind)
                .map(entry)
                .collect()
        };
        let claims = RevocationClaims {
            v: CLAIMS_VERSION,
            seq: seq as u64,
            iat: secs,
            nbf: secs,
            exp: secs + LIST_LIFETIME_SECS,
            tokens: pick(RevocationKind::Token),
            sessions: pick(RevocationKind::Session),
            users: pick(RevocationKind::User),
            links: links
                .iter()
                .filter_map(|l| {
                    Some(Revoked {
                        id: l.id.clone(),
                        at: (l.revoked_at? / 1000) as u64,
                        until: (l.revoked_until? as u64).div_ceil(1000),
                    })
                })
                .collect(),
        };
        self.keys
            .signer
            .sign(&claims)
            .map_err(|e| ServiceError::internal(&e))
    }

    /// The public keys gateways trust, as a JWK set.
    pub(crate) fn key_set(&self) -> JwkSet {
        let mut keys = vec![self.keys.signer.public_key()];
        keys.extend(self.keys.retired_public.iter().copied());
        JwkSet::of(keys)
    }
}

/// What to revoke (`POST /api/v1/revocations`).
#[derive(Debug, Clone)]
pub(crate) struct RevokeRequest {
    /// `token`, `session` or `user`.
    pub kind: String,
    /// Token id, session id or user id.
    pub id: String,
}

impl ControlPlane {
    /// An admin revokes a token id, a session or a user now; the new list
    /// number.
    pub(crate) async fn revoke_by_admin(
        &self,
        auth: &Authed,
        req: &RevokeRequest,
    ) -> Result<i64, ServiceError> {
        auth.require_admin()?;
        let kind = RevocationKind::parse(&req.kind)
            .ok_or_else(|| ServiceError::invalid_field("kind", "must be token, session or user"))?;
        if req.id.is_empty() || req.id.len() > 200 {
            return Err(ServiceError::invalid_field(
                "id",
                "must be 1-200 characters",
            ));
        }
        let now = now_ms();
        // Tokens issued until now expire within the token lifetime.
        let until = self.revocation_until(now + self.settings.token_ttl.as_millis() as i64);
        let seq = self.revoke(kind, &req.id, until).await?;
        self.audit(
            Audit::by(auth, "revocation.create")
                .on(kind.as_str(), &req.id, None)
                .details(serde_json::json!({ "seq": seq })),
        )
        .await;
        Ok(seq)
    }
}
