//! Fuzzes the server-side terminal: arbitrary server output interleaved with
//! viewer input (pointer drags, wheel, keys, pastes, resizes). Never a
//! panic; scrollback stays within its limit; and after every frame the
//! picture built from the emitted events equals a fresh render of the
//! terminal (damage tracking never loses pixels).
//!
//! Run: `cargo +nightly fuzz run terminal` in `protocols/ssh` (needs
//! `cargo install cargo-fuzz`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use oriel_core_model::{InputEvent, Point, SessionEvent, Size};
use oriel_encoders_damage::Framebuffer;
use oriel_protocols_ssh::{Terminal, TerminalSettings};

const SCROLLBACK: usize = 40;

fn apply(fb: &mut Framebuffer, events: Vec<SessionEvent>) {
    for ev in events {
        match ev {
            SessionEvent::DesktopSize(size) => fb.reset(size),
            SessionEvent::Pixels { rect, layout, data } => fb
                .blit(rect, layout, &data)
                .expect("pixels inside the desktop"),
            SessionEvent::Fill { rect, rgb } => fb.fill(rect, rgb).expect("fill inside"),
            SessionEvent::Copy { src, dst } => fb.copy(src, dst).expect("copy inside"),
            SessionEvent::Cursor(_)
            | SessionEvent::Clipboard(_)
            | SessionEvent::Bell
            | SessionEvent::TerminalOutput(_)
            | SessionEvent::TerminalGrid { .. }
            | SessionEvent::UpdateEnd => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let settings = TerminalSettings {
        scrollback: SCROLLBACK,
        ..TerminalSettings::default()
    };
    let size = Size::new(163, 97);
    let Ok(mut term) = Terminal::new(size, &settings) else {
        return;
    };
    let mut fb = Framebuffer::new(size);
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let arg = |rest: &mut &[u8], i: usize| rest.get(i).copied().unwrap_or(0);
        match op % 16 {
            // Server output of 1..=32 bytes (most operations).
            0..=9 => {
                let n = (usize::from(op / 16) * 2 + 1).min(rest.len());
                term.feed(&rest[..n]);
                rest = &rest[n..];
            }
            10 => {
                let (x, y, b) = (arg(&mut rest, 0), arg(&mut rest, 1), arg(&mut rest, 2));
                term.input(InputEvent::Pointer {
                    at: Point::new(u16::from(x), u16::from(y)),
                    buttons: b & 0x07,
                });
                rest = rest.get(3..).unwrap_or(&[]);
            }
            11 => {
                let dy = i16::from(arg(&mut rest, 0) as i8) * 8;
                term.input(InputEvent::Wheel {
                    at: Point::new(1, 1),
                    dx: 0,
                    dy,
                });
                rest = rest.get(1..).unwrap_or(&[]);
            }
            12 => {
                let keysym = u32::from_be_bytes([0, 0, arg(&mut rest, 0), arg(&mut rest, 1)]);
                for down in [true, false] {
                    term.input(InputEvent::Key {
                        keysym,
                        scancode: 0,
                        down,
                    });
                }
                rest = rest.get(2..).unwrap_or(&[]);
            }
            13 => {
                let n = usize::from(arg(&mut rest, 0) % 16).min(rest.len().saturating_sub(1));
                let text = String::from_utf8_lossy(rest.get(1..1 + n).unwrap_or(&[])).into_owned();
                term.input(InputEvent::Clipboard(text));
                rest = rest.get(1 + n..).unwrap_or(&[]);
            }
            14 => {
                let (w, h) = (arg(&mut rest, 0), arg(&mut rest, 1));
                term.input(InputEvent::Resize(Size::new(
                    8 + u16::from(w),
                    8 + u16::from(h) / 2,
                )));
                rest = rest.get(2..).unwrap_or(&[]);
            }
            _ => term.input(InputEvent::Refresh),
        }
        let _ = term.take_to_remote();
        let _ = term.take_pty_resize();
        apply(&mut fb, term.frame());
        assert!(
            term.scrollback_len() <= SCROLLBACK,
            "scrollback over its limit"
        );
        assert!(
            fb.as_rgb() == term.render_full().as_slice(),
            "picture differs from a fresh render"
        );
    }
});
