//! Revocation lists: the control plane's signed word that some tokens,
//! sessions or users are no longer admitted, before their tokens expire.
//!
//! The control plane publishes the whole list (prefix `rv1`), numbered by
//! `seq`; gateways fetch it, are sent it, and keep the newest they hold —
//! an older or equal `seq` changes nothing, so a list replayed by anyone,
//! or delivered out of order, cannot undo a revocation. Entries carry the
//! time until which they matter (past it, every token they could refuse
//! has expired anyway), so the list stays short.

use crate::{CLAIMS_VERSION, SessionClaims};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Largest revocation list accepted, in bytes.
pub const MAX_REVOCATION_LIST_LEN: usize = 4 << 20;

/// One revoked token, session or user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revoked {
    /// Token id (`jti`), session id or user id.
    pub id: String,
    /// For users: tokens issued at or before this time (Unix seconds) are
    /// refused; the user's later tokens are not. For tokens and sessions:
    /// when it was revoked.
    pub at: u64,
    /// Unix seconds after which the entry no longer matters.
    pub until: u64,
}

/// A revocation list (prefix `rv1`), signed by the control plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationClaims {
    /// Claims version, [`CLAIMS_VERSION`].
    pub v: u8,
    /// Increases with every change; a gateway applies only a newer list.
    pub seq: u64,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Not valid before, Unix seconds.
    pub nbf: u64,
    /// Expires at, Unix seconds: a list older than this is not accepted
    /// (the one a gateway holds stays in force).
    pub exp: u64,
    /// Revoked token ids.
    #[serde(default)]
    pub tokens: Vec<Revoked>,
    /// Revoked sessions: none of their tokens is admitted.
    #[serde(default)]
    pub sessions: Vec<Revoked>,
    /// Revoked users: their tokens issued until the revocation are not admitted.
    #[serde(default)]
    pub users: Vec<Revoked>,
    /// Revoked share links: no token of theirs (`watcher.link`) is admitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Revoked>,
}

impl RevocationClaims {
    /// An empty list of sequence number 0 (what a gateway holds first).
    pub fn empty() -> Self {
        RevocationClaims {
            v: CLAIMS_VERSION,
            seq: 0,
            iat: 0,
            nbf: 0,
            exp: 1,
            tokens: Vec::new(),
            sessions: Vec::new(),
            users: Vec::new(),
            links: Vec::new(),
        }
    }
}

/// Why a session token is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The token itself.
    Token,
    /// Its session.
    Session,
    /// Its user.
    User,
    /// The share link it was issued for.
    Link,
}

impl Revocation {
    /// Label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Revocation::Token => "token",
            Revocation::Session => "session",
            Revocation::User => "user",
            Revocation::Link => "link",
        }
    }
}

/// A list that is not newer than the one held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("revocation list {offered} is not newer than the one held ({held})")]
pub struct Stale {
    /// The offered list's number.
    pub offered: u64,
    /// The held list's number.
    pub held: u64,
}

/// The revocation list a gateway holds, indexed for admission checks.
#[derive(Debug, Default)]
pub struct RevocationList {
    seq: u64,
    tokens: HashMap<String, u64>,
    sessions: HashMap<String, u64>,
    /// User id → (revoked at, until).
    users: HashMap<String, (u64, u64)>,
    links: HashMap<String, u64>,
}

impl RevocationList {
    /// An empty list (sequence 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// The sequence number held.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.tokens.len() + self.sessions.len() + self.users.len() + self.links.len()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces the list with `list` (already verified) if it is newer,
    /// dropping entries that no longer matter at `now`.
    pub fn apply(&mut self, list: &RevocationClaims, now: u64) -> Result<(), Stale> {
        if list.seq <= self.seq {
            return Err(Stale {
                offered: list.seq,
                held: self.seq,
            });
        }
        let live = |r: &&Revoked| r.until > now;
        self.seq = list.seq;
        self.tokens = list
            .tokens
            .iter()
            .filter(live)
            .map(|r| (r.id.clone(), r.until))
            .collect();
        self.sessions = list
            .sessions
            .iter()
            .filter(live)
            .map(|r| (r.id.clone(), r.until))
            .collect();
        self.users = list
            .users
            .iter()
            .filter(live)
            .map(|r| (r.id.clone(), (r.at, r.until)))
            .collect();
        self.links = list
            .links
            .iter()
            .filter(live)
            .map(|r| (r.id.clone(), r.until))
            .collect();
        Ok(())
    }

    /// Whether `claims` is revoked.
    pub fn check(&self, claims: &SessionClaims) -> Option<Revocation> {
        let link = claims.watcher.as_ref().and_then(|w| w.link.as_deref());
        self.check_ids(&claims.jti, &claims.sid, &claims.sub, claims.iat)
            .or_else(|| self.check_link(link))
    }

    /// Whether the share link a token was issued for is revoked.
    pub fn check_link(&self, link: Option<&str>) -> Option<Revocation> {
        link.filter(|l| self.links.contains_key(*l))
            .map(|_| Revocation::Link)
    }

    /// Whether the token `jti` of session `sid`, issued to user `sub` at
    /// `iat`, is revoked.
    pub fn check_ids(&self, jti: &str, sid: &str, sub: &str, iat: u64) -> Option<Revocation> {
        if self.tokens.contains_key(jti) {
            return Some(Revocation::Token);
        }
        if self.sessions.contains_key(sid) {
            return Some(Revocation::Session);
        }
        match self.users.get(sub) {
            Some(&(at, _)) if iat <= at => Some(Revocation::User),
            _ => None,
        }
    }

    /// Drops entries that no longer matter at `now`.
    pub fn prune(&mut self, now: u64) {
        self.tokens.retain(|_, until| *until > now);
        self.sessions.retain(|_, until| *until > now);
        self.users.retain(|_, (_, until)| *until > now);
        self.links.retain(|_, until| *until > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn entry(id: &str, at: u64) -> Revoked {
        Revoked {
            id: id.into(),
            at,
            until: NOW + 600,
        }
    }

    fn list(seq: u64) -> RevocationClaims {
        RevocationClaims {
            seq,
            iat: NOW,
            nbf: NOW,
            exp: NOW + 3600,
            ..RevocationClaims::empty()
        }
    }

    #[test]
    fn only_a_newer_list_is_applied() {
        let mut held = RevocationList::new();
        let mut l = list(2);
        l.sessions.push(entry("s", NOW));
        held.apply(&l, NOW).unwrap();
        assert_eq!(held.seq(), 2);
        // An older list (replayed, or late) cannot undo the revocation.
        assert_eq!(
            held.apply(&list(1), NOW),
            Err(Stale {
                offered: 1,
                held: 2
            })
        );
        assert_eq!(held.apply(&list(2), NOW).unwrap_err().held, 2);
        assert_eq!(held.len(), 1);
        held.apply(&list(3), NOW).unwrap();
        assert!(held.is_empty());
    }

    #[test]
    fn entries_past_their_time_are_dropped() {
        let mut held = RevocationList::new();
        let mut l = list(1);
        l.tokens.push(entry("t", NOW));
        l.tokens.push(Revoked {
            until: NOW,
            ..entry("old", NOW)
        });
        held.apply(&l, NOW).unwrap();
        assert_eq!(held.len(), 1);
        held.prune(NOW + 600);
        assert!(held.is_empty());
    }
}
