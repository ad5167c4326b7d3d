//! An overlay: a semi-transparent pattern blended over every picture a
//! session sends (the watermark), tiled across the desktop from its top-left
//! corner. The framebuffer keeps the target's own pixels; the overlay is
//! blended into the copy of a tile that is encoded, so the viewer's picture
//! converges to the target's with the pattern over it, and nothing the
//! viewer holds is ever without it.

use oriel_core_model::Rect;

/// Why an overlay was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OverlayError {
    /// An empty pattern, or pixel data of another length.
    #[error("overlay pattern of {width}x{height} with {len} bytes of RGBA")]
    BadPattern {
        /// Width of the pattern.
        width: u16,
        /// Height of the pattern.
        height: u16,
        /// Bytes given.
        len: usize,
    },
}

/// A pattern of straight-alpha RGBA pixels, repeated across the desktop.
#[derive(Clone, PartialEq, Eq)]
pub struct Overlay {
    width: u16,
    height: u16,
    rgba: Vec<u8>,
}

impl std::fmt::Debug for Overlay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlay")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

impl Overlay {
    /// A pattern `width`×`height` of RGBA pixels (alpha not premultiplied).
    pub fn new(width: u16, height: u16, rgba: Vec<u8>) -> Result<Self, OverlayError> {
        if width == 0 || height == 0 || rgba.len() != usize::from(width) * usize::from(height) * 4 {
            return Err(OverlayError::BadPattern {
                width,
                height,
                len: rgba.len(),
            });
        }
        Ok(Overlay {
            width,
            height,
            rgba,
        })
    }

    /// Size of the pattern.
    pub fn pattern_size(&self) -> (u16, u16) {
        (self.width, self.height)
    }

    /// Blends the pattern over `rgb`, the pixels of `rect` of the desktop
    /// (row-major RGB, `rect.area() * 3` bytes).
    pub fn apply(&self, rect: Rect, rgb: &mut [u8]) {
        let (pw, ph) = (usize::from(self.width), usize::from(self.height));
        let w = usize::from(rect.width);
        for (row, line) in rgb.chunks_exact_mut(w * 3).enumerate() {
            let py = (usize::from(rect.y) + row) % ph;
            let pattern = &self.rgba[py * pw * 4..(py + 1) * pw * 4];
            let mut px = usize::from(rect.x) % pw;
            for pixel in line.chunks_exact_mut(3) {
                let p = &pattern[px * 4..px * 4 + 4];
                let a = u32::from(p[3]);
                if a != 0 {
                    for (c, o) in pixel.iter_mut().zip(&p[..3]) {
                        *c = ((u32::from(*c) * (255 - a) + u32::from(*o) * a + 127) / 255) as u8;
                    }
                }
                px += 1;
                if px == pw {
                    px = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_repeats_from_the_desktops_corner_and_blends_by_alpha() {
        // 2x1: opaque white, then transparent.
        let o = Overlay::new(2, 1, vec![255, 255, 255, 255, 9, 9, 9, 0]).unwrap();
        let mut rgb = vec![10u8; 3 * 3 * 2];
        o.apply(Rect::new(1, 5, 3, 2), &mut rgb);
        // x = 1, 2, 3 → pattern columns 1, 0, 1.
        assert_eq!(&rgb[..9], &[10, 10, 10, 255, 255, 255, 10, 10, 10]);
        assert_eq!(&rgb[9..], &rgb[..9], "every row the same (height 1)");
        let half = Overlay::new(1, 1, vec![200, 0, 100, 128]).unwrap();
        let mut px = vec![100u8, 100, 100];
        half.apply(Rect::new(0, 0, 1, 1), &mut px);
        assert_eq!(px, vec![150, 50, 100]);
        assert!(Overlay::new(0, 1, Vec::new()).is_err());
        assert!(Overlay::new(1, 1, vec![0; 3]).is_err());
    }
}
