//! Terminal core tests: damage never loses pixels, scrolling uses copies,
//! input becomes the right bytes.

use super::*;
use oriel_core_model::{Point, buttons};
use oriel_encoders_damage::Framebuffer;
use proptest::prelude::*;

fn small() -> TerminalSettings {
    TerminalSettings {
        scrollback: 100,
        ..TerminalSettings::default()
    }
}

/// A viewer: applies events to a framebuffer.
struct Viewer {
    fb: Framebuffer,
    copies: usize,
    clipboard: Vec<String>,
    bells: usize,
}

impl Viewer {
    fn new(size: Size) -> Self {
        Viewer {
            fb: Framebuffer::new(size),
            copies: 0,
            clipboard: Vec::new(),
            bells: 0,
        }
    }

    fn apply(&mut self, events: Vec<SessionEvent>) -> usize {
        let n = events.len();
        for ev in events {
            match ev {
                SessionEvent::DesktopSize(size) => self.fb.reset(size),
                SessionEvent::Pixels { rect, layout, data } => {
                    self.fb.blit(rect, layout, &data).expect("blit")
                }
                SessionEvent::Fill { rect, rgb } => self.fb.fill(rect, rgb).expect("fill"),
                SessionEvent::Copy { src, dst } => {
                    self.copies += 1;
                    self.fb.copy(src, dst).expect("copy")
                }
                SessionEvent::Clipboard(text) => self.clipboard.push(text),
                SessionEvent::Bell => self.bells += 1,
                SessionEvent::Cursor(_)
                | SessionEvent::TerminalOutput(_)
                | SessionEvent::TerminalGrid { .. }
                | SessionEvent::UpdateEnd => {}
            }
        }
        n
    }
}

fn check_exact(term: &mut Terminal, viewer: &Viewer) {
    let fresh = term.render_full();
    assert_eq!(viewer.fb.size(), term.size());
    if viewer.fb.as_rgb() != fresh.as_slice() {
        let w = usize::from(term.size().width);
        let first = viewer
            .fb
            .as_rgb()
            .iter()
            .zip(&fresh)
            .position(|(a, b)| a != b)
            .unwrap_or(0)
            / 3;
        panic!(
            "picture differs from a fresh render at ({}, {})",
            first % w,
            first / w
        );
    }
}

fn key(term: &mut Terminal, keysym: u32) {
    term.input(InputEvent::Key {
        keysym,
        scancode: 0,
        down: true,
    });
    term.input(InputEvent::Key {
        keysym,
        scancode: 0,
        down: false,
    });
}

#[test]
fn text_is_painted_and_idle_emits_nothing() {
    let size = Size::new(400, 200);
    let mut term = Terminal::new(size, &small()).expect("terminal");
    assert_eq!(term.pty_size().cols, 40);
    let mut v = Viewer::new(size);
    v.apply(term.frame());
    check_exact(&mut term, &v);
    term.feed(b"hello \x1b[1;31mworld\x1b[0m\r\n$ ");
    assert!(v.apply(term.frame()) > 0);
    check_exact(&mut term, &v);
    assert_eq!(term.text()[0], "hello world");
    assert!(!term.has_pending());
    assert_eq!(v.apply(term.frame()), 0, "an idle terminal emits nothing");
    // Typing one character repaints only the cells around the cursor.
    term.feed(b"x");
    let events = term.frame();
    let painted: u32 = events
        .iter()
        .map(|e| match e {
            SessionEvent::Pixels { rect, .. } => rect.area(),
            _ => 0,
        })
        .sum();
    let cell = term.cell_size();
    assert!(painted <= 4 * cell.area(), "{events:?}");
    v.apply(events);
    check_exact(&mut term, &v);
}

#[test]
fn scrolling_uses_copies() {
    let size = Size::new(300, 10 * 19);
    let mut term = Terminal::new(size, &small()).expect("terminal");
    let mut v = Viewer::new(size);
    v.apply(term.frame());
    for i in 0..40 {
        term.feed(format!("line {i}\r\n").as_bytes());
        v.apply(term.frame());
        check_exact(&mut term, &v);
    }
    assert!(v.copies >= 25, "only {} copies", v.copies);
    // Scroll back with the wheel and forward again; then output snaps back.
    term.input(InputEvent::Wheel {
        at: Point::new(5, 5),
        dx: 0,
        dy: -120,
    });
    v.apply(term.frame());
    check_exact(&mut term, &v);
    assert!(term.text()[0].starts_with("line 2"), "{:?}", term.text());
    term.feed(b"more\r\n");
    v.apply(term.frame());
    check_exact(&mut term, &v);
    assert_eq!(term.text()[term.text().len() - 2], "more");
}

#[test]
fn resize_reports_and_repaints() {
    let size = Size::new(300, 200);
    let mut term = Terminal::new(size, &small()).expect("terminal");
    let mut v = Viewer::new(size);
    term.feed(b"abc");
    v.apply(term.frame());
    term.input(InputEvent::Resize(Size::new(505, 303)));
    let pty = term.take_pty_resize().expect("pty resize");
    assert_eq!((pty.cols, pty.rows), (50, 303 / term.cell_size().height));
    let events = term.frame();
    assert_eq!(events[0], SessionEvent::DesktopSize(Size::new(505, 303)));
    v.apply(events);
    check_exact(&mut term, &v);
    term.input(InputEvent::Resize(Size::new(0, 10)));
    assert!(term.take_pty_resize().is_none());
}

#[test]
fn drag_copies_the_selected_text() {
    let size = Size::new(400, 200);
    let mut term = Terminal::new(size, &small()).expect("terminal");
    let mut v = Viewer::new(size);
    term.feed(b"one two three");
    v.apply(term.frame());
    let cell = term.cell_size();
    let at = |col: u16| Point::new(col * cell.width + 2, cell.height / 2);
    for (p, b) in [
        (at(4), buttons::LEFT),
        (at(5), buttons::LEFT),
        (at(6), buttons::LEFT),
        (at(6), 0),
    ] {
        term.input(InputEvent::Pointer { at: p, buttons: b });
        v.apply(term.frame());
        check_exact(&mut term, &v);
    }
    assert_eq!(v.clipboard, ["two"]);
    // The selection is drawn inverted.
    let fg = term.grid().row(0)[4].bg;
    assert_eq!(fg, Theme::default().foreground);
    // Output elsewhere keeps it; output over it drops it.
    term.feed(b"\r\nfour");
    assert!(term.pointer.selection().is_some());
    term.feed(b"\x1b[1;5HTWO");
    assert!(term.pointer.selection().is_none());
    v.apply(term.frame());
    check_exact(&mut term, &v);
}

#[test]
fn keys_paste_and_modes() {
    let mut term = Terminal::new(Size::new(400, 200), &small()).expect("terminal");
    key(&mut term, 'l' as u32);
    key(&mut term, keys::keysym::RETURN);
    key(&mut term, keys::keysym::UP);
    assert_eq!(term.take_to_remote(), b"l\r\x1b[A");
    term.feed(b"\x1b[?1h\x1b[?2004h");
    key(&mut term, keys::keysym::UP);
    term.input(InputEvent::Clipboard("a\r\nb\x1b[201~c".to_owned()));
    assert_eq!(term.take_to_remote(), b"\x1bOA\x1b[200~a\rb[201~c\x1b[201~");
    term.feed(b"\x1b[6n");
    assert_eq!(term.take_to_remote(), b"\x1b[1;1R");
}

#[test]
fn alternate_screen_round_trip() {
    let size = Size::new(300, 200);
    let mut term = Terminal::new(size, &small()).expect("terminal");
    let mut v = Viewer::new(size);
    term.feed(b"shell prompt$ ");
    v.apply(term.frame());
    term.feed(b"\x1b[?1049h\x1b[H\x1b[2J~\r\n~\r\n\x1b[7mstatus\x1b[0m");
    v.apply(term.frame());
    check_exact(&mut term, &v);
    assert!(term.alternate_screen());
    assert_eq!(term.text()[0], "~");
    term.feed(b"\x1b[?1049l");
    v.apply(term.frame());
    check_exact(&mut term, &v);
    assert_eq!(term.text()[0], "shell prompt$");
    // Wheel in the alternate screen sends arrows.
    term.feed(b"\x1b[?1049h");
    term.input(InputEvent::Wheel {
        at: Point::new(1, 1),
        dx: 0,
        dy: 120,
    });
    assert_eq!(term.take_to_remote(), b"\x1b[B\x1b[B\x1b[B");
}

#[test]
fn desktops_smaller_than_a_cell_show_the_background() {
    let size = Size::new(253, 8);
    let mut term = Terminal::new(Size::new(100, 100), &small()).expect("terminal");
    let mut v = Viewer::new(Size::new(100, 100));
    term.input(InputEvent::Resize(size));
    term.feed(b"text");
    v.apply(term.frame());
    check_exact(&mut term, &v);
    term.feed(b"more");
    v.apply(term.frame());
    check_exact(&mut term, &v);
}

#[test]
fn bell_and_osc52_become_events() {
    let mut term = Terminal::new(Size::new(100, 100), &small()).expect("terminal");
    term.feed(b"\x07\x07\x1b]52;c;aGVsbG8=\x07");
    let events = term.frame();
    assert_eq!(
        events.iter().filter(|e| **e == SessionEvent::Bell).count(),
        1
    );
    assert!(events.contains(&SessionEvent::Clipboard("hello".to_owned())));
}

#[test]
fn huge_lines_and_floods_stay_bounded() {
    let size = Size::new(200, 100);
    let mut term = Terminal::new(size, &small()).expect("terminal");
    let mut v = Viewer::new(size);
    term.feed(&vec![b'x'; 1 << 20]);
    term.feed(&b"\x1b[38;5;1m\x1b[48;2;1;2;3m".repeat(10_000));
    term.feed("界".repeat(5000).as_bytes());
    v.apply(term.frame());
    check_exact(&mut term, &v);
    assert!(term.parser.screen().scrollback_len() <= 100);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever the server sends and whatever the user does in between,
    /// the viewer's picture equals a fresh render after every frame.
    #[test]
    fn damage_never_loses_pixels(
        chunks in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..64),
                proptest::collection::vec(prop_oneof![
                    Just(b"\r\n".to_vec()),
                    Just(b"\x1b[2J".to_vec()),
                    Just(b"\x1b[5;1H".to_vec()),
                    Just(b"\x1b[2;4r".to_vec()),
                    Just(b"\x1b[L".to_vec()),
                    Just(b"\x1b[M".to_vec()),
                    Just(b"\x1bM".to_vec()),
                    Just("界x".as_bytes().to_vec()),
                    Just(b"\x1b[?1049h".to_vec()),
                    Just(b"\x1b[?1049l".to_vec()),
                    Just(b"\x1b[7;41mab\x1b[0m".to_vec()),
                    Just(b"text ".to_vec()),
                ], 0..12).prop_map(|v| v.concat()),
            ],
            1..12,
        ),
        drag in any::<(u8, u8, u8, u8)>(),
    ) {
        let size = Size::new(173, 121);
        let mut term = Terminal::new(size, &small()).expect("terminal");
        let mut v = Viewer::new(size);
        for (i, chunk) in chunks.iter().enumerate() {
            term.feed(chunk);
            if i == 1 {
                term.input(InputEvent::Pointer { at: Point::new(drag.0.into(), drag.1.into()), buttons: 1 });
                term.input(InputEvent::Pointer { at: Point::new(drag.2.into(), drag.3.into()), buttons: 1 });
            }
            if i == 2 {
                term.input(InputEvent::Wheel { at: Point::new(0, 0), dx: 0, dy: -240 });
            }
            v.apply(term.frame());
            let fresh = term.render_full();
            prop_assert!(v.fb.as_rgb() == fresh.as_slice(), "picture differs after chunk {}", i);
        }
    }
}
