//! A 24-bit RGB framebuffer with bounds-checked drawing operations.

use oriel_core_model::{PixelLayout, Point, Rect, Size};

/// Why a drawing operation was refused. The framebuffer is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DrawError {
    /// The rectangle reaches outside the framebuffer.
    #[error("rectangle {rect:?} outside the {size:?} framebuffer")]
    OutOfBounds {
        /// The offending rectangle.
        rect: Rect,
        /// Framebuffer size.
        size: Size,
    },
    /// The pixel data does not have the length the rectangle needs.
    #[error("pixel data of {got} bytes for a rectangle needing {expected}")]
    BadLength {
        /// Bytes given.
        got: usize,
        /// Bytes needed.
        expected: usize,
    },
}

/// Row-major RGB pixels, 3 bytes each, no padding.
#[derive(Clone, PartialEq, Eq)]
pub struct Framebuffer {
    size: Size,
    rgb: Vec<u8>,
}

impl std::fmt::Debug for Framebuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Framebuffer")
            .field("size", &self.size)
            .finish()
    }
}

impl Framebuffer {
    /// A black framebuffer.
    pub fn new(size: Size) -> Self {
        Framebuffer {
            size,
            rgb: vec![0; size.area() as usize * 3],
        }
    }

    /// Current size.
    pub fn size(&self) -> Size {
        self.size
    }

    /// All pixels, row-major RGB.
    pub fn as_rgb(&self) -> &[u8] {
        &self.rgb
    }

    /// Changes the size; the content becomes black.
    pub fn reset(&mut self, size: Size) {
        self.size = size;
        self.rgb.clear();
        self.rgb.resize(size.area() as usize * 3, 0);
        self.rgb.shrink_to_fit();
    }

    fn check(&self, rect: Rect) -> Result<(), DrawError> {
        if rect.is_empty() || !rect.fits_in(self.size) {
            return Err(DrawError::OutOfBounds {
                rect,
                size: self.size,
            });
        }
        Ok(())
    }

    fn offset(&self, x: u16, y: u16) -> usize {
        (y as usize * self.size.width as usize + x as usize) * 3
    }

    /// Writes pixels of `layout` into `rect`.
    pub fn blit(&mut self, rect: Rect, layout: PixelLayout, data: &[u8]) -> Result<(), DrawError> {
        self.check(rect)?;
        let bpp = layout.bytes_per_pixel();
        let row_in = rect.width as usize * bpp;
        let expected = row_in * rect.height as usize;
        if data.len() != expected {
            return Err(DrawError::BadLength {
                got: data.len(),
                expected,
            });
        }
        let row_out = rect.width as usize * 3;
        for (row, src) in data.chunks_exact(row_in).enumerate() {
            let start = self.offset(rect.x, rect.y + row as u16);
            let dst = &mut self.rgb[start..start + row_out];
            match layout {
                PixelLayout::Rgb24 => dst.copy_from_slice(src),
                PixelLayout::Rgbx32 => {
                    for (d, s) in dst.chunks_exact_mut(3).zip(src.chunks_exact(4)) {
                        d.copy_from_slice(&s[..3]);
                    }
                }
            }
        }
        Ok(())
    }

    /// Fills `rect` with one colour.
    pub fn fill(&mut self, rect: Rect, rgb: [u8; 3]) -> Result<(), DrawError> {
        self.check(rect)?;
        let row_out = rect.width as usize * 3;
        for row in 0..rect.height {
            let start = self.offset(rect.x, rect.y + row);
            for px in self.rgb[start..start + row_out].chunks_exact_mut(3) {
                px.copy_from_slice(&rgb);
            }
        }
        Ok(())
    }

    /// Copies the `dst.size()` rectangle at `src` to `dst`; the areas may overlap.
    pub fn copy(&mut self, src: Point, dst: Rect) -> Result<(), DrawError> {
        let src_rect = Rect::new(src.x, src.y, dst.width, dst.height);
        self.check(src_rect)?;
        self.check(dst)?;
        let row_len = dst.width as usize * 3;
        // Walk rows in the direction that never overwrites a row before it is read.
        let rows: Box<dyn Iterator<Item = u16>> = if dst.y > src.y {
            Box::new((0..dst.height).rev())
        } else {
            Box::new(0..dst.height)
        };
        for row in rows {
            let from = self.offset(src.x, src.y + row);
            let to = self.offset(dst.x, dst.y + row);
            self.rgb.copy_within(from..from + row_len, to);
        }
        Ok(())
    }

    /// Copies `rect`'s pixels (RGB, row-major) into `out`, replacing its content.
    pub fn read(&self, rect: Rect, out: &mut Vec<u8>) -> Result<(), DrawError> {
        self.check(rect)?;
        out.clear();
        let row_len = rect.width as usize * 3;
        out.reserve(row_len * rect.height as usize);
        for row in 0..rect.height {
            let start = self.offset(rect.x, rect.y + row);
            out.extend_from_slice(&self.rgb[start..start + row_len]);
        }
        Ok(())
    }

    /// One pixel, if inside.
    pub fn pixel(&self, at: Point) -> Option<[u8; 3]> {
        if at.x >= self.size.width || at.y >= self.size.height {
            return None;
        }
        let o = self.offset(at.x, at.y);
        Some([self.rgb[o], self.rgb[o + 1], self.rgb[o + 2]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pattern(size: Size) -> Framebuffer {
        let mut fb = Framebuffer::new(size);
        for y in 0..size.height {
            for x in 0..size.width {
                let r = Rect::new(x, y, 1, 1);
                fb.fill(r, [x as u8, y as u8, (x ^ y) as u8]).unwrap();
            }
        }
        fb
    }

    #[test]
    fn rgbx_is_converted_and_lengths_checked() {
        let mut fb = Framebuffer::new(Size::new(4, 4));
        let data = [1, 2, 3, 99, 4, 5, 6, 99];
        fb.blit(Rect::new(1, 1, 2, 1), PixelLayout::Rgbx32, &data)
            .unwrap();
        assert_eq!(fb.pixel(Point::new(1, 1)), Some([1, 2, 3]));
        assert_eq!(fb.pixel(Point::new(2, 1)), Some([4, 5, 6]));
        assert!(matches!(
            fb.blit(Rect::new(0, 0, 2, 1), PixelLayout::Rgbx32, &data[..7]),
            Err(DrawError::BadLength { .. })
        ));
        assert!(matches!(
            fb.blit(Rect::new(3, 3, 2, 1), PixelLayout::Rgbx32, &data),
            Err(DrawError::OutOfBounds { .. })
        ));
        assert!(fb.fill(Rect::new(0, 0, 0, 1), [0; 3]).is_err());
    }

    proptest! {
        #[test]
        fn copy_matches_a_copy_through_a_temporary(
            sx in 0u16..20, sy in 0u16..20, dx in 0u16..20, dy in 0u16..20,
            w in 1u16..12, h in 1u16..12,
        ) {
            let size = Size::new(32, 32);
            let mut fb = pattern(size);
            let src = Rect::new(sx, sy, w, h);
            let dst = Rect::new(dx, dy, w, h);
            let mut tmp = Vec::new();
            fb.read(src, &mut tmp).unwrap();
            let mut expected = fb.clone();
            expected.blit(dst, PixelLayout::Rgb24, &tmp).unwrap();
            fb.copy(Point::new(sx, sy), dst).unwrap();
            prop_assert!(fb == expected);
        }
    }
}
