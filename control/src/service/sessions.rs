//! Sessions as domain operations: launch (with placement and the policy's
//! limits), a fresh token for a viewer (mint), and the end. The API's
//! `/api/v1/sessions` handlers parse, call these and map their
//! [`ServiceError`]s; nothing here knows HTTP.

mod mint;
mod placement;
mod route;
mod watchers;

pub(crate) use mint::WatcherMint;
pub(crate) use route::public_base;

use super::policy::{launchable, unavailable_feature};
use super::zones::{require_zone, zone_of};
use super::{Authed, ServiceError};
use crate::ControlPlane;
use crate::audit::Audit;
use crate::time::now_ms;
use mint::{MintRequest, token_expiry};
use oriel_control_store::{Launch, NewSession, SessionRecord, SessionState, User, WorkspaceRecord};
use oriel_core_token::Policy;
use route::{RouteRequest, route_of};
use tracing::{info, warn};

/// A launch: who, which workspace, where.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LaunchRequest<'a> {
    /// The caller (they must be allowed to launch).
    pub caller: &'a Authed,
    /// Workspace id or name.
    pub workspace: &'a str,
    /// Admins: the zone to place a container session in, instead of the
    /// user's.
    pub zone: Option<&'a str>,
    /// The `Host` the request came to (URLs when the settings name none).
    pub host: Option<&'a str>,
}

/// A token issued for a session's stream.
#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    /// The signed session token.
    pub token: String,
    /// Where to stream (`wss://…/stream`, a proxy's, or a relay route).
    pub stream_url: String,
    /// When the token expires, Unix ms.
    pub expires_at: i64,
}

/// A launched session.
#[derive(Debug)]
pub(crate) struct Launched {
    /// The new session's id.
    pub session_id: String,
    /// The workspace launched.
    pub workspace: WorkspaceRecord,
    /// Its first token; `None` for a container session until its agent
    /// reports the desktop ready (ask [`ControlPlane::session_token`]).
    pub token: Option<IssuedToken>,
    /// Expiry of the first token (or of the launch's token window), Unix ms.
    pub expires_at: i64,
}

/// A request for a fresh token of one of the caller's sessions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenRequest<'a> {
    /// The caller (the session's owner).
    pub caller: &'a Authed,
    /// The session.
    pub session_id: &'a str,
    /// The `Host` the request came to.
    pub host: Option<&'a str>,
}

/// What a token request gives.
#[derive(Debug)]
pub(crate) enum TokenOutcome {
    /// A token.
    Issued(IssuedToken),
    /// A container session whose agent is still starting the desktop: ask
    /// again after `retry_after_ms`.
    Preparing {
        /// The session's state.
        state: SessionState,
        /// When to ask again, ms.
        retry_after_ms: u64,
    },
}

/// Milliseconds a viewer waits before asking again for a token of a
/// container session still starting.
const PREPARING_RETRY_MS: u64 = 250;

impl ControlPlane {
    /// The workspace `user` may launch, and its effective policy;
    /// `NotFound` when it does not exist or no group of the user grants it.
    async fn launchable(
        &self,
        user: &User,
        id_or_name: &str,
    ) -> Result<(WorkspaceRecord, Policy), ServiceError> {
        let w = self
            .store
            .workspace(id_or_name)
            .await?
            .ok_or(ServiceError::NotFound("workspace"))?;
        let policy = launchable(self, user, &w)
            .await?
            .ok_or(ServiceError::NotFound("workspace"))?;
        Ok((w, policy))
    }

    /// Fails closed, audited, when the effective policy asks for a feature
    /// this server does not provide: the session must not stream without it.
    async fn refuse_unavailable_features(
        &self,
        auth: &Authed,
        action: &str,
        on: (&str, &str, &str),
        policy: &Policy,
    ) -> Result<(), ServiceError> {
        let Some(feature) = unavailable_feature(policy) else {
            return Ok(());
        };
        let (kind, id, name) = on;
        warn!(user = %auth.user.username, %kind, %id, feature = feature.field(), "refused: the policy requires a feature this server lacks");
        self.audit(
            Audit {
                success: false,
                ..Audit::by(auth, action)
            }
            .on(kind, id, Some(name))
            .details(serde_json::json!({
                "reason": "feature unavailable",
                "feature": feature.field(),
            })),
        )
        .await;
        Err(ServiceError::FeatureUnavailable(feature))
    }

    /// Launches a session of a workspace the caller's groups grant: checks
    /// the policy's features and limits, places a container session on an
    /// agent, records the session and (unless it waits for its agent) mints
    /// its first token. Audited either way.
    pub(crate) async fn launch(&self, req: &LaunchRequest<'_>) -> Result<Launched, ServiceError> {
        let auth = req.caller;
        auth.require_launcher()?;
        let (w, policy) = self.launchable(&auth.user, req.workspace).await?;
        let user_zone = zone_of(self, &auth.user).await?;
        // Where a container session is placed: the user's zone, or one an
        // admin names for this launch.
        let zone = match req.zone {
            None => user_zone.clone(),
            Some(z) => {
                auth.require_admin()?;
                require_zone(self, "zone", z).await?;
                z.to_owned()
            }
        };
        self.refuse_unavailable_features(
            auth,
            "session.launch",
            ("workspace", &w.id, &w.name),
            &policy,
        )
        .await?;
        let now = now_ms();
        let placement = self.placement(&w, &zone, now).await?;
        let deadline =
            (policy.max_session_secs > 0).then(|| now + i64::from(policy.max_session_secs) * 1000);
        let exp = token_expiry(self, now, deadline);
        let launch = self
            .store
            .launch_session(
                &NewSession {
                    user_id: &auth.user.id,
                    workspace_id: &w.id,
                    workspace_name: &w.name,
                    state: if placement.is_some() {
                        SessionState::Requested
                    } else {
                        SessionState::Starting
                    },
                    token_expires_at: exp,
                    deadline,
                    source: auth.source.as_deref(),
                    max_per_user: (policy.max_sessions_per_user > 0)
                        .then_some(policy.max_sessions_per_user),
                    placement: placement.clone(),
                },
                now,
            )
            .await?;
        let id = match launch {
            Launch::Launched(id) => id,
            Launch::LimitReached { active } => {
                self.audit(
                    Audit {
                        success: false,
                        ..Audit::by(auth, "session.launch")
                    }
                    .on("workspace", &w.id, Some(&w.name))
                    .details(serde_json::json!({ "reason": "session limit", "active": active })),
                )
                .await;
                return Err(ServiceError::SessionLimit { active });
            }
            Launch::NoCapacity { zone, agents } => {
                self.audit(
                    Audit {
                        success: false,
                        ..Audit::by(auth, "session.launch")
                    }
                    .on("workspace", &w.id, Some(&w.name))
                    .details(
                        serde_json::json!({ "reason": "no capacity", "zone": zone, "agents": agents }),
                    ),
                )
                .await;
                return Err(ServiceError::NoCapacity { zone, agents });
            }
        };
        // A container session gets its token once its agent reports the
        // desktop ready (`session_token` answers `Preparing` until then).
        let token = if placement.is_some() {
            self.fleet_changed();
            None
        } else {
            let route = route_of(
                self,
                &RouteRequest {
                    session_id: &id,
                    agent_id: None,
                    workspace: &w,
                    user_zone: &user_zone,
                    host: req.host,
                    expires_at_ms: exp,
                },
            )
            .await?;
            let token = self.mint(&MintRequest {
                session_id: &id,
                deadline,
                container: None,
                route: &route,
                user: &auth.user,
                workspace: &w,
                policy: &policy,
                now_ms: now,
                expires_at_ms: exp,
                watcher: None,
            })?;
            Some(IssuedToken {
                token,
                stream_url: route.stream_url,
                expires_at: exp,
            })
        };
        info!(session_id = %id, user = %auth.user.username, workspace = %w.name, "session launched");
        self.audit(
            Audit::by(auth, "session.launch")
                .on("session", &id, Some(&w.name))
                .details(
                    serde_json::json!({ "workspace_id": w.id, "kind": w.kind, "policy": policy }),
                ),
        )
        .await;
        Ok(Launched {
            session_id: id,
            workspace: w,
            token,
            expires_at: exp,
        })
    }

    /// The session if the caller may see it (owner, admin or auditor).
    pub(crate) async fn visible_session(
        &self,
        auth: &Authed,
        id: &str,
    ) -> Result<SessionRecord, ServiceError> {
        self.store
            .session(id)
            .await?
            .filter(|s| s.user_id == auth.user.id || auth.can_read_all())
            .ok_or(ServiceError::NotFound("session"))
    }

    /// A fresh token for the owner of an active session (the viewer's
    /// connect and reconnect). The policy is computed again, so policy
    /// changes apply from the next connection.
    pub(crate) async fn session_token(
        &self,
        req: &TokenRequest<'_>,
    ) -> Result<TokenOutcome, ServiceError> {
        let auth = req.caller;
        auth.require_launcher()?;
        let s = self
            .store
            .session(req.session_id)
            .await?
            .filter(|s| s.user_id == auth.user.id)
            .ok_or(ServiceError::NotFound("session"))?;
        if s.state == SessionState::Failed {
            let why = s.failure.as_deref().unwrap_or("it failed");
            return Err(ServiceError::SessionFailed(why.to_owned()));
        }
        if !s.state.is_active() || s.state == SessionState::Ending {
            return Err(ServiceError::SessionEnded);
        }
        let (w, policy) = match self.launchable(&auth.user, &s.workspace_id).await {
            Ok(found) => found,
            Err(ServiceError::NotFound(_)) => return Err(ServiceError::WorkspaceGone),
            Err(e) => return Err(e),
        };
        self.refuse_unavailable_features(
            auth,
            "session.token",
            ("session", &s.id, &s.workspace_name),
            &policy,
        )
        .await?;
        let now = now_ms();
        if s.deadline.is_some_and(|d| d <= now) {
            return Err(ServiceError::SessionExpired);
        }
        if s.agent_id.is_some() && s.target.is_none() {
            // The agent is still starting the container.
            return Ok(TokenOutcome::Preparing {
                state: s.state,
                retry_after_ms: PREPARING_RETRY_MS,
            });
        }
        let exp = token_expiry(self, now, s.deadline);
        let user_zone = zone_of(self, &auth.user).await?;
        let route = route_of(
            self,
            &RouteRequest {
                session_id: &s.id,
                agent_id: s.agent_id.as_deref(),
                workspace: &w,
                user_zone: &user_zone,
                host: req.host,
                expires_at_ms: exp,
            },
        )
        .await?;
        if !self.store.extend_session_tokens(&s.id, exp).await? {
            return Err(ServiceError::SessionEnded);
        }
        let token = self.mint(&MintRequest {
            session_id: &s.id,
            deadline: s.deadline,
            container: s.target.as_ref(),
            route: &route,
            user: &auth.user,
            workspace: &w,
            policy: &policy,
            now_ms: now,
            expires_at_ms: exp,
            watcher: None,
        })?;
        Ok(TokenOutcome::Issued(IssuedToken {
            token,
            stream_url: route.stream_url,
            expires_at: exp,
        }))
    }

    /// Moves a session to `ending` and tells the gateways to close its
    /// streams; when they confirm, the session is `ended`. Returns whether
    /// the gateways confirmed.
    pub(crate) async fn end_session(
        &self,
        s: &SessionRecord,
        reason: &str,
    ) -> Result<bool, ServiceError> {
        let now = now_ms();
        let ending = self
            .store
            .transition(&s.id, SessionState::Ending, now, None)
            .await?;
        // Revoked for every gateway (reconnections included), then the
        // gateways told to close its streams now.
        let revoked_until = self.revocation_until(s.token_expires_at);
        if let Err(e) = self
            .revoke(
                oriel_control_store::RevocationKind::Session,
                &s.id,
                revoked_until,
            )
            .await
        {
            warn!(session_id = %s.id, error = %e, "cannot revoke an ended session");
        }
        // Refuse its tokens a little past their expiry, to cover clock skew.
        let until = (revoked_until / 1000) as u64;
        let confirmed = self.gateways.end_session(&s.id, until).await;
        // Only then is a container session's agent told to remove its
        // container: its viewers are told the session ended (END 4000),
        // not that the remote system went away.
        if s.agent_id.is_some() {
            self.fleet_changed();
        }
        match confirmed {
            Ok(streams) => {
                if ending.is_some() || s.state == SessionState::Ending {
                    self.store
                        .transition(&s.id, SessionState::Ended, now_ms(), None)
                        .await?;
                }
                info!(session_id = %s.id, streams, reason, "session ended");
                Ok(true)
            }
            Err(e) => {
                warn!(session_id = %s.id, error = %e, "a gateway did not confirm the end of a session");
                Ok(false)
            }
        }
    }

    /// Ends a session at the request of its owner or an admin, audited.
    /// Idempotent: ending an ended session tells the gateways again.
    /// `GatewayUnconfirmed` when a gateway did not confirm (retry).
    pub(crate) async fn end_by_request(&self, auth: &Authed, id: &str) -> Result<(), ServiceError> {
        let s = self.visible_session(auth, id).await?;
        if s.user_id != auth.user.id {
            auth.require_admin()?;
        } else {
            auth.require_launcher()?;
        }
        let confirmed = self.end_session(&s, "ended by request").await?;
        self.audit(
            Audit {
                success: confirmed,
                ..Audit::by(auth, "session.end")
            }
            .on("session", id, Some(&s.workspace_name))
            .details(serde_json::json!({ "owner": s.username, "gateways_confirmed": confirmed })),
        )
        .await;
        if confirmed {
            Ok(())
        } else {
            Err(ServiceError::GatewayUnconfirmed)
        }
    }
}
