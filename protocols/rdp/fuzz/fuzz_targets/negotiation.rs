//! Fuzzes the parsers the RDP adapter owns: the TPKT check of the
//! negotiation phase, the server certificate's key and fingerprint, and
//! clipboard text. Any bytes are either accepted or refused with an error —
//! never a panic.
//!
//! Run: `cargo +nightly fuzz run negotiation` in `protocols/rdp` (needs `cargo install cargo-fuzz`).

#![no_main]

use ironrdp_cliprdr::pdu::ClipboardFormatId;
use libfuzzer_sys::fuzz_target;
use oriel_protocols_rdp::channels::{MAX_CLIPBOARD_BYTES, decode_text};
use oriel_protocols_rdp::identity::ServerIdentity;
use oriel_protocols_rdp::tpkt;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((packet, rest))) = tpkt::split_packet(data) {
        assert_eq!(packet.len() + rest.len(), data.len());
        assert!(packet.len() <= tpkt::MAX_NEGOTIATION_PACKET);
    }
    if let Ok(identity) = ServerIdentity::from_certificate(data) {
        assert!(identity.fingerprint.starts_with("SHA256:"));
    }
    for format in [
        ClipboardFormatId::CF_UNICODETEXT,
        ClipboardFormatId::CF_TEXT,
    ] {
        if let Some(text) = decode_text(format, data) {
            assert!(text.len() <= MAX_CLIPBOARD_BYTES);
        }
    }
});
