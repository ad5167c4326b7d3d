//! The Oriel stream protocol, version 1 (`docs/protocol.md`), sans-IO.
//!
//! [`ClientMessage`] and [`ServerMessage`] encode to and decode from the bytes
//! of one binary WebSocket message; [`FlowControl`] is the gateway's
//! acknowledgement window. Nothing here touches a socket or a clock, so the
//! gateway, the load tester, the tests and the fuzzer share it.

mod codec;
mod files;
mod flow;
mod frame_bytes;
mod messages;

pub use codec::{WireError, truncate_utf8};
pub use files::{
    FILE_WINDOW, FileBytes, FileErrorCode, FileListing, FilePolicy, ListingEntry, MAX_FILE_CHUNK,
    MAX_FILE_NAME, MAX_FILE_PATH, MAX_LISTING_ENTRIES,
};
pub use flow::{Acked, FlowControl, FlowError};
pub use frame_bytes::FrameBytes;
pub use messages::*;

use oriel_core_model::SessionErrorKind;

/// Protocol version spoken by this crate.
pub const VERSION: u16 = 1;

/// WebSocket subprotocol name.
pub const SUBPROTOCOL: &str = "oriel.v1";

/// Largest viewer → gateway message.
pub const MAX_CLIENT_MESSAGE: usize = (1 << 20) + 16;

/// Largest gateway → viewer message.
pub const MAX_SERVER_MESSAGE: usize = 64 << 20;

/// Largest session token.
pub const MAX_TOKEN: usize = 8192;

/// Largest clipboard text the protocol can carry in one message.
pub const MAX_CLIPBOARD: usize = 1 << 20;

/// WebSocket close code (and END code) for a session error (§5).
pub const fn close_code(kind: SessionErrorKind) -> u16 {
    use SessionErrorKind::*;
    match kind {
        Ended => 4000,
        TokenInvalid => 4001,
        TokenExpired => 4002,
        Forbidden => 4003,
        TargetUnreachable => 4004,
        TargetAuthFailed => 4005,
        TargetProtocol => 4006,
        TargetClosed => 4007,
        ClientProtocol => 4008,
        ClientTimeout => 4009,
        Internal => 4010,
        ShuttingDown => 4011,
        TargetTimeout => 4012,
        UnsupportedTarget => 4013,
        TargetIdentity => 4014,
        IdleTimeout => 4015,
        SessionExpired => 4016,
        FeatureUnavailable => 4017,
    }
}

/// The session error kind a close code stands for, if it is one of ours.
pub const fn kind_for_close_code(code: u16) -> Option<SessionErrorKind> {
    use SessionErrorKind::*;
    Some(match code {
        4000 => Ended,
        4001 => TokenInvalid,
        4002 => TokenExpired,
        4003 => Forbidden,
        4004 => TargetUnreachable,
        4005 => TargetAuthFailed,
        4006 => TargetProtocol,
        4007 => TargetClosed,
        4008 => ClientProtocol,
        4009 => ClientTimeout,
        4010 => Internal,
        4011 => ShuttingDown,
        4012 => TargetTimeout,
        4013 => UnsupportedTarget,
        4014 => TargetIdentity,
        4015 => IdleTimeout,
        4016 => SessionExpired,
        4017 => FeatureUnavailable,
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
