//! Live streams by session, and sessions that were ended.
//!
//! The gateway has no database: what it knows about ended sessions comes
//! from signed commands of the control plane and lives here, in memory, only
//! until the last token of the session would have expired anyway.

use crate::session::SessionHandle;
use oriel_core_token::{Revocation, RevocationList};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;

/// Why a live stream is being told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The session was ended by the control plane.
    Ended,
    /// The stream's token, session or user was revoked.
    Revoked(Revocation),
}

/// The error a stopped stream ends with.
pub(crate) fn stop_error(why: StopReason) -> oriel_core_model::SessionError {
    use oriel_core_model::{SessionError, SessionErrorKind};
    match why {
        StopReason::Ended | StopReason::Revoked(Revocation::Session) => {
            SessionError::new(SessionErrorKind::Ended, "ended by the control plane")
        }
        StopReason::Revoked(Revocation::Token) => {
            SessionError::new(SessionErrorKind::Forbidden, "the token has been revoked")
        }
        StopReason::Revoked(Revocation::User) => SessionError::new(
            SessionErrorKind::Forbidden,
            "the user's access has been revoked",
        ),
        StopReason::Revoked(Revocation::Link) => SessionError::new(
            SessionErrorKind::Forbidden,
            "the share link has been revoked",
        ),
    }
}

/// The token a stream was admitted with, as revocations name it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRef {
    /// Token id.
    pub jti: String,
    /// User id.
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// The share link it was issued for, if any.
    pub link: Option<String>,
}

/// One live stream: its id, stop signal and token.
struct Stream {
    id: u64,
    stop: watch::Sender<Option<StopReason>>,
    token: TokenRef,
}

/// The way into a session's running upstream, shared by its streams: the
/// first connects the target and puts its handle here; the others join it.
pub(crate) type UpstreamSlot = Arc<tokio::sync::Mutex<Option<SessionHandle>>>;

#[derive(Default)]
struct Live {
    streams: Vec<Stream>,
    upstream: UpstreamSlot,
}

#[derive(Default)]
struct Inner {
    live: HashMap<String, Live>,
    /// Session id → Unix seconds until which its tokens are refused.
    ended: HashMap<String, u64>,
}

/// Streams and ended sessions of this gateway.
#[derive(Clone, Default)]
pub struct SessionRegistry {
    inner: Arc<Mutex<Inner>>,
    next_id: Arc<AtomicU64>,
}

impl std::fmt::Debug for SessionRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.inner.lock();
        f.debug_struct("SessionRegistry")
            .field("sessions", &inner.live.len())
            .field("ended", &inner.ended.len())
            .finish()
    }
}

/// A registered stream; unregisters itself when dropped.
#[derive(Debug)]
pub struct StreamGuard {
    registry: SessionRegistry,
    session_id: String,
    id: u64,
    upstream: UpstreamSlot,
    /// Changes to `Some` when the stream must stop.
    pub stop: watch::Receiver<Option<StopReason>>,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut inner = self.registry.inner.lock();
        if let Some(live) = inner.live.get_mut(&self.session_id) {
            live.streams.retain(|s| s.id != self.id);
            if live.streams.is_empty() {
                inner.live.remove(&self.session_id);
            }
        }
    }
}

impl StreamGuard {
    /// The session's upstream, shared with the other streams of the session.
    pub(crate) fn upstream(&self) -> UpstreamSlot {
        Arc::clone(&self.upstream)
    }
}

impl SessionRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a stream of `session_id` at `now` (Unix seconds), unless the
    /// session was ended.
    pub fn register(
        &self,
        session_id: &str,
        token: TokenRef,
        now: u64,
    ) -> Result<StreamGuard, StopReason> {
        let mut inner = self.inner.lock();
        inner.ended.retain(|_, until| *until > now);
        if inner.ended.contains_key(session_id) {
            return Err(StopReason::Ended);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(None);
        let live = inner.live.entry(session_id.to_owned()).or_default();
        live.streams.push(Stream {
            id,
            stop: tx,
            token,
        });
        Ok(StreamGuard {
            registry: self.clone(),
            session_id: session_id.to_owned(),
            id,
            upstream: Arc::clone(&live.upstream),
            stop: rx,
        })
    }

    /// Ends a session: its streams stop now and its tokens are refused until
    /// `until` (Unix seconds). Returns the number of streams told to stop.
    pub fn end(&self, session_id: &str, until: u64) -> usize {
        let mut inner = self.inner.lock();
        let entry = inner.ended.entry(session_id.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
        let streams = inner
            .live
            .remove(session_id)
            .map(|l| l.streams)
            .unwrap_or_default();
        for s in &streams {
            let _ = s.stop.send(Some(StopReason::Ended));
        }
        streams.len()
    }

    /// Stops the live streams that `list` revokes. Returns how many.
    pub fn end_revoked(&self, list: &RevocationList) -> usize {
        let mut inner = self.inner.lock();
        let mut stopped = 0;
        inner.live.retain(|sid, live| {
            live.streams.retain(|s| {
                let why = list
                    .check_ids(&s.token.jti, sid, &s.token.sub, s.token.iat)
                    .or_else(|| list.check_link(s.token.link.as_deref()));
                match why {
                    Some(why) => {
                        let _ = s.stop.send(Some(StopReason::Revoked(why)));
                        stopped += 1;
                        false
                    }
                    None => true,
                }
            });
            !live.streams.is_empty()
        });
        stopped
    }

    /// The session's running upstream, if it has one here.
    pub(crate) async fn upstream_of(&self, session_id: &str) -> Option<SessionHandle> {
        let slot = {
            let inner = self.inner.lock();
            Arc::clone(&inner.live.get(session_id)?.upstream)
        };
        let handle = slot.lock().await;
        handle.clone().filter(|h| !h.is_closed())
    }

    /// The sessions with at least one live stream, sorted.
    pub fn session_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.inner.lock().live.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Sessions with at least one live stream.
    pub fn active_sessions(&self) -> usize {
        self.inner.lock().live.len()
    }

    /// Live streams.
    pub fn active_streams(&self) -> usize {
        self.inner
            .lock()
            .live
            .values()
            .map(|l| l.streams.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_of_one_session_share_one_upstream_slot() {
        let r = SessionRegistry::new();
        let a = r.register("s1", TokenRef::default(), 100).unwrap();
        let b = r.register("s1", TokenRef::default(), 100).unwrap();
        let other = r.register("s2", TokenRef::default(), 100).unwrap();
        assert!(Arc::ptr_eq(&a.upstream(), &b.upstream()));
        assert!(!Arc::ptr_eq(&a.upstream(), &other.upstream()));
        drop((a, b));
        let c = r.register("s1", TokenRef::default(), 100).unwrap();
        assert!(
            c.upstream().try_lock().unwrap().is_none(),
            "a new session, a new slot"
        );
    }

    #[test]
    fn ending_stops_streams_and_refuses_new_ones_until_expiry() {
        let r = SessionRegistry::new();
        let a = r.register("s1", TokenRef::default(), 100).unwrap();
        let b = r.register("s1", TokenRef::default(), 100).unwrap();
        let _c = r.register("s2", TokenRef::default(), 100).unwrap();
        assert_eq!(r.active_sessions(), 2);
        assert_eq!(r.active_streams(), 3);
        assert_eq!(r.end("s1", 200), 2);
        assert_eq!(*a.stop.borrow(), Some(StopReason::Ended));
        assert_eq!(*b.stop.borrow(), Some(StopReason::Ended));
        assert_eq!(
            r.register("s1", TokenRef::default(), 150).unwrap_err(),
            StopReason::Ended
        );
        assert!(
            r.register("s1", TokenRef::default(), 200).is_ok(),
            "refusal lapses with the tokens"
        );
        // The ended streams were already removed; dropping them changes nothing.
        drop((a, b));
        assert_eq!(r.active_sessions(), 1);
        assert_eq!(r.active_streams(), 1);
    }

    #[test]
    fn a_revocation_list_stops_the_streams_it_names() {
        let r = SessionRegistry::new();
        let token = |jti: &str, sub: &str| TokenRef {
            jti: jti.into(),
            sub: sub.into(),
            iat: 100,
            link: None,
        };
        let a = r.register("s1", token("t1", "alice"), 100).unwrap();
        let b = r.register("s2", token("t2", "bob"), 100).unwrap();
        let c = r.register("s3", token("t3", "alice"), 100).unwrap();
        let mut list = oriel_core_token::RevocationClaims {
            seq: 1,
            exp: 1000,
            ..oriel_core_token::RevocationClaims::empty()
        };
        list.users.push(oriel_core_token::Revoked {
            id: "alice".into(),
            at: 100,
            until: 1000,
        });
        let mut held = RevocationList::new();
        held.apply(&list, 100).unwrap();
        assert_eq!(r.end_revoked(&held), 2);
        assert_eq!(
            *a.stop.borrow(),
            Some(StopReason::Revoked(Revocation::User))
        );
        assert_eq!(*c.stop.borrow(), *a.stop.borrow());
        assert_eq!(*b.stop.borrow(), None);
        assert_eq!(r.session_ids(), vec!["s2".to_owned()]);

        // A share link revoked stops its guests' streams, not the owner's.
        let guest = r
            .register(
                "s2",
                TokenRef {
                    link: Some("link-1".into()),
                    ..token("t4", "carol")
                },
                100,
            )
            .unwrap();
        list.seq = 2;
        list.users.clear();
        list.links.push(oriel_core_token::Revoked {
            id: "link-1".into(),
            at: 100,
            until: 1000,
        });
        held.apply(&list, 100).unwrap();
        assert_eq!(r.end_revoked(&held), 1);
        assert_eq!(
            *guest.stop.borrow(),
            Some(StopReason::Revoked(Revocation::Link))
        );
        assert_eq!(*b.stop.borrow(), None);
    }

    #[test]
    fn guards_unregister_on_drop() {
        let r = SessionRegistry::new();
        let g = r.register("s", TokenRef::default(), 0).unwrap();
        assert_eq!(r.active_streams(), 1);
        drop(g);
        assert_eq!(r.active_streams(), 0);
        assert_eq!(r.active_sessions(), 0);
    }
}
