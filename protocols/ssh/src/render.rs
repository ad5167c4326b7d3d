//! The character grid as the viewer sees it, and its rendering into pixels.
//!
//! A [`Grid`] is a snapshot of what is on screen with every presentation
//! decision already taken (colours resolved, inverse, selection and cursor
//! applied, wide characters marked), so two grids compare equal exactly when
//! they look the same. [`Renderer`] turns any block of cells into RGB24
//! pixels; a cell's pixels depend on that cell alone (a wide character on
//! its pair), so painting changed cells only always gives the same picture
//! as painting everything.

pub mod font;
pub mod palette;

use oriel_core_model::Size;
use std::ops::Range;

pub use font::{FontError, FontFace};
pub use palette::{Rgb, Theme};

/// Cell flags.
pub mod flags {
    /// Drawn with the bold face.
    pub const BOLD: u8 = 1;
    /// Underlined.
    pub const UNDERLINE: u8 = 1 << 1;
    /// First half of a double-width character (the next cell is its spacer).
    pub const WIDE: u8 = 1 << 2;
    /// Second half of a double-width character.
    pub const SPACER: u8 = 1 << 3;
    /// The cursor is here, drawn as a bar at the left edge.
    pub const CURSOR_BAR: u8 = 1 << 4;
    /// The cursor is here, drawn as an underline.
    pub const CURSOR_UNDERLINE: u8 = 1 << 5;
}

/// One character cell, ready to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cell {
    /// The character and up to two combining marks (`'\0'` when unused);
    /// `' '` for an empty cell.
    pub text: [char; 3],
    /// Text colour.
    pub fg: Rgb,
    /// Background colour.
    pub bg: Rgb,
    /// See [`flags`].
    pub flags: u8,
}

impl Cell {
    /// An empty cell.
    pub const fn blank(fg: Rgb, bg: Rgb) -> Self {
        Cell {
            text: [' ', '\0', '\0'],
            fg,
            bg,
            flags: 0,
        }
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// A rectangle of cells, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    cols: u16,
    rows: u16,
    cells: Vec<Cell>,
}

impl Grid {
    /// A grid filled with `fill`; at least one column and one row.
    pub fn new(cols: u16, rows: u16, fill: Cell) -> Self {
        let (cols, rows) = (cols.max(1), rows.max(1));
        Grid {
            cols,
            rows,
            cells: vec![fill; usize::from(cols) * usize::from(rows)],
        }
    }

    /// Number of columns.
    pub fn cols(&self) -> u16 {
        self.cols
    }

    /// Number of rows.
    pub fn rows(&self) -> u16 {
        self.rows
    }

    /// The cells of row `r` (empty past the last row).
    pub fn row(&self, r: u16) -> &[Cell] {
        let start = usize::from(r) * usize::from(self.cols);
        self.cells
            .get(start..start + usize::from(self.cols))
            .unwrap_or(&[])
    }

    /// The cells of row `r`, mutable (empty past the last row).
    pub fn row_mut(&mut self, r: u16) -> &mut [Cell] {
        let start = usize::from(r) * usize::from(self.cols);
        let cols = usize::from(self.cols);
        self.cells.get_mut(start..start + cols).unwrap_or(&mut [])
    }

    /// One cell, if inside.
    pub fn cell(&self, r: u16, c: u16) -> Option<&Cell> {
        self.row(r).get(usize::from(c))
    }

    /// The text of row `r`, trailing blanks removed (for tests and probes).
    pub fn row_text(&self, r: u16) -> String {
        let mut s = String::new();
        for cell in self.row(r) {
            if cell.has(flags::SPACER) {
                continue;
            }
            for ch in cell.text.iter().filter(|&&ch| ch != '\0') {
                s.push(*ch);
            }
        }
        s.truncate(s.trim_end().len());
        s
    }
}

/// Draws grids with one font and theme.
#[derive(Debug)]
pub struct Renderer {
    face: FontFace,
    theme: Theme,
}

impl Renderer {
    /// A renderer with the embedded font at `font_px` pixels per em.
    pub fn new(font_px: f32, theme: Theme) -> Result<Self, FontError> {
        Ok(Renderer {
            face: FontFace::new(font_px)?,
            theme,
        })
    }

    /// Size of one cell in pixels.
    pub fn cell_size(&self) -> Size {
        Size::new(self.face.cell_width(), self.face.cell_height())
    }

    /// The theme.
    pub fn theme(&self) -> &Theme {
        &self.theme
    }

    /// Renders the block `cols` × `rows` of `grid` as RGB24 into `out`
    /// (replacing its content), `cols.len() * cell width` pixels wide.
    pub fn render_cells(
        &mut self,
        grid: &Grid,
        cols: Range<u16>,
        rows: Range<u16>,
        out: &mut Vec<u8>,
    ) {
        let cell = self.cell_size();
        let width = usize::from(cols.end.saturating_sub(cols.start)) * usize::from(cell.width);
        let height = usize::from(rows.end.saturating_sub(rows.start)) * usize::from(cell.height);
        out.clear();
        out.resize(width * height * 3, 0);
        self.draw(grid, cols, rows, out, width);
    }

    /// The whole picture of a desktop of `size` showing `grid`: the cells,
    /// and the theme's background in the margin right of and below them.
    pub fn render_full(&mut self, grid: &Grid, size: Size) -> Vec<u8> {
        let bg = self.theme.background;
        let mut out = Vec::with_capacity(size.area() as usize * 3);
        for _ in 0..size.area() {
            out.extend_from_slice(&bg);
        }
        let cell = self.cell_size();
        let cols = grid.cols.min(size.width / cell.width.max(1));
        let rows = grid.rows.min(size.height / cell.height.max(1));
        self.draw(grid, 0..cols, 0..rows, &mut out, usize::from(size.width));
        out
    }

    /// Draws the block with its top-left cell at pixel (0, 0) of `buf`,
    /// which is `stride` pixels wide and tall enough for the block.
    fn draw(
        &mut self,
        grid: &Grid,
        cols: Range<u16>,
        rows: Range<u16>,
        buf: &mut [u8],
        stride: usize,
    ) {
        let (cw, ch) = (
            i32::from(self.face.cell_width()),
            i32::from(self.face.cell_height()),
        );
        let block_right = i32::from(cols.end.saturating_sub(cols.start)) * cw;
        let baseline = self.face.baseline();
        let thickness = (ch / 16).max(1);
        let underline_y = (baseline + 1 + thickness / 2).min(ch - thickness);
        for r in rows.clone() {
            let row = grid.row(r);
            let top = i32::from(r - rows.start) * ch;
            // A block starting on the second half of a wide character also
            // draws that character's first half (clipped away).
            let mut c = cols.start;
            if c > 0
                && row
                    .get(usize::from(c))
                    .is_some_and(|x| x.has(flags::SPACER))
            {
                c -= 1;
            }
            while c < cols.end {
                let Some(cell) = row.get(usize::from(c)) else {
                    break;
                };
                let span: u16 = if cell.has(flags::WIDE) && c + 1 < grid.cols {
                    2
                } else {
                    1
                };
                let left = (i32::from(c) - i32::from(cols.start)) * cw;
                let clip = (
                    left.max(0),
                    top,
                    (left + i32::from(span) * cw).min(block_right),
                    top + ch,
                );
                fill(buf, stride, clip, cell.bg);
                for &g in cell.text.iter().filter(|&&g| g != '\0' && g != ' ') {
                    if let Some(glyph) = self.face.glyph(g, cell.has(flags::BOLD)) {
                        font::blend_glyph(buf, stride, &glyph, (left, top), cell.fg, clip);
                    }
                }
                if cell.has(flags::UNDERLINE) {
                    let y = top + underline_y;
                    fill(buf, stride, (clip.0, y, clip.2, y + thickness), cell.fg);
                }
                if cell.has(flags::CURSOR_UNDERLINE) {
                    let h = (ch / 8).max(2);
                    fill(
                        buf,
                        stride,
                        (clip.0, top + ch - h, clip.2, top + ch),
                        cell.fg,
                    );
                }
                if cell.has(flags::CURSOR_BAR) {
                    let w = (cw / 5).max(2);
                    fill(
                        buf,
                        stride,
                        (clip.0, top, (left + w).min(clip.2), top + ch),
                        cell.fg,
                    );
                }
                c += span;
            }
        }
    }
}

/// Fills (left, top, right, bottom) of an RGB24 buffer `stride` pixels wide.
fn fill(buf: &mut [u8], stride: usize, (l, t, r, b): (i32, i32, i32, i32), rgb: Rgb) {
    let (l, r) = (l.max(0) as usize, r.max(0) as usize);
    if r <= l {
        return;
    }
    for y in t.max(0)..b.max(0) {
        let start = (y as usize * stride + l) * 3;
        let end = (y as usize * stride + r) * 3;
        let Some(row) = buf.get_mut(start..end) else {
            return;
        };
        for px in row.chunks_exact_mut(3) {
            px.copy_from_slice(&rgb);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_cell(c: char) -> Cell {
        Cell {
            text: [c, '\0', '\0'],
            ..Cell::blank([255, 255, 255], [0, 0, 64])
        }
    }

    #[test]
    fn blocks_equal_the_same_area_of_a_full_render() {
        let mut r = Renderer::new(16.0, Theme::default()).expect("renderer");
        let mut grid = Grid::new(8, 3, Cell::blank([200, 200, 200], [10, 10, 10]));
        for (i, ch) in "Hello, wide:".chars().enumerate().take(8) {
            grid.row_mut(1)[i] = text_cell(ch);
        }
        // A wide character across columns 5 and 6 of row 2.
        grid.row_mut(2)[5] = Cell {
            flags: flags::WIDE | flags::UNDERLINE,
            ..text_cell('界')
        };
        grid.row_mut(2)[6] = Cell {
            flags: flags::SPACER,
            ..text_cell(' ')
        };
        let cell = r.cell_size();
        let size = Size::new(8 * cell.width + 3, 3 * cell.height + 5);
        let full = r.render_full(&grid, size);
        let mut block = Vec::new();
        for (cols, rows) in [(0..8, 0..3), (2..7, 1..3), (6..8, 2..3), (5..6, 2..3)] {
            r.render_cells(&grid, cols.clone(), rows.clone(), &mut block);
            let w = usize::from(cols.end - cols.start) * usize::from(cell.width);
            for y in 0..usize::from(rows.end - rows.start) * usize::from(cell.height) {
                let fy = y + usize::from(rows.start) * usize::from(cell.height);
                let fx = usize::from(cols.start) * usize::from(cell.width);
                let f = (fy * usize::from(size.width) + fx) * 3;
                assert_eq!(
                    &block[y * w * 3..(y + 1) * w * 3],
                    &full[f..f + w * 3],
                    "block {cols:?}x{rows:?} row {y}"
                );
            }
        }
        // The margin is the theme's background.
        let last = full.len() - 3;
        assert_eq!(&full[last..], &Theme::default().background);
        assert_eq!(grid.row_text(1), "Hello, w");
        assert_eq!(grid.row_text(2), "     界");
    }
}
