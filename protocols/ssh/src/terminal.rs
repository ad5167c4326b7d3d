//! The server-side terminal (core of the adapter, no I/O): a vt100 emulator
//! with scrollback, rendered into pixels, driven like a sans-IO protocol
//! state machine.
//!
//! Bytes from the server go in with [`Terminal::feed`], the viewer's input
//! with [`Terminal::input`]; out come the bytes for the server
//! ([`Terminal::take_to_remote`]), pty size changes
//! ([`Terminal::take_pty_resize`]) and the session events for the viewer
//! ([`Terminal::frame`]: the pending events, then the damage since the last
//! frame). Time never enters: the caller decides how often to ask for frames.
//!
//! Why vt100 (0.18) rather than alacritty_terminal or termwiz: it is a pure
//! parser with a plain cell API (colours 16/256/truecolour, bold, faint,
//! italic, underline, inverse, wide characters, alternate screen, scrollback
//! with a view offset, the mouse, bracketed-paste and cursor-key modes we
//! need to honour) and three small dependencies. alacritty_terminal brings
//! its own pty, event loop and threads, termwiz a much larger tree, and
//! neither gives us anything the damage tracker needs: we diff rendered
//! grids ourselves, which also covers the cursor, the selection and the
//! scrollback view. vt100 is used without its `std` feature so vte keeps
//! OSC strings in a fixed 1 KiB buffer (with `std` that buffer is unbounded).

pub mod damage;
pub mod hooks;
pub mod keys;
pub mod mouse;
pub mod screen;

use crate::render::{FontError, Grid, Renderer, Theme};
use damage::DamageTracker;
use hooks::Hooks;
use keys::{KeyAction, KeyModes, Keyboard};
use mouse::{Pointer, PointerContext, WheelAction};
use oriel_core_model::{InputEvent, SessionEvent, Size};
use std::num::NonZeroU16;

/// Most bytes waiting for the server: input beyond this (a huge paste
/// while the server does not read) is dropped rather than buffered.
const MAX_TO_REMOTE: usize = 4 << 20;

/// Settings of the rendered terminal.
#[derive(Debug, Clone, PartialEq)]
pub struct TerminalSettings {
    /// Font size in pixels per em (16 gives 10×19-pixel cells).
    pub font_px: f32,
    /// Lines of scrollback kept (memory: about 32 bytes per cell).
    pub scrollback: usize,
    /// Colours.
    pub theme: Theme,
    /// Lines scrolled per wheel notch.
    pub wheel_lines: u16,
}

impl Default for TerminalSettings {
    fn default() -> Self {
        TerminalSettings {
            font_px: 16.0,
            scrollback: 2000,
            theme: Theme::default(),
            wheel_lines: 3,
        }
    }
}

/// The size to report to the server's pty (RFC 4254 §6.2 / §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PtySize {
    /// Columns.
    pub cols: u16,
    /// Rows.
    pub rows: u16,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
}

/// A terminal rendered into a desktop of a given pixel size.
pub struct Terminal {
    parser: vt100::Parser<Hooks>,
    renderer: Renderer,
    damage: DamageTracker,
    keyboard: Keyboard,
    pointer: Pointer,
    size: Size,
    wheel_lines: u16,
    to_remote: Vec<u8>,
    pty_resize: Option<PtySize>,
    pending: Vec<SessionEvent>,
    dirty: bool,
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminal")
            .field("size", &self.size)
            .field("pty", &self.pty_size())
            .finish_non_exhaustive()
    }
}

fn non_zero(v: u16) -> NonZeroU16 {
    NonZeroU16::new(v).unwrap_or(NonZeroU16::MIN)
}

impl Terminal {
    /// A blank terminal filling a desktop of `size` pixels.
    pub fn new(size: Size, settings: &TerminalSettings) -> Result<Self, FontError> {
        let renderer = Renderer::new(settings.font_px, settings.theme.clone())?;
        let (cols, rows) = grid_for(size, renderer.cell_size());
        let parser = vt100::Parser::new_with_callbacks(
            non_zero(rows),
            non_zero(cols),
            settings.scrollback,
            Hooks::new(settings.theme.foreground, settings.theme.background),
        );
        Ok(Terminal {
            parser,
            renderer,
            damage: DamageTracker::default(),
            keyboard: Keyboard::default(),
            pointer: Pointer::default(),
            size,
            wheel_lines: settings.wheel_lines.max(1),
            to_remote: Vec::new(),
            pty_resize: None,
            pending: Vec::new(),
            dirty: true,
        })
    }

    /// Desktop size in pixels.
    pub fn size(&self) -> Size {
        self.size
    }

    /// Cell size in pixels.
    pub fn cell_size(&self) -> Size {
        self.renderer.cell_size()
    }

    /// The pty size matching the desktop.
    pub fn pty_size(&self) -> PtySize {
        let (rows, cols) = self.parser.screen().size();
        PtySize {
            cols: cols.get(),
            rows: rows.get(),
            width: self.size.width,
            height: self.size.height,
        }
    }

    /// Whether a full-screen application switched to the alternate screen.
    pub fn alternate_screen(&self) -> bool {
        self.parser.screen().alternate_screen()
    }

    /// The visible text, one string per row (trailing blanks removed).
    pub fn text(&self) -> Vec<String> {
        let screen = self.parser.screen();
        let (_, cols) = screen.size();
        screen
            .rows(0, cols.get())
            .map(|r| r.trim_end().to_owned())
            .collect()
    }

    /// Lines of scrollback held (at most the configured limit).
    pub fn scrollback_len(&self) -> usize {
        self.parser.screen().scrollback_len()
    }

    /// The window title an application set, if any.
    pub fn title(&self) -> Option<&str> {
        self.parser.callbacks().title.as_deref()
    }

    /// Output of the server.
    pub fn feed(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.parser.screen().scrollback() > 0 {
            // New output brings the view back to the live screen (xterm's
            // scrollTtyOutput); a selection in the old view is meaningless.
            self.parser.screen_mut().set_scrollback(0);
            self.pointer.clear_selection();
        }
        // A finished selection lasts while the text under it stays the same.
        let selected = self
            .pointer
            .selection()
            .filter(|_| !self.pointer.dragging())
            .map(|sel| (sel, self.selection_text(sel)));
        self.parser.process(bytes);
        if let Some((sel, text)) = selected
            && self.selection_text(sel) != text
        {
            self.pointer.clear_selection();
        }
        self.dirty = true;
        let hooks = self.parser.callbacks_mut();
        let replies = std::mem::take(&mut hooks.replies);
        let bell = std::mem::take(&mut hooks.bell);
        let clipboard = hooks.clipboard.take();
        self.send(&replies);
        if bell && !self.pending.iter().any(|e| matches!(e, SessionEvent::Bell)) {
            self.pending.push(SessionEvent::Bell);
        }
        if let Some(text) = clipboard {
            self.pending.push(SessionEvent::Clipboard(text));
        }
    }

    /// Input from the viewer.
    pub fn input(&mut self, event: InputEvent) {
        match event {
            InputEvent::Key { keysym, down, .. } => {
                let modes = KeyModes {
                    application_cursor: self.parser.screen().application_cursor(),
                    application_keypad: self.parser.screen().application_keypad(),
                };
                match self.keyboard.key(keysym, down, modes) {
                    KeyAction::None => {}
                    KeyAction::Send(bytes) => {
                        self.scroll_view_to(0);
                        self.send(&bytes);
                    }
                    KeyAction::ScrollPages(pages) => {
                        let (rows, _) = self.parser.screen().size();
                        let step = i32::from((rows.get() / 2).max(1));
                        self.scroll_view_by(i32::from(pages) * step);
                    }
                }
            }
            InputEvent::Pointer { at, buttons } => {
                let ctx = self.pointer_context();
                let outcome = self.pointer.pointer(at, buttons, &ctx);
                self.send(&outcome.send);
                if outcome.selection_changed {
                    self.dirty = true;
                }
                if let Some(sel) = outcome.copy {
                    let text = self.selection_text(sel);
                    if !text.is_empty() {
                        self.pending.push(SessionEvent::Clipboard(text));
                    }
                }
            }
            InputEvent::Wheel { at, dy, .. } => {
                let ctx = self.pointer_context();
                let alternate = self.parser.screen().alternate_screen();
                match self.pointer.wheel(at, dy, &ctx, alternate) {
                    WheelAction::None => {}
                    WheelAction::Send(bytes) => self.send(&bytes),
                    WheelAction::Arrows(n) => {
                        let app = self.parser.screen().application_cursor();
                        let key: &[u8] = match (n < 0, app) {
                            (true, false) => b"\x1b[A",
                            (true, true) => b"\x1bOA",
                            (false, false) => b"\x1b[B",
                            (false, true) => b"\x1bOB",
                        };
                        self.send(&key.repeat(n.unsigned_abs() as usize));
                    }
                    WheelAction::ScrollView(notches) => {
                        self.scroll_view_by(notches * i32::from(self.wheel_lines));
                    }
                }
            }
            InputEvent::Clipboard(text) => self.paste(&text),
            InputEvent::Resize(size) => self.resize(size),
            InputEvent::Refresh => {
                self.damage.invalidate();
                self.dirty = true;
            }
            InputEvent::Locks { .. } => {}
        }
    }

    /// The text of a selection (lines joined by `\n` unless wrapped).
    fn selection_text(&self, sel: mouse::Selection) -> String {
        let screen = self.parser.screen();
        let (rows, cols) = screen.size();
        let clamp = |(r, c): (u16, u16)| (r.min(rows.get() - 1), c.min(cols.get() - 1));
        let (start, end) = (clamp(sel.start), clamp(sel.end));
        screen.contents_between(start.0, start.1, end.0, end.1 + 1)
    }

    fn pointer_context(&self) -> PointerContext {
        let screen = self.parser.screen();
        let (rows, cols) = screen.size();
        PointerContext {
            cell: self.renderer.cell_size(),
            cols: cols.get(),
            rows: rows.get(),
            mode: screen.mouse_protocol_mode(),
            encoding: screen.mouse_protocol_encoding(),
            shift: self.keyboard.shift(),
            alt: self.keyboard.alt(),
            ctrl: self.keyboard.ctrl(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        if self.to_remote.len() + bytes.len() <= MAX_TO_REMOTE {
            self.to_remote.extend_from_slice(bytes);
        }
    }

    fn scroll_view_by(&mut self, lines: i32) {
        let current = i64::try_from(self.parser.screen().scrollback()).unwrap_or(i64::MAX);
        let target = (current + i64::from(lines)).max(0);
        self.scroll_view_to(usize::try_from(target).unwrap_or(0));
    }

    fn scroll_view_to(&mut self, offset: usize) {
        let screen = self.parser.screen_mut();
        let before = screen.scrollback();
        screen.set_scrollback(offset);
        if screen.scrollback() != before {
            self.pointer.clear_selection();
            self.dirty = true;
        }
    }

    /// A paste: line ends become CR, control characters are dropped (so a
    /// pasted text cannot end a bracketed paste early or inject escape
    /// sequences), and the text is bracketed (`ESC [ 200 ~` … `ESC [ 201 ~`,
    /// xterm "Bracketed Paste Mode") when the application asked for it.
    fn paste(&mut self, text: &str) {
        let mut bytes = Vec::with_capacity(text.len() + 12);
        let bracketed = self.parser.screen().bracketed_paste();
        if bracketed {
            bytes.extend_from_slice(b"\x1b[200~");
        }
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    bytes.push(b'\r');
                }
                '\n' => bytes.push(b'\r'),
                '\t' => bytes.push(b'\t'),
                c if c.is_control() => {}
                c => {
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        if bracketed {
            bytes.extend_from_slice(b"\x1b[201~");
        }
        self.scroll_view_to(0);
        self.send(&bytes);
    }

    /// Resizes the desktop: new rows and columns from the cell size, a pty
    /// window change for the server, a `DesktopSize` event and a repaint.
    /// Sizes out of range are ignored.
    pub fn resize(&mut self, size: Size) {
        if size == self.size || oriel_core_model::validate_size(size).is_err() {
            return;
        }
        let (cols, rows) = grid_for(size, self.renderer.cell_size());
        self.parser.set_size(non_zero(rows), non_zero(cols));
        self.size = size;
        self.pointer.clear_selection();
        self.damage.invalidate();
        self.pending.push(SessionEvent::DesktopSize(size));
        self.pty_resize = Some(self.pty_size());
        self.dirty = true;
    }

    /// Bytes to send to the server (key presses, pastes, mouse reports,
    /// answers to queries).
    pub fn take_to_remote(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.to_remote)
    }

    /// A pty size change to send to the server, if the desktop was resized.
    pub fn take_pty_resize(&mut self) -> Option<PtySize> {
        self.pty_resize.take()
    }

    /// Whether [`Terminal::frame`] may have something to emit.
    pub fn has_pending(&self) -> bool {
        self.dirty || !self.pending.is_empty()
    }

    /// The events since the last frame: pending ones (desktop size,
    /// clipboard, bell) first, then copy-rects and pixels for what changed.
    pub fn frame(&mut self) -> Vec<SessionEvent> {
        let mut events = std::mem::take(&mut self.pending);
        if self.dirty {
            self.dirty = false;
            let grid = self.grid();
            self.damage
                .update(grid, self.size, &mut self.renderer, &mut events);
        }
        events
    }

    /// The grid the viewer should see now.
    pub fn grid(&self) -> Grid {
        screen::snapshot(
            self.parser.screen(),
            self.renderer.theme(),
            self.pointer.selection(),
        )
    }

    /// A fresh render of the whole desktop as it should look now (RGB24).
    pub fn render_full(&mut self) -> Vec<u8> {
        let grid = self.grid();
        self.renderer.render_full(&grid, self.size)
    }
}

/// Columns and rows of cells that fit `size`, at least one of each.
fn grid_for(size: Size, cell: Size) -> (u16, u16) {
    (
        (size.width / cell.width.max(1)).max(1),
        (size.height / cell.height.max(1)).max(1),
    )
}

#[cfg(test)]
mod tests;
