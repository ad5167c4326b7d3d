//! Decoding images of the stream back to RGB, for verifying clients.

use image::ImageFormat;
use oriel_core_wire::Codec;

/// Largest image a verifying client decodes (pixels), matching the desktop limit.
const MAX_DECODE_PIXELS: u64 = 7680 * 4320;

/// Why an image of the stream could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The codec is not one this decoder handles.
    #[error("codec {0:?} is not supported by this decoder")]
    Unsupported(Codec),
    /// The bytes are not a valid image.
    #[error("invalid {codec:?} image: {source}")]
    Invalid {
        /// Codec.
        codec: Codec,
        /// Decoder error.
        source: image::ImageError,
    },
    /// The decoded image does not have the announced size.
    #[error("image is {got_w}x{got_h}, expected {want_w}x{want_h}")]
    WrongSize {
        /// Decoded width.
        got_w: u32,
        /// Decoded height.
        got_h: u32,
        /// Announced width.
        want_w: u16,
        /// Announced height.
        want_h: u16,
    },
    /// The image is larger than any desktop.
    #[error("image too large")]
    TooLarge,
}

/// Decodes an IMAGE operation's data to RGB, checking it is `width`×`height`.
pub fn decode_image(
    codec: Codec,
    data: &[u8],
    width: u16,
    height: u16,
) -> Result<Vec<u8>, DecodeError> {
    let format = match codec {
        Codec::Png => ImageFormat::Png,
        Codec::Jpeg => ImageFormat::Jpeg,
        Codec::Webp => ImageFormat::WebP,
    };
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(data), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(8192);
    limits.max_image_height = Some(8192);
    limits.max_alloc = Some(MAX_DECODE_PIXELS * 4);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|source| DecodeError::Invalid { codec, source })?;
    if img.width() != u32::from(width) || img.height() != u32::from(height) {
        return Err(DecodeError::WrongSize {
            got_w: img.width(),
            got_h: img.height(),
            want_w: width,
            want_h: height,
        });
    }
    if u64::from(img.width()) * u64::from(img.height()) > MAX_DECODE_PIXELS {
        return Err(DecodeError::TooLarge);
    }
    Ok(img.into_rgb8().into_raw())
}
