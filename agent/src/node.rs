//! The agent's loop: the node process's conversation with the control
//! plane's fleet.
//!
//! The agent connects **out** to the control plane: it registers (zone,
//! capacity, labels), then long-polls for the set of sessions it should run
//! — every poll is a heartbeat. It launches what it lacks (reporting each
//! desktop ready with its address and per-session VNC password, or failed),
//! and removes whatever of its own the set no longer has: sessions ended,
//! failed, or unknown after a crash. It reaches the control plane through a
//! [`ControlLink`] and runs sessions through a [`SessionRuntime`], nothing
//! else.

mod https;
mod link;

pub use https::{HttpsLink, HttpsLinkError};
pub use link::{ControlLink, LinkError};

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use oriel_core_agent_protocol::{
    AgentHello, AgentPoll, AgentReport, MAX_POLL_WAIT_MS, ReadyDesktop, ReportOutcome,
    WantedSession,
};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::runtime::{ReconcileReport, SessionRuntime};
use crate::{ContainerSpec, SessionId};

/// Called with every session this agent stops running.
pub type EndedHook = Box<dyn Fn(&str) + Send + Sync>;

/// Longest wait between retries when the control plane or the runtime
/// cannot be reached.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Pause after a failed poll or listing.
const RETRY: Duration = Duration::from_secs(2);

/// An agent: registers with the control plane through `L`, then converges
/// the sessions of runtime `R` on what the control plane wants, until the
/// process ends ([`Agent::run`]).
pub struct Agent<L, R> {
    link: L,
    runtime: Arc<R>,
    hello: AgentHello,
    reconcile_every: Duration,
    /// Sessions being launched (the reconciler must not remove them).
    launching: Mutex<HashSet<String>>,
    on_ended: Option<EndedHook>,
}

impl<L, R> std::fmt::Debug for Agent<L, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("id", &self.hello.id)
            .field("zone", &self.hello.zone)
            .finish_non_exhaustive()
    }
}

impl<L: ControlLink, R: SessionRuntime> Agent<L, R> {
    /// An agent announcing itself with `hello`, which removes what the
    /// control plane does not know at least every `reconcile_every` (and at
    /// once when a session it runs is no longer wanted).
    pub fn new(link: L, runtime: Arc<R>, hello: AgentHello, reconcile_every: Duration) -> Self {
        Agent {
            link,
            runtime,
            hello,
            reconcile_every,
            launching: Mutex::new(HashSet::new()),
            on_ended: None,
        }
    }

    /// Calls `hook` with every session this agent stops running (`oriel
    /// agent`: its node gateway closes the streams at once and refuses the
    /// tokens).
    pub fn on_ended(mut self, hook: EndedHook) -> Self {
        self.on_ended = Some(hook);
        self
    }

    fn launching(&self) -> MutexGuard<'_, HashSet<String>> {
        self.launching
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    async fn register(&self) {
        let mut backoff = Duration::from_millis(250);
        loop {
            match self.link.register(&self.hello).await {
                Ok(_) => {
                    info!(agent = %self.hello.id, zone = %self.hello.zone, "registered with the control plane");
                    return;
                }
                Err(e) => {
                    warn!(error = %e, retry_in = ?backoff, "cannot register with the control plane");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Registers, then polls and converges until the process ends.
    pub async fn run(self: Arc<Self>) {
        self.register().await;
        let mut last_reconcile: Option<Instant> = None;
        loop {
            let mut have: HashSet<String> = match self.runtime.sessions().await {
                Ok(s) => s.into_iter().map(|s| s.as_str().to_owned()).collect(),
                Err(e) => {
                    warn!(error = %e, "cannot list this agent's containers");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            have.extend(self.launching().iter().cloned());
            let poll = AgentPoll {
                id: self.hello.id.clone(),
                running: have.iter().cloned().collect(),
                wait_ms: MAX_POLL_WAIT_MS,
            };
            let orders = match self.link.poll(&poll).await {
                Ok(o) => o,
                Err(LinkError::Unregistered) => {
                    self.register().await;
                    continue;
                }
                Err(e) => {
                    // Nothing is removed while the control plane is away.
                    warn!(error = %e, "cannot poll the control plane");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            let wanted: HashSet<String> = orders.sessions.iter().map(|w| w.id.clone()).collect();
            for w in orders.sessions {
                if !have.contains(&w.id) {
                    if w.launched {
                        self.report_failed(&w.id, "the session's container is gone")
                            .await;
                    } else {
                        self.start(w);
                    }
                }
            }
            let stale = have.iter().any(|s| !wanted.contains(s));
            if let Some(hook) = &self.on_ended {
                let launching = self.launching().clone();
                for s in have
                    .iter()
                    .filter(|s| !wanted.contains(*s) && !launching.contains(*s))
                {
                    hook(s);
                }
            }
            if stale || last_reconcile.is_none_or(|t| t.elapsed() >= self.reconcile_every) {
                self.reconcile(&wanted).await;
                last_reconcile = Some(Instant::now());
            }
        }
    }

    /// Removes what neither the control plane wants nor a launch in flight
    /// is creating.
    async fn reconcile(&self, wanted: &HashSet<String>) {
        let mut keep: HashSet<SessionId> = wanted
            .iter()
            .filter_map(|s| SessionId::new(s.as_str()).ok())
            .collect();
        keep.extend(
            self.launching()
                .iter()
                .filter_map(|s| SessionId::new(s.as_str()).ok()),
        );
        match self.runtime.reconcile(&keep).await {
            Ok(r) if r != ReconcileReport::default() => {
                info!(report = ?r, "removed what no session needs any more");
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "reconcile pass failed"),
        }
    }

    fn start(self: &Arc<Self>, w: WantedSession) {
        if !self.launching().insert(w.id.clone()) {
            return;
        }
        let me = Arc::clone(self);
        tokio::spawn(async move {
            me.launch(&w).await;
            me.launching().remove(&w.id);
        });
    }

    async fn launch(&self, w: &WantedSession) {
        let Some(settings) = &w.container else {
            self.report_failed(&w.id, "the workspace was deleted").await;
            return;
        };
        let sid = match SessionId::new(w.id.as_str()) {
            Ok(s) => s,
            Err(e) => {
                self.report_failed(&w.id, &e.to_string()).await;
                return;
            }
        };
        let running = match self
            .runtime
            .launch(&ContainerSpec::from(settings), &sid)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                self.report_failed(&w.id, &e.to_string()).await;
                return;
            }
        };
        let report = AgentReport::ready(
            &self.hello.id,
            &w.id,
            ReadyDesktop {
                host: running.vnc_addr.ip().to_string(),
                port: running.vnc_addr.port(),
                password: running.vnc_password.clone(),
            },
        );
        match self.link.report(&report).await {
            Ok(ReportOutcome::Accepted) => {}
            Ok(ReportOutcome::NotWanted) => {
                info!(session_id = %w.id, "session ended while its container started; removing it");
                if let Err(e) = self.runtime.end(&sid).await {
                    warn!(session_id = %w.id, error = %e, "cannot remove an unwanted container");
                }
            }
            // The next poll sees it running; if the control plane never
            // heard, its start timeout fails the session and the
            // reconciler removes the container.
            Err(e) => warn!(session_id = %w.id, error = %e, "cannot report a ready container"),
        }
    }

    async fn report_failed(&self, session: &str, why: &str) {
        let report = AgentReport::failed(&self.hello.id, session, why);
        if let Err(e) = self.link.report(&report).await {
            warn!(session_id = %session, error = %e, "cannot report a failed container");
        }
    }
}
