//! A parser for X Window Dump files (`xwd -root`), format version 7.
//!
//! Layout (from X11's `XWDFile.h`): a header of 25 big-endian `u32` fields
//! (`header_size` bytes in all, the window name filling the rest), then
//! `ncolors` 12-byte `XWDColor` entries, then `pixmap_height` rows of
//! `bytes_per_line` bytes. Only ZPixmap TrueColor/DirectColor images with 24 or
//! 32 bits per pixel are read — what every X server used in Oriel's tests
//! produces; anything else is rejected with an error naming the field.

use anyhow::{Context, Result, bail, ensure};

use crate::RgbImage;

const XWD_FILE_VERSION: u32 = 7;
const HEADER_FIELDS: usize = 25;
const ZPIXMAP: u32 = 2;
const TRUE_COLOR: u32 = 4;
const DIRECT_COLOR: u32 = 5;
const LSB_FIRST: u32 = 0;
const MSB_FIRST: u32 = 1;

/// The fields of `XWDFileHeader` this parser uses.
#[derive(Debug, Clone, Copy)]
struct Header {
    header_size: u32,
    pixmap_format: u32,
    pixmap_depth: u32,
    width: u32,
    height: u32,
    byte_order: u32,
    bits_per_pixel: u32,
    bytes_per_line: u32,
    visual_class: u32,
    masks: [u32; 3],
    ncolors: u32,
}

/// Decodes an XWD image into RGB.
pub fn parse_xwd(bytes: &[u8]) -> Result<RgbImage> {
    let header = read_header(bytes)?;
    ensure!(
        header.pixmap_format == ZPIXMAP,
        "xwd pixmap_format {} is not supported (only ZPixmap = 2)",
        header.pixmap_format
    );
    ensure!(
        header.visual_class == TRUE_COLOR || header.visual_class == DIRECT_COLOR,
        "xwd visual_class {} is not supported (only TrueColor = 4 or DirectColor = 5)",
        header.visual_class
    );
    ensure!(
        matches!(header.bits_per_pixel, 24 | 32),
        "xwd bits_per_pixel {} (depth {}) is not supported (only 24 or 32)",
        header.bits_per_pixel,
        header.pixmap_depth
    );
    ensure!(
        header.byte_order == LSB_FIRST || header.byte_order == MSB_FIRST,
        "xwd byte_order {} is invalid",
        header.byte_order
    );
    let channels = header.masks.map(Channel::from_mask);
    for (channel, name) in channels.iter().zip(["red", "green", "blue"]) {
        ensure!(channel.bits > 0, "xwd {name}_mask is empty");
    }

    let bytes_per_pixel = (header.bits_per_pixel / 8) as usize;
    let width = header.width as usize;
    let height = header.height as usize;
    let stride = header.bytes_per_line as usize;
    ensure!(
        stride >= width * bytes_per_pixel,
        "xwd bytes_per_line {stride} is too small for {width} pixels of {bytes_per_pixel} bytes"
    );
    let pixels_at = (header.header_size as usize)
        .checked_add(header.ncolors as usize * 12)
        .context("xwd header too large")?;
    let needed = stride.checked_mul(height).context("xwd image too large")?;
    let pixels = bytes
        .get(pixels_at..)
        .filter(|p| p.len() >= needed)
        .with_context(|| {
            format!(
                "xwd file is truncated: {} bytes, header and colours end at {pixels_at}, pixels need {needed}",
                bytes.len()
            )
        })?;

    let mut data = Vec::with_capacity(width * height * 3);
    for row in pixels.chunks_exact(stride).take(height) {
        for px in row[..width * bytes_per_pixel].chunks_exact(bytes_per_pixel) {
            let value = match (header.byte_order, bytes_per_pixel) {
                (LSB_FIRST, 4) => u32::from_le_bytes([px[0], px[1], px[2], px[3]]),
                (_, 4) => u32::from_be_bytes([px[0], px[1], px[2], px[3]]),
                (LSB_FIRST, _) => u32::from_le_bytes([px[0], px[1], px[2], 0]),
                (_, _) => u32::from_be_bytes([0, px[0], px[1], px[2]]),
            };
            data.extend(channels.iter().map(|c| c.extract(value)));
        }
    }
    RgbImage::new(header.width, header.height, data)
}

fn read_header(bytes: &[u8]) -> Result<Header> {
    ensure!(
        bytes.len() >= HEADER_FIELDS * 4,
        "xwd file too short for a header ({} bytes)",
        bytes.len()
    );
    let field_be = |i: usize| {
        u32::from_be_bytes([
            bytes[i * 4],
            bytes[i * 4 + 1],
            bytes[i * 4 + 2],
            bytes[i * 4 + 3],
        ])
    };
    let field_le = |i: usize| {
        u32::from_le_bytes([
            bytes[i * 4],
            bytes[i * 4 + 1],
            bytes[i * 4 + 2],
            bytes[i * 4 + 3],
        ])
    };
    // xwd writes the header big-endian; accept a little-endian one too.
    let field: &dyn Fn(usize) -> u32 = if field_be(1) == XWD_FILE_VERSION {
        &field_be
    } else if field_le(1) == XWD_FILE_VERSION {
        &field_le
    } else {
        bail!(
            "not an xwd version 7 file (file_version field is {:#x})",
            field_be(1)
        );
    };
    let header = Header {
        header_size: field(0),
        pixmap_format: field(2),
        pixmap_depth: field(3),
        width: field(4),
        height: field(5),
        byte_order: field(7),
        bits_per_pixel: field(11),
        bytes_per_line: field(12),
        visual_class: field(13),
        masks: [field(14), field(15), field(16)],
        ncolors: field(19),
    };
    ensure!(
        header.header_size as usize >= HEADER_FIELDS * 4,
        "xwd header_size {} is smaller than the header",
        header.header_size
    );
    Ok(header)
}

/// Where one colour channel sits in a pixel value.
#[derive(Debug, Clone, Copy)]
struct Channel {
    mask: u32,
    shift: u32,
    bits: u32,
}

impl Channel {
    fn from_mask(mask: u32) -> Self {
        Self {
            mask,
            shift: if mask == 0 { 0 } else { mask.trailing_zeros() },
            bits: mask.count_ones(),
        }
    }

    /// The channel scaled to 8 bits.
    fn extract(&self, pixel: u32) -> u8 {
        let raw = (pixel & self.mask) >> self.shift;
        match self.bits {
            8 => raw as u8,
            b if b > 8 => (raw >> (b - 8)) as u8,
            b => {
                let max = (1u32 << b) - 1;
                ((raw * 255 + max / 2) / max) as u8
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(width: u32, height: u32, bpp: u32, byte_order: u32, ncolors: u32) -> Vec<u8> {
        let name = b"test\0";
        let header_size = 100 + name.len() as u32;
        let bytes_per_line = width * bpp / 8 + 2; // padded rows
        let fields = [
            header_size,
            7,
            2,
            24,
            width,
            height,
            0,
            byte_order,
            32,
            byte_order,
            32,
            bpp,
            bytes_per_line,
            4,
            0xff0000,
            0xff00,
            0xff,
            8,
            256,
            ncolors,
            width,
            height,
            0,
            0,
            0,
        ];
        let mut out: Vec<u8> = fields.iter().flat_map(|f| f.to_be_bytes()).collect();
        out.extend_from_slice(name);
        out.extend(std::iter::repeat_n(0xAA, ncolors as usize * 12));
        out
    }

    #[test]
    fn parses_32bpp_lsb_first() -> Result<()> {
        let mut file = header(2, 2, 32, LSB_FIRST, 3);
        for row in [[0x00112233u32, 0x00445566], [0x00778899, 0x00aabbcc]] {
            for px in row {
                file.extend_from_slice(&px.to_le_bytes());
            }
            file.extend_from_slice(&[0, 0]);
        }
        let image = parse_xwd(&file)?;
        assert_eq!((image.width, image.height), (2, 2));
        assert_eq!(image.pixel(0, 0), Some([0x11, 0x22, 0x33]));
        assert_eq!(image.pixel(1, 1), Some([0xaa, 0xbb, 0xcc]));
        Ok(())
    }

    #[test]
    fn parses_24bpp_msb_first() -> Result<()> {
        let mut file = header(2, 1, 24, MSB_FIRST, 0);
        file.extend_from_slice(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0, 0]);
        let image = parse_xwd(&file)?;
        assert_eq!(image.data, vec![0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);
        Ok(())
    }

    fn err_text(result: Result<RgbImage>) -> String {
        result.err().map(|e| format!("{e:#}")).unwrap_or_default()
    }

    #[test]
    fn rejects_other_formats() {
        let mut file = header(1, 1, 16, LSB_FIRST, 0);
        file.extend_from_slice(&[0; 4]);
        let error = err_text(parse_xwd(&file));
        assert!(error.contains("bits_per_pixel 16"), "{error}");
        let error = err_text(parse_xwd(&header(4, 4, 32, LSB_FIRST, 0)));
        assert!(error.contains("truncated"), "{error}");
        let error = err_text(parse_xwd(b"short"));
        assert!(error.contains("too short"), "{error}");
    }

    #[test]
    fn scales_narrow_masks() {
        let five_bits = Channel::from_mask(0b11111 << 11);
        assert_eq!(five_bits.extract(0b11111 << 11), 255);
        assert_eq!(five_bits.extract(0), 0);
    }
}
