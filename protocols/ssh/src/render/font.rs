//! The monospace font: DejaVu Sans Mono (regular and bold), compiled into
//! the crate (`fonts/`, Bitstream Vera licence), rasterised with fontdue and
//! cached per character (per terminal, and process-wide for all sessions).
//!
//! The cell size comes from the font at the chosen pixel size: the advance
//! of `M` rounded up, and ascent + descent rounded up. Glyphs are drawn
//! clipped to their cell, so a cell's pixels depend on that cell alone: this
//! is what lets the damage tracker repaint single cells.

use fontdue::{Font, FontSettings};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::palette::Rgb;

static REGULAR_TTF: &[u8] = include_bytes!("../../fonts/DejaVuSansMono.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../../fonts/DejaVuSansMono-Bold.ttf");

/// Most glyphs kept rasterised per face; past that the cache starts again
/// (a hostile server printing every code point cannot grow it without bound).
const GLYPH_CACHE_LIMIT: usize = 4096;

/// Most glyphs kept in the process-wide cache shared by all sessions.
const SHARED_CACHE_LIMIT: usize = 16384;

/// Glyph key: pixel size (as `f32` bits), character, bold.
type GlyphKey = (u32, char, bool);

/// Rasterised glyphs shared by every terminal of the process (sessions
/// mostly print the same few hundred characters at the same size).
static SHARED: Mutex<Option<HashMap<GlyphKey, Arc<Glyph>>>> = Mutex::new(None);

/// The two faces, parsed once per process (parsing is the slow part).
fn faces() -> Option<&'static (Font, Font)> {
    static FACES: OnceLock<Option<(Font, Font)>> = OnceLock::new();
    FACES
        .get_or_init(|| {
            let settings = FontSettings::default();
            let regular = Font::from_bytes(REGULAR_TTF, settings).ok()?;
            let bold = Font::from_bytes(BOLD_TTF, FontSettings::default()).ok()?;
            Some((regular, bold))
        })
        .as_ref()
}

/// The embedded font could not be loaded (a build problem, never a peer's).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the embedded terminal font cannot be loaded")]
pub struct FontError;

/// A rasterised glyph: coverage bytes and where they go in a cell.
#[derive(Debug)]
pub struct Glyph {
    /// Left edge relative to the cell's left edge.
    pub left: i32,
    /// Top edge relative to the cell's top edge.
    pub top: i32,
    /// Bitmap width.
    pub width: usize,
    /// Bitmap height.
    pub height: usize,
    /// `width * height` coverage values, row-major.
    pub coverage: Vec<u8>,
}

/// The font at one pixel size, with its cell geometry and glyph cache.
pub struct FontFace {
    px: f32,
    cell_width: u16,
    cell_height: u16,
    baseline: i32,
    cache: HashMap<(char, bool), Arc<Glyph>>,
}

impl std::fmt::Debug for FontFace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FontFace")
            .field("px", &self.px)
            .field("cell_width", &self.cell_width)
            .field("cell_height", &self.cell_height)
            .field("cached", &self.cache.len())
            .finish()
    }
}

impl FontFace {
    /// The embedded font at `px` pixels per em (clamped to 6–96).
    pub fn new(px: f32) -> Result<Self, FontError> {
        let px = if px.is_finite() {
            px.clamp(6.0, 96.0)
        } else {
            16.0
        };
        let (regular, _) = faces().ok_or(FontError)?;
        let lines = regular.horizontal_line_metrics(px).ok_or(FontError)?;
        let advance = regular.metrics('M', px).advance_width;
        let baseline = lines.ascent.ceil() as i32;
        let below = (-lines.descent).ceil() as i32;
        let cell_width = advance.ceil().max(1.0) as u16;
        let cell_height = (baseline + below).max(1) as u16;
        Ok(FontFace {
            px,
            cell_width,
            cell_height,
            baseline,
            cache: HashMap::new(),
        })
    }

    /// Width of a cell in pixels.
    pub fn cell_width(&self) -> u16 {
        self.cell_width
    }

    /// Height of a cell in pixels.
    pub fn cell_height(&self) -> u16 {
        self.cell_height
    }

    /// Distance from a cell's top to the baseline.
    pub fn baseline(&self) -> i32 {
        self.baseline
    }

    /// The glyph for `c` (bold face if `bold` and it has the character).
    pub fn glyph(&mut self, c: char, bold: bool) -> Option<Arc<Glyph>> {
        if let Some(g) = self.cache.get(&(c, bold)) {
            return Some(g.clone());
        }
        let key = (self.px.to_bits(), c, bold);
        let shared = SHARED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|m| m.get(&key).cloned());
        let glyph = match shared {
            Some(g) => g,
            None => {
                let g = self.rasterize(c, bold)?;
                let mut guard = SHARED.lock().unwrap_or_else(|e| e.into_inner());
                let map = guard.get_or_insert_with(HashMap::new);
                if map.len() >= SHARED_CACHE_LIMIT {
                    map.clear();
                }
                map.insert(key, g.clone());
                g
            }
        };
        if self.cache.len() >= GLYPH_CACHE_LIMIT {
            self.cache.clear();
        }
        self.cache.insert((c, bold), glyph.clone());
        Some(glyph)
    }

    fn rasterize(&self, c: char, bold: bool) -> Option<Arc<Glyph>> {
        let (regular, bold_face) = faces()?;
        let face = if bold && bold_face.has_glyph(c) {
            bold_face
        } else {
            regular
        };
        let (metrics, coverage) = face.rasterize(c, self.px);
        Some(Arc::new(Glyph {
            left: metrics.xmin,
            top: self.baseline - (metrics.ymin + metrics.height as i32),
            width: metrics.width,
            height: metrics.height,
            coverage,
        }))
    }
}

/// Blends `glyph` in colour `fg` into an RGB24 buffer `width` pixels wide,
/// with the glyph's cell origin at (`x`, `y`), touching only pixels inside
/// `clip` = (left, top, right, bottom), exclusive right/bottom.
pub fn blend_glyph(
    buf: &mut [u8],
    width: usize,
    glyph: &Glyph,
    (x, y): (i32, i32),
    fg: Rgb,
    clip: (i32, i32, i32, i32),
) {
    let (cl, ct, cr, cb) = clip;
    for gy in 0..glyph.height {
        let py = y + glyph.top + gy as i32;
        if py < ct || py >= cb {
            continue;
        }
        for gx in 0..glyph.width {
            let px = x + glyph.left + gx as i32;
            if px < cl || px >= cr {
                continue;
            }
            let a = u32::from(
                glyph
                    .coverage
                    .get(gy * glyph.width + gx)
                    .copied()
                    .unwrap_or(0),
            );
            if a == 0 {
                continue;
            }
            let o = (py as usize * width + px as usize) * 3;
            let Some(dst) = buf.get_mut(o..o + 3) else {
                continue;
            };
            for (d, f) in dst.iter_mut().zip(fg) {
                let (d32, f32_) = (u32::from(*d), u32::from(f));
                *d = ((d32 * (255 - a) + f32_ * a + 127) / 255) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_geometry_is_sane() {
        let face = FontFace::new(16.0).expect("font");
        assert_eq!(face.cell_width(), 10);
        assert!((17..=20).contains(&face.cell_height()), "{face:?}");
        assert!(face.baseline() > 0 && face.baseline() < i32::from(face.cell_height()));
    }

    #[test]
    fn glyphs_are_cached_and_drawn_inside_the_clip() {
        let mut face = FontFace::new(16.0).expect("font");
        let g = face.glyph('W', false).expect("glyph");
        assert!(g.width > 0 && g.height > 0);
        let g2 = face.glyph('W', false).expect("glyph");
        assert!(Arc::ptr_eq(&g, &g2));
        let (w, h) = (30usize, 20usize);
        let mut buf = vec![0u8; w * h * 3];
        blend_glyph(&mut buf, w, &g, (10, 0), [255, 255, 255], (10, 0, 20, 20));
        for y in 0..h {
            for x in 0..w {
                let lit = buf[(y * w + x) * 3] != 0;
                assert!(
                    !lit || (10..20).contains(&x),
                    "pixel {x},{y} outside the clip"
                );
            }
        }
        assert!(buf.iter().any(|&b| b != 0));
    }
}
