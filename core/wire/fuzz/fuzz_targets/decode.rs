//! Fuzzes both directions of the stream protocol decoder: any bytes either
//! decode to a message that re-encodes to the same bytes, or are refused with
//! an error — never a panic, never an unbounded allocation.
//!
//! Run: `cargo +nightly fuzz run decode` in `core/wire` (needs `cargo install cargo-fuzz`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use oriel_core_model::Size;
use oriel_core_wire::{ClientMessage, ServerMessage};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = ClientMessage::decode(data) {
        assert_eq!(msg.to_bytes(), data, "client message does not round-trip");
    }
    if let Ok(msg) = ServerMessage::decode(data) {
        assert_eq!(msg.to_bytes(), data, "server message does not round-trip");
        if let ServerMessage::Frame(frame) = &msg {
            let _ = frame.check(Size::new(1920, 1080));
        }
    }
});
