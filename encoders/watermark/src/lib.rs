//! The watermark (core tier: no I/O, no clock): lines of text (the user's
//! name, the time, the session, the client's address) rendered with DejaVu
//! Sans Mono, rotated, and laid out in a pattern cell that the damage
//! tracker tiles over the whole desktop ([`Overlay`]). The text is white
//! with a dark outline so that it reads on light and dark pictures alike;
//! the opacity says how strongly it is blended.
//!
//! The gateway draws it into the pixels before encoding, so a viewer cannot
//! remove it and recordings carry it too.

use fontdue::{Font, FontSettings};
use oriel_encoders_damage::Overlay;
use std::sync::OnceLock;

/// The font, shared with the SSH terminal renderer (Bitstream Vera licence,
/// `protocols/ssh/fonts/LICENSE`).
static FONT_TTF: &[u8] = include_bytes!("../../../protocols/ssh/fonts/DejaVuSansMono.ttf");

/// Longest text rendered, in characters per line and lines.
pub const MAX_LINE_CHARS: usize = 120;
/// Most lines rendered.
pub const MAX_LINES: usize = 6;

/// Why no watermark could be made (never a peer's doing).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WatermarkError {
    /// The embedded font cannot be loaded (a build problem).
    #[error("the embedded watermark font cannot be loaded")]
    Font,
    /// A style value out of range.
    #[error("watermark {0} out of range")]
    Style(&'static str),
}

/// How the watermark looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// How strongly the text is blended over the picture, 0–1.
    pub opacity: f32,
    /// Rotation, degrees counter-clockwise (−90–90).
    pub angle_deg: f32,
    /// Text height, pixels (8–96).
    pub size_px: f32,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            opacity: 0.25,
            angle_deg: 30.0,
            size_px: 16.0,
        }
    }
}

fn font() -> Option<&'static Font> {
    static FONT: OnceLock<Option<Font>> = OnceLock::new();
    FONT.get_or_init(|| Font::from_bytes(FONT_TTF, FontSettings::default()).ok())
        .as_ref()
}

/// Coverage of `lines` at `px` on a canvas of their size: (width, height, alpha).
fn rasterise(font: &Font, lines: &[&str], px: f32) -> (usize, usize, Vec<u8>) {
    let metrics = font.horizontal_line_metrics(px);
    let (ascent, line_height) = metrics.map_or((px, px * 1.2), |m| {
        (m.ascent, (m.ascent - m.descent + m.line_gap).max(px))
    });
    let advance = font.metrics('M', px).advance_width.ceil().max(1.0) as usize;
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) * advance + 2;
    let height = (line_height * lines.len() as f32).ceil() as usize + 2;
    let mut canvas = vec![0u8; width * height];
    for (row, line) in lines.iter().enumerate() {
        let baseline = (ascent + line_height * row as f32).round() as i64;
        for (col, ch) in line.chars().enumerate() {
            let (m, bitmap) = font.rasterize(ch, px);
            let left = (col * advance) as i64 + i64::from(m.xmin);
            let top = baseline - i64::from(m.ymin) - m.height as i64;
            for y in 0..m.height {
                for x in 0..m.width {
                    let (cx, cy) = (left + x as i64, top + y as i64);
                    if cx < 0 || cy < 0 || cx as usize >= width || cy as usize >= height {
                        continue;
                    }
                    let c = &mut canvas[cy as usize * width + cx as usize];
                    *c = (*c).max(bitmap[y * m.width + x]);
                }
            }
        }
    }
    (width, height, canvas)
}

/// The pattern cell for `lines` in `style`: the text rotated about the
/// cell's centre, with room around it so that neighbouring copies do not
/// touch.
pub fn render(lines: &[String], style: Style) -> Result<Overlay, WatermarkError> {
    if !(0.0..=1.0).contains(&style.opacity) {
        return Err(WatermarkError::Style("opacity"));
    }
    if !(-90.0..=90.0).contains(&style.angle_deg) {
        return Err(WatermarkError::Style("angle"));
    }
    if !(8.0..=96.0).contains(&style.size_px) {
        return Err(WatermarkError::Style("size"));
    }
    let font = font().ok_or(WatermarkError::Font)?;
    let lines: Vec<String> = lines
        .iter()
        .take(MAX_LINES)
        .map(|l| l.chars().take(MAX_LINE_CHARS).collect())
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (tw, th, text) = rasterise(font, &refs, style.size_px);
    let (sin, cos) = style.angle_deg.to_radians().sin_cos();
    // The rotated text's bounding box, then a gap of half a text height.
    let (tw_f, th_f) = (tw as f32, th as f32);
    let bw = tw_f * cos.abs() + th_f * sin.abs();
    let bh = tw_f * sin.abs() + th_f * cos.abs();
    let gap = style.size_px * 3.0;
    let cw = (bw + gap).ceil().clamp(16.0, 4096.0) as usize;
    let ch = (bh + gap).ceil().clamp(16.0, 4096.0) as usize;
    let alpha = (style.opacity * 255.0).round() as u32;
    let mut rgba = vec![0u8; cw * ch * 4];
    let sample = |x: f32, y: f32| -> u32 {
        // Nearest text pixel of a cell position, rotated back.
        let (dx, dy) = (x - cw as f32 / 2.0, y - ch as f32 / 2.0);
        let tx = dx * cos - dy * sin + tw_f / 2.0;
        let ty = dx * sin + dy * cos + th_f / 2.0;
        if tx < 0.0 || ty < 0.0 || tx >= tw_f || ty >= th_f {
            return 0;
        }
        u32::from(text[ty as usize * tw + tx as usize])
    };
    for y in 0..ch {
        for x in 0..cw {
            let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
            let ink = sample(fx, fy);
            // The outline: the text one pixel away in any direction.
            let shadow = [
                (-1.0, -1.0),
                (0.0, -1.0),
                (1.0, -1.0),
                (-1.0, 0.0),
                (1.0, 0.0),
                (-1.0, 1.0),
                (0.0, 1.0),
                (1.0, 1.0),
            ]
            .iter()
            .map(|(ox, oy)| sample(fx + ox, fy + oy))
            .max()
            .unwrap_or(0);
            let o = (y * cw + x) * 4;
            if ink > 0 {
                rgba[o..o + 3].copy_from_slice(&[255, 255, 255]);
                rgba[o + 3] = (alpha * ink.max(shadow) / 255) as u8;
            } else if shadow > 0 {
                rgba[o..o + 3].copy_from_slice(&[0, 0, 0]);
                rgba[o + 3] = (alpha * shadow / 255) as u8;
            }
        }
    }
    Overlay::new(cw as u16, ch as u16, rgba).map_err(|_| WatermarkError::Style("size"))
}

/// The watermark's text from a template: `{user}`, `{time}`, `{session}`
/// and `{client}` replaced, `|` starting a new line; control characters
/// dropped (a user name cannot break the layout).
pub fn lines(template: &str, user: &str, time: &str, session: &str, client: &str) -> Vec<String> {
    let clean = |s: &str| s.chars().filter(|c| !c.is_control()).collect::<String>();
    template
        .replace("{user}", &clean(user))
        .replace("{time}", &clean(time))
        .replace("{session}", &clean(session))
        .replace("{client}", &clean(client))
        .split('|')
        .map(|l| clean(l).trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[cfg(test)]
mod tests;
