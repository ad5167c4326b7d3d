//! RGB images for comparing what a server drew with what a client shows.
//!
//! Screenshots from X ([`crate::parse_xwd`]), from a browser canvas
//! ([`crate::Page::canvas_image`]) and from PNG files all become an
//! [`RgbImage`]; [`RgbImage::compare`] measures how far apart two are and
//! [`RgbImage::save_png`] writes failure artefacts.

use std::fs::File;
use std::io::{BufWriter, Cursor};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};

/// A rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Rect {
    pub const fn new(x: u32, y: u32, width: u32, height: u32) -> Self {
        Self {
            x,
            y,
            width,
            height,
        }
    }
}

/// An 8-bit RGB image, rows top to bottom, 3 bytes per pixel, no padding.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RgbImage")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("data_len", &self.data.len())
            .finish()
    }
}

/// How two images of the same size differ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageDiff {
    /// The largest difference of one channel of one pixel (0 = identical).
    pub max_channel_diff: u8,
    /// Pixels with any channel different.
    pub differing_pixels: usize,
    /// Peak signal-to-noise ratio over all channels; infinite when identical.
    pub psnr_db: f64,
}

impl ImageDiff {
    /// True when every pixel is equal.
    pub fn is_identical(&self) -> bool {
        self.differing_pixels == 0
    }
}

impl RgbImage {
    /// An image from packed RGB bytes; fails unless `data.len() == width * height * 3`.
    pub fn new(width: u32, height: u32, data: Vec<u8>) -> Result<Self> {
        let expected = pixel_count(width, height)? * 3;
        ensure!(
            data.len() == expected,
            "rgb image {width}x{height} needs {expected} bytes, got {}",
            data.len()
        );
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// An image of one colour.
    pub fn filled(width: u32, height: u32, rgb: [u8; 3]) -> Self {
        let count = width as usize * height as usize;
        Self {
            width,
            height,
            data: rgb.repeat(count),
        }
    }

    /// An image from packed RGBA bytes (as a canvas's `getImageData` gives);
    /// alpha is dropped, not composited.
    pub fn from_rgba(width: u32, height: u32, rgba: &[u8]) -> Result<Self> {
        let expected = pixel_count(width, height)? * 4;
        ensure!(
            rgba.len() == expected,
            "rgba image {width}x{height} needs {expected} bytes, got {}",
            rgba.len()
        );
        let mut data = vec![0; rgba.len() / 4 * 3];
        for (rgb, px) in data.chunks_exact_mut(3).zip(rgba.chunks_exact(4)) {
            rgb.copy_from_slice(&px[..3]);
        }
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// Decodes a PNG (any colour type; alpha dropped, 16-bit reduced to 8).
    pub fn from_png(bytes: &[u8]) -> Result<Self> {
        let mut decoder = png::Decoder::new(Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().context("invalid png header")?;
        let size = reader
            .output_buffer_size()
            .context("png too large to decode")?;
        let mut buf = vec![0; size];
        let info = reader.next_frame(&mut buf).context("invalid png data")?;
        let (width, height) = (info.width, info.height);
        let rows = buf
            .chunks_exact(info.line_size)
            .take(height as usize)
            .map(|row| &row[..width as usize * info.color_type.samples()]);
        let mut data = Vec::with_capacity(pixel_count(width, height)? * 3);
        for row in rows {
            match info.color_type {
                png::ColorType::Rgb => data.extend_from_slice(row),
                png::ColorType::Rgba => {
                    data.extend(row.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]));
                }
                png::ColorType::Grayscale => data.extend(row.iter().flat_map(|&g| [g, g, g])),
                png::ColorType::GrayscaleAlpha => {
                    data.extend(row.chunks_exact(2).flat_map(|p| [p[0], p[0], p[0]]));
                }
                png::ColorType::Indexed => bail!("png palette was not expanded"),
            }
        }
        Self::new(width, height, data)
    }

    /// The colour at (`x`, `y`), or `None` outside the image.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let at = (y as usize * self.width as usize + x as usize) * 3;
        Some([self.data[at], self.data[at + 1], self.data[at + 2]])
    }

    /// A copy of `rect`; fails when it is not inside the image.
    pub fn crop(&self, rect: Rect) -> Result<Self> {
        ensure!(
            rect.x
                .checked_add(rect.width)
                .is_some_and(|r| r <= self.width)
                && rect
                    .y
                    .checked_add(rect.height)
                    .is_some_and(|b| b <= self.height),
            "crop {rect:?} is outside the {}x{} image",
            self.width,
            self.height
        );
        let stride = self.width as usize * 3;
        let mut data = Vec::with_capacity(rect.width as usize * rect.height as usize * 3);
        for y in rect.y..rect.y + rect.height {
            let start = y as usize * stride + rect.x as usize * 3;
            data.extend_from_slice(&self.data[start..start + rect.width as usize * 3]);
        }
        Ok(Self {
            width: rect.width,
            height: rect.height,
            data,
        })
    }

    /// Compares two images of the same size.
    pub fn compare(&self, other: &RgbImage) -> Result<ImageDiff> {
        ensure!(
            self.width == other.width && self.height == other.height,
            "cannot compare a {}x{} image with a {}x{} one",
            self.width,
            self.height,
            other.width,
            other.height
        );
        if self.data == other.data {
            return Ok(ImageDiff {
                max_channel_diff: 0,
                differing_pixels: 0,
                psnr_db: f64::INFINITY,
            });
        }
        let mut max_channel_diff = 0u8;
        let mut differing_pixels = 0usize;
        let mut squared_sum = 0u64;
        for (a, b) in self.data.chunks_exact(3).zip(other.data.chunks_exact(3)) {
            let mut differs = false;
            for c in 0..3 {
                let d = a[c].abs_diff(b[c]);
                if d != 0 {
                    differs = true;
                    max_channel_diff = max_channel_diff.max(d);
                    squared_sum += u64::from(d) * u64::from(d);
                }
            }
            differing_pixels += usize::from(differs);
        }
        let psnr_db = if squared_sum == 0 {
            f64::INFINITY
        } else {
            let mse = squared_sum as f64 / self.data.len() as f64;
            10.0 * (255.0 * 255.0 / mse).log10()
        };
        Ok(ImageDiff {
            max_channel_diff,
            differing_pixels,
            psnr_db,
        })
    }

    /// Pixels whose every channel is within `tolerance` of `rgb`.
    pub fn count_color(&self, rgb: [u8; 3], tolerance: u8) -> usize {
        self.data
            .chunks_exact(3)
            .filter(|p| (0..3).all(|c| p[c].abs_diff(rgb[c]) <= tolerance))
            .count()
    }

    /// Encodes the image as PNG.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write_png(&mut out)?;
        Ok(out)
    }

    /// Writes the image as a PNG file (for failure artefacts).
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        self.write_png(BufWriter::new(file))
            .with_context(|| format!("cannot write {}", path.display()))
    }

    fn write_png<W: std::io::Write>(&self, w: W) -> Result<()> {
        let mut encoder = png::Encoder::new(w, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().context("cannot write png header")?;
        writer
            .write_image_data(&self.data)
            .context("cannot write png data")?;
        writer.finish().context("cannot finish png")?;
        Ok(())
    }
}

fn pixel_count(width: u32, height: u32) -> Result<usize> {
    (width as usize)
        .checked_mul(height as usize)
        .filter(|&n| n <= (1 << 28))
        .with_context(|| format!("image {width}x{height} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_reports_differences() -> Result<()> {
        let a = RgbImage::filled(4, 2, [10, 20, 30]);
        assert!(a.compare(&a)?.is_identical());
        assert_eq!(a.compare(&a)?.psnr_db, f64::INFINITY);
        let mut b = a.clone();
        b.data[3] = 15; // pixel (1, 0), red channel
        let diff = a.compare(&b)?;
        assert_eq!(diff.max_channel_diff, 5);
        assert_eq!(diff.differing_pixels, 1);
        assert!(diff.psnr_db > 40.0 && diff.psnr_db.is_finite());
        assert!(a.compare(&RgbImage::filled(2, 4, [0; 3])).is_err());
        Ok(())
    }

    #[test]
    fn crop_and_png_round_trip() -> Result<()> {
        let mut data = Vec::new();
        for y in 0..3u8 {
            for x in 0..5u8 {
                data.extend_from_slice(&[x, y, x ^ y]);
            }
        }
        let image = RgbImage::new(5, 3, data)?;
        let part = image.crop(Rect::new(1, 1, 3, 2))?;
        assert_eq!(part.pixel(0, 0), Some([1, 1, 0]));
        assert_eq!(part.pixel(2, 1), Some([3, 2, 1]));
        assert!(image.crop(Rect::new(3, 0, 3, 1)).is_err());
        let decoded = RgbImage::from_png(&image.to_png()?)?;
        assert_eq!(decoded, image);
        let rgba = RgbImage::from_rgba(1, 1, &[1, 2, 3, 4])?;
        assert_eq!(rgba.data, vec![1, 2, 3]);
        Ok(())
    }
}
