//! Replay cache: what a gateway remembers of the session tokens it took.
//!
//! A session token is short-lived, but a viewer that loses its connection
//! should be able to come back without asking the control plane (which may
//! be away). So a gateway lets a token be presented again after its first
//! use — from the same client address, within the token's reconnection
//! window ([`Reuse`]), a bounded number of times — and refuses every other
//! reuse. A stolen token is therefore worth nothing from another address,
//! and nothing at all once its window has passed.
//!
//! Sans-IO: time is a parameter; the gateway holds one cache behind a lock.

use crate::Reuse;
use std::collections::HashMap;
use std::net::IpAddr;

/// Why a token's reuse was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// Past its expiry and never used here (nothing to reconnect to).
    #[error("token expired")]
    Expired,
    /// Used before from another client address.
    #[error("the token was already used from another address")]
    OtherAddress,
    /// Used before, and its reconnection window has passed.
    #[error("the token's reconnection window has passed")]
    WindowPassed,
    /// Used as many times as it may be.
    #[error("the token was used as many times as it may be")]
    TooManyUses,
    /// The cache holds as many live tokens as it may; a new one cannot be
    /// remembered, so it is not admitted.
    #[error("too many live tokens on this gateway")]
    Full,
}

#[derive(Debug, Clone, Copy)]
struct Use {
    addr: IpAddr,
    first: u64,
    reuses: u16,
    /// After this the entry can go: the token is expired and its window passed.
    forget_at: u64,
}

/// Token ids this gateway admitted, with who presented them and when.
#[derive(Debug)]
pub struct ReplayCache {
    uses: HashMap<String, Use>,
    max_entries: usize,
}

impl ReplayCache {
    /// A cache remembering at most `max_entries` live tokens.
    pub fn new(max_entries: usize) -> Self {
        ReplayCache {
            uses: HashMap::new(),
            max_entries: max_entries.max(1),
        }
    }

    /// Tokens remembered.
    pub fn len(&self) -> usize {
        self.uses.len()
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.uses.is_empty()
    }

    /// Admits token `jti` (expiring at `exp`, `expired` as the verifier
    /// said) presented from `addr` at `now`, under `reuse`, and remembers
    /// the use; refuses a reuse the rules do not allow.
    pub fn admit(
        &mut self,
        jti: &str,
        addr: IpAddr,
        now: u64,
        exp: u64,
        expired: bool,
        reuse: Reuse,
    ) -> Result<(), ReplayError> {
        if let Some(u) = self.uses.get_mut(jti) {
            if u.addr != addr {
                return Err(ReplayError::OtherAddress);
            }
            if now >= u.first.saturating_add(u64::from(reuse.window)) {
                return Err(ReplayError::WindowPassed);
            }
            if u.reuses >= reuse.max {
                return Err(ReplayError::TooManyUses);
            }
            u.reuses += 1;
            return Ok(());
        }
        if expired {
            return Err(ReplayError::Expired);
        }
        if self.uses.len() >= self.max_entries {
            self.prune(now);
            if self.uses.len() >= self.max_entries {
                return Err(ReplayError::Full);
            }
        }
        self.uses.insert(
            jti.to_owned(),
            Use {
                addr,
                first: now,
                reuses: 0,
                forget_at: exp.max(now.saturating_add(u64::from(reuse.window))),
            },
        );
        Ok(())
    }

    /// Forgets tokens that can no longer be admitted anyway. `forget_at`
    /// is past both the expiry and the window, so a forgotten token is
    /// refused as expired if it comes back.
    pub fn prune(&mut self, now: u64) {
        self.uses.retain(|_, u| u.forget_at > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;
    const REUSE: Reuse = Reuse {
        window: 300,
        max: 2,
    };

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn a_token_is_reused_only_from_its_address_within_its_window_a_bounded_number_of_times() {
        let mut c = ReplayCache::new(10);
        c.admit("t", ip(1), NOW, NOW + 60, false, REUSE).unwrap();
        assert_eq!(
            c.admit("t", ip(2), NOW + 1, NOW + 60, false, REUSE),
            Err(ReplayError::OtherAddress)
        );
        // Past its expiry but within the window: a reconnection.
        c.admit("t", ip(1), NOW + 120, NOW + 60, true, REUSE)
            .unwrap();
        c.admit("t", ip(1), NOW + 121, NOW + 60, true, REUSE)
            .unwrap();
        assert_eq!(
            c.admit("t", ip(1), NOW + 122, NOW + 60, true, REUSE),
            Err(ReplayError::TooManyUses)
        );
        let mut c = ReplayCache::new(10);
        c.admit("t", ip(1), NOW, NOW + 60, false, REUSE).unwrap();
        assert_eq!(
            c.admit("t", ip(1), NOW + 300, NOW + 60, true, REUSE),
            Err(ReplayError::WindowPassed)
        );
    }

    #[test]
    fn an_expired_token_never_seen_is_refused() {
        let mut c = ReplayCache::new(10);
        assert_eq!(
            c.admit("t", ip(1), NOW, NOW - 1, true, REUSE),
            Err(ReplayError::Expired)
        );
        assert!(c.is_empty());
    }

    #[test]
    fn the_cache_is_bounded_and_forgets_only_dead_tokens() {
        let mut c = ReplayCache::new(2);
        c.admit("a", ip(1), NOW, NOW + 10, false, REUSE).unwrap();
        c.admit("b", ip(1), NOW, NOW + 10, false, REUSE).unwrap();
        assert_eq!(
            c.admit("c", ip(1), NOW + 5, NOW + 20, false, REUSE),
            Err(ReplayError::Full)
        );
        // Once a and b are past expiry and window, room is made.
        c.admit("c", ip(1), NOW + 300, NOW + 400, false, REUSE)
            .unwrap();
        assert_eq!(c.len(), 1);
        // A forgotten token is expired by then: refused, not admitted afresh.
        assert_eq!(
            c.admit("a", ip(1), NOW + 301, NOW + 10, true, REUSE),
            Err(ReplayError::Expired)
        );
    }
}
