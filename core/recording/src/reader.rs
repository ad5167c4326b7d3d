//! Reading a recording and judging it: complete, cut short, or tampered.

use crate::chain::{Chain, SIGNATURE_DOMAIN};
use crate::format::{FormatError, Header, Record, RecordKind, decode_header, decode_record};
use oriel_core_token::{Kid, TokenVerifier};

/// What a recording's chain says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Ended with END and a final checkpoint; every record is signed.
    Complete,
    /// Cut short (the gateway stopped or crashed): playable up to its last
    /// record, every record up to `verified_records` signed, the rest not.
    Incomplete {
        /// Records covered by a checkpoint.
        verified_records: usize,
    },
    /// Changed after it was written: the chain or a signature breaks at
    /// byte `at`.
    Tampered {
        /// Offset of the record where it shows.
        at: usize,
        /// What does not hold.
        reason: String,
    },
}

/// A recording read.
#[derive(Debug, Clone)]
pub struct Recording {
    /// Who and what.
    pub header: Header,
    /// The records in order (checkpoints left out), each with its offset.
    pub records: Vec<(usize, Record)>,
    /// The judgement.
    pub verdict: Verdict,
}

/// Reads `bytes`, checking the checkpoints' signatures with `keys` (the
/// recording gateways' public keys).
pub fn read(bytes: &[u8], keys: &TokenVerifier) -> Result<Recording, FormatError> {
    let (header, mut at) = decode_header(bytes)?;
    let kid = Kid::parse(&header.key_id);
    let mut chain = Chain::new(&bytes[..at]);
    let mut records = Vec::new();
    let mut verified = 0;
    let mut ended = false;
    let tampered = |at, reason: &str| Verdict::Tampered {
        at,
        reason: reason.to_owned(),
    };
    let verdict = loop {
        let (record, next) = match decode_record(bytes, at) {
            Ok(Some(r)) => r,
            Ok(None) => {
                break if at == bytes.len() && ended && verified == records.len() {
                    Verdict::Complete
                } else {
                    Verdict::Incomplete {
                        verified_records: verified,
                    }
                };
            }
            Err(_) => break tampered(at, "a record that cannot be read"),
        };
        if record.kind == RecordKind::Checkpoint {
            let (seq, hash) = chain.checkpoint();
            let p = &record.payload;
            if p.len() != 100 || p[..4] != seq.to_be_bytes() || p[4..36] != hash {
                break tampered(at, "the records do not match their checkpoint");
            }
            let signed = Chain::signed_bytes(&header.session_id, seq, record.time_us, &hash);
            let good = kid.as_ref().is_some_and(|k| {
                keys.verify_bytes(k, SIGNATURE_DOMAIN, &signed, &p[36..])
                    .is_ok()
            });
            if !good {
                break tampered(at, "a checkpoint is not signed by a known gateway key");
            }
            verified = records.len();
        } else {
            if ended {
                break tampered(at, "records after the end");
            }
            chain.feed(&bytes[at..next]);
            ended = record.kind == RecordKind::End;
            records.push((at, record));
        }
        at = next;
    };
    Ok(Recording {
        header,
        records,
        verdict,
    })
}
