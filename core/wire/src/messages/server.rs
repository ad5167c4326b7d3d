//! Gateway → viewer messages (§2.2): HELLO, frames, desktop size, cursor,
//! clipboard, bell, END, notices, file listings and transfers.

use super::ClipboardText;
use super::frame::Frame;
use super::types::*;
use crate::codec::{Reader, WireError, Writer, truncate_utf8};
use crate::files::{
    FileBytes, FileErrorCode, FileListing, FilePolicy, read_chunk, read_listing, read_name,
    read_policy, write_chunk, write_listing, write_name, write_policy,
};
use crate::{MAX_CLIPBOARD, MAX_SERVER_MESSAGE};
use oriel_core_model::{ErrorClass, Point, Size};

/// The gateway's HELLO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// Protocol version in use.
    pub version: u16,
    /// Capabilities the gateway will use.
    pub capabilities: u32,
    /// Desktop size.
    pub size: Size,
    /// Frames the gateway sends before waiting for an ACK.
    pub max_frames_in_flight: u8,
    /// Policy bits, see [`policy_bits`](super::policy_bits).
    pub policy: u8,
    /// Largest clipboard text accepted or sent.
    pub clipboard_max_bytes: u32,
    /// Desktop name.
    pub name: String,
    /// Session id.
    pub session_id: String,
}

/// A CURSOR message.
#[derive(Clone, PartialEq, Eq)]
pub struct CursorImage {
    /// Hot spot.
    pub hotspot: Point,
    /// Size; zero hides the pointer.
    pub size: Size,
    /// PNG with alpha; empty when hidden.
    pub png: Vec<u8>,
}

impl std::fmt::Debug for CursorImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CursorImage")
            .field("hotspot", &self.hotspot)
            .field("size", &self.size)
            .field("png_len", &self.png.len())
            .finish()
    }
}

/// An END message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End {
    /// Close code (§5).
    pub code: u16,
    /// Who failed.
    pub class: ErrorClass,
    /// Whether a reconnect may help.
    pub retryable: bool,
    /// For the user.
    pub message: String,
}

/// Kinds of NOTICE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// Clipboard to the remote was denied by policy.
    ClipboardUpDenied = 1,
    /// Clipboard text exceeded the policy's limit.
    ClipboardTooLarge = 2,
    /// The remote cannot change its size.
    ResizeUnsupported = 3,
    /// Who watches the session besides its owner (sent to the owner's
    /// viewers that offer [`caps::PRESENCE`](crate::caps::PRESENCE)); the
    /// message lists them, empty when nobody does any more.
    Watchers = 4,
    /// This viewer now controls the session (handed over by its owner).
    ControlGranted = 5,
    /// This viewer only watches again (control taken back).
    ControlTaken = 6,
}

impl NoticeKind {
    fn from_u8(v: u8) -> Result<Self, WireError> {
        match v {
            1 => Ok(NoticeKind::ClipboardUpDenied),
            2 => Ok(NoticeKind::ClipboardTooLarge),
            3 => Ok(NoticeKind::ResizeUnsupported),
            4 => Ok(NoticeKind::Watchers),
            5 => Ok(NoticeKind::ControlGranted),
            6 => Ok(NoticeKind::ControlTaken),
            _ => Err(WireError::Invalid("notice kind")),
        }
    }
}

/// A message from gateway to viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMessage {
    /// Answer to the viewer's HELLO.
    Hello(ServerHello),
    /// Drawing operations.
    Frame(Frame),
    /// New desktop size.
    DesktopSize(Size),
    /// New pointer shape.
    Cursor(CursorImage),
    /// Remote clipboard text (redacted in `Debug`).
    Clipboard(ClipboardText),
    /// Bell.
    Bell,
    /// Answer to PING.
    Pong {
        /// From the PING.
        nonce: u32,
    },
    /// The stream ends.
    End(End),
    /// Something for the user.
    Notice {
        /// What.
        kind: NoticeKind,
        /// Human-readable.
        message: String,
    },
    /// File transfer is available, with these directions and limits.
    Files(FilePolicy),
    /// A directory's entries.
    FileListing(FileListing),
    /// A download starts.
    FileStart {
        /// The transfer.
        id: u32,
        /// Size of the file when the download started, bytes.
        size: u64,
        /// File name (the last part of the path).
        name: String,
    },
    /// A chunk of a download, in order.
    FileData {
        /// The transfer.
        id: u32,
        /// Position of the chunk in the file.
        offset: u64,
        /// 1 to `MAX_FILE_CHUNK` bytes.
        data: FileBytes,
    },
    /// Upload bytes the gateway has passed on to the remote (0: accepted, send data).
    FileProgress {
        /// The transfer.
        id: u32,
        /// Bytes passed on.
        bytes: u64,
    },
    /// A transfer completed: the upload is stored, or the download was all sent.
    FileDone {
        /// The transfer.
        id: u32,
        /// Bytes transferred.
        bytes: u64,
    },
    /// A file request or transfer failed; the transfer is over.
    FileError {
        /// The request or transfer.
        id: u32,
        /// Why.
        code: FileErrorCode,
        /// For the user.
        message: String,
    },
}

fn class_to_u8(class: ErrorClass) -> u8 {
    match class {
        ErrorClass::Client => 0,
        ErrorClass::Target => 1,
        ErrorClass::Policy => 2,
        ErrorClass::Internal => 3,
    }
}

fn class_from_u8(v: u8) -> Result<ErrorClass, WireError> {
    Ok(match v {
        0 => ErrorClass::Client,
        1 => ErrorClass::Target,
        2 => ErrorClass::Policy,
        3 => ErrorClass::Internal,
        _ => return Err(WireError::Invalid("error class")),
    })
}

impl ServerMessage {
    /// Bytes this message will take, for preallocation.
    pub fn encoded_len_hint(&self) -> usize {
        match self {
            ServerMessage::Frame(frame) => frame.encoded_len(),
            ServerMessage::Cursor(c) => 13 + c.png.len(),
            ServerMessage::Clipboard(t) => 5 + t.0.len(),
            ServerMessage::FileData { data, .. } => 17 + data.0.len(),
            ServerMessage::FileListing(l) => {
                11 + l.path.len() + l.entries.iter().map(|e| 19 + e.name.len()).sum::<usize>()
            }
            _ => 64,
        }
    }

    /// Appends the message's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len_hint());
        let mut w = Writer { out };
        match self {
            ServerMessage::Hello(h) => {
                w.u8(S_HELLO)
                    .u16(h.version)
                    .u32(h.capabilities)
                    .u16(h.size.width)
                    .u16(h.size.height)
                    .u8(h.max_frames_in_flight)
                    .u8(h.policy)
                    .u32(h.clipboard_max_bytes)
                    .string16(&h.name)
                    .string16(&h.session_id);
            }
            ServerMessage::Frame(frame) => {
                w.u8(S_FRAME);
                frame.write(&mut w);
            }
            ServerMessage::DesktopSize(size) => {
                w.u8(S_DESKTOP_SIZE).u16(size.width).u16(size.height);
            }
            ServerMessage::Cursor(c) => {
                w.u8(S_CURSOR)
                    .u16(c.hotspot.x)
                    .u16(c.hotspot.y)
                    .u16(c.size.width)
                    .u16(c.size.height)
                    .blob32(&c.png);
            }
            ServerMessage::Clipboard(text) => {
                w.u8(S_CLIPBOARD)
                    .blob32(truncate_utf8(&text.0, MAX_CLIPBOARD).as_bytes());
            }
            ServerMessage::Bell => {
                w.u8(S_BELL);
            }
            ServerMessage::Pong { nonce } => {
                w.u8(S_PONG).u32(*nonce);
            }
            ServerMessage::End(end) => {
                w.u8(S_END)
                    .u16(end.code)
                    .u8(class_to_u8(end.class))
                    .u8(u8::from(end.retryable))
                    .string16(&end.message);
            }
            ServerMessage::Notice { kind, message } => {
                w.u8(S_NOTICE).u8(*kind as u8).string16(message);
            }
            ServerMessage::Files(policy) => {
                w.u8(S_FILES);
                write_policy(&mut w, policy);
            }
            ServerMessage::FileListing(listing) => {
                w.u8(S_FILE_LISTING);
                write_listing(&mut w, listing);
            }
            ServerMessage::FileStart { id, size, name } => {
                w.u8(S_FILE_START).u32(*id).u64(*size);
                write_name(&mut w, name);
            }
            ServerMessage::FileData { id, offset, data } => {
                w.u8(S_FILE_DATA).u32(*id).u64(*offset);
                write_chunk(&mut w, data);
            }
            ServerMessage::FileProgress { id, bytes } => {
                w.u8(S_FILE_PROGRESS).u32(*id).u64(*bytes);
            }
            ServerMessage::FileDone { id, bytes } => {
                w.u8(S_FILE_DONE).u32(*id).u64(*bytes);
            }
            ServerMessage::FileError { id, code, message } => {
                w.u8(S_FILE_ERROR)
                    .u32(*id)
                    .u8(*code as u8)
                    .string16(message);
            }
        }
    }

    /// The message as a fresh buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes one whole WebSocket message.
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        if buf.len() > MAX_SERVER_MESSAGE {
            return Err(WireError::TooLarge {
                len: buf.len(),
                limit: MAX_SERVER_MESSAGE,
            });
        }
        let (&ty, body) = buf.split_first().ok_or(WireError::Empty)?;
        let mut r = Reader::new(body);
        let msg = match ty {
            S_HELLO => ServerMessage::Hello(ServerHello {
                version: r.u16()?,
                capabilities: r.u32()?,
                size: Size::new(r.u16()?, r.u16()?),
                max_frames_in_flight: r.u8()?,
                policy: r.u8()?,
                clipboard_max_bytes: r.u32()?,
                name: r.string16()?,
                session_id: r.string16()?,
            }),
            S_FRAME => ServerMessage::Frame(Frame::read(&mut r, body.len())?),
            S_DESKTOP_SIZE => ServerMessage::DesktopSize(Size::new(r.u16()?, r.u16()?)),
            S_CURSOR => {
                let hotspot = Point::new(r.u16()?, r.u16()?);
                let size = Size::new(r.u16()?, r.u16()?);
                let png = r.blob32(MAX_SERVER_MESSAGE)?.to_vec();
                ServerMessage::Cursor(CursorImage { hotspot, size, png })
            }
            S_CLIPBOARD => ServerMessage::Clipboard(ClipboardText(r.string32(MAX_CLIPBOARD)?)),
            S_BELL => ServerMessage::Bell,
            S_PONG => ServerMessage::Pong { nonce: r.u32()? },
            S_END => ServerMessage::End(End {
                code: r.u16()?,
                class: class_from_u8(r.u8()?)?,
                retryable: r.bool("retryable")?,
                message: r.string16()?,
            }),
            S_NOTICE => ServerMessage::Notice {
                kind: NoticeKind::from_u8(r.u8()?)?,
                message: r.string16()?,
            },
            S_FILES => ServerMessage::Files(read_policy(&mut r)?),
            S_FILE_LISTING => ServerMessage::FileListing(read_listing(&mut r, body.len())?),
            S_FILE_START => ServerMessage::FileStart {
                id: r.u32()?,
                size: r.u64()?,
                name: read_name(&mut r)?,
            },
            S_FILE_DATA => ServerMessage::FileData {
                id: r.u32()?,
                offset: r.u64()?,
                data: read_chunk(&mut r)?,
            },
            S_FILE_PROGRESS => ServerMessage::FileProgress {
                id: r.u32()?,
                bytes: r.u64()?,
            },
            S_FILE_DONE => ServerMessage::FileDone {
                id: r.u32()?,
                bytes: r.u64()?,
            },
            S_FILE_ERROR => ServerMessage::FileError {
                id: r.u32()?,
                code: FileErrorCode::from_u8(r.u8()?)?,
                message: r.string16()?,
            },
            other => return Err(WireError::UnknownType(other)),
        };
        r.finish()?;
        Ok(msg)
    }
}
