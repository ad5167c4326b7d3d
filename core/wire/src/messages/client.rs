//! Viewer → gateway messages (§2.1): HELLO, input, clipboard, flow control,
//! file requests.

use super::types::*;
use crate::codec::{Reader, WireError, Writer, truncate_utf8};
use crate::files::{
    FileBytes, read_chunk, read_name, read_path, write_chunk, write_name, write_path,
};
use crate::{MAX_CLIENT_MESSAGE, MAX_CLIPBOARD, MAX_TOKEN};
use oriel_core_model::{Point, Size};

/// The viewer's HELLO.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// Protocol version the viewer speaks.
    pub version: u16,
    /// Capability bits, see [`caps`](super::caps).
    pub capabilities: u32,
    /// Desktop size the viewer would like; 0×0 for no preference.
    pub viewport: Size,
    /// The session token.
    pub token: String,
}

impl std::fmt::Debug for ClientHello {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential: never print it.
        f.debug_struct("ClientHello")
            .field("version", &self.version)
            .field("capabilities", &self.capabilities)
            .field("viewport", &self.viewport)
            .field("token_len", &self.token.len())
            .finish()
    }
}

/// A message from viewer to gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// First message: version, capabilities and token.
    Hello(ClientHello),
    /// Frame `frame_id` has been drawn.
    Ack {
        /// The frame.
        frame_id: u32,
    },
    /// A key changed state.
    Key {
        /// Pressed or released.
        down: bool,
        /// X11 keysym.
        keysym: u32,
        /// PC/AT set-1 scancode (`0xE0xx` extended), 0 if unknown.
        scancode: u16,
    },
    /// Pointer position and buttons.
    Pointer {
        /// Position.
        at: Point,
        /// Button mask.
        buttons: u8,
    },
    /// Wheel movement, 120 units per notch.
    Wheel {
        /// Pointer position.
        at: Point,
        /// Horizontal.
        dx: i16,
        /// Vertical.
        dy: i16,
    },
    /// Text for the remote clipboard.
    Clipboard(String),
    /// Desired desktop size.
    Resize(Size),
    /// Round-trip probe.
    Ping {
        /// Echoed in PONG.
        nonce: u32,
    },
    /// Repaint everything.
    Refresh,
    /// The viewer's lock keys (sent on focus).
    Locks {
        /// Caps Lock.
        caps: bool,
        /// Num Lock.
        num: bool,
        /// Scroll Lock.
        scroll: bool,
    },
    /// List a directory (empty path: the home directory).
    FileList {
        /// Request id, answered by FILE_LISTING or FILE_ERROR.
        id: u32,
        /// Directory.
        path: String,
    },
    /// Download a file.
    FileDownload {
        /// Transfer id chosen by the viewer.
        id: u32,
        /// File on the remote.
        path: String,
    },
    /// Announce an upload; data follows once the gateway accepts it.
    FileUpload {
        /// Transfer id chosen by the viewer.
        id: u32,
        /// Exact size of the file, bytes.
        size: u64,
        /// Directory on the remote (empty: the home directory).
        dir: String,
        /// File name within `dir`.
        name: String,
    },
    /// A chunk of an accepted upload, in order.
    FileData {
        /// The transfer.
        id: u32,
        /// 1 to `MAX_FILE_CHUNK` bytes.
        data: FileBytes,
    },
    /// Every byte of the upload was sent: store the file.
    FileEnd {
        /// The transfer.
        id: u32,
    },
    /// Stop a transfer (upload or download).
    FileCancel {
        /// The transfer.
        id: u32,
    },
    /// Download bytes received so far (flow control).
    FileAck {
        /// The transfer.
        id: u32,
        /// Bytes of the file received.
        offset: u64,
    },
}

impl ClientMessage {
    /// Appends the message's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer { out };
        match self {
            ClientMessage::Hello(h) => {
                let token = truncate_utf8(&h.token, MAX_TOKEN);
                w.u8(C_HELLO)
                    .u16(h.version)
                    .u32(h.capabilities)
                    .u16(h.viewport.width)
                    .u16(h.viewport.height)
                    .u16(token.len() as u16)
                    .bytes(token.as_bytes());
            }
            ClientMessage::Ack { frame_id } => {
                w.u8(C_ACK).u32(*frame_id);
            }
            ClientMessage::Key {
                down,
                keysym,
                scancode,
            } => {
                w.u8(C_KEY).u8(u8::from(*down)).u32(*keysym).u16(*scancode);
            }
            ClientMessage::Pointer { at, buttons } => {
                w.u8(C_POINTER).u16(at.x).u16(at.y).u8(*buttons);
            }
            ClientMessage::Wheel { at, dx, dy } => {
                w.u8(C_WHEEL).u16(at.x).u16(at.y).i16(*dx).i16(*dy);
            }
            ClientMessage::Clipboard(text) => {
                w.u8(C_CLIPBOARD)
                    .blob32(truncate_utf8(text, MAX_CLIPBOARD).as_bytes());
            }
            ClientMessage::Resize(size) => {
                w.u8(C_RESIZE).u16(size.width).u16(size.height);
            }
            ClientMessage::Ping { nonce } => {
                w.u8(C_PING).u32(*nonce);
            }
            ClientMessage::Refresh => {
                w.u8(C_REFRESH);
            }
            ClientMessage::Locks { caps, num, scroll } => {
                let flags = u8::from(*caps) | u8::from(*num) << 1 | u8::from(*scroll) << 2;
                w.u8(C_LOCKS).u8(flags);
            }
            ClientMessage::FileList { id, path } => {
                w.u8(C_FILE_LIST).u32(*id);
                write_path(&mut w, path);
            }
            ClientMessage::FileDownload { id, path } => {
                w.u8(C_FILE_DOWNLOAD).u32(*id);
                write_path(&mut w, path);
            }
            ClientMessage::FileUpload {
                id,
                size,
                dir,
                name,
            } => {
                w.u8(C_FILE_UPLOAD).u32(*id).u64(*size);
                write_path(&mut w, dir);
                write_name(&mut w, name);
            }
            ClientMessage::FileData { id, data } => {
                w.u8(C_FILE_DATA).u32(*id);
                write_chunk(&mut w, data);
            }
            ClientMessage::FileEnd { id } => {
                w.u8(C_FILE_END).u32(*id);
            }
            ClientMessage::FileCancel { id } => {
                w.u8(C_FILE_CANCEL).u32(*id);
            }
            ClientMessage::FileAck { id, offset } => {
                w.u8(C_FILE_ACK).u32(*id).u64(*offset);
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
        if buf.len() > MAX_CLIENT_MESSAGE {
            return Err(WireError::TooLarge {
                len: buf.len(),
                limit: MAX_CLIENT_MESSAGE,
            });
        }
        let (&ty, body) = buf.split_first().ok_or(WireError::Empty)?;
        let mut r = Reader::new(body);
        let msg = match ty {
            C_HELLO => {
                let version = r.u16()?;
                let capabilities = r.u32()?;
                // Reserved bits must be 0 (docs/protocol.md §2.1).
                if capabilities & !crate::caps::ALL != 0 {
                    return Err(WireError::Invalid("capabilities: reserved bits set"));
                }
                let viewport = Size::new(r.u16()?, r.u16()?);
                let len = r.u16()? as usize;
                if len > MAX_TOKEN {
                    return Err(WireError::TooLarge {
                        len,
                        limit: MAX_TOKEN,
                    });
                }
                let raw = r.bytes(len)?;
                if !raw.iter().all(|b| b.is_ascii_graphic()) {
                    return Err(WireError::Invalid("token characters"));
                }
                let token = String::from_utf8(raw.to_vec()).map_err(|_| WireError::Utf8)?;
                ClientMessage::Hello(ClientHello {
                    version,
                    capabilities,
                    viewport,
                    token,
                })
            }
            C_ACK => ClientMessage::Ack { frame_id: r.u32()? },
            C_KEY => ClientMessage::Key {
                down: r.bool("key state")?,
                keysym: r.u32()?,
                scancode: r.u16()?,
            },
            C_POINTER => ClientMessage::Pointer {
                at: Point::new(r.u16()?, r.u16()?),
                buttons: r.u8()?,
            },
            C_WHEEL => ClientMessage::Wheel {
                at: Point::new(r.u16()?, r.u16()?),
                dx: r.i16()?,
                dy: r.i16()?,
            },
            C_CLIPBOARD => ClientMessage::Clipboard(r.string32(MAX_CLIPBOARD)?),
            C_RESIZE => ClientMessage::Resize(Size::new(r.u16()?, r.u16()?)),
            C_PING => ClientMessage::Ping { nonce: r.u32()? },
            C_REFRESH => ClientMessage::Refresh,
            C_LOCKS => {
                let flags = r.u8()?;
                if flags & !0b111 != 0 {
                    return Err(WireError::Invalid("lock flags"));
                }
                ClientMessage::Locks {
                    caps: flags & 1 != 0,
                    num: flags & 2 != 0,
                    scroll: flags & 4 != 0,
                }
            }
            C_FILE_LIST => ClientMessage::FileList {
                id: r.u32()?,
                path: read_path(&mut r)?,
            },
            C_FILE_DOWNLOAD => ClientMessage::FileDownload {
                id: r.u32()?,
                path: read_path(&mut r)?,
            },
            C_FILE_UPLOAD => ClientMessage::FileUpload {
                id: r.u32()?,
                size: r.u64()?,
                dir: read_path(&mut r)?,
                name: read_name(&mut r)?,
            },
            C_FILE_DATA => ClientMessage::FileData {
                id: r.u32()?,
                data: read_chunk(&mut r)?,
            },
            C_FILE_END => ClientMessage::FileEnd { id: r.u32()? },
            C_FILE_CANCEL => ClientMessage::FileCancel { id: r.u32()? },
            C_FILE_ACK => ClientMessage::FileAck {
                id: r.u32()?,
                offset: r.u64()?,
            },
            other => return Err(WireError::UnknownType(other)),
        };
        r.finish()?;
        Ok(msg)
    }
}
