//! The rendered shell: text, exact damage, full-screen programs, colours,
//! scrolling, resizing, selection and paste.

use crate::support::{Live, password, request};
use oriel_core_model::{InputEvent, Point, Size, buttons};
use oriel_protocols_session::TargetTrust;
use oriel_testkit::sshd::Sshd;
use std::time::{Duration, Instant};

async fn shell(size: Option<Size>) -> (Sshd, Live) {
    let sshd = Sshd::start().await.expect("sshd");
    let live = Live::connect(request(
        sshd.port(),
        password(&sshd),
        TargetTrust::FirstUse,
        size,
    ))
    .await
    .unwrap_or_else(|e| panic!("connect: {e}\nsshd log:\n{}", sshd.log_tail(30)));
    live.wait_prompt().await;
    (sshd, live)
}

/// 1. Password login; printed text appears in the grid and the picture; the
/// picture built from damage equals a fresh render; an idle terminal is silent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_login_shows_printed_text_exactly() {
    let started = Instant::now();
    let (sshd, live) = shell(None).await;
    assert_eq!(live.info.size, Size::new(1024, 768));
    assert_eq!(
        live.info.identity.as_deref(),
        Some(sshd.host_fingerprint().unwrap().as_str()),
        "first use reports the host key"
    );
    assert_eq!(live.info.name, format!("{}@127.0.0.1", sshd.user()));
    live.type_text("printf 'oriel-%s\\n' hello-world\n").await;
    live.wait_line("oriel-hello-world").await;
    let snap = live.assert_exact().await;
    // The text track carries what the shell printed and the grid.
    {
        let seen = live.seen.lock().unwrap();
        let printed = String::from_utf8_lossy(&seen.printed);
        assert!(printed.contains("oriel-hello-world\r\n"), "{printed:?}");
        assert_eq!(seen.grids, [snap.grid], "the grid is announced once");
        assert!(seen.updates > 0, "each redraw ends with UpdateEnd");
    }
    // Idle: nothing at all is sent.
    live.wait_quiet(Duration::from_millis(300)).await;
    let before = live.seen.lock().unwrap().applied;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        live.seen.lock().unwrap().applied,
        before,
        "an idle terminal emits events"
    );
    assert!(live.seen.lock().unwrap().error.is_none());
    // The shell exits: the events channel closes without an error.
    live.type_text("exit\n").await;
    let deadline = Instant::now() + crate::support::WAIT;
    while !live.seen.lock().unwrap().ended {
        assert!(Instant::now() < deadline, "the session did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        live.seen.lock().unwrap().error.is_none(),
        "a normal exit is no error"
    );
    println!("password login test took {:?}", started.elapsed());
}

/// 3. vim in the alternate screen: its `~` lines and status line in the
/// grid and the picture, the normal screen back after `:q`; then 256-colour
/// and truecolour cells have exactly their colours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vim_alternate_screen_and_colours() {
    let (_sshd, live) = shell(Some(Size::new(800, 480))).await;
    live.type_text("echo before-vim\n").await;
    live.wait_line("before-vim").await;
    live.type_text("vim -u NONE -N -c 'set laststatus=2' oriel-vim-test.txt\n")
        .await;
    live.wait_screen("vim's screen", |s| {
        s.alternate_screen
            && s.text.iter().filter(|l| l.as_str() == "~").count() >= 10
            && s.text.iter().any(|l| l.contains("oriel-vim-test.txt"))
    })
    .await;
    let snap = live.assert_exact().await;
    // The status line is drawn in reverse video: its background is light.
    let status = snap
        .text
        .iter()
        .rposition(|l| l.starts_with("oriel-vim-test.txt"))
        .expect("status line");
    let cell = snap.cell;
    let y = status as u16 * cell.height + 1;
    let bg = live.pixel(Point::new(snap.size.width - cell.width * 2, y));
    assert!(bg.iter().all(|&c| c > 150), "status line background {bg:?}");
    // A `~` line: its glyph is drawn in the first cell, nothing after it.
    let tilde_row = snap.text.iter().position(|l| l == "~").expect("a ~ line") as u16;
    assert!(tilde_row >= 1);
    let background = live.pixel(Point::new(snap.size.width - 1, tilde_row * cell.height));
    let inked = |col: u16| {
        (0..cell.height).any(|y| {
            (0..cell.width).any(|x| {
                live.pixel(Point::new(
                    col * cell.width + x,
                    tilde_row * cell.height + y,
                )) != background
            })
        })
    };
    assert!(inked(0), "the ~ glyph is not drawn");
    assert!(!inked(1) && !inked(5), "cells after the ~ are not blank");
    live.type_text(":q\n").await;
    let snap = live
        .wait_screen("the shell after vim", |s| {
            !s.alternate_screen && s.text.iter().any(|l| l == "before-vim")
        })
        .await;
    assert!(!snap.text.iter().any(|l| l == "~"));
    live.assert_exact().await;

    // Colours: 256-colour index 196 and truecolour (10, 200, 30) backgrounds.
    live.type_text("clear; printf 'C1\\e[48;5;196m  \\e[0mC2\\e[48;2;10;200;30m  \\e[0mC3\\n'\n")
        .await;
    let (snap, row) = live.wait_line("C1  C2  C3").await;
    live.assert_exact().await;
    let cell = snap.cell;
    let centre = |col: u16| {
        Point::new(
            col * cell.width + cell.width / 2,
            row as u16 * cell.height + cell.height / 2,
        )
    };
    for col in [2, 3] {
        assert_eq!(
            live.pixel(centre(col)),
            [255, 0, 0],
            "index 196 at column {col}"
        );
    }
    for col in [6, 7] {
        assert_eq!(
            live.pixel(centre(col)),
            [10, 200, 30],
            "truecolour at column {col}"
        );
    }
}

/// 4. Scrolling is sent as copy-rects and still ends exact; a resize
/// changes the pty size (`stty size`) and emits `DesktopSize`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrolling_copies_and_resize() {
    let (_sshd, live) = shell(Some(Size::new(640, 240))).await;
    let snap = live.snapshot().await;
    let rows = snap.grid.1;
    assert_eq!(snap.grid, (64, 240 / snap.cell.height));
    let copies_before = live.seen.lock().unwrap().copies;
    live.type_text("for i in $(seq 1 40); do echo scroll-line-$i; sleep 0.03; done\n")
        .await;
    live.wait_line("scroll-line-40").await;
    live.assert_exact().await;
    let copies = live.seen.lock().unwrap().copies - copies_before;
    println!("{copies} copy events for 40 lines on a {rows}-row terminal");
    assert!(copies >= 10, "only {copies} copies");

    live.send(InputEvent::Resize(Size::new(800, 400))).await;
    let cell = snap.cell;
    let (cols, rows) = (800 / cell.width, 400 / cell.height);
    live.type_text("clear; stty size\n").await;
    live.wait_line(&format!("{rows} {cols}")).await;
    let snap = live.assert_exact().await;
    assert_eq!(snap.size, Size::new(800, 400));
    assert_eq!(
        live.seen.lock().unwrap().desktop_sizes,
        [Size::new(800, 400)]
    );
    assert_eq!(
        live.seen.lock().unwrap().grids,
        [(64, 240 / cell.height), (cols, rows)],
        "the text track follows the resize"
    );

    // The gateway drops the input end: the session task ends quietly.
    let Live { input, seen, .. } = live;
    drop(input);
    let deadline = Instant::now() + crate::support::WAIT;
    while !seen.lock().unwrap().ended {
        assert!(Instant::now() < deadline, "the session task did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen.lock().unwrap().error.is_none());
}

/// 5. Dragging over a word copies exactly that word; a paste reaches the shell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selection_copies_and_paste_types() {
    let (_sshd, live) = shell(Some(Size::new(800, 400))).await;
    live.type_text("echo alpha beta gamma\n").await;
    let (snap, row) = live.wait_line("alpha beta gamma").await;
    let cell = snap.cell;
    let at = |col: u16| {
        Point::new(
            col * cell.width + 2,
            row as u16 * cell.height + cell.height / 2,
        )
    };
    for (col, b) in [
        (6, buttons::LEFT),
        (7, buttons::LEFT),
        (9, buttons::LEFT),
        (9, 0),
    ] {
        live.send(InputEvent::Pointer {
            at: at(col),
            buttons: b,
        })
        .await;
    }
    live.wait_screen("the copied selection", |_| {
        !live.seen.lock().unwrap().clipboard.is_empty()
    })
    .await;
    assert_eq!(live.seen.lock().unwrap().clipboard, ["beta"]);
    // The selection is drawn inverted, and exactly.
    let snap = live.assert_exact().await;
    let px = live.pixel(Point::new(6 * cell.width + 1, row as u16 * cell.height + 1));
    assert!(
        px.iter().all(|&c| c > 150),
        "selected cell background {px:?}"
    );
    let _ = snap;

    live.send(InputEvent::Clipboard("echo pasted-$((6*7))".to_owned()))
        .await;
    live.key(0xff0d).await;
    live.wait_line("pasted-42").await;
    live.assert_exact().await;
}

/// 6. htop: a full-screen, colourful, constantly updating program. Its
/// function-key bar is on the last row with coloured label cells, the
/// picture stays exact while it redraws, and `q` restores the shell screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htop_full_screen_colours() {
    let (_sshd, live) = shell(Some(Size::new(800, 480))).await;
    live.type_text("echo before-htop\n").await;
    live.wait_line("before-htop").await;
    // No configuration file: htop's default colour scheme and meters.
    live.type_text("HTOPRC=/dev/null htop -d 5\n").await;
    live.wait_screen("htop's screen", |s| {
        s.alternate_screen
            && s.text.last().is_some_and(|l| l.contains("F10Quit"))
            && s.text.iter().any(|l| l.contains("PID"))
    })
    .await;
    let snap = live.assert_exact().await;
    let cell = snap.cell;
    let last = snap.text.len() - 1;
    let col = snap.text[last].find("Quit").expect("Quit label") as u16;
    let y = last as u16 * cell.height;
    // The label's cell background (its top-left pixel, clear of the glyph)
    // is htop's function-bar colour, cyan; the key name before it is not.
    let label_bg = live.pixel(Point::new(col * cell.width, y));
    assert_eq!(label_bg, [0, 205, 205], "F10 label background");
    let key_bg = live.pixel(Point::new((col - 1) * cell.width, y));
    assert_ne!(key_bg, label_bg, "F10 key background");
    // The header's meters and the process list's header row are coloured too:
    // more than the theme's two colours on screen.
    let distinct: std::collections::HashSet<[u8; 3]> = snap
        .rgb
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    assert!(distinct.len() > 8, "only {} colours", distinct.len());
    live.type_text("q").await;
    let snap = live
        .wait_screen("the shell after htop", |s| {
            !s.alternate_screen && s.text.iter().any(|l| l == "before-htop")
        })
        .await;
    assert!(!snap.text.iter().any(|l| l.contains("F10Quit")));
    live.assert_exact().await;
}
