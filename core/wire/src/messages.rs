//! Message types of both directions and their byte layouts (§2, §3).
//!
//! - [`client`]: viewer → gateway ([`ClientHello`], [`ClientMessage`]).
//! - [`server`]: gateway → viewer ([`ServerHello`], [`ServerMessage`] and
//!   its payloads but frames).
//! - [`frame`]: the FRAME message and its drawing operations ([`Frame`],
//!   [`FrameOp`], [`Codec`]), encoded and decoded for [`server`].
//!
//! The byte readers and writers they share are in `codec.rs`; the file
//! transfer payloads in `files.rs`.

mod client;
mod frame;
mod server;

pub use client::*;
pub use frame::*;
pub use server::*;

/// Capability bits of HELLO.
pub mod caps {
    /// The viewer decodes WebP images.
    pub const WEBP: u32 = 1;
    /// The viewer understands the NOTICE kinds of watching (4–6: who
    /// watches, control handed over or taken back); without it, it is not
    /// sent them.
    pub const PRESENCE: u32 = 2;
    /// Every capability this version defines.
    pub const ALL: u32 = WEBP | PRESENCE;
}

/// Policy bits of the gateway's HELLO (for the viewer's UI only).
pub mod policy_bits {
    /// Clipboard from viewer to remote is allowed.
    pub const CLIPBOARD_UP: u8 = 1;
    /// Clipboard from remote to viewer is allowed.
    pub const CLIPBOARD_DOWN: u8 = 2;
    /// The viewer only watches: its keyboard, pointer, clipboard and files
    /// are refused (a share link or an admin without control).
    pub const VIEW_ONLY: u8 = 4;
}

/// Message and operation type bytes (§2, §3).
mod types {
    pub const C_HELLO: u8 = 0x01;
    pub const C_ACK: u8 = 0x02;
    pub const C_KEY: u8 = 0x03;
    pub const C_POINTER: u8 = 0x04;
    pub const C_WHEEL: u8 = 0x05;
    pub const C_CLIPBOARD: u8 = 0x06;
    pub const C_RESIZE: u8 = 0x07;
    pub const C_PING: u8 = 0x08;
    pub const C_REFRESH: u8 = 0x09;
    pub const C_LOCKS: u8 = 0x0a;
    pub const C_FILE_LIST: u8 = 0x0b;
    pub const C_FILE_DOWNLOAD: u8 = 0x0c;
    pub const C_FILE_UPLOAD: u8 = 0x0d;
    pub const C_FILE_DATA: u8 = 0x0e;
    pub const C_FILE_END: u8 = 0x0f;
    pub const C_FILE_CANCEL: u8 = 0x10;
    pub const C_FILE_ACK: u8 = 0x11;

    pub const S_HELLO: u8 = 0x81;
    pub const S_FRAME: u8 = 0x82;
    pub const S_DESKTOP_SIZE: u8 = 0x83;
    pub const S_CURSOR: u8 = 0x84;
    pub const S_CLIPBOARD: u8 = 0x85;
    pub const S_BELL: u8 = 0x86;
    pub const S_PONG: u8 = 0x87;
    pub const S_END: u8 = 0x88;
    pub const S_NOTICE: u8 = 0x89;
    pub const S_FILES: u8 = 0x8a;
    pub const S_FILE_LISTING: u8 = 0x8b;
    pub const S_FILE_START: u8 = 0x8c;
    pub const S_FILE_DATA: u8 = 0x8d;
    pub const S_FILE_PROGRESS: u8 = 0x8e;
    pub const S_FILE_DONE: u8 = 0x8f;
    pub const S_FILE_ERROR: u8 = 0x90;

    pub const OP_FILL: u8 = 0x01;
    pub const OP_COPY: u8 = 0x02;
    pub const OP_IMAGE: u8 = 0x03;
}

/// Clipboard text whose `Debug` never shows the content.
#[derive(Clone, PartialEq, Eq)]
pub struct ClipboardText(pub String);

impl std::fmt::Debug for ClipboardText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClipboardText({} bytes)", self.0.len())
    }
}
