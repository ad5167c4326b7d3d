//! Minting a session token: the claims the gateway acts on (target,
//! policy, credentials sealed to the serving gateway, routing, reuse),
//! signed with the control plane's key.

use super::route::StreamRoute;
use crate::ControlPlane;
use crate::service::ServiceError;
use oriel_control_store::{SessionTarget, User, WorkspaceRecord};
use oriel_core_token::{CLAIMS_VERSION, Policy, SessionClaims, TargetClaims, Watcher};

/// Everything a session token says.
#[derive(Clone, Copy)]
pub(crate) struct MintRequest<'a> {
    /// The session.
    pub session_id: &'a str,
    /// Its deadline (maximum length), Unix ms.
    pub deadline: Option<i64>,
    /// A container session's desktop, as its agent reported it.
    pub container: Option<&'a SessionTarget>,
    /// Where the stream goes (and whom the credentials are sealed to).
    pub route: &'a StreamRoute,
    /// The user who streams.
    pub user: &'a User,
    /// The workspace.
    pub workspace: &'a WorkspaceRecord,
    /// The effective policy.
    pub policy: &'a Policy,
    /// Now, Unix ms.
    pub now_ms: i64,
    /// The token's expiry, Unix ms.
    pub expires_at_ms: i64,
    /// Someone other than the owner watching (a share link's guest, an
    /// admin shadowing): who (`sub`, `name`), whether they control the
    /// session, and how they came. `None`: the owner, `user`.
    pub watcher: Option<&'a WatcherMint<'a>>,
}

/// The holder of a watcher's token.
#[derive(Debug, Clone)]
pub(crate) struct WatcherMint<'a> {
    /// `sub` of the token: the watcher's user id, or `guest:<link ref>`.
    pub sub: &'a str,
    /// Their name, shown to the owner.
    pub name: &'a str,
    /// Whether their input reaches the target.
    pub control: bool,
    /// How they came.
    pub watcher: Watcher,
}

/// When a token minted at `now` expires: whole seconds (the token carries
/// seconds), `token_ttl` from now, never past the session's deadline.
pub(crate) fn token_expiry(cp: &ControlPlane, now: i64, deadline: Option<i64>) -> i64 {
    let exp = (now / 1000 + cp.settings.token_ttl.as_secs().max(1) as i64) * 1000;
    deadline.map_or(exp, |d| exp.min(d.max(now / 1000 * 1000 + 1000)))
}

impl ControlPlane {
    /// Signs a session token valid from `now_ms` until `expires_at_ms`.
    pub(crate) fn mint(&self, m: &MintRequest<'_>) -> Result<String, ServiceError> {
        let w = m.workspace;
        // A container session's desktop is where its agent said, with the
        // per-session password; other kinds go to the workspace's target.
        let (target, creds) = match (m.container, w.kind.as_str()) {
            (Some(t), _) => {
                let password = self.keys.data.open(&t.sealed_password, m.session_id)?;
                let password = String::from_utf8(password.to_vec())
                    .map_err(|_| ServiceError::internal(&"a stored VNC password is not text"))?;
                let mut creds = oriel_core_token::Credentials::default();
                creds.password = Some(password);
                (
                    TargetClaims {
                        // VNC to the container, files through its agent.
                        kind: "container".into(),
                        host: t.host.clone(),
                        port: t.port,
                        identity: None,
                    },
                    Some(creds),
                )
            }
            (None, "container") => return Err(ServiceError::SessionStarting),
            (None, _) => (
                TargetClaims {
                    kind: w.kind.clone(),
                    host: w.host.clone(),
                    port: w.port,
                    identity: w.identity.clone(),
                },
                w.credentials(&self.keys.data)?,
            ),
        };
        let sealed = creds
            .as_ref()
            .map(|c| c.seal(&m.route.seal_to, m.session_id))
            .transpose()
            .map_err(|e| ServiceError::internal(&e))?;
        let now = (m.now_ms / 1000) as u64;
        let claims = SessionClaims {
            v: CLAIMS_VERSION,
            sid: m.session_id.to_owned(),
            jti: uuid::Uuid::new_v4().to_string(),
            sub: m.watcher.map_or(&m.user.id[..], |w| w.sub).to_owned(),
            name: m
                .watcher
                .map_or(&m.user.username[..], |w| w.name)
                .to_owned(),
            ws: w.name.clone(),
            iat: now,
            nbf: now,
            exp: (m.expires_at_ms / 1000) as u64,
            target,
            policy: m.policy.clone(),
            creds: sealed,
            deadline: m.deadline.map(|d| (d / 1000) as u64),
            zones: m.route.routing.zones.clone(),
            gws: m.route.routing.gws.clone(),
            via: m.route.routing.via.clone(),
            reuse: Some(self.settings.reconnect),
            control: m.watcher.map(|w| w.control),
            watcher: m.watcher.map(|w| Watcher {
                owner_sub: m.user.id.clone(),
                owner_name: m.user.username.clone(),
                ..w.watcher.clone()
            }),
        };
        self.keys
            .signer
            .sign(&claims)
            .map_err(|e| ServiceError::internal(&e))
    }
}
