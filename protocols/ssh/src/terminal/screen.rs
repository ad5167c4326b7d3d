//! Snapshot of the emulator's visible screen as a render [`Grid`]: colours
//! resolved (SGR 30–37/90–97, 38;5;n and 38;2;r;g;b, their backgrounds),
//! bold (brightening the 8 base colours, as xterm's `boldColors`), faint,
//! inverse, the selection (drawn inverted) and the cursor (DECSCUSR shape,
//! hidden by DECTCEM or while the scrollback is in view).

use super::mouse::Selection;
use crate::render::palette::{Rgb, Theme, mix};
use crate::render::{Cell, Grid, flags};

fn resolve(theme: &Theme, color: vt100::Color, default: Rgb) -> Rgb {
    match color {
        vt100::Color::Default => default,
        vt100::Color::Idx(i) => theme.indexed(i),
        vt100::Color::Rgb(r, g, b) => [r, g, b],
    }
}

fn convert(cell: &vt100::Cell, theme: &Theme) -> Cell {
    let mut text = [' ', '\0', '\0'];
    for (slot, ch) in text.iter_mut().zip(cell.contents().chars()) {
        *slot = ch;
    }
    let mut fg_color = cell.fgcolor();
    if cell.bold()
        && let vt100::Color::Idx(i @ 0..=7) = fg_color
    {
        fg_color = vt100::Color::Idx(i + 8);
    }
    let mut fg = resolve(theme, fg_color, theme.foreground);
    let mut bg = resolve(theme, cell.bgcolor(), theme.background);
    if cell.dim() {
        fg = mix(fg, bg);
    }
    if cell.inverse() {
        std::mem::swap(&mut fg, &mut bg);
    }
    let mut f = 0;
    if cell.bold() {
        f |= flags::BOLD;
    }
    if cell.underline() {
        f |= flags::UNDERLINE;
    }
    if cell.is_wide() {
        f |= flags::WIDE;
    }
    Cell {
        text,
        fg,
        bg,
        flags: f,
    }
}

/// The grid the viewer should see now.
pub fn snapshot(screen: &vt100::Screen, theme: &Theme, selection: Option<Selection>) -> Grid {
    let (rows, cols) = screen.size();
    let (rows, cols) = (rows.get(), cols.get());
    let blank = Cell::blank(theme.foreground, theme.background);
    let mut grid = Grid::new(cols, rows, blank);
    let cursor = (!screen.hide_cursor() && screen.scrollback() == 0).then(|| {
        let (r, c) = screen.cursor_position();
        (r.min(rows - 1), c.min(cols - 1))
    });
    for r in 0..rows {
        let row = grid.row_mut(r);
        for (c, slot) in (0..cols).zip(row.iter_mut()) {
            if let Some(cell) = screen.cell(r, c) {
                *slot = convert(cell, theme);
            }
            if selection.is_some_and(|s| s.contains(r, c)) {
                std::mem::swap(&mut slot.fg, &mut slot.bg);
            }
        }
        // Wide characters: WIDE only where a second cell follows, and that
        // cell becomes its SPACER.
        let mut c = 0;
        while c < row.len() {
            if row[c].flags & flags::WIDE != 0 && c + 1 < row.len() {
                row[c + 1] = Cell {
                    text: [' ', '\0', '\0'],
                    flags: flags::SPACER,
                    ..row[c]
                };
                c += 2;
            } else {
                row[c].flags &= !(flags::WIDE | flags::SPACER);
                c += 1;
            }
        }
        if let Some((_, cc)) = cursor.filter(|&(cr, _)| cr == r) {
            let mut cc = usize::from(cc);
            if cc > 0 && row[cc].flags & flags::SPACER != 0 {
                cc -= 1;
            }
            let cell = &mut row[cc];
            match screen.cursor_style() {
                vt100::CursorStyle::BlinkUnderline | vt100::CursorStyle::SteadyUnderline => {
                    cell.flags |= flags::CURSOR_UNDERLINE;
                }
                vt100::CursorStyle::BlinkVerticalBar | vt100::CursorStyle::SteadyVerticalBar => {
                    cell.flags |= flags::CURSOR_BAR;
                }
                _ => std::mem::swap(&mut cell.fg, &mut cell.bg),
            }
            if cell.flags & flags::WIDE != 0 {
                let copy = *cell;
                row[cc + 1] = Cell {
                    text: [' ', '\0', '\0'],
                    flags: flags::SPACER
                        | (copy.flags & (flags::CURSOR_BAR | flags::CURSOR_UNDERLINE)),
                    ..copy
                };
            }
        }
    }
    grid
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU16;

    fn screen(bytes: &[u8]) -> vt100::Parser {
        let n = |v| NonZeroU16::new(v).expect("non-zero");
        let mut p = vt100::Parser::new(n(3), n(10), 0);
        p.process(bytes);
        p
    }

    #[test]
    fn colours_and_attributes() {
        let theme = Theme::default();
        let p =
            screen(b"\x1b[31mr\x1b[1mR\x1b[0;38;5;196;48;2;1;2;3mx\x1b[0;7mi\x1b[0;4mu\x1b[?25l");
        let g = snapshot(p.screen(), &theme, None);
        let row = g.row(0);
        assert_eq!(row[0].fg, [205, 0, 0]);
        assert_eq!(row[1].fg, [255, 0, 0]);
        assert_eq!(row[1].flags, flags::BOLD);
        assert_eq!((row[2].fg, row[2].bg), ([255, 0, 0], [1, 2, 3]));
        assert_eq!((row[3].fg, row[3].bg), (theme.background, theme.foreground));
        assert_eq!(row[4].flags, flags::UNDERLINE);
        assert_eq!(g.row_text(0), "rRxiu");
    }

    #[test]
    fn cursor_and_selection_invert() {
        let theme = Theme::default();
        let p = screen(b"ab");
        let sel = Selection {
            start: (0, 0),
            end: (0, 0),
        };
        let g = snapshot(p.screen(), &theme, Some(sel));
        assert_eq!(g.row(0)[0].bg, theme.foreground, "selection");
        assert_eq!(g.row(0)[1].bg, theme.background);
        assert_eq!(g.row(0)[2].bg, theme.foreground, "cursor");
        let p = screen(b"ab\x1b[6 q");
        let g = snapshot(p.screen(), &theme, None);
        assert_eq!(g.row(0)[2].flags, flags::CURSOR_BAR);
    }

    #[test]
    fn wide_characters_get_a_spacer() {
        let theme = Theme::default();
        let p = screen("a界b\x1b[?25l".as_bytes());
        let g = snapshot(p.screen(), &theme, None);
        let row = g.row(0);
        assert_eq!(row[1].flags, flags::WIDE);
        assert_eq!(row[2].flags, flags::SPACER);
        assert_eq!(g.row_text(0), "a界b");
    }
}
