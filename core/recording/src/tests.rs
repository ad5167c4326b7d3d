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

fn terminal(time_us: u64, entry: TerminalEntry) -> Record {
    Record {
        kind: RecordKind::Terminal,
        time_us,
        payload: entry.to_payload(),
    }
}

fn output(time_us: u64, bytes: &[u8]) -> Record {
    terminal(time_us, TerminalEntry::Output(bytes.to_vec()))
}

#[test]
fn terminal_entries_round_trip_and_unknown_ones_are_skipped() {
    for e in [
        TerminalEntry::Output(b"ls\r\n".to_vec()),
        TerminalEntry::Output(Vec::new()),
        TerminalEntry::Grid {
            cols: 132,
            rows: 43,
        },
    ] {
        assert_eq!(TerminalEntry::from_payload(&e.to_payload()), Some(e));
    }
    assert_eq!(TerminalEntry::from_payload(&[]), None);
    assert_eq!(TerminalEntry::from_payload(&[1, 0, 80]), None);
    assert_eq!(TerminalEntry::from_payload(&[9, 1, 2]), None);
}

#[test]
fn a_terminal_track_is_written_read_back_and_turned_into_asciicast() {
    let s = signer(1);
    let mut h = header(&s);
    h.kind = "ssh".into();
    h.started_us = 10_000_000;
    let (mut w, mut bytes) = Writer::new(&h);
    let grid = TerminalEntry::Grid {
        cols: 100,
        rows: 30,
    }
    .to_payload();
    bytes.extend(w.record(RecordKind::Terminal, 10_000_000, &grid));
    bytes.extend(w.record(RecordKind::Message, 10_000_001, b"frame"));
    // "é" split across two records, then a resize.
    bytes.extend(w.record(
        RecordKind::Terminal,
        10_500_000,
        &output(0, b"caf\xc3").payload,
    ));
    bytes.extend(w.record(
        RecordKind::Terminal,
        11_000_000,
        &output(0, b"\xa9\r\n").payload,
    ));
    let grid = TerminalEntry::Grid { cols: 80, rows: 24 }.to_payload();
    bytes.extend(w.record(RecordKind::Terminal, 12_000_000, &grid));
    bytes.extend(w.record(RecordKind::End, 12_000_001, b"{}"));
    bytes.extend(w.checkpoint(12_000_002, &s));
    let r = read(&bytes, &keys(&s)).unwrap();
    assert_eq!(r.verdict, Verdict::Complete);
    let cast = asciicast(&r.header, r.records.iter().map(|(_, r)| r)).unwrap();
    let lines: Vec<serde_json::Value> = cast
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["version"], 2);
    assert_eq!(lines[0]["width"], 100);
    assert_eq!(lines[0]["height"], 30);
    assert_eq!(lines[0]["timestamp"], 10);
    assert_eq!(lines[1], serde_json::json!([0.5, "o", "caf"]));
    assert_eq!(lines[2], serde_json::json!([1.0, "o", "é\r\n"]));
    assert_eq!(lines[3], serde_json::json!([2.0, "r", "80x24"]));
    assert_eq!(lines.len(), 4);
    assert_eq!(transcript(r.records.iter().map(|(_, r)| r)), "café\n");
}

#[test]
fn a_recording_without_a_terminal_track_has_no_asciicast() {
    let s = signer(1);
    let r = read(&recording(&s), &keys(&s)).unwrap();
    assert_eq!(asciicast(&r.header, r.records.iter().map(|(_, r)| r)), None);
    assert_eq!(transcript(r.records.iter().map(|(_, r)| r)), "");
}

#[test]
fn a_transcript_reads_as_the_lines_were_run() {
    let cases: &[(&[u8], &str)] = &[
        // Colours and a title are not text.
        (
            b"\x1b]0;alice@host: ~\x07\x1b[01;32malice@host\x1b[00m:~$ ls\r\n",
            "alice@host:~$ ls\n",
        ),
        // A typo erased with backspaces at the prompt.
        (b"$ lss\x08 \x08 -l\r\ntotal 0\r\n", "$ ls -l\ntotal 0\n"),
        // Readline: cursor left, insert, erase to the end of the line.
        (b"$ ech hi\x1b[3D\x1b[1@o\r\n", "$ echo hi\n"),
        (b"$ rm -rf /\x1b[5D\x1b[K\r\n", "$ rm\n"),
        // A progress line rewritten in place.
        (b"10%\r50%\r100%\r\ndone\r\n", "100%\ndone\n"),
        // Invalid UTF-8 and a cut sequence at the end.
        (b"a\xffb\r\nc\xe2\x82", "a\u{fffd}b\nc\u{fffd}\n"),
        // Blank lines collapse to one; private modes are not text.
        (b"\x1b[?2004ha\r\n\r\n\r\n\r\nb\r\n", "a\n\nb\n"),
        // A cursor move to another row ends the line.
        (b"top\x1b[5;1Hbottom", "top\nbottom\n"),
    ];
    for (bytes, want) in cases {
        let rec = output(0, bytes);
        assert_eq!(
            transcript([&rec]),
            *want,
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn a_transcript_is_bounded() {
    let line = output(0, &[b'x'; 1 << 20]);
    let newline = output(0, b"\r\n");
    let many: Vec<&Record> = std::iter::repeat_n([&line, &newline], 10)
        .flatten()
        .collect();
    let t = transcript(many);
    assert!(t.len() <= MAX_TRANSCRIPT);
    assert!(t.len() >= MAX_TRANSCRIPT - (1 << 20) - 2);
}

proptest::proptest! {
    #[test]
    fn any_terminal_output_gives_valid_asciicast_and_a_transcript(
        chunks in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..64), 0..16)
    ) {
        let records: Vec<Record> = chunks.iter().enumerate().map(|(i, c)| output(i as u64, c)).collect();
        let s = signer(1);
        let h = header(&s);
        if let Some(cast) = asciicast(&h, &records) {
            for line in cast.lines() {
                serde_json::from_str::<serde_json::Value>(line).unwrap();
            }
        }
        let t = transcript(&records);
        proptest::prop_assert!(!t.contains(char::from(0x1b)));
    }
}
