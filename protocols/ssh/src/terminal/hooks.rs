//! What the emulator reports besides the screen: the bell, OSC 52 clipboard
//! writes, the window title, and answers to terminal queries (ECMA-48 DSR
//! `CSI 5 n` / `CSI 6 n`, DA1 `CSI c`, DA2 `CSI > c`, DECXCPR `CSI ? 6 n`,
//! and xterm's OSC 10/11 colour queries, which vim uses to pick colours for
//! a dark or light background).

use crate::render::palette::Rgb;
use base64::Engine as _;

/// Most bytes of query answers kept between two reads: a server flooding
/// queries cannot make us buffer without bound.
const MAX_REPLIES: usize = 4096;

/// Largest OSC 52 clipboard text accepted.
const MAX_CLIPBOARD: usize = 1 << 20;

/// Callbacks of the emulator, collected until the terminal reads them.
#[derive(Debug, Default)]
pub struct Hooks {
    /// Default text colour, reported to OSC 10 queries.
    pub foreground: Rgb,
    /// Default background, reported to OSC 11 queries.
    pub background: Rgb,
    /// The bell rang (BEL, or the visual bell `ESC g`).
    pub bell: bool,
    /// Answers to queries, to send to the server.
    pub replies: Vec<u8>,
    /// Text an application copied with OSC 52.
    pub clipboard: Option<String>,
    /// Window title (OSC 0 / 2).
    pub title: Option<String>,
}

impl Hooks {
    /// Hooks answering colour queries with these defaults.
    pub fn new(foreground: Rgb, background: Rgb) -> Self {
        Hooks {
            foreground,
            background,
            ..Hooks::default()
        }
    }

    fn reply(&mut self, reply: &str) {
        if self.replies.len() + reply.len() <= MAX_REPLIES {
            self.replies.extend_from_slice(reply.as_bytes());
        }
    }
}

/// xterm's `rgb:RRRR/GGGG/BBBB` colour notation.
fn xterm_rgb([r, g, b]: Rgb) -> String {
    format!("rgb:{r:02x}{r:02x}/{g:02x}{g:02x}/{b:02x}{b:02x}")
}

impl vt100::Callbacks for Hooks {
    fn unhandled_osc(&mut self, _: &mut vt100::Screen, params: &[&[u8]]) {
        let (which, color) = match params {
            [b"10", b"?"] => (10, self.foreground),
            [b"11", b"?"] => (11, self.background),
            _ => return,
        };
        self.reply(&format!("\x1b]{which};{}\x1b\\", xterm_rgb(color)));
    }

    fn audible_bell(&mut self, _: &mut vt100::Screen) {
        self.bell = true;
    }

    fn visual_bell(&mut self, _: &mut vt100::Screen) {
        self.bell = true;
    }

    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        let title = String::from_utf8_lossy(&title[..title.len().min(256)]);
        self.title = Some(title.chars().filter(|c| !c.is_control()).collect());
    }

    fn copy_to_clipboard(&mut self, _: &mut vt100::Screen, _ty: &[u8], data: &[u8]) {
        if data.len() > MAX_CLIPBOARD / 3 * 4 + 4 {
            return;
        }
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data) {
            self.clipboard = Some(String::from_utf8_lossy(&bytes).into_owned());
        }
    }

    fn unhandled_csi(
        &mut self,
        screen: &mut vt100::Screen,
        i1: Option<u8>,
        i2: Option<u8>,
        params: &[&[u16]],
        c: char,
    ) {
        if i2.is_some() {
            return;
        }
        let first = params.first().and_then(|p| p.first()).copied().unwrap_or(0);
        let reply = match (i1, c, first) {
            (None, 'c', 0) => "\x1b[?1;2c".to_owned(),
            (Some(b'>'), 'c', 0) => "\x1b[>0;95;0c".to_owned(),
            (None, 'n', 5) => "\x1b[0n".to_owned(),
            (None, 'n', 6) | (Some(b'?'), 'n', 6) => {
                let (row, col) = screen.cursor_position();
                let (_, cols) = screen.size();
                let col = col.min(cols.get() - 1);
                let q = if i1.is_some() { "?" } else { "" };
                format!("\x1b[{q}{};{}R", u32::from(row) + 1, u32::from(col) + 1)
            }
            _ => return,
        };
        self.reply(&reply);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU16;

    fn parser() -> vt100::Parser<Hooks> {
        let n = |v| NonZeroU16::new(v).expect("non-zero");
        vt100::Parser::new_with_callbacks(n(5), n(10), 0, Hooks::new([1, 2, 3], [250, 251, 252]))
    }

    #[test]
    fn queries_are_answered() {
        let mut p = parser();
        p.process(b"ab\x1b[6n\x1b[c\x1b[>c\x1b[5n");
        assert_eq!(
            p.callbacks().replies,
            b"\x1b[1;3R\x1b[?1;2c\x1b[>0;95;0c\x1b[0n"
        );
    }

    #[test]
    fn colour_queries_are_answered() {
        let mut p = parser();
        p.process(b"\x1b]11;?\x07\x1b]10;?\x1b\\");
        assert_eq!(
            p.callbacks().replies,
            b"\x1b]11;rgb:fafa/fbfb/fcfc\x1b\\\x1b]10;rgb:0101/0202/0303\x1b\\"
        );
    }

    #[test]
    fn bell_title_and_osc52() {
        let mut p = parser();
        p.process(b"\x07\x1b]2;hello\x07\x1b]52;c;aGk=\x07");
        assert!(p.callbacks().bell);
        assert_eq!(p.callbacks().title.as_deref(), Some("hello"));
        assert_eq!(p.callbacks().clipboard.as_deref(), Some("hi"));
    }

    #[test]
    fn replies_are_bounded() {
        let mut p = parser();
        p.process(&b"\x1b[6n".repeat(10_000));
        assert!(p.callbacks().replies.len() <= MAX_REPLIES);
    }

    /// vte buffers OSC strings without a limit when its `std` feature is
    /// on; without it (how this crate uses vt100) at most 1024 bytes. This
    /// test fails if feature unification ever turns `vte/std` on.
    #[test]
    fn osc_strings_are_bounded() {
        #[derive(Default)]
        struct RawTitle(usize);
        impl vt100::Callbacks for RawTitle {
            fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
                self.0 = title.len();
            }
        }
        let n = |v| NonZeroU16::new(v).expect("non-zero");
        let mut p = vt100::Parser::new_with_callbacks(n(5), n(10), 0, RawTitle::default());
        p.process(b"\x1b]2;");
        p.process(&vec![b'a'; 100_000]);
        p.process(b"\x07");
        assert!(p.callbacks().0 > 0, "the title was not reported");
        assert!(
            p.callbacks().0 <= 1024,
            "OSC buffer grew to {}",
            p.callbacks().0
        );
    }
}
