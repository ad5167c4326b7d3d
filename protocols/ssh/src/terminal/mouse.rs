//! Pointer: text selection, xterm mouse reports and the wheel.
//!
//! When the application enabled mouse reporting (xterm ctlseqs "Mouse
//! Tracking": X10 `?9`, normal `?1000`, button-event `?1002`, any-event
//! `?1003`; encodings default, UTF-8 `?1005` and SGR `?1006`), pointer
//! events become reports unless Shift is held. Otherwise a left-button drag
//! selects text (stream selection, in screen coordinates) and the release
//! copies it.

use oriel_core_model::{Point, Size, buttons};
use vt100::{MouseProtocolEncoding, MouseProtocolMode};

/// A cell position: row, column.
pub type CellPos = (u16, u16);

/// A stream selection between two cells, both included, in reading order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// First selected cell.
    pub start: CellPos,
    /// Last selected cell.
    pub end: CellPos,
}

impl Selection {
    fn between(a: CellPos, b: CellPos) -> Self {
        if a <= b {
            Selection { start: a, end: b }
        } else {
            Selection { start: b, end: a }
        }
    }

    /// Whether the cell at (`row`, `col`) is selected.
    pub fn contains(&self, row: u16, col: u16) -> bool {
        (row, col) >= self.start && (row, col) <= self.end
    }
}

/// What the terminal's state says about the pointer.
#[derive(Debug, Clone, Copy)]
pub struct PointerContext {
    /// Cell size in pixels.
    pub cell: Size,
    /// Columns of the grid.
    pub cols: u16,
    /// Rows of the grid.
    pub rows: u16,
    /// Mouse tracking mode the application asked for.
    pub mode: MouseProtocolMode,
    /// How reports are encoded.
    pub encoding: MouseProtocolEncoding,
    /// Shift held: bypass reporting, select instead (as in xterm).
    pub shift: bool,
    /// Alt held (report modifier 8).
    pub alt: bool,
    /// Control held (report modifier 16).
    pub ctrl: bool,
}

impl PointerContext {
    fn cell_at(&self, at: Point) -> CellPos {
        let col = (at.x / self.cell.width.max(1)).min(self.cols.saturating_sub(1));
        let row = (at.y / self.cell.height.max(1)).min(self.rows.saturating_sub(1));
        (row, col)
    }

    fn reporting(&self) -> bool {
        self.mode != MouseProtocolMode::None && !self.shift
    }

    fn modifiers(&self) -> u8 {
        8 * u8::from(self.alt) + 16 * u8::from(self.ctrl)
    }
}

/// What a pointer event did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PointerOutcome {
    /// Mouse reports for the application.
    pub send: Vec<u8>,
    /// The selection changed (repaint).
    pub selection_changed: bool,
    /// A drag ended: copy this selection.
    pub copy: Option<Selection>,
}

/// Where the wheel goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WheelAction {
    /// Nothing yet (less than a notch).
    None,
    /// Mouse reports for the application.
    Send(Vec<u8>),
    /// Arrow keys for a full-screen application without mouse reporting:
    /// this many presses, up when negative.
    Arrows(i32),
    /// Scroll the scrollback view by this many notches (positive: back in history).
    ScrollView(i32),
}

/// Pointer state of one terminal.
#[derive(Debug, Default, Clone)]
pub struct Pointer {
    buttons: u8,
    last_cell: Option<CellPos>,
    anchor: Option<CellPos>,
    selection: Option<Selection>,
    wheel: i32,
}

impl Pointer {
    /// The current selection.
    pub fn selection(&self) -> Option<Selection> {
        self.selection
    }

    /// Whether a left-button drag is in progress.
    pub fn dragging(&self) -> bool {
        self.anchor.is_some()
    }

    /// Drops the selection; `true` if there was one.
    pub fn clear_selection(&mut self) -> bool {
        self.anchor = None;
        self.selection.take().is_some()
    }

    /// The pointer moved or a button changed.
    pub fn pointer(&mut self, at: Point, mask: u8, ctx: &PointerContext) -> PointerOutcome {
        let cell = ctx.cell_at(at);
        let (old, new) = (self.buttons, mask);
        self.buttons = mask;
        let moved = self.last_cell != Some(cell);
        self.last_cell = Some(cell);
        let mut out = PointerOutcome::default();
        if ctx.reporting() {
            self.report(cell, old, new, moved, ctx, &mut out.send);
            return out;
        }
        let left = |m: u8| m & buttons::LEFT != 0;
        if left(new) && !left(old) {
            self.anchor = Some(cell);
            out.selection_changed = self.selection.take().is_some();
        } else if left(new) && moved {
            if let Some(anchor) = self.anchor {
                let sel = Selection::between(anchor, cell);
                out.selection_changed = self.selection != Some(sel);
                self.selection = Some(sel);
            }
        } else if !left(new) && left(old) && self.anchor.take().is_some() {
            out.copy = self.selection;
        }
        out
    }

    fn report(
        &mut self,
        cell: CellPos,
        old: u8,
        new: u8,
        moved: bool,
        ctx: &PointerContext,
        out: &mut Vec<u8>,
    ) {
        let pairs = [
            (buttons::LEFT, 0u8),
            (buttons::MIDDLE, 1),
            (buttons::RIGHT, 2),
        ];
        let mut changed = false;
        for (bit, code) in pairs {
            if new & bit != 0 && old & bit == 0 {
                encode(ctx, code, cell, true, out);
                changed = true;
            } else if new & bit == 0 && old & bit != 0 {
                changed = true;
                if ctx.mode != MouseProtocolMode::Press {
                    encode(ctx, code, cell, false, out);
                }
            }
        }
        if changed || !moved {
            return;
        }
        let held = pairs.iter().find(|(bit, _)| new & bit != 0).map(|p| p.1);
        let wanted = match ctx.mode {
            MouseProtocolMode::AnyMotion => true,
            MouseProtocolMode::ButtonMotion => held.is_some(),
            _ => false,
        };
        if wanted {
            encode(ctx, 32 + held.unwrap_or(3), cell, true, out);
        }
    }

    /// The wheel turned by `dy` units (120 per notch, positive is down).
    pub fn wheel(
        &mut self,
        at: Point,
        dy: i16,
        ctx: &PointerContext,
        alternate: bool,
    ) -> WheelAction {
        self.wheel += i32::from(dy);
        let notches = self.wheel / i32::from(oriel_core_model::WHEEL_NOTCH);
        self.wheel %= i32::from(oriel_core_model::WHEEL_NOTCH);
        if notches == 0 {
            return WheelAction::None;
        }
        if ctx.reporting() {
            let cell = ctx.cell_at(at);
            let code = if notches < 0 { 64 } else { 65 };
            let mut out = Vec::new();
            for _ in 0..notches.unsigned_abs().min(10) {
                encode(ctx, code, cell, true, &mut out);
            }
            WheelAction::Send(out)
        } else if alternate {
            WheelAction::Arrows(notches.clamp(-10, 10) * 3)
        } else {
            WheelAction::ScrollView(-notches)
        }
    }
}

/// Appends one mouse report: button `code` (with modifiers added) at `cell`.
fn encode(ctx: &PointerContext, code: u8, (row, col): CellPos, press: bool, out: &mut Vec<u8>) {
    let (x, y) = (u32::from(col) + 1, u32::from(row) + 1);
    let code = code + ctx.modifiers();
    match ctx.encoding {
        MouseProtocolEncoding::Sgr => {
            let end = if press { 'M' } else { 'm' };
            out.extend_from_slice(format!("\x1b[<{code};{x};{y}{end}").as_bytes());
        }
        MouseProtocolEncoding::Default | MouseProtocolEncoding::Utf8 => {
            // Releases are button 3 in these encodings (the button is unknown).
            let cb = u32::from(if press { code } else { 3 + ctx.modifiers() }) + 32;
            let utf8 = ctx.encoding == MouseProtocolEncoding::Utf8;
            let limit = if utf8 { 2047 } else { 255 };
            if cb > limit || x + 32 > limit || y + 32 > limit {
                return; // not representable: xterm sends nothing either
            }
            out.extend_from_slice(b"\x1b[M");
            for v in [cb, x + 32, y + 32] {
                if utf8 {
                    if let Some(c) = char::from_u32(v) {
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                } else {
                    out.push(v as u8);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(mode: MouseProtocolMode, encoding: MouseProtocolEncoding) -> PointerContext {
        PointerContext {
            cell: Size::new(10, 20),
            cols: 80,
            rows: 24,
            mode,
            encoding,
            shift: false,
            alt: false,
            ctrl: false,
        }
    }

    #[test]
    fn drag_selects_and_release_copies() {
        let c = ctx(MouseProtocolMode::None, MouseProtocolEncoding::Default);
        let mut p = Pointer::default();
        assert_eq!(
            p.pointer(Point::new(35, 45), 0, &c),
            PointerOutcome::default()
        );
        p.pointer(Point::new(35, 45), buttons::LEFT, &c);
        let out = p.pointer(Point::new(15, 25), buttons::LEFT, &c);
        assert!(out.selection_changed);
        let sel = Selection {
            start: (1, 1),
            end: (2, 3),
        };
        assert_eq!(p.selection(), Some(sel));
        let out = p.pointer(Point::new(15, 25), 0, &c);
        assert_eq!(out.copy, Some(sel));
        assert!(sel.contains(1, 79) && sel.contains(2, 0) && !sel.contains(2, 4));
        // A click without a drag clears the selection and copies nothing.
        let out = p.pointer(Point::new(15, 25), buttons::LEFT, &c);
        assert!(out.selection_changed);
        assert_eq!(p.pointer(Point::new(15, 25), 0, &c).copy, None);
    }

    #[test]
    fn reports_in_each_encoding() {
        let mut p = Pointer::default();
        let sgr = ctx(MouseProtocolMode::PressRelease, MouseProtocolEncoding::Sgr);
        assert_eq!(
            p.pointer(Point::new(25, 45), buttons::LEFT, &sgr).send,
            b"\x1b[<0;3;3M"
        );
        assert_eq!(p.pointer(Point::new(25, 45), 0, &sgr).send, b"\x1b[<0;3;3m");
        let x10 = ctx(
            MouseProtocolMode::PressRelease,
            MouseProtocolEncoding::Default,
        );
        assert_eq!(
            p.pointer(Point::new(0, 0), buttons::RIGHT, &x10).send,
            [0x1b, b'[', b'M', 32 + 2, 33, 33]
        );
        assert_eq!(
            p.pointer(Point::new(0, 0), 0, &x10).send,
            [0x1b, b'[', b'M', 32 + 3, 33, 33]
        );
        let motion = ctx(MouseProtocolMode::ButtonMotion, MouseProtocolEncoding::Sgr);
        p.pointer(Point::new(0, 0), buttons::LEFT, &motion);
        assert_eq!(
            p.pointer(Point::new(10, 0), buttons::LEFT, &motion).send,
            b"\x1b[<32;2;1M"
        );
        // Shift bypasses reporting.
        let shifted = PointerContext { shift: true, ..sgr };
        assert!(p.pointer(Point::new(30, 0), 0, &shifted).send.is_empty());
    }

    #[test]
    fn wheel_targets() {
        let mut p = Pointer::default();
        let none = ctx(MouseProtocolMode::None, MouseProtocolEncoding::Default);
        assert_eq!(
            p.wheel(Point::new(0, 0), 60, &none, false),
            WheelAction::None
        );
        assert_eq!(
            p.wheel(Point::new(0, 0), 60, &none, false),
            WheelAction::ScrollView(-1)
        );
        assert_eq!(
            p.wheel(Point::new(0, 0), -240, &none, false),
            WheelAction::ScrollView(2)
        );
        assert_eq!(
            p.wheel(Point::new(0, 0), 120, &none, true),
            WheelAction::Arrows(3)
        );
        let sgr = ctx(MouseProtocolMode::PressRelease, MouseProtocolEncoding::Sgr);
        assert_eq!(
            p.wheel(Point::new(0, 0), -120, &sgr, true),
            WheelAction::Send(b"\x1b[<64;1;1M".to_vec())
        );
    }
}
