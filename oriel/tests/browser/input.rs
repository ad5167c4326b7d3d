//! Keyboard and mouse from the browser to X.

use crate::SETTLE;
use crate::support::web::{
    CanvasGeometry, Desk, SCREEN, click_desktop, move_mouse_to, wait_canvas_exact, wait_pointer_at,
};
use oriel_testkit::{MouseButton, VncDisplay, XtermOptions};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_reaches_an_xterm() {
    let desk = Desk::start(1024, 768).await.unwrap();
    let dir = desk.display.scratch_dir().path().to_owned();
    let (file, file2) = (dir.join("typed.txt"), dir.join("typed-2.txt"));
    // The first line as asked; then, with `read -r` (no backslash
    // escapes), every other printable ASCII character.
    let _xterm = desk
        .display
        .start_xterm(XtermOptions {
            columns: 100,
            rows: 10,
            x: 100,
            y: 120,
            command: Some(format!(
                "read line; printf '%s' \"$line\" > '{}'; \
                 IFS= read -r line; printf '%s' \"$line\" > '{}'; sleep 600",
                file.display(),
                file2.display()
            )),
            ..Default::default()
        })
        .await
        .unwrap();
    desk.workspace("typing", json!({})).await.unwrap();
    desk.open("typing").await.unwrap();
    let page = &desk.page;

    // Click inside the xterm through the canvas: the pointer goes there, so
    // the xterm gets the keyboard (no window manager: focus follows the pointer).
    let inside = (160, 150);
    click_desktop(page, inside, MouseButton::Left)
        .await
        .unwrap();
    wait_pointer_at(&desk.display, inside, 0).await.unwrap();
    assert_eq!(
        page.eval("document.activeElement && document.activeElement.id")
            .await
            .unwrap(),
        "screen",
        "clicking the desktop must give the canvas the keyboard"
    );

    // Shifted letters, a comma, a space, '!' (Shift+1) and digits.
    let text = "Hello, Oriel! 123";
    page.type_text(text).await.unwrap();
    assert!(!file.exists(), "the line must not be complete before Enter");
    page.press_key("Enter").await.unwrap();
    assert_eq!(
        read_when_written(&file, text).await,
        text,
        "what the xterm read"
    );

    // Every printable ASCII character, unshifted and shifted.
    let all: String = (b' '..=b'~').map(char::from).collect();
    page.type_text(&all).await.unwrap();
    page.press_key("Enter").await.unwrap();
    assert_eq!(
        read_when_written(&file2, &all).await,
        all,
        "what the xterm read"
    );

    // The echoed lines are on the canvas too.
    wait_canvas_exact(page, &desk.display, SETTLE, "typed")
        .await
        .unwrap();
    page.assert_no_js_errors();
}

/// The file's text once it equals `expected`, or after 10 s whatever it is.
async fn read_when_written(file: &std::path::Path, expected: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = std::fs::read_to_string(file).unwrap_or_default();
        if now == expected || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Cell size and origin of an xterm's text area from its window geometry
/// (the default internal border is 2 pixels).
async fn xterm_cells(
    display: &VncDisplay,
    window: u64,
    columns: u32,
    rows: u32,
) -> ((u32, u32), (u32, u32)) {
    let out = display
        .xdotool(&["getwindowgeometry", "--shell", &window.to_string()])
        .await
        .unwrap();
    let field = |name: &str| -> u32 {
        out.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {name} in {out:?}"))
            .trim()
            .parse()
            .unwrap()
    };
    let (x, y, w, h) = (field("X"), field("Y"), field("WIDTH"), field("HEIGHT"));
    const BORDER: u32 = 2;
    let (cw, ch) = ((w - 2 * BORDER) / columns, (h - 2 * BORDER) / rows);
    assert_eq!(
        (cw * columns + 2 * BORDER, ch * rows + 2 * BORDER),
        (w, h),
        "unexpected xterm geometry {out:?}"
    );
    ((x + BORDER, y + BORDER), (cw, ch))
}

/// The xterm report (mouse tracking mode 1000) of a button event at a cell.
fn mouse_report(code: u8, column: u32, row: u32) -> [u8; 6] {
    [
        0x1b,
        b'[',
        b'M',
        32 + code,
        (32 + 1 + column) as u8,
        (32 + 1 + row) as u8,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pointer_position_and_buttons_reach_x() {
    let desk = Desk::start(1024, 768).await.unwrap();
    let display = &desk.display;
    // An xterm in mouse-tracking mode (1000): X button presses and releases
    // at a cell become `ESC [ M b x y` on its input, which cat writes to a file.
    let file = display.scratch_dir().path().join("mouse.bin");
    let (columns, rows) = (80u32, 24u32);
    let xterm = display
        .start_xterm(XtermOptions {
            columns: columns as u16,
            rows: rows as u16,
            x: 200,
            y: 150,
            command: Some(format!(
                "printf '\\033[?1000h'; stty raw -echo; exec cat > '{}'",
                file.display()
            )),
            ..Default::default()
        })
        .await
        .unwrap();
    desk.workspace("pointer", json!({})).await.unwrap();
    desk.open("pointer").await.unwrap();
    let page = &desk.page;

    // 1:1: a 1024×768 desktop in the 1600×1000 viewport.
    let geometry = CanvasGeometry::of(page).await.unwrap();
    assert!(geometry.is_one_to_one(), "{geometry:?}");
    // The X server starts with the pointer in the middle: visit it last.
    for at in [
        (0, 0),
        (1023, 0),
        (1023, 767),
        (0, 767),
        (3, 5),
        (700, 90),
        (512, 384),
    ] {
        move_mouse_to(page, display, at, 0)
            .await
            .unwrap_or_else(|e| panic!("moving to {at:?}: {e:#}"));
    }

    // Scaled: a smaller viewport makes the client fit the canvas (CSS scale
    // < 1). Rounding could cost a pixel, but aiming at the centre of a
    // desktop pixel (and Chromium's fractional event coordinates) makes
    // the mapping exact, so no tolerance is granted.
    page.set_viewport(900, 700).await.unwrap();
    page.wait_for(
        &format!("document.querySelector('{SCREEN}').getBoundingClientRect().width < 1024"),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let scaled = CanvasGeometry::of(page).await.unwrap();
    eprintln!("scaled canvas: {scaled:?}, scale {:?}", scaled.scale());
    assert!(!scaled.is_one_to_one());
    for at in [
        (0, 0),
        (1023, 767),
        (1023, 0),
        (0, 767),
        (511, 383),
        (250, 600),
    ] {
        move_mouse_to(page, display, at, 0)
            .await
            .unwrap_or_else(|e| panic!("moving to {at:?} scaled: {e:#}"));
    }
    page.set_viewport(1600, 1000).await.unwrap();
    page.wait_for(
        &format!("document.querySelector('{SCREEN}').getBoundingClientRect().width === 1024"),
        Duration::from_secs(5),
    )
    .await
    .unwrap();

    // Buttons: a left click and a right click on two cells of the xterm.
    let wait_file = |len: usize| {
        let file = file.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let bytes = std::fs::read(&file).unwrap_or_default();
                if bytes.len() >= len || Instant::now() > deadline {
                    return bytes;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    // The shell has enabled mouse tracking once cat has opened the file.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !file.exists() {
        assert!(Instant::now() < deadline, "the mouse logger never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ((ox, oy), (cw, ch)) = xterm_cells(display, xterm.window_id, columns, rows).await;
    let cell_centre = |c: u32, r: u32| (ox + c * cw + cw / 2, oy + r * ch + ch / 2);

    let left = cell_centre(10, 5);
    click_desktop(page, left, MouseButton::Left).await.unwrap();
    wait_pointer_at(display, left, 0).await.unwrap();
    let mut expected = Vec::new();
    expected.extend(mouse_report(0, 10, 5)); // button 1 pressed
    expected.extend(mouse_report(3, 10, 5)); // released
    let got = wait_file(expected.len()).await;
    assert_eq!(got, expected, "left click as the xterm saw it");

    let right = cell_centre(61, 19);
    click_desktop(page, right, MouseButton::Right)
        .await
        .unwrap();
    wait_pointer_at(display, right, 0).await.unwrap();
    expected.extend(mouse_report(2, 61, 19)); // button 3 pressed
    expected.extend(mouse_report(3, 61, 19)); // released
    let got = wait_file(expected.len()).await;
    assert_eq!(got, expected, "right click as the xterm saw it");
    page.assert_no_js_errors();
}
