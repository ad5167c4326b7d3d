//! Message types of both directions and their byte layouts (§2, §3).

use crate::codec::{Reader, WireError, Writer, truncate_utf8};
use crate::files::{
    FileBytes, FileErrorCode, FileListing, FilePolicy, read_chunk, read_listing, read_name,
    read_path, read_policy, write_chunk, write_listing, write_name, write_path, write_policy,
};
use crate::{MAX_CLIENT_MESSAGE, MAX_CLIPBOARD, MAX_SERVER_MESSAGE, MAX_TOKEN};
use oriel_core_model::{ErrorClass, Point, Rect, Size};

/// Capability bits of HELLO.
pub mod caps {
    /// The viewer decodes WebP images.
    pub const WEBP: u32 = 1;
    /// Every capability this version defines.
    pub const ALL: u32 = WEBP;
}

/// Policy bits of the gateway's HELLO (for the viewer's UI only).
pub mod policy_bits {
    /// Clipboard from viewer to remote is allowed.
    pub const CLIPBOARD_UP: u8 = 1;
    /// Clipboard from remote to viewer is allowed.
    pub const CLIPBOARD_DOWN: u8 = 2;
}

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
use types::*;

/// The viewer's HELLO.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// Protocol version the viewer speaks.
    pub version: u16,
    /// Capability bits, see [`caps`].
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
    /// Policy bits, see [`policy_bits`].
    pub policy: u8,
    /// Largest clipboard text accepted or sent.
    pub clipboard_max_bytes: u32,
    /// Desktop name.
    pub name: String,
    /// Session id.
    pub session_id: String,
}

/// Image codecs of IMAGE operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// Lossless PNG.
    Png = 1,
    /// Lossy baseline JPEG.
    Jpeg = 2,
    /// WebP, lossy or lossless.
    Webp = 3,
}

impl Codec {
    fn from_u8(v: u8) -> Result<Self, WireError> {
        match v {
            1 => Ok(Codec::Png),
            2 => Ok(Codec::Jpeg),
            3 => Ok(Codec::Webp),
            _ => Err(WireError::Invalid("codec")),
        }
    }

    /// Short name for logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Codec::Png => "png",
            Codec::Jpeg => "jpeg",
            Codec::Webp => "webp",
        }
    }
}

/// One drawing operation of a frame (§3).
#[derive(Clone, PartialEq, Eq)]
pub enum FrameOp {
    /// Fill a rectangle with a colour.
    Fill {
        /// Where.
        rect: Rect,
        /// Red, green, blue.
        rgb: [u8; 3],
    },
    /// Copy framebuffer content from `src` to `dst`.
    Copy {
        /// Source top-left.
        src: Point,
        /// Destination.
        dst: Rect,
    },
    /// Draw an encoded image.
    Image {
        /// Where.
        rect: Rect,
        /// How `data` is encoded.
        codec: Codec,
        /// Encoded image.
        data: Vec<u8>,
    },
}

impl std::fmt::Debug for FrameOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameOp::Fill { rect, rgb } => write!(f, "Fill({rect:?}, {rgb:?})"),
            FrameOp::Copy { src, dst } => write!(f, "Copy({src:?} -> {dst:?})"),
            FrameOp::Image { rect, codec, data } => {
                write!(f, "Image({rect:?}, {codec:?}, {} bytes)", data.len())
            }
        }
    }
}

impl FrameOp {
    /// The destination rectangle.
    pub fn rect(&self) -> Rect {
        match self {
            FrameOp::Fill { rect, .. } | FrameOp::Image { rect, .. } => *rect,
            FrameOp::Copy { dst, .. } => *dst,
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            FrameOp::Fill { .. } => 1 + 8 + 3,
            FrameOp::Copy { .. } => 1 + 12,
            FrameOp::Image { data, .. } => 1 + 8 + 1 + 4 + data.len(),
        }
    }
}

/// A FRAME message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Frame id, from 1, increasing by 1.
    pub id: u32,
    /// Gateway wall clock (µs since the Unix epoch) of the oldest change in the frame.
    pub damage_time_us: u64,
    /// Operations, COPYs first.
    pub ops: Vec<FrameOp>,
}

impl Frame {
    /// Checks the guarantees of §3 against a desktop of `size`: rectangles
    /// inside and non-empty, COPYs first, FILL/IMAGE rectangles disjoint.
    /// Viewers need not call this; tests and the load tester do.
    pub fn check(&self, size: Size) -> Result<(), WireError> {
        let mut seen_paint = false;
        let mut painted: Vec<Rect> = Vec::new();
        for op in &self.ops {
            let rect = op.rect();
            if rect.is_empty() || !rect.fits_in(size) {
                return Err(WireError::Invalid("operation rectangle"));
            }
            match op {
                FrameOp::Copy { src, dst } => {
                    if seen_paint {
                        return Err(WireError::Invalid("copy after paint"));
                    }
                    let src_rect = Rect::new(src.x, src.y, dst.width, dst.height);
                    if !src_rect.fits_in(size) {
                        return Err(WireError::Invalid("copy source"));
                    }
                }
                FrameOp::Fill { .. } | FrameOp::Image { .. } => {
                    seen_paint = true;
                    if painted.iter().any(|p| p.intersects(&rect)) {
                        return Err(WireError::Invalid("overlapping paint"));
                    }
                    painted.push(rect);
                }
            }
        }
        Ok(())
    }
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
}

impl NoticeKind {
    fn from_u8(v: u8) -> Result<Self, WireError> {
        match v {
            1 => Ok(NoticeKind::ClipboardUpDenied),
            2 => Ok(NoticeKind::ClipboardTooLarge),
            3 => Ok(NoticeKind::ResizeUnsupported),
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

/// Clipboard text whose `Debug` never shows the content.
#[derive(Clone, PartialEq, Eq)]
pub struct ClipboardText(pub String);

impl std::fmt::Debug for ClipboardText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClipboardText({} bytes)", self.0.len())
    }
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

fn read_rect(r: &mut Reader<'_>) -> Result<Rect, WireError> {
    let rect = Rect::new(r.u16()?, r.u16()?, r.u16()?, r.u16()?);
    if rect.is_empty() {
        return Err(WireError::Invalid("empty rectangle"));
    }
    Ok(rect)
}

impl ServerMessage {
    /// Bytes this message will take, for preallocation.
    pub fn encoded_len_hint(&self) -> usize {
        match self {
            ServerMessage::Frame(frame) => {
                15 + frame.ops.iter().map(FrameOp::encoded_len).sum::<usize>()
            }
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
                let count = frame.ops.len().min(u16::MAX as usize);
                w.u8(S_FRAME)
                    .u32(frame.id)
                    .u64(frame.damage_time_us)
                    .u16(count as u16);
                for op in &frame.ops[..count] {
                    match op {
                        FrameOp::Fill { rect, rgb } => {
                            w.u8(OP_FILL)
                                .u16(rect.x)
                                .u16(rect.y)
                                .u16(rect.width)
                                .u16(rect.height)
                                .bytes(rgb);
                        }
                        FrameOp::Copy { src, dst } => {
                            w.u8(OP_COPY)
                                .u16(src.x)
                                .u16(src.y)
                                .u16(dst.x)
                                .u16(dst.y)
                                .u16(dst.width)
                                .u16(dst.height);
                        }
                        FrameOp::Image { rect, codec, data } => {
                            w.u8(OP_IMAGE)
                                .u16(rect.x)
                                .u16(rect.y)
                                .u16(rect.width)
                                .u16(rect.height)
                                .u8(*codec as u8)
                                .blob32(data);
                        }
                    }
                }
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
            S_FRAME => {
                let id = r.u32()?;
                let damage_time_us = r.u64()?;
                let count = r.u16()? as usize;
                // Each op takes at least 12 bytes: do not trust `count` for allocation.
                let mut ops = Vec::with_capacity(count.min(body.len() / 12));
                for _ in 0..count {
                    let op = match r.u8()? {
                        OP_FILL => {
                            let rect = read_rect(&mut r)?;
                            let rgb = [r.u8()?, r.u8()?, r.u8()?];
                            FrameOp::Fill { rect, rgb }
                        }
                        OP_COPY => {
                            let src = Point::new(r.u16()?, r.u16()?);
                            let dst = read_rect(&mut r)?;
                            FrameOp::Copy { src, dst }
                        }
                        OP_IMAGE => {
                            let rect = read_rect(&mut r)?;
                            let codec = Codec::from_u8(r.u8()?)?;
                            let data = r.blob32(MAX_SERVER_MESSAGE)?.to_vec();
                            FrameOp::Image { rect, codec, data }
                        }
                        other => return Err(WireError::UnknownOp(other)),
                    };
                    ops.push(op);
                }
                ServerMessage::Frame(Frame {
                    id,
                    damage_time_us,
                    ops,
                })
            }
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
