//! Share links and shadowing: others watching a session that is not
//! theirs.
//!
//! - A session's owner (or an admin) creates share links where the
//!   workspace's policy allows it (`share_links`; with control only where
//!   `share_links_control` allows that too): view only or with control,
//!   expiring, revocable, and either for anyone holding the link or only
//!   for signed-in members of given groups. The link is a secret of 128
//!   random bits (base64url); the audit log names it by a reference
//!   (`link_ref`, the first 12 hex digits of its SHA-256), never itself.
//! - Joining a link gives a session token for the owner's session whose
//!   `watcher` names the link (`via: share`, the owner told); its control
//!   is the link's, handed over and taken back by the owner (stored, and
//!   the gateways' viewers of the link changed at once).
//! - Revoking a link publishes it in the revocation list (`links`): the
//!   gateways close its streams and refuse its tokens.
//! - Admins, and members of a group granting `shadow_sessions`, shadow any
//!   live session: a token with `watcher { via: shadow }`, view only or
//!   with control; the owner is told unless the workspace's policy says
//!   `silent_monitoring`.
//!
//! Everything here is audited: `share_link.created`, `.revoked`,
//! `.control`, `.joined`, `session.shadow_started`; the ends of watchers'
//! streams (`share_link.left`, `session.shadow_ended`, with how long) come
//! from the gateways' reports (`super::reports`).

use super::policy::may_shadow;
use super::sessions::{IssuedToken, WatcherMint};
use super::{Authed, ServiceError};
use crate::ControlPlane;
use crate::audit::Audit;
use crate::auth::password::{random_token, secret_hash};
use crate::time::now_ms;
use oriel_control_store::{NewShareLink, SessionRecord, ShareLinkRecord};
use oriel_core_token::{WatchedVia, Watcher};
use tracing::{info, warn};

/// Longest a share link may be valid for: 7 days.
pub(crate) const MAX_SHARE_SECS: u64 = 7 * 24 * 3600;
/// How long a share link is valid for when the request does not say: 1 hour.
pub(crate) const DEFAULT_SHARE_SECS: u64 = 3600;
/// Most groups a share link may name.
pub(crate) const MAX_SHARE_GROUPS: usize = 50;

/// Where a share link is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShareState {
    /// It may be joined.
    Active,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
}

impl ShareState {
    pub(crate) fn of(l: &ShareLinkRecord, now_ms: i64) -> ShareState {
        if l.revoked_at.is_some() {
            ShareState::Revoked
        } else if now_ms >= l.expires_at {
            ShareState::Expired
        } else {
            ShareState::Active
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ShareState::Active => "active",
            ShareState::Expired => "expired",
            ShareState::Revoked => "revoked",
        }
    }
}

/// The audit log's name for a link: the first 12 hex digits of its
/// SHA-256 (the link itself is a secret).
pub(crate) fn link_ref(link: &str) -> String {
    secret_hash(link)[..12].to_owned()
}

/// A new share link.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShareRequest<'a> {
    /// The session's owner or an admin.
    pub caller: &'a Authed,
    /// The session.
    pub session_id: &'a str,
    /// Whether its guests control the session from the start.
    pub control: bool,
    /// How long it may be joined, seconds (1 to [`MAX_SHARE_SECS`]).
    pub expires_in_secs: Option<u64>,
    /// Only signed-in members of these groups may join; `None`: anyone
    /// holding the link.
    pub groups: Option<&'a [String]>,
}

/// A join of a share link.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JoinRequest<'a> {
    /// The signed-in caller, if any.
    pub caller: Option<&'a Authed>,
    /// The link.
    pub link: &'a str,
    /// The `Host` the request came to.
    pub host: Option<&'a str>,
    /// The client's address (anonymous guests' audit entries).
    pub source: Option<&'a str>,
}

/// What a join gives.
#[derive(Debug)]
pub(crate) struct Joined {
    /// The session watched.
    pub session_id: String,
    /// The workspace's name.
    pub workspace_name: String,
    /// The session's owner.
    pub owner: String,
    /// Whether the guest controls the session.
    pub control: bool,
    /// The token.
    pub token: IssuedToken,
}

impl ControlPlane {
    /// The session if the caller may manage its links: its owner (who may
    /// launch) or an admin; `NotFound` for anyone else.
    async fn shared_session(&self, auth: &Authed, id: &str) -> Result<SessionRecord, ServiceError> {
        let s = self
            .store
            .session(id)
            .await?
            .filter(|s| s.user_id == auth.user.id || auth.is_admin())
            .ok_or(ServiceError::NotFound("session"))?;
        if s.user_id == auth.user.id {
            auth.require_launcher()?;
        }
        Ok(s)
    }

    /// The link `link` of session `s`; `NotFound` for another session's.
    async fn link_of(
        &self,
        s: &SessionRecord,
        link: &str,
    ) -> Result<ShareLinkRecord, ServiceError> {
        self.store
            .share_link(link)
            .await?
            .filter(|l| l.session_id == s.id)
            .ok_or(ServiceError::NotFound("share link"))
    }

    /// Creates a share link of a live session, where the workspace's
    /// policy allows it. Audited.
    pub(crate) async fn create_share(
        &self,
        req: &ShareRequest<'_>,
    ) -> Result<ShareLinkRecord, ServiceError> {
        let auth = req.caller;
        let s = self.shared_session(auth, req.session_id).await?;
        let secs = req.expires_in_secs.unwrap_or(DEFAULT_SHARE_SECS);
        if !(1..=MAX_SHARE_SECS).contains(&secs) {
            return Err(ServiceError::invalid_field(
                "expires_in_secs",
                format!("expires_in_secs must be 1 to {MAX_SHARE_SECS} (7 days)"),
            ));
        }
        let groups = match req.groups {
            None => None,
            Some([]) => {
                return Err(ServiceError::invalid_field(
                    "groups",
                    "groups must name at least one group (or be absent: anyone with the link)",
                ));
            }
            Some(g) if g.len() > MAX_SHARE_GROUPS => {
                return Err(ServiceError::invalid_field(
                    "groups",
                    format!("groups must name at most {MAX_SHARE_GROUPS} groups"),
                ));
            }
            Some(g) => {
                let mut ids: Vec<String> = Vec::with_capacity(g.len());
                for id in g {
                    if self.store.group(id).await?.is_none() {
                        return Err(ServiceError::invalid_field(
                            "groups",
                            format!("groups must name existing groups (no group {id:?})"),
                        ));
                    }
                    if !ids.contains(id) {
                        ids.push(id.clone());
                    }
                }
                Some(ids)
            }
        };
        let (_, _, policy) = self.watched(&s).await?;
        let refuse = |why: &'static str| {
            Audit {
                success: false,
                ..Audit::by(auth, "share_link.created")
            }
            .on("session", &s.id, Some(&s.workspace_name))
            .details(serde_json::json!({ "reason": why, "control": req.control }))
        };
        if !policy.share_links {
            self.audit(refuse("share links not allowed")).await;
            return Err(ServiceError::Denied {
                reason: "sharing_disabled",
                message: "this workspace's policy does not allow share links".into(),
            });
        }
        if req.control && !policy.share_links_control {
            self.audit(refuse("control links not allowed")).await;
            return Err(ServiceError::Denied {
                reason: "share_control_disabled",
                message: "this workspace's policy allows only view-only share links".into(),
            });
        }
        let link = random_token(16)?;
        let now = now_ms();
        let expires_at = now + secs as i64 * 1000;
        self.store
            .create_share_link(&NewShareLink {
                id: &link,
                session_id: &s.id,
                created_by: &auth.user.id,
                created_by_name: &auth.user.username,
                control: req.control,
                groups: groups.as_deref(),
                created_at: now,
                expires_at,
            })
            .await?;
        info!(session_id = %s.id, link_ref = %link_ref(&link), control = req.control, "share link created");
        self.audit(
            Audit::by(auth, "share_link.created")
                .on("session", &s.id, Some(&s.workspace_name))
                .details(serde_json::json!({
                    "link_ref": link_ref(&link),
                    "owner": s.username,
                    "control": req.control,
                    "expires_in_secs": secs,
                    "groups": groups,
                })),
        )
        .await;
        self.store
            .share_link(&link)
            .await?
            .ok_or_else(|| ServiceError::internal(&"a share link just created is missing"))
    }

    /// The session's links (owner or admin), and whether new ones may be
    /// created now (`share_links`), with control (`share_links_control`):
    /// both `false` once the session is over.
    pub(crate) async fn list_shares(
        &self,
        auth: &Authed,
        session_id: &str,
    ) -> Result<(Vec<ShareLinkRecord>, bool, bool), ServiceError> {
        let s = self.shared_session(auth, session_id).await?;
        let links = self.store.share_links_of_session(&s.id).await?;
        let (allowed, control) = match self.watched(&s).await {
            Ok((_, _, p)) => (p.share_links, p.share_links && p.share_links_control),
            Err(ServiceError::Store(e)) => return Err(ServiceError::Store(e)),
            Err(_) => (false, false),
        };
        Ok((links, allowed, control))
    }

    /// Revokes a link: published in the revocation list (its streams are
    /// closed, its tokens refused) and pushed to the gateways. Idempotent.
    /// Audited.
    pub(crate) async fn revoke_share(
        &self,
        auth: &Authed,
        session_id: &str,
        link: &str,
    ) -> Result<ShareLinkRecord, ServiceError> {
        let s = self.shared_session(auth, session_id).await?;
        let l = self.link_of(&s, link).await?;
        if l.revoked_at.is_some() {
            return Ok(l);
        }
        // Its tokens were issued before its expiry, and live a token
        // lifetime at most.
        let last_token_exp =
            l.expires_at.min(now_ms()) + self.settings.token_ttl.as_millis() as i64;
        let until = self.revocation_until(last_token_exp);
        let seq = self.store.revoke_share_link(link, now_ms(), until).await?;
        if let Some(seq) = seq {
            info!(session_id = %s.id, link_ref = %link_ref(link), seq, "share link revoked");
            self.publish_revocations(seq).await;
            self.audit(
                Audit::by(auth, "share_link.revoked")
                    .on("session", &s.id, Some(&s.workspace_name))
                    .details(serde_json::json!({
                        "link_ref": link_ref(link),
                        "owner": s.username,
                        "seq": seq,
                    })),
            )
            .await;
        }
        self.link_of(&s, link).await
    }

    /// Hands the link's control over (`true`) or takes it back: stored
    /// (later joins get it) and applied at once to the link's viewers.
    /// Returns the link and how many viewers changed. Audited.
    pub(crate) async fn set_share_control(
        &self,
        auth: &Authed,
        session_id: &str,
        link: &str,
        control: bool,
    ) -> Result<(ShareLinkRecord, usize), ServiceError> {
        let s = self.shared_session(auth, session_id).await?;
        let l = self.link_of(&s, link).await?;
        match ShareState::of(&l, now_ms()) {
            ShareState::Active => {}
            state => {
                return Err(ServiceError::conflict(
                    "share_link_inactive",
                    format!("the share link is {}", state.as_str()),
                ));
            }
        }
        if control {
            let (_, _, policy) = self.watched(&s).await?;
            if !policy.share_links_control {
                return Err(ServiceError::Denied {
                    reason: "share_control_disabled",
                    message: "this workspace's policy does not let share links give control".into(),
                });
            }
        }
        if !self.store.set_share_link_control(link, control).await? {
            return Err(ServiceError::conflict(
                "share_link_inactive",
                "the share link is revoked",
            ));
        }
        let changed = match self.gateways.set_link_control(&s.id, link, control).await {
            Ok(n) => n,
            Err(e) => {
                warn!(session_id = %s.id, error = %e, "a gateway did not take a share link's control change");
                return Err(ServiceError::GatewayUnconfirmed);
            }
        };
        self.audit(
            Audit::by(auth, "share_link.control")
                .on("session", &s.id, Some(&s.workspace_name))
                .details(serde_json::json!({
                    "link_ref": link_ref(link),
                    "owner": s.username,
                    "control": control,
                    "viewers_changed": changed,
                })),
        )
        .await;
        let l = self.link_of(&s, link).await?;
        Ok((l, changed))
    }

    /// A token for a share link's guest: refused when the link is unknown,
    /// revoked or expired, the session is over, the workspace no longer
    /// allows share links, or the link is for groups the caller is not in
    /// (or the caller did not sign in). Audited.
    pub(crate) async fn join_share(&self, req: &JoinRequest<'_>) -> Result<Joined, ServiceError> {
        let l = self
            .store
            .share_link(req.link)
            .await?
            .ok_or(ServiceError::NotFound("share link"))?;
        let (actor_id, actor_name) = match req.caller {
            Some(a) => (Some(a.user.id.as_str()), a.user.username.as_str()),
            None => (None, "guest"),
        };
        let r = link_ref(req.link);
        let refused = |reason: &'static str| {
            let r = r.clone();
            let sid = l.session_id.clone();
            async move {
                self.audit(
                    Audit {
                        actor_id,
                        actor_name,
                        action: "share_link.joined",
                        source: req.source,
                        success: false,
                        ..Default::default()
                    }
                    .on("session", &sid, None)
                    .details(serde_json::json!({ "link_ref": r, "reason": reason })),
                )
                .await;
            }
        };
        match ShareState::of(&l, now_ms()) {
            ShareState::Active => {}
            ShareState::Revoked => {
                refused("revoked").await;
                return Err(ServiceError::Gone {
                    reason: "share_link_revoked",
                    message: "the share link has been revoked".into(),
                });
            }
            ShareState::Expired => {
                refused("expired").await;
                return Err(ServiceError::Gone {
                    reason: "share_link_expired",
                    message: "the share link has expired".into(),
                });
            }
        }
        if let Some(groups) = &l.groups {
            let Some(auth) = req.caller else {
                refused("not signed in").await;
                return Err(ServiceError::SignInRequired(
                    "sign in to join this share link: it is only for members of some groups".into(),
                ));
            };
            let mine = self.store.groups_of_user(&auth.user.id).await?;
            if !mine.iter().any(|g| groups.contains(&g.id)) {
                refused("not in the link's groups").await;
                return Err(ServiceError::Denied {
                    reason: "not_in_group",
                    message: "this share link is for members of other groups".into(),
                });
            }
        }
        let s = self
            .store
            .session(&l.session_id)
            .await?
            .ok_or(ServiceError::SessionEnded)?;
        let watched = match self.watched(&s).await {
            Ok(w) => w,
            Err(e) => {
                refused("session over").await;
                return Err(e);
            }
        };
        if !watched.2.share_links {
            refused("share links not allowed").await;
            return Err(ServiceError::Denied {
                reason: "sharing_disabled",
                message: "this workspace's policy no longer allows share links".into(),
            });
        }
        let control = l.control && watched.2.share_links_control;
        let sub = match req.caller {
            Some(a) => a.user.id.clone(),
            None => format!("guest:{r}"),
        };
        let holder = WatcherMint {
            sub: &sub,
            name: actor_name,
            control,
            watcher: Watcher {
                via: WatchedVia::Share,
                link: Some(req.link.to_owned()),
                notify: true,
                owner_sub: String::new(),
                owner_name: String::new(),
            },
        };
        let token = self
            .watcher_token(req.caller, &s, &watched, &holder, req.host)
            .await?;
        self.audit(
            Audit {
                actor_id,
                actor_name,
                action: "share_link.joined",
                source: req.source,
                success: true,
                ..Default::default()
            }
            .on("session", &s.id, Some(&s.workspace_name))
            .details(serde_json::json!({
                "link_ref": r,
                "owner": s.username,
                "control": control,
                "signed_in": req.caller.is_some(),
            })),
        )
        .await;
        Ok(Joined {
            session_id: s.id.clone(),
            workspace_name: s.workspace_name.clone(),
            owner: watched.0.username.clone(),
            control,
            token,
        })
    }

    /// A token for an admin (or a holder of `shadow_sessions`) to watch a
    /// live session, view only or with control; the owner is told unless
    /// the workspace's policy allows silent monitoring. Audited.
    pub(crate) async fn shadow(
        &self,
        auth: &Authed,
        session_id: &str,
        control: bool,
        host: Option<&str>,
    ) -> Result<(Joined, bool), ServiceError> {
        if !may_shadow(self, auth).await? {
            return Err(ServiceError::Denied {
                reason: "forbidden",
                message: "watching others' sessions needs the admin role or a group granting shadow_sessions".into(),
            });
        }
        let s = self
            .store
            .session(session_id)
            .await?
            .ok_or(ServiceError::NotFound("session"))?;
        let watched = self.watched(&s).await?;
        let notify = !watched.2.silent_monitoring;
        let holder = WatcherMint {
            sub: &auth.user.id,
            name: &auth.user.username,
            control,
            watcher: Watcher {
                via: WatchedVia::Shadow,
                link: None,
                notify,
                owner_sub: String::new(),
                owner_name: String::new(),
            },
        };
        let token = self
            .watcher_token(Some(auth), &s, &watched, &holder, host)
            .await?;
        info!(session_id = %s.id, admin = %auth.user.username, control, notify, "shadowing a session");
        self.audit(
            Audit::by(auth, "session.shadow_started")
                .on("session", &s.id, Some(&s.workspace_name))
                .details(serde_json::json!({
                    "owner": s.username,
                    "control": control,
                    "notified": notify,
                })),
        )
        .await;
        Ok((
            Joined {
                session_id: s.id.clone(),
                workspace_name: s.workspace_name.clone(),
                owner: watched.0.username.clone(),
                control,
                token,
            },
            notify,
        ))
    }
}
