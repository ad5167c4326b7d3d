//! Writing a recording, sans I/O: each call returns the bytes to append.

use crate::chain::{Chain, SIGNATURE_DOMAIN};
use crate::format::{Header, Record, RecordKind, encode_header};
use oriel_core_token::TokenSigner;

/// A recording being written.
#[derive(Debug)]
pub struct Writer {
    session_id: String,
    chain: Chain,
    /// Records since the last checkpoint.
    unsigned: usize,
}

impl Writer {
    /// Starts a recording: the writer and the header's bytes.
    pub fn new(header: &Header) -> (Self, Vec<u8>) {
        let bytes = encode_header(header);
        let w = Writer {
            session_id: header.session_id.clone(),
            chain: Chain::new(&bytes),
            unsigned: 0,
        };
        (w, bytes)
    }

    /// A record's bytes (message, keyframe, event or end).
    pub fn record(&mut self, kind: RecordKind, time_us: u64, payload: &[u8]) -> Vec<u8> {
        debug_assert!(kind != RecordKind::Checkpoint);
        let mut out = Vec::new();
        Record {
            kind,
            time_us,
            payload: payload.to_vec(),
        }
        .encode(&mut out);
        self.chain.feed(&out);
        self.unsigned += 1;
        out
    }

    /// Records written since the last checkpoint.
    pub fn unsigned(&self) -> usize {
        self.unsigned
    }

    /// A checkpoint signed by `signer`: the chain so far cannot be changed
    /// without it showing.
    pub fn checkpoint(&mut self, time_us: u64, signer: &TokenSigner) -> Vec<u8> {
        let (seq, hash) = self.chain.checkpoint();
        let signature = signer.sign_bytes(
            SIGNATURE_DOMAIN,
            &Chain::signed_bytes(&self.session_id, seq, time_us, &hash),
        );
        let mut payload = Vec::with_capacity(100);
        payload.extend_from_slice(&seq.to_be_bytes());
        payload.extend_from_slice(&hash);
        payload.extend_from_slice(&signature);
        let mut out = Vec::new();
        Record {
            kind: RecordKind::Checkpoint,
            time_us,
            payload,
        }
        .encode(&mut out);
        self.unsigned = 0;
        out
    }
}
