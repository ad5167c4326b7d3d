//! Tile codecs and the encode pool (adapter tier).
//!
//! [`encode_tile`] turns a planned tile into a wire operation: a FILL for a
//! solid tile, an indexed or RGB PNG for lossless tiles, a JPEG or WebP for
//! lossy ones (which of the two is the session core's choice:
//! `oriel_core_stream::LossyChooser`). [`EncodePool`] runs that work on a fixed set of threads shared by
//! every session of the process (never a pool per session), with a bounded
//! queue whose back-pressure callers await. [`decode_image`] is the inverse,
//! used by the load tester and the tests to check every pixel they receive.

mod decode;
mod encode;
mod pool;

pub use decode::{DecodeError, decode_image};
pub use encode::{
    CodecError, encode_cursor, encode_jpeg, encode_png_rgb, encode_tile, encode_webp,
};
pub use pool::{EncodePool, EncodedFrame, FrameStats};
