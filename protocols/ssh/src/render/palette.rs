//! Colours: the theme's defaults and the xterm 256-colour palette
//! (16 system colours, the 6×6×6 cube, the 24-step grey ramp), as xterm
//! documents them in its `256colres.h` / `88colres.h` and ctlseqs (SGR 38/48).

/// Red, green, blue.
pub type Rgb = [u8; 3];

/// Colours of the rendered terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// Text colour when the application sets none.
    pub foreground: Rgb,
    /// Background when the application sets none; also the margin right of
    /// and below the character grid.
    pub background: Rgb,
    /// The 16 system colours (SGR 30–37, 90–97 and 256-colour indexes 0–15).
    pub ansi: [Rgb; 16],
}

impl Default for Theme {
    /// xterm's default system colours on a dark background. The background
    /// is not pure black on purpose: a pixel that was never painted (black)
    /// is then visible in tests.
    fn default() -> Self {
        Theme {
            foreground: [229, 229, 229],
            background: [24, 24, 28],
            ansi: [
                [0, 0, 0],
                [205, 0, 0],
                [0, 205, 0],
                [205, 205, 0],
                [0, 0, 238],
                [205, 0, 205],
                [0, 205, 205],
                [229, 229, 229],
                [127, 127, 127],
                [255, 0, 0],
                [0, 255, 0],
                [255, 255, 0],
                [92, 92, 255],
                [255, 0, 255],
                [0, 255, 255],
                [255, 255, 255],
            ],
        }
    }
}

/// Levels of the 6×6×6 colour cube (xterm's values).
const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

impl Theme {
    /// The colour of a 256-colour palette index.
    pub fn indexed(&self, index: u8) -> Rgb {
        match index {
            0..=15 => self.ansi[usize::from(index)],
            16..=231 => {
                let i = index - 16;
                [
                    CUBE[usize::from(i / 36)],
                    CUBE[usize::from((i / 6) % 6)],
                    CUBE[usize::from(i % 6)],
                ]
            }
            232..=255 => {
                let v = 8 + 10 * (index - 232);
                [v, v, v]
            }
        }
    }
}

/// The colour halfway between `a` and `b` (SGR 2, faint text).
pub fn mix(a: Rgb, b: Rgb) -> Rgb {
    [
        ((u16::from(a[0]) + u16::from(b[0])) / 2) as u8,
        ((u16::from(a[1]) + u16::from(b[1])) / 2) as u8,
        ((u16::from(a[2]) + u16::from(b[2])) / 2) as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_matches_xterm() {
        let t = Theme::default();
        assert_eq!(t.indexed(1), [205, 0, 0]);
        assert_eq!(t.indexed(16), [0, 0, 0]);
        assert_eq!(t.indexed(196), [255, 0, 0]);
        assert_eq!(t.indexed(21), [0, 0, 255]);
        assert_eq!(t.indexed(231), [255, 255, 255]);
        assert_eq!(t.indexed(232), [8, 8, 8]);
        assert_eq!(t.indexed(255), [238, 238, 238]);
        assert_eq!(mix([0, 0, 0], [255, 255, 255]), [127, 127, 127]);
    }
}
