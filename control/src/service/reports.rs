//! What gateways report about streams (received by `crate::api::reports`
//! or, in `oriel up`, handed over in process), and the reaper: together they move
//! sessions through their state machine (`oriel_control_store` sessions).
//!
//! - a stream connected → `starting` → `running` (and a first-use target
//!   identity is recorded on the workspace);
//! - the target ended the session → `ended`;
//! - we ended it (idle timeout, maximum length, an end request) → `ended`;
//! - the target refused for good (credentials, identity, protocol) → `failed`;
//! - the viewer went away, or the target was unreachable for a while: the
//!   session stays as it is, the viewer may reconnect.
//!
//! The reaper ends sessions past their deadline, fails sessions no viewer
//! connected to before their token expired, and finishes `ending` sessions
//! whose gateways never confirmed.

use super::ServiceError;
use crate::ControlPlane;
use crate::audit::Audit;
use crate::time::now_ms;
use oriel_control_store::SessionState;
use oriel_core_token::{Report, WatchedVia, WatcherLeft};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tracing::{info, warn};

/// Grace after a token's expiry before a session nobody connected to fails.
const CONNECT_GRACE_MS: i64 = 60_000;
/// How long an `ending` session waits for its gateways.
const ENDING_GRACE_MS: i64 = 30_000;

impl ControlPlane {
    /// Applies a gateway's report.
    pub async fn on_report(&self, report: &Report) {
        if let Err(e) = self.apply_report(report).await {
            warn!(error = %e, session_id = report.session_id().unwrap_or("-"), "cannot apply a gateway report");
        }
    }

    pub(crate) async fn apply_report(&self, report: &Report) -> Result<(), ServiceError> {
        let now = now_ms();
        match report {
            Report::StreamStarted { sid, identity } => {
                if let Some(s) = self
                    .store
                    .transition(sid, SessionState::Running, now, None)
                    .await?
                {
                    self.audit(
                        Audit {
                            actor_id: Some(&s.user_id),
                            actor_name: &s.username,
                            action: "session.start",
                            success: true,
                            ..Default::default()
                        }
                        .on("session", sid, Some(&s.workspace_name)),
                    )
                    .await;
                }
                if let (Some(fp), Some(s)) = (identity, self.store.session(sid).await?)
                    && self
                        .store
                        .record_workspace_identity(&s.workspace_id, fp)
                        .await?
                {
                    info!(workspace_id = %s.workspace_id, identity = %fp, "target identity recorded on first use");
                    self.audit(
                        Audit {
                            actor_name: "gateway",
                            action: "workspace.identity",
                            success: true,
                            details: Some(
                                serde_json::json!({ "identity": fp, "trust": "first use" }),
                            ),
                            ..Default::default()
                        }
                        .on(
                            "workspace",
                            &s.workspace_id,
                            Some(&s.workspace_name),
                        ),
                    )
                    .await;
                }
            }
            Report::StreamEnded {
                sid,
                reason,
                retryable,
                class,
                watcher,
            } => {
                if let Some(w) = watcher {
                    self.watcher_left(sid, w, reason).await?;
                }
                let (to, failure) = match (reason.as_str(), class.as_str()) {
                    ("target_closed", _) | ("ended" | "idle_timeout" | "session_expired", _) => {
                        (SessionState::Ended, None)
                    }
                    (kind, "target") if !retryable => (SessionState::Failed, Some(kind)),
                    // After admission only the recording fails this way (it
                    // cannot be created or written): the session ended for
                    // every viewer, fail closed.
                    ("feature_unavailable", _) => {
                        (SessionState::Failed, Some("feature_unavailable"))
                    }
                    _ => return Ok(()),
                };
                if let Some(s) = self.store.transition(sid, to, now, failure).await? {
                    if s.agent_id.is_some() {
                        self.fleet_changed();
                    }
                    self.audit(
                        Audit {
                            actor_id: Some(&s.user_id),
                            actor_name: &s.username,
                            action: if failure == Some("feature_unavailable") {
                                "session.recording_failed"
                            } else if to == SessionState::Failed {
                                "session.fail"
                            } else {
                                "session.end"
                            },
                            success: to == SessionState::Ended,
                            details: Some(serde_json::json!({ "reason": reason })),
                            ..Default::default()
                        }
                        .on("session", sid, Some(&s.workspace_name)),
                    )
                    .await;
                }
            }
            Report::FileTransfer {
                sid,
                sub,
                name,
                direction,
                path,
                bytes,
                outcome,
            } => {
                let workspace = self.store.session(sid).await?.map(|s| s.workspace_name);
                let actor_id = (!sub.starts_with("guest:")).then_some(sub.as_str());
                self.audit(
                    Audit {
                        actor_id,
                        actor_name: name,
                        action: if direction == "upload" {
                            "file.upload"
                        } else {
                            "file.download"
                        },
                        success: outcome == "done",
                        details: Some(serde_json::json!({
                            "path": path,
                            "bytes": bytes,
                            "outcome": outcome,
                        })),
                        ..Default::default()
                    }
                    .on("session", sid, workspace.as_deref()),
                )
                .await;
            }
            Report::Sessions { sids } => self.reconcile(sids).await?,
        }
        Ok(())
    }

    /// A watcher's stream ended: audited with who and how long
    /// (`share_link.left`, `session.shadow_ended`).
    async fn watcher_left(
        &self,
        sid: &str,
        w: &WatcherLeft,
        reason: &str,
    ) -> Result<(), ServiceError> {
        let workspace = self.store.session(sid).await?.map(|s| s.workspace_name);
        let (action, details) = match w.via {
            WatchedVia::Share => (
                "share_link.left",
                serde_json::json!({
                    "link_ref": w.link.as_deref().map(super::shares::link_ref),
                    "duration_secs": w.secs,
                    "reason": reason,
                }),
            ),
            WatchedVia::Shadow => (
                "session.shadow_ended",
                serde_json::json!({
                    "duration_secs": w.secs,
                    "notified": w.notify,
                    "reason": reason,
                }),
            ),
        };
        // A signed-in watcher is named by their id; a link's anonymous
        // guest (`guest:…`) by name only.
        let actor_id = (!w.sub.starts_with("guest:")).then_some(w.sub.as_str());
        info!(session_id = %sid, watcher = %w.name, action, secs = w.secs, "a watcher left");
        self.audit(
            Audit {
                actor_id,
                actor_name: &w.name,
                action,
                success: true,
                details: Some(details),
                ..Default::default()
            }
            .on("session", sid, workspace.as_deref()),
        )
        .await;
        Ok(())
    }

    /// A gateway's list of the sessions it streams, after a partition or
    /// periodically: a session still `starting` here is running there (its
    /// start report was lost); a session over here but streamed there (its
    /// end did not reach the gateway) is ended there again. The revocation
    /// list, which the gateway fetches, says the same.
    async fn reconcile(&self, sids: &[String]) -> Result<(), ServiceError> {
        let now = now_ms();
        for sid in sids.iter().take(10_000) {
            let Some(s) = self.store.session(sid).await? else {
                warn!(session_id = %sid, "a gateway streams a session this control plane does not know");
                continue;
            };
            match s.state {
                SessionState::Starting => {
                    if self
                        .store
                        .transition(sid, SessionState::Running, now, None)
                        .await?
                        .is_some()
                    {
                        info!(session_id = %sid, "reconciled: the session is running");
                    }
                }
                SessionState::Ended | SessionState::Failed | SessionState::Ending => {
                    let until = (self.revocation_until(s.token_expires_at) / 1000) as u64;
                    match self.gateways.end_session(sid, until).await {
                        Ok(n) => {
                            info!(session_id = %sid, streams = n, "reconciled: a gateway still streamed an ended session")
                        }
                        Err(e) => {
                            warn!(session_id = %sid, error = %e, "reconciled: cannot end a session a gateway still streams")
                        }
                    }
                }
                SessionState::Requested | SessionState::Running => {}
            }
        }
        Ok(())
    }

    /// Whether this control plane has been able to hear agents and
    /// gateways for the last `window_ms`: silence over a shorter stretch
    /// may only be its own absence (a restart, its database away), during
    /// which their polls and reports could not land.
    pub(crate) fn heard_for(&self, now: i64, window_ms: i64) -> bool {
        self.hearing_since_ms.load(Ordering::Relaxed) <= now - window_ms
    }

    /// One pass of the reaper. Judgements made on silence (a lost agent, a
    /// desktop that never became ready, a viewer that never connected) wait
    /// until this control plane has been reachable for the whole window.
    pub async fn reap(&self) -> Result<(), ServiceError> {
        let now = now_ms();
        if self.heard_for(now, self.settings.agent_lost_after.as_millis() as i64) {
            self.lose_silent_agents().await?;
        }
        let start_timeout = self.settings.container_start_timeout.as_millis() as i64;
        let requested = if self.heard_for(now, start_timeout) {
            self.store
                .stale_sessions(SessionState::Requested, now - start_timeout)
                .await?
        } else {
            Vec::new()
        };
        for s in requested {
            if self
                .store
                .transition(
                    &s.id,
                    SessionState::Failed,
                    now,
                    Some("the desktop did not start in time"),
                )
                .await?
                .is_some()
            {
                warn!(session_id = %s.id, agent = ?s.agent_id, "container session not ready in time");
                self.fleet_changed();
            }
        }
        for s in self.store.overdue_sessions(now).await? {
            let confirmed = self.end_session(&s, "maximum session length").await?;
            self.audit(
                Audit {
                    actor_name: "system",
                    action: "session.end",
                    success: confirmed,
                    details: Some(serde_json::json!({ "reason": "maximum session length", "owner": s.username })),
                    ..Default::default()
                }
                .on("session", &s.id, Some(&s.workspace_name)),
            )
            .await;
        }
        let starting = if self.heard_for(now, CONNECT_GRACE_MS) {
            self.store
                .stale_sessions(SessionState::Starting, now - CONNECT_GRACE_MS)
                .await?
        } else {
            Vec::new()
        };
        for s in starting {
            if s.token_expires_at + CONNECT_GRACE_MS < now {
                self.store
                    .transition(
                        &s.id,
                        SessionState::Failed,
                        now,
                        Some("no viewer connected before the token expired"),
                    )
                    .await?;
            }
        }
        for s in self
            .store
            .stale_sessions(SessionState::Ending, now - ENDING_GRACE_MS)
            .await?
        {
            // Tell the gateways again; mark it ended either way (its tokens are refused).
            let _ = self
                .gateways
                .end_session(&s.id, (s.token_expires_at / 1000) as u64 + 120)
                .await;
            self.store
                .transition(&s.id, SessionState::Ended, now, None)
                .await?;
        }
        Ok(())
    }

    /// Runs [`Self::reap`] every `every` until the process ends.
    pub fn spawn_reaper(self: &Arc<Self>, every: Duration) {
        let cp = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            let mut failing = false;
            loop {
                tick.tick().await;
                match cp.reap().await {
                    // Back after a pass that failed (the database away):
                    // nobody could be heard meanwhile, start listening anew.
                    Ok(()) if failing => {
                        failing = false;
                        cp.hearing_since_ms.store(now_ms(), Ordering::Relaxed);
                        info!("the reaper runs again; silence is judged from now on");
                    }
                    Ok(()) => {}
                    Err(e) => {
                        failing = true;
                        warn!(error = %e, "session reaper failed");
                    }
                }
                if let Err(e) = cp.store.purge_logins(now_ms()).await {
                    warn!(error = %e, "cannot purge expired logins");
                }
            }
        });
    }
}
