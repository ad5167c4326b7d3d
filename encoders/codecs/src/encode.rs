//! Encoding tiles and cursors.

use oriel_core_model::CursorShape;
use oriel_core_wire::{Codec, FrameOp};
use oriel_encoders_damage::{TileContent, TileJob};

/// Why an image could not be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The pixel buffer does not match the rectangle.
    #[error("pixel buffer of {got} bytes does not match {width}x{height}")]
    BadLength {
        /// Bytes given.
        got: usize,
        /// Width.
        width: u16,
        /// Height.
        height: u16,
    },
    /// The PNG encoder failed.
    #[error("png encoding failed: {0}")]
    Png(#[from] png::EncodingError),
    /// The JPEG encoder failed.
    #[error("jpeg encoding failed: {0}")]
    Jpeg(#[from] jpeg_encoder::EncodingError),
    /// libwebp failed.
    #[error("webp encoding failed: {0}")]
    Webp(String),
    /// The encode pool is gone (shutting down).
    #[error("encode pool stopped")]
    PoolStopped,
    /// A codec panicked while encoding a frame on the caller's task (the
    /// caller's stream ends with an internal error; the pool goes on).
    #[error("a codec panicked")]
    Panicked,
}

fn check_len(rgb: &[u8], width: u16, height: u16, bpp: usize) -> Result<(), CodecError> {
    if rgb.len() != width as usize * height as usize * bpp || width == 0 || height == 0 {
        return Err(CodecError::BadLength {
            got: rgb.len(),
            width,
            height,
        });
    }
    Ok(())
}

/// Encodes a planned tile as one frame operation; lossy tiles with `lossy`
/// ([`Codec::Jpeg`] or [`Codec::Webp`]; anything else means JPEG).
pub fn encode_tile(job: TileJob, lossy: Codec) -> Result<FrameOp, CodecError> {
    let rect = job.rect;
    Ok(match job.content {
        TileContent::Solid(rgb) => FrameOp::Fill { rect, rgb },
        TileContent::Lossless(px) => FrameOp::Image {
            rect,
            codec: Codec::Png,
            data: encode_png_rgb(&px, rect.width, rect.height)?,
        },
        TileContent::Lossy { rgb, quality } if lossy == Codec::Webp => FrameOp::Image {
            rect,
            codec: Codec::Webp,
            data: encode_webp(&rgb, rect.width, rect.height, quality)?,
        },
        TileContent::Lossy { rgb, quality } => FrameOp::Image {
            rect,
            codec: Codec::Jpeg,
            data: encode_jpeg(&rgb, rect.width, rect.height, quality)?,
        },
    })
}

/// JPEG of RGB pixels at `quality` (1–100).
pub fn encode_jpeg(
    rgb: &[u8],
    width: u16,
    height: u16,
    quality: u8,
) -> Result<Vec<u8>, CodecError> {
    check_len(rgb, width, height, 3)?;
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let encoder = jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100));
    encoder.encode(rgb, width, height, jpeg_encoder::ColorType::Rgb)?;
    Ok(out)
}

/// Lossy WebP of RGB pixels at `quality` (1–100), libwebp's fastest method
/// (0): about 20–35 % smaller than JPEG at the same quality, about twice
/// its time (docs/benchmarks.md). `oriel_core_stream::LossyChooser` decides when that
/// is worth it.
pub fn encode_webp(
    rgb: &[u8],
    width: u16,
    height: u16,
    quality: u8,
) -> Result<Vec<u8>, CodecError> {
    check_len(rgb, width, height, 3)?;
    let mut config = webp::WebPConfig::new()
        .map_err(|()| CodecError::Webp("no default configuration".into()))?;
    config.quality = f32::from(quality.clamp(1, 100));
    config.method = 0;
    let out = webp::Encoder::from_rgb(rgb, u32::from(width), u32::from(height))
        .encode_advanced(&config)
        .map_err(|e| CodecError::Webp(format!("{e:?}")))?;
    Ok(out.to_vec())
}

/// Lossless PNG of RGB pixels: indexed (1, 2, 4 or 8 bits) when the tile has
/// at most 256 colours, which is both smaller and faster to compress; RGB otherwise.
pub fn encode_png_rgb(rgb: &[u8], width: u16, height: u16) -> Result<Vec<u8>, CodecError> {
    check_len(rgb, width, height, 3)?;
    let mut out = Vec::with_capacity(1024);
    let mut enc = png::Encoder::new(&mut out, u32::from(width), u32::from(height));
    enc.set_compression(png::Compression::Fast);
    match palette_of(rgb) {
        Some((palette, indices)) => {
            let depth = match palette.len() {
                0..=2 => png::BitDepth::One,
                3..=4 => png::BitDepth::Two,
                5..=16 => png::BitDepth::Four,
                _ => png::BitDepth::Eight,
            };
            enc.set_color(png::ColorType::Indexed);
            enc.set_depth(depth);
            enc.set_palette(palette.concat());
            let packed = pack_indices(&indices, width as usize, depth as usize);
            let mut w = enc.write_header()?;
            w.write_image_data(&packed)?;
            w.finish()?;
        }
        None => {
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header()?;
            w.write_image_data(rgb)?;
            w.finish()?;
        }
    }
    Ok(out)
}

/// The palette and per-pixel indices, if there are at most 256 colours.
fn palette_of(rgb: &[u8]) -> Option<(Vec<[u8; 3]>, Vec<u8>)> {
    let mut palette: Vec<[u8; 3]> = Vec::new();
    let mut indices = Vec::with_capacity(rgb.len() / 3);
    let mut last: Option<([u8; 3], u8)> = None;
    for px in rgb.chunks_exact(3) {
        let c = [px[0], px[1], px[2]];
        let idx = match last {
            Some((lc, li)) if lc == c => li,
            _ => {
                let i = match palette.iter().position(|p| *p == c) {
                    Some(i) => i,
                    None => {
                        if palette.len() == 256 {
                            return None;
                        }
                        palette.push(c);
                        palette.len() - 1
                    }
                };
                i as u8
            }
        };
        last = Some((c, idx));
        indices.push(idx);
    }
    Some((palette, indices))
}

/// Packs 8-bit indices into rows of `depth` bits (PNG order: high bits first).
fn pack_indices(indices: &[u8], width: usize, depth: usize) -> Vec<u8> {
    if depth == 8 {
        return indices.to_vec();
    }
    let per_byte = 8 / depth;
    let row_bytes = width.div_ceil(per_byte);
    let mut out = Vec::with_capacity(row_bytes * indices.len() / width.max(1));
    for row in indices.chunks(width) {
        for chunk in row.chunks(per_byte) {
            let mut byte = 0u8;
            for (i, &v) in chunk.iter().enumerate() {
                byte |= v << (8 - depth * (i + 1));
            }
            out.push(byte);
        }
    }
    out
}

/// PNG (RGBA) of a cursor shape; empty for a hidden cursor.
pub fn encode_cursor(shape: &CursorShape) -> Result<Vec<u8>, CodecError> {
    let (w, h) = (shape.size.width, shape.size.height);
    if w == 0 || h == 0 {
        return Ok(Vec::new());
    }
    check_len(&shape.rgba, w, h, 4)?;
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, u32::from(w), u32::from(h));
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let mut writer = enc.write_header()?;
    writer.write_image_data(&shape.rgba)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode_image;
    use oriel_core_model::Rect;
    use proptest::prelude::*;

    fn gradient(w: u16, h: u16) -> Vec<u8> {
        (0..w as usize * h as usize)
            .flat_map(|i| [(i % 256) as u8, (i / 7 % 256) as u8, (i * 13 % 256) as u8])
            .collect()
    }

    proptest! {
        #[test]
        fn png_is_lossless_for_any_palette_size(
            w in 1u16..70, h in 1u16..70, colours in 1usize..300, seed in any::<u32>()
        ) {
            let mut s = seed;
            let rgb: Vec<u8> = (0..w as usize * h as usize).flat_map(|_| {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let c = (s >> 8) as usize % colours;
                [(c % 256) as u8, (c / 256) as u8, (c * 7 % 256) as u8]
            }).collect();
            let png = encode_png_rgb(&rgb, w, h).unwrap();
            prop_assert_eq!(decode_image(Codec::Png, &png, w, h).unwrap(), rgb);
        }
    }

    #[test]
    fn jpeg_is_close_and_decodes_to_the_right_size() {
        let rgb = gradient(64, 64);
        let jpeg = encode_jpeg(&rgb, 64, 64, 90).unwrap();
        let back = decode_image(Codec::Jpeg, &jpeg, 64, 64).unwrap();
        assert_eq!(back.len(), rgb.len());
        let max_err = rgb
            .iter()
            .zip(&back)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(max_err < 80, "max error {max_err}");
    }

    #[test]
    fn webp_is_close_and_decodes_to_the_right_size() {
        // Odd sizes too: WebP works in 16×16 macroblocks.
        for (w, h) in [(64, 64), (37, 5), (1, 1)] {
            // A smooth picture (chroma is subsampled, as in JPEG).
            let rgb: Vec<u8> = (0..h)
                .flat_map(|y| {
                    (0..w).flat_map(move |x| [(x * 3) as u8, (y * 3) as u8, (x + y) as u8])
                })
                .collect();
            let op = encode_tile(
                TileJob {
                    rect: Rect::new(0, 0, w, h),
                    content: TileContent::Lossy {
                        rgb: rgb.clone(),
                        quality: 90,
                    },
                },
                Codec::Webp,
            )
            .unwrap();
            let FrameOp::Image { codec, data, .. } = op else {
                panic!("not an image: {op:?}");
            };
            assert_eq!(codec, Codec::Webp);
            let back = decode_image(Codec::Webp, &data, w, h).unwrap();
            assert_eq!(back.len(), rgb.len());
            let mean_err = rgb
                .iter()
                .zip(&back)
                .map(|(a, b)| u64::from(a.abs_diff(*b)))
                .sum::<u64>()
                / rgb.len() as u64;
            assert!(mean_err < 6, "{w}x{h}: mean error {mean_err}");
        }
    }

    #[test]
    fn bad_lengths_are_errors_not_panics() {
        assert!(encode_png_rgb(&[0; 5], 1, 2).is_err());
        assert!(encode_jpeg(&[0; 6], 0, 2, 80).is_err());
        assert!(encode_webp(&[0; 6], 0, 2, 80).is_err());
        assert!(encode_webp(&[0; 7], 1, 2, 80).is_err());
        let shape = CursorShape {
            hotspot: oriel_core_model::Point::new(0, 0),
            size: oriel_core_model::Size::new(2, 2),
            rgba: vec![0; 15],
        };
        assert!(encode_cursor(&shape).is_err());
    }

    #[test]
    fn solid_tiles_become_fills() {
        let op = encode_tile(
            TileJob {
                rect: Rect::new(0, 0, 4, 4),
                content: TileContent::Solid([1, 2, 3]),
            },
            Codec::Jpeg,
        )
        .unwrap();
        assert_eq!(
            op,
            FrameOp::Fill {
                rect: Rect::new(0, 0, 4, 4),
                rgb: [1, 2, 3]
            }
        );
    }
}
