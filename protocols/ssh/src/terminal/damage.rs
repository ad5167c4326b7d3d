//! From "what the viewer has" to "what it should have": copy-rects for
//! scrolled lines, pixels for the changed cell runs only.
//!
//! The tracker keeps the grid the viewer was last sent. A new grid is
//! compared with it row by row: first the largest band of rows that moved
//! vertically (scrolling, `IL`/`DL`, a scroll region) becomes one
//! [`SessionEvent::Copy`]; then every run of cells that still differs is
//! rendered and sent as [`SessionEvent::Pixels`], runs with the same columns
//! on consecutive rows merged into one rectangle. Because a cell's pixels
//! depend on that cell alone, the viewer's picture always equals a fresh
//! render of the grid.

use crate::render::{Cell, Grid, Renderer, flags};
use oriel_core_model::{PixelLayout, Point, Rect, SessionEvent, Size};
use std::hash::{DefaultHasher, Hash, Hasher};

/// Unchanged cells between two changed runs that are repainted anyway to
/// make one rectangle of the two.
const MERGE_GAP: u16 = 2;

/// Remembers what the viewer shows and computes the events that update it.
#[derive(Debug, Default)]
pub struct DamageTracker {
    shown: Option<Grid>,
}

/// A vertical move: `len` rows from row `from` of the old grid to row `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift {
    /// First row of the band in the old grid.
    pub from: u16,
    /// First row of the band in the new grid.
    pub to: u16,
    /// Rows in the band.
    pub len: u16,
}

impl DamageTracker {
    /// Forgets what the viewer has: the next update repaints everything.
    pub fn invalidate(&mut self) {
        self.shown = None;
    }

    /// The grid the viewer was last sent.
    pub fn shown(&self) -> Option<&Grid> {
        self.shown.as_ref()
    }

    /// Appends the events that turn the viewer's picture into `grid` on a
    /// desktop of `size`, and remembers `grid` as shown.
    pub fn update(
        &mut self,
        grid: Grid,
        size: Size,
        renderer: &mut Renderer,
        events: &mut Vec<SessionEvent>,
    ) {
        let cell = renderer.cell_size();
        let (cw, ch) = (cell.width.max(1), cell.height.max(1));
        // Only whole cells inside the desktop are drawn.
        let cols = grid.cols().min(size.width / cw);
        let rows = grid.rows().min(size.height / ch);
        let mut shown = match self.shown.take() {
            Some(s) if s.cols() == grid.cols() && s.rows() == grid.rows() => s,
            _ => {
                self.repaint_all(&grid, size, (cols, rows), renderer, events);
                self.shown = Some(grid);
                return;
            }
        };
        if cols == 0 || rows == 0 {
            // A desktop smaller than one cell shows only the background.
            self.shown = Some(grid);
            return;
        }
        if let Some(shift) = find_shift(&shown, &grid, rows) {
            events.push(SessionEvent::Copy {
                src: Point::new(0, shift.from * ch),
                dst: Rect::new(0, shift.to * ch, cols * cw, shift.len * ch),
            });
            let moved: Vec<Vec<Cell>> = (shift.from..shift.from + shift.len)
                .map(|r| shown.row(r).to_vec())
                .collect();
            for (i, row) in moved.into_iter().enumerate() {
                shown.row_mut(shift.to + i as u16).copy_from_slice(&row);
            }
        }
        let mut open: Vec<(u16, u16, u16, u16)> = Vec::new(); // (c0, c1, r0, r1)
        let mut done: Vec<(u16, u16, u16, u16)> = Vec::new();
        for r in 0..rows {
            let runs = changed_runs(shown.row(r), grid.row(r), cols);
            let mut next_open = Vec::with_capacity(runs.len());
            for (c0, c1) in runs {
                match open.iter().position(|o| o.0 == c0 && o.1 == c1 && o.3 == r) {
                    Some(i) => {
                        let mut o = open.swap_remove(i);
                        o.3 = r + 1;
                        next_open.push(o);
                    }
                    None => next_open.push((c0, c1, r, r + 1)),
                }
            }
            done.append(&mut open);
            open = next_open;
        }
        done.append(&mut open);
        done.sort_unstable_by_key(|&(c0, _, r0, _)| (r0, c0));
        for (c0, c1, r0, r1) in done {
            let mut data = Vec::new();
            renderer.render_cells(&grid, c0..c1, r0..r1, &mut data);
            events.push(SessionEvent::Pixels {
                rect: Rect::new(c0 * cw, r0 * ch, (c1 - c0) * cw, (r1 - r0) * ch),
                layout: PixelLayout::Rgb24,
                data,
            });
        }
        self.shown = Some(grid);
    }

    fn repaint_all(
        &mut self,
        grid: &Grid,
        size: Size,
        (cols, rows): (u16, u16),
        renderer: &mut Renderer,
        events: &mut Vec<SessionEvent>,
    ) {
        let cell = renderer.cell_size();
        let (w, h) = (cols * cell.width, rows * cell.height);
        let bg = renderer.theme().background;
        if w == 0 || h == 0 {
            if size.width > 0 && size.height > 0 {
                events.push(SessionEvent::Fill {
                    rect: Rect::of_size(size),
                    rgb: bg,
                });
            }
            return;
        }
        if w < size.width {
            events.push(SessionEvent::Fill {
                rect: Rect::new(w, 0, size.width - w, size.height),
                rgb: bg,
            });
        }
        if h < size.height {
            events.push(SessionEvent::Fill {
                rect: Rect::new(0, h, w, size.height - h),
                rgb: bg,
            });
        }
        let mut data = Vec::new();
        renderer.render_cells(grid, 0..cols, 0..rows, &mut data);
        events.push(SessionEvent::Pixels {
            rect: Rect::new(0, 0, w, h),
            layout: PixelLayout::Rgb24,
            data,
        });
    }
}

fn row_hash(row: &[Cell]) -> u64 {
    let mut h = DefaultHasher::new();
    row.hash(&mut h);
    h.finish()
}

/// A row that is cheap to paint: no text, one background.
fn is_plain(row: &[Cell]) -> bool {
    let Some(first) = row.first() else {
        return true;
    };
    row.iter()
        .all(|c| c.text[0] == ' ' && c.text[1] == '\0' && c.flags == 0 && c.bg == first.bg)
}

/// The band of rows that moved vertically and saves the most repainting,
/// if any: rows of text that would otherwise be painted again.
pub fn find_shift(old: &Grid, new: &Grid, rows: u16) -> Option<Shift> {
    let rows = rows.min(old.rows()).min(new.rows());
    let old_h: Vec<u64> = (0..rows).map(|r| row_hash(old.row(r))).collect();
    let new_h: Vec<u64> = (0..rows).map(|r| row_hash(new.row(r))).collect();
    let same =
        |i: u16, j: u16| old_h[usize::from(j)] == new_h[usize::from(i)] && old.row(j) == new.row(i);
    // Rows whose repaint a move could save.
    let saves: Vec<bool> = (0..rows)
        .map(|i| !same(i, i) && !is_plain(new.row(i)))
        .collect();
    let mut best: Option<(u32, Shift)> = None;
    let n = i32::from(rows);
    for k in -(n - 1)..n {
        if k == 0 {
            continue;
        }
        let mut run_start = None;
        let mut score = 0u32;
        let lo = (-k).max(0);
        let hi = (n - k).min(n);
        for i in lo..=hi {
            let matched = i < hi && same(i as u16, (i + k) as u16);
            if matched {
                if run_start.is_none() {
                    run_start = Some(i);
                    score = 0;
                }
                score += u32::from(saves[i as usize]);
                continue;
            }
            if let Some(start) = run_start.take() {
                let len = (i - start) as u16;
                let better = match best {
                    None => score > 0,
                    Some((s, b)) => score > s || (score == s && len > b.len),
                };
                if better {
                    best = Some((
                        score,
                        Shift {
                            from: (start + k) as u16,
                            to: start as u16,
                            len,
                        },
                    ));
                }
            }
        }
    }
    best.map(|(_, s)| s)
}

/// Column ranges `[c0, c1)` of `new` that differ from `old` (within the
/// first `cols` columns), nearby runs merged, wide characters kept whole.
fn changed_runs(old: &[Cell], new: &[Cell], cols: u16) -> Vec<(u16, u16)> {
    let cols = usize::from(cols).min(old.len()).min(new.len());
    let mut runs: Vec<(u16, u16)> = Vec::new();
    let mut c = 0;
    while c < cols {
        if old[c] == new[c] {
            c += 1;
            continue;
        }
        let mut start = c;
        let mut end = c + 1;
        while end < cols && old[end] != new[end] {
            end += 1;
        }
        // Keep both halves of a wide character in the run.
        let spans_pair = |i: usize, f: u8| old[i].flags & f != 0 || new[i].flags & f != 0;
        if start > 0 && spans_pair(start, flags::SPACER) {
            start -= 1;
        }
        if end < cols && spans_pair(end - 1, flags::WIDE) {
            end += 1;
        }
        match runs.last_mut() {
            Some(last) if start as u16 <= last.1 + MERGE_GAP => last.1 = last.1.max(end as u16),
            _ => runs.push((start as u16, end as u16)),
        }
        c = end;
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Theme;

    fn grid_of(lines: &[&str], cols: u16) -> Grid {
        let t = Theme::default();
        let mut g = Grid::new(
            cols,
            lines.len() as u16,
            Cell::blank(t.foreground, t.background),
        );
        for (r, line) in lines.iter().enumerate() {
            for (c, ch) in line.chars().enumerate().take(usize::from(cols)) {
                g.row_mut(r as u16)[c].text[0] = ch;
            }
        }
        g
    }

    #[test]
    fn scrolling_is_found() {
        let old = grid_of(&["a1", "b2", "c3", "d4", "$ "], 4);
        let new = grid_of(&["b2", "c3", "d4", "e5", "$ "], 4);
        assert_eq!(
            find_shift(&old, &new, 5),
            Some(Shift {
                from: 1,
                to: 0,
                len: 3
            })
        );
        let down = grid_of(&["x", "a1", "b2", "c3", "$"], 4);
        assert_eq!(
            find_shift(&old, &down, 5),
            Some(Shift {
                from: 0,
                to: 1,
                len: 3
            })
        );
        assert_eq!(find_shift(&old, &old, 5), None);
        // Blank rows moving saves nothing.
        let blank = grid_of(&["", "", "", "", ""], 4);
        assert_eq!(find_shift(&blank, &blank, 5), None);
    }

    #[test]
    fn runs_are_merged_and_keep_wide_pairs() {
        let old = grid_of(&["abcdefghij"], 10);
        let new = grid_of(&["aXcdeYgZij"], 10);
        assert_eq!(
            changed_runs(old.row(0), new.row(0), 10),
            vec![(1, 2), (5, 8)]
        );
        let mut wide = new.clone();
        wide.row_mut(0)[3].flags = flags::WIDE;
        wide.row_mut(0)[4].flags = flags::SPACER;
        let mut wide2 = wide.clone();
        wide2.row_mut(0)[4].fg = [1, 2, 3];
        assert_eq!(changed_runs(wide.row(0), wide2.row(0), 10), vec![(3, 5)]);
    }

    #[test]
    fn updates_paint_only_what_changed() {
        let mut r = Renderer::new(16.0, Theme::default()).expect("renderer");
        let cell = r.cell_size();
        let size = Size::new(4 * cell.width + 1, 5 * cell.height);
        let mut t = DamageTracker::default();
        let mut ev = Vec::new();
        t.update(
            grid_of(&["a1", "b2", "c3", "d4", "$ "], 4),
            size,
            &mut r,
            &mut ev,
        );
        assert_eq!(ev.len(), 2, "margin fill and one full rectangle: {ev:?}");
        ev.clear();
        t.update(
            grid_of(&["a1", "b2", "c3", "d4", "$ "], 4),
            size,
            &mut r,
            &mut ev,
        );
        assert!(ev.is_empty());
        t.update(
            grid_of(&["b2", "c3", "d4", "e5", "$ "], 4),
            size,
            &mut r,
            &mut ev,
        );
        assert!(matches!(ev[0], SessionEvent::Copy { .. }), "{ev:?}");
        assert_eq!(ev.len(), 2, "one copy and the new line: {ev:?}");
        match &ev[1] {
            SessionEvent::Pixels { rect, .. } => {
                assert_eq!(
                    *rect,
                    Rect::new(0, 3 * cell.height, 2 * cell.width, cell.height)
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
