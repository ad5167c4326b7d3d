//! Keyboard: X11 keysyms to the bytes xterm sends for them.
//!
//! References: xterm's "ctlseqs" (PC-Style Function Keys, VT220-Style
//! Function Keys, DECCKM application cursor keys, DECKPAM application
//! keypad, the `CSI 1 ; m X` modifier parameter) and X11's `keysymdef.h`.
//! The viewer reports modifier keys as separate key events; their state is
//! tracked here.

/// Keysyms used below (X11 `keysymdef.h`).
#[allow(missing_docs)]
pub mod keysym {
    pub const BACKSPACE: u32 = 0xff08;
    pub const TAB: u32 = 0xff09;
    pub const ISO_LEFT_TAB: u32 = 0xfe20;
    pub const RETURN: u32 = 0xff0d;
    pub const ESCAPE: u32 = 0xff1b;
    pub const HOME: u32 = 0xff50;
    pub const LEFT: u32 = 0xff51;
    pub const UP: u32 = 0xff52;
    pub const RIGHT: u32 = 0xff53;
    pub const DOWN: u32 = 0xff54;
    pub const PAGE_UP: u32 = 0xff55;
    pub const PAGE_DOWN: u32 = 0xff56;
    pub const END: u32 = 0xff57;
    pub const INSERT: u32 = 0xff63;
    pub const DELETE: u32 = 0xffff;
    pub const KP_ENTER: u32 = 0xff8d;
    pub const KP_HOME: u32 = 0xff95;
    pub const KP_LEFT: u32 = 0xff96;
    pub const KP_UP: u32 = 0xff97;
    pub const KP_RIGHT: u32 = 0xff98;
    pub const KP_DOWN: u32 = 0xff99;
    pub const KP_PAGE_UP: u32 = 0xff9a;
    pub const KP_PAGE_DOWN: u32 = 0xff9b;
    pub const KP_END: u32 = 0xff9c;
    pub const KP_INSERT: u32 = 0xff9e;
    pub const KP_DELETE: u32 = 0xff9f;
    pub const KP_MULTIPLY: u32 = 0xffaa;
    pub const KP_EQUAL: u32 = 0xffbd;
    pub const KP_0: u32 = 0xffb0;
    pub const KP_9: u32 = 0xffb9;
    pub const F1: u32 = 0xffbe;
    pub const F12: u32 = 0xffc9;
    pub const SHIFT_L: u32 = 0xffe1;
    pub const SHIFT_R: u32 = 0xffe2;
    pub const CONTROL_L: u32 = 0xffe3;
    pub const CONTROL_R: u32 = 0xffe4;
    pub const META_L: u32 = 0xffe7;
    pub const META_R: u32 = 0xffe8;
    pub const ALT_L: u32 = 0xffe9;
    pub const ALT_R: u32 = 0xffea;
}

use keysym::*;

/// Terminal modes that change what keys send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyModes {
    /// DECCKM: cursor keys send `ESC O x` instead of `ESC [ x`.
    pub application_cursor: bool,
    /// DECKPAM: the keypad sends `ESC O x`.
    pub application_keypad: bool,
}

/// What a key press does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAction {
    /// Nothing (a key release, a modifier, an unknown key).
    None,
    /// Send these bytes to the remote terminal.
    Send(Vec<u8>),
    /// Scroll the local scrollback view by pages (positive: back in history);
    /// Shift+PageUp / Shift+PageDown, as in xterm.
    ScrollPages(i8),
}

/// Held modifiers, left and right keys tracked apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keyboard {
    held: u8,
}

const SHIFT_L_BIT: u8 = 1;
const SHIFT_R_BIT: u8 = 1 << 1;
const CTRL_L_BIT: u8 = 1 << 2;
const CTRL_R_BIT: u8 = 1 << 3;
const ALT_L_BIT: u8 = 1 << 4;
const ALT_R_BIT: u8 = 1 << 5;

fn modifier_bit(keysym: u32) -> Option<u8> {
    Some(match keysym {
        SHIFT_L => SHIFT_L_BIT,
        SHIFT_R => SHIFT_R_BIT,
        CONTROL_L => CTRL_L_BIT,
        CONTROL_R => CTRL_R_BIT,
        ALT_L | META_L => ALT_L_BIT,
        ALT_R | META_R => ALT_R_BIT,
        _ => return None,
    })
}

impl Keyboard {
    /// Whether a Shift key is held.
    pub fn shift(&self) -> bool {
        self.held & (SHIFT_L_BIT | SHIFT_R_BIT) != 0
    }

    /// Whether a Control key is held.
    pub fn ctrl(&self) -> bool {
        self.held & (CTRL_L_BIT | CTRL_R_BIT) != 0
    }

    /// Whether an Alt (or Meta) key is held.
    pub fn alt(&self) -> bool {
        self.held & (ALT_L_BIT | ALT_R_BIT) != 0
    }

    /// xterm's modifier parameter: 1 + Shift + 2·Alt + 4·Control.
    pub fn modifier_param(&self) -> u8 {
        1 + u8::from(self.shift()) + 2 * u8::from(self.alt()) + 4 * u8::from(self.ctrl())
    }

    /// A key went down or up.
    pub fn key(&mut self, keysym: u32, down: bool, modes: KeyModes) -> KeyAction {
        if let Some(bit) = modifier_bit(keysym) {
            if down {
                self.held |= bit;
            } else {
                self.held &= !bit;
            }
            return KeyAction::None;
        }
        if !down {
            return KeyAction::None;
        }
        if self.shift() && !self.ctrl() && !self.alt() {
            match keysym {
                PAGE_UP => return KeyAction::ScrollPages(1),
                PAGE_DOWN => return KeyAction::ScrollPages(-1),
                _ => {}
            }
        }
        match self.special(keysym, modes) {
            Some(bytes) => KeyAction::Send(bytes),
            None => match printable(keysym) {
                Some(c) => KeyAction::Send(self.character(c)),
                None => KeyAction::None,
            },
        }
    }

    /// Bytes for a printable character with the held modifiers.
    fn character(&self, c: char) -> Vec<u8> {
        let mut out = Vec::with_capacity(5);
        if self.alt() {
            out.push(0x1b);
        }
        match self.ctrl().then(|| control_byte(c)).flatten() {
            Some(b) => out.push(b),
            None => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
        out
    }

    /// Bytes for a non-printable key, `None` when `keysym` is not one.
    fn special(&self, keysym: u32, modes: KeyModes) -> Option<Vec<u8>> {
        let m = self.modifier_param();
        let esc_prefixed = |bytes: &[u8]| {
            let mut v = Vec::with_capacity(bytes.len() + 1);
            if self.alt() {
                v.push(0x1b);
            }
            v.extend_from_slice(bytes);
            v
        };
        // Cursor and Home/End keys: `ESC [ x`, `ESC O x` (DECCKM) or `ESC [ 1 ; m x`.
        let cursor = |x: u8| {
            if m > 1 {
                format!("\x1b[1;{m}{}", x as char).into_bytes()
            } else if modes.application_cursor {
                vec![0x1b, b'O', x]
            } else {
                vec![0x1b, b'[', x]
            }
        };
        // VT220-style editing keys: `ESC [ n ~` or `ESC [ n ; m ~`.
        let tilde = |n: u8| {
            if m > 1 {
                format!("\x1b[{n};{m}~").into_bytes()
            } else {
                format!("\x1b[{n}~").into_bytes()
            }
        };
        Some(match keysym {
            RETURN => esc_prefixed(b"\r"),
            KP_ENTER if modes.application_keypad => b"\x1bOM".to_vec(),
            KP_ENTER => esc_prefixed(b"\r"),
            BACKSPACE if self.ctrl() => esc_prefixed(b"\x08"),
            BACKSPACE => esc_prefixed(b"\x7f"),
            TAB if self.shift() => b"\x1b[Z".to_vec(),
            TAB => esc_prefixed(b"\t"),
            ISO_LEFT_TAB => b"\x1b[Z".to_vec(),
            ESCAPE => esc_prefixed(b"\x1b"),
            UP | KP_UP => cursor(b'A'),
            DOWN | KP_DOWN => cursor(b'B'),
            RIGHT | KP_RIGHT => cursor(b'C'),
            LEFT | KP_LEFT => cursor(b'D'),
            HOME | KP_HOME => cursor(b'H'),
            END | KP_END => cursor(b'F'),
            INSERT | KP_INSERT => tilde(2),
            DELETE | KP_DELETE => tilde(3),
            PAGE_UP | KP_PAGE_UP => tilde(5),
            PAGE_DOWN | KP_PAGE_DOWN => tilde(6),
            F1..=F12 => {
                let n = keysym - F1;
                if n < 4 {
                    let x = b"PQRS"[n as usize];
                    if m > 1 {
                        format!("\x1b[1;{m}{}", x as char).into_bytes()
                    } else {
                        vec![0x1b, b'O', x]
                    }
                } else {
                    tilde([15, 17, 18, 19, 20, 21, 23, 24][n as usize - 4])
                }
            }
            KP_MULTIPLY..=KP_9 | KP_EQUAL => {
                // Keypad characters: `*+,-./0-9` and `=`, or `ESC O x` in DECKPAM.
                let (plain, app) = match keysym {
                    KP_EQUAL => ('=', b'X'),
                    k => {
                        let i = (k - KP_MULTIPLY) as u8;
                        ((b'*' + i) as char, b'j' + i)
                    }
                };
                if modes.application_keypad {
                    vec![0x1b, b'O', app]
                } else {
                    self.character(plain)
                }
            }
            _ => return None,
        })
    }
}

/// The character a keysym types, if it types one (Latin-1 keysyms and the
/// Unicode range `0x01000000 + code point`).
pub fn printable(keysym: u32) -> Option<char> {
    match keysym {
        0x20..=0x7e | 0xa0..=0xff => char::from_u32(keysym),
        0x0100_00a0..=0x0110_ffff => char::from_u32(keysym - 0x0100_0000),
        _ => None,
    }
}

/// The C0 control byte Control+`c` produces (xterm's table), if any.
fn control_byte(c: char) -> Option<u8> {
    Some(match c {
        'a'..='z' | 'A'..='Z' => (c as u8) & 0x1f,
        '@' | ' ' | '2' => 0x00,
        '[' | '3' => 0x1b,
        '\\' | '4' => 0x1c,
        ']' | '5' => 0x1d,
        '^' | '~' | '6' => 0x1e,
        '_' | '/' | '7' => 0x1f,
        '?' | '8' => 0x7f,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(kb: &mut Keyboard, keysym: u32, modes: KeyModes) -> Vec<u8> {
        match kb.key(keysym, true, modes) {
            KeyAction::Send(b) => {
                kb.key(keysym, false, modes);
                b
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn printables_and_unicode() {
        let mut kb = Keyboard::default();
        let m = KeyModes::default();
        assert_eq!(press(&mut kb, 'a' as u32, m), b"a");
        assert_eq!(press(&mut kb, 0xe9, m), "é".as_bytes());
        assert_eq!(press(&mut kb, 0x0100_20ac, m), "€".as_bytes());
        assert_eq!(press(&mut kb, 0x0100_4e16, m), "世".as_bytes());
        assert_eq!(kb.key(0x0100_0001, true, m), KeyAction::None);
    }

    #[test]
    fn editing_keys() {
        let mut kb = Keyboard::default();
        let m = KeyModes::default();
        assert_eq!(press(&mut kb, RETURN, m), b"\r");
        assert_eq!(press(&mut kb, BACKSPACE, m), b"\x7f");
        assert_eq!(press(&mut kb, TAB, m), b"\t");
        assert_eq!(press(&mut kb, ESCAPE, m), b"\x1b");
        assert_eq!(press(&mut kb, DELETE, m), b"\x1b[3~");
        assert_eq!(press(&mut kb, INSERT, m), b"\x1b[2~");
        assert_eq!(press(&mut kb, PAGE_UP, m), b"\x1b[5~");
        assert_eq!(press(&mut kb, PAGE_DOWN, m), b"\x1b[6~");
        assert_eq!(press(&mut kb, F1, m), b"\x1bOP");
        assert_eq!(press(&mut kb, F1 + 4, m), b"\x1b[15~");
        assert_eq!(press(&mut kb, F12, m), b"\x1b[24~");
    }

    #[test]
    fn cursor_keys_follow_decckm_and_modifiers() {
        let mut kb = Keyboard::default();
        let normal = KeyModes::default();
        let app = KeyModes {
            application_cursor: true,
            application_keypad: false,
        };
        assert_eq!(press(&mut kb, UP, normal), b"\x1b[A");
        assert_eq!(press(&mut kb, UP, app), b"\x1bOA");
        assert_eq!(press(&mut kb, HOME, normal), b"\x1b[H");
        assert_eq!(press(&mut kb, END, app), b"\x1bOF");
        kb.key(CONTROL_L, true, normal);
        assert_eq!(press(&mut kb, RIGHT, app), b"\x1b[1;5C");
        kb.key(SHIFT_R, true, normal);
        assert_eq!(press(&mut kb, F1 + 4, normal), b"\x1b[15;6~");
        kb.key(SHIFT_R, false, normal);
        kb.key(CONTROL_L, false, normal);
        assert_eq!(press(&mut kb, LEFT, normal), b"\x1b[D");
    }

    #[test]
    fn control_and_alt() {
        let mut kb = Keyboard::default();
        let m = KeyModes::default();
        kb.key(CONTROL_R, true, m);
        assert_eq!(press(&mut kb, 'c' as u32, m), [0x03]);
        assert_eq!(press(&mut kb, 'D' as u32, m), [0x04]);
        assert_eq!(press(&mut kb, '[' as u32, m), [0x1b]);
        assert_eq!(press(&mut kb, ' ' as u32, m), [0x00]);
        kb.key(CONTROL_R, false, m);
        kb.key(ALT_L, true, m);
        assert_eq!(press(&mut kb, 'x' as u32, m), b"\x1bx");
        assert_eq!(press(&mut kb, BACKSPACE, m), b"\x1b\x7f");
        kb.key(ALT_L, false, m);
        assert_eq!(press(&mut kb, 'x' as u32, m), b"x");
    }

    #[test]
    fn shift_page_scrolls_locally_and_keypad_modes() {
        let mut kb = Keyboard::default();
        let m = KeyModes::default();
        kb.key(SHIFT_L, true, m);
        assert_eq!(kb.key(PAGE_UP, true, m), KeyAction::ScrollPages(1));
        assert_eq!(press(&mut kb, TAB, m), b"\x1b[Z");
        kb.key(SHIFT_L, false, m);
        assert_eq!(press(&mut kb, KP_0 + 7, m), b"7");
        assert_eq!(press(&mut kb, KP_MULTIPLY, m), b"*");
        let app = KeyModes {
            application_cursor: false,
            application_keypad: true,
        };
        assert_eq!(press(&mut kb, KP_0 + 7, app), b"\x1bOw");
        assert_eq!(press(&mut kb, KP_ENTER, app), b"\x1bOM");
    }
}
