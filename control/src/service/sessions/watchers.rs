//! Tokens for those who watch a session that is not theirs: a share
//! link's guest and an admin shadowing it. They stream the owner's session
//! (its target, the owner's effective policy, the owner's route) and their
//! token says who they are, whether they control it and how they came
//! (`SessionClaims::control`, `watcher`).

use super::mint::{MintRequest, WatcherMint, token_expiry};
use super::route::{RouteRequest, route_of};
use super::{Authed, IssuedToken, ServiceError, unavailable_feature};
use crate::ControlPlane;
use crate::service::zones::zone_of;
use crate::time::now_ms;
use oriel_control_store::{SessionRecord, SessionState, User, WorkspaceRecord};
use oriel_core_token::Policy;

impl ControlPlane {
    /// The session's owner, workspace and the owner's effective policy;
    /// `SessionEnded` / `WorkspaceGone` when there is nothing to watch.
    pub(crate) async fn watched(
        &self,
        s: &SessionRecord,
    ) -> Result<(User, WorkspaceRecord, Policy), ServiceError> {
        if s.state == SessionState::Failed {
            let why = s.failure.as_deref().unwrap_or("it failed");
            return Err(ServiceError::SessionFailed(why.to_owned()));
        }
        if !s.state.is_active() || s.state == SessionState::Ending {
            return Err(ServiceError::SessionEnded);
        }
        let owner = self
            .store
            .user(&s.user_id)
            .await?
            .ok_or(ServiceError::SessionEnded)?
            .user;
        if owner.disabled {
            return Err(ServiceError::SessionEnded);
        }
        let (w, policy) = match self.launchable(&owner, &s.workspace_id).await {
            Ok(found) => found,
            Err(ServiceError::NotFound(_)) => return Err(ServiceError::WorkspaceGone),
            Err(e) => return Err(e),
        };
        Ok((owner, w, policy))
    }

    /// A token for `holder` to watch the owner's session `s` (whose owner,
    /// workspace and policy `watched` found). Audited by the caller.
    pub(crate) async fn watcher_token(
        &self,
        auth: Option<&Authed>,
        s: &SessionRecord,
        watched: &(User, WorkspaceRecord, Policy),
        holder: &WatcherMint<'_>,
        host: Option<&str>,
    ) -> Result<IssuedToken, ServiceError> {
        let (owner, w, policy) = watched;
        if let Some(auth) = auth {
            self.refuse_unavailable_features(
                auth,
                "session.watch",
                ("session", &s.id, &s.workspace_name),
                policy,
            )
            .await?;
        } else if let Some(feature) = unavailable_feature(policy) {
            return Err(ServiceError::FeatureUnavailable(feature));
        }
        let now = now_ms();
        if s.deadline.is_some_and(|d| d <= now) {
            return Err(ServiceError::SessionExpired);
        }
        if s.agent_id.is_some() && s.target.is_none() {
            return Err(ServiceError::SessionStarting);
        }
        let exp = token_expiry(self, now, s.deadline);
        let owner_zone = zone_of(self, owner).await?;
        let route = route_of(
            self,
            &RouteRequest {
                session_id: &s.id,
                agent_id: s.agent_id.as_deref(),
                workspace: w,
                user_zone: &owner_zone,
                host,
                expires_at_ms: exp,
            },
        )
        .await?;
        // The session's tokens now live this long: its end revokes them
        // until they are dead.
        if !self.store.extend_session_tokens(&s.id, exp).await? {
            return Err(ServiceError::SessionEnded);
        }
        let token = self.mint(&MintRequest {
            session_id: &s.id,
            deadline: s.deadline,
            container: s.target.as_ref(),
            route: &route,
            user: owner,
            workspace: w,
            policy,
            now_ms: now,
            expires_at_ms: exp,
            watcher: Some(holder),
        })?;
        Ok(IssuedToken {
            token,
            stream_url: route.stream_url,
            expires_at: exp,
        })
    }
}
