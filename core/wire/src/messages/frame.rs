//! The FRAME message (§3): drawing operations, their codecs and the
//! guarantees a frame keeps.

use super::types::{OP_COPY, OP_FILL, OP_IMAGE};
use crate::MAX_SERVER_MESSAGE;
use crate::codec::{Reader, WireError, Writer};
use oriel_core_model::{Point, Rect, Size};

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

impl Frame {
    /// Bytes the FRAME takes, type byte included.
    pub(super) fn encoded_len(&self) -> usize {
        15 + self.ops.iter().map(FrameOp::encoded_len).sum::<usize>()
    }

    /// Writes the FRAME's body (after its type byte).
    pub(super) fn write(&self, w: &mut Writer<'_>) {
        let count = self.ops.len().min(u16::MAX as usize);
        w.u32(self.id).u64(self.damage_time_us).u16(count as u16);
        for op in &self.ops[..count] {
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

    /// Reads a FRAME's body (after its type byte) from a message body of
    /// `body_len` bytes.
    pub(super) fn read(r: &mut Reader<'_>, body_len: usize) -> Result<Frame, WireError> {
        let id = r.u32()?;
        let damage_time_us = r.u64()?;
        let count = r.u16()? as usize;
        // Each op takes at least 12 bytes: do not trust `count` for allocation.
        let mut ops = Vec::with_capacity(count.min(body_len / 12));
        for _ in 0..count {
            let op = match r.u8()? {
                OP_FILL => {
                    let rect = read_rect(r)?;
                    let rgb = [r.u8()?, r.u8()?, r.u8()?];
                    FrameOp::Fill { rect, rgb }
                }
                OP_COPY => {
                    let src = Point::new(r.u16()?, r.u16()?);
                    let dst = read_rect(r)?;
                    FrameOp::Copy { src, dst }
                }
                OP_IMAGE => {
                    let rect = read_rect(r)?;
                    let codec = Codec::from_u8(r.u8()?)?;
                    let data = r.blob32(MAX_SERVER_MESSAGE)?.to_vec();
                    FrameOp::Image { rect, codec, data }
                }
                other => return Err(WireError::UnknownOp(other)),
            };
            ops.push(op);
        }
        Ok(Frame {
            id,
            damage_time_us,
            ops,
        })
    }
}

fn read_rect(r: &mut Reader<'_>) -> Result<Rect, WireError> {
    let rect = Rect::new(r.u16()?, r.u16()?, r.u16()?, r.u16()?);
    if rect.is_empty() {
        return Err(WireError::Invalid("empty rectangle"));
    }
    Ok(rect)
}
