//! The hash chain over a recording's records and its signed checkpoints.
//!
//! `h₀ = SHA-256("oriel-recording-1" ‖ header bytes)`; at checkpoint `n`,
//! `hₙ = SHA-256(hₙ₋₁ ‖ the bytes of every record since checkpoint n−1)`
//! (checkpoints themselves excluded), and the gateway signs
//! `session id ‖ 0 ‖ n (u32) ‖ time (u64) ‖ hₙ` in the domain
//! [`SIGNATURE_DOMAIN`]. Changing, removing, adding or reordering any
//! record before a checkpoint breaks that checkpoint.

use ring::digest::{Context, SHA256};

/// The signature domain of checkpoints ([`oriel_core_token::TokenSigner::sign_bytes`]).
pub const SIGNATURE_DOMAIN: &str = "oriel-recording-checkpoint-1";

/// The chain's state.
#[derive(Clone)]
pub struct Chain {
    hash: [u8; 32],
    segment: Context,
    seq: u32,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("seq", &self.seq).finish()
    }
}

impl Chain {
    /// The chain of a recording with these header bytes.
    pub fn new(header: &[u8]) -> Self {
        let mut c = Context::new(&SHA256);
        c.update(b"oriel-recording-1");
        c.update(header);
        let mut hash = [0u8; 32];
        hash.copy_from_slice(c.finish().as_ref());
        Chain {
            segment: Self::segment(&hash),
            hash,
            seq: 0,
        }
    }

    fn segment(previous: &[u8; 32]) -> Context {
        let mut c = Context::new(&SHA256);
        c.update(previous);
        c
    }

    /// A record's bytes (not a checkpoint's).
    pub fn feed(&mut self, record: &[u8]) {
        self.segment.update(record);
    }

    /// Closes the segment: the checkpoint's number and hash.
    pub fn checkpoint(&mut self) -> (u32, [u8; 32]) {
        let done = std::mem::replace(&mut self.segment, Context::new(&SHA256));
        self.hash.copy_from_slice(done.finish().as_ref());
        self.seq += 1;
        self.segment = Self::segment(&self.hash);
        (self.seq, self.hash)
    }

    /// What the gateway signs at a checkpoint.
    pub fn signed_bytes(session_id: &str, seq: u32, time_us: u64, hash: &[u8; 32]) -> Vec<u8> {
        let mut m = Vec::with_capacity(session_id.len() + 45);
        m.extend_from_slice(session_id.as_bytes());
        m.push(0);
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(&time_us.to_be_bytes());
        m.extend_from_slice(hash);
        m
    }
}
