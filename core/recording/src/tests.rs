//! Write a recording, read it back; cut it short at every byte; change any
//! byte; sign with another key.

use super::*;
use oriel_core_token::{TokenSigner, TokenVerifier};

fn signer(seed: u8) -> TokenSigner {
    TokenSigner::from_seed(&[seed; 32]).unwrap()
}

fn header(s: &TokenSigner) -> Header {
    Header {
        session_id: "s-1".into(),
        user_id: "u-1".into(),
        user: "alice".into(),
        workspace: "desk".into(),
        kind: "vnc".into(),
        gateway: "gw-1".into(),
        key_id: s.kid().as_str().to_owned(),
        started_us: 1_000,
        keystrokes: false,
    }
}

/// A complete recording of a few records with two checkpoints.
fn recording(s: &TokenSigner) -> Vec<u8> {
    let (mut w, mut bytes) = Writer::new(&header(s));
    bytes.extend(w.record(RecordKind::Message, 1_001, b"hello"));
    bytes.extend(w.record(RecordKind::Keyframe, 1_002, &[7; 300]));
    bytes.extend(w.record(RecordKind::Event, 1_003, br#"{"type":"resize"}"#));
    bytes.extend(w.checkpoint(1_004, s));
    bytes.extend(w.record(RecordKind::Message, 1_005, b"frame"));
    bytes.extend(w.record(RecordKind::End, 1_006, br#"{"reason":"ended"}"#));
    bytes.extend(w.checkpoint(1_007, s));
    bytes
}

fn keys(s: &TokenSigner) -> TokenVerifier {
    TokenVerifier::new([s.public_key()])
}

#[test]
fn a_recording_reads_back_complete() {
    let s = signer(1);
    let r = read(&recording(&s), &keys(&s)).unwrap();
    assert_eq!(r.verdict, Verdict::Complete);
    assert_eq!(r.header, header(&s));
    let kinds: Vec<_> = r.records.iter().map(|(_, r)| r.kind).collect();
    use RecordKind::*;
    assert_eq!(kinds, vec![Message, Keyframe, Event, Message, End]);
    assert_eq!(r.records[1].1.payload, vec![7; 300]);
    assert_eq!(r.records[4].1.time_us, 1_006);
}

#[test]
fn a_recording_cut_short_anywhere_is_incomplete_and_playable_up_to_the_cut() {
    let s = signer(1);
    let full = recording(&s);
    let (_, header_len) = format::decode_header(&full).unwrap();
    for cut in 0..full.len() {
        match read(&full[..cut], &keys(&s)) {
            Err(FormatError::NotARecording | FormatError::Header(_)) => {
                assert!(
                    cut < header_len,
                    "header errors only inside the header ({cut})"
                )
            }
            Err(e) => panic!("cut at {cut}: {e}"),
            Ok(r) => {
                let Verdict::Incomplete { verified_records } = r.verdict else {
                    panic!("cut at {cut}: {:?}", r.verdict)
                };
                assert!(verified_records <= r.records.len());
                assert!(verified_records == 0 || verified_records == 3 || verified_records == 5);
            }
        }
    }
}

#[test]
fn any_changed_byte_shows() {
    let s = signer(1);
    let full = recording(&s);
    for i in 0..full.len() {
        let mut bad = full.clone();
        bad[i] ^= 0x20;
        match read(&bad, &keys(&s)) {
            Err(_) => {}
            Ok(r) => assert_ne!(r.verdict, Verdict::Complete, "byte {i} changed unseen"),
        }
    }
    // Records removed, or the order changed: the checkpoint breaks.
    let r = read(&full, &keys(&s)).unwrap();
    let (a, b) = (r.records[0].0, r.records[1].0);
    let mut removed = full[..a].to_vec();
    removed.extend_from_slice(&full[b..]);
    assert!(matches!(
        read(&removed, &keys(&s)).unwrap().verdict,
        Verdict::Tampered { .. }
    ));
}

#[test]
fn a_recording_signed_by_an_unknown_key_is_not_trusted() {
    let s = signer(1);
    let r = read(&recording(&s), &keys(&signer(2))).unwrap();
    assert!(
        matches!(&r.verdict, Verdict::Tampered { reason, .. } if reason.contains("key")),
        "{:?}",
        r.verdict
    );
}

#[test]
fn garbage_is_not_a_recording() {
    let s = signer(1);
    assert_eq!(
        read(b"", &keys(&s)).unwrap_err(),
        FormatError::NotARecording
    );
    assert_eq!(
        read(&[0u8; 100], &keys(&s)).unwrap_err(),
        FormatError::NotARecording
    );
}

proptest::proptest! {
    /// Whatever follows a valid header, reading never panics.
    #[test]
    fn reading_arbitrary_records_never_panics(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
        let s = signer(1);
        let (_, mut bytes) = Writer::new(&header(&s));
        bytes.extend(tail);
        let _ = read(&bytes, &keys(&s));
    }
}
