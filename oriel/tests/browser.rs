//! End to end through a real headless Chromium: the embedded web client of
//! the real `oriel up`, against real Xtigervnc displays and X clients. What
//! the canvas shows is compared with the X server's `xwd` screenshot; what
//! the browser types, points, clicks and copies is checked on the X side
//! (a file an xterm writes, `xdotool`, `xclip`).
//!
//! Failures leave the canvas and the screenshot as PNG files in the
//! display's scratch directory (the path is printed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use oriel_testkit::{ChildGuard, MouseButton, XtermOptions, free_port};
use serde_json::json;
use std::time::{Duration, Instant};
use support::web::{
    CanvasGeometry, Desk, SCREEN, assert_no_js_errors, click_desktop, compare_once,
    expect_logged_in, goto_index, install_ws_spy, is_shown, launch_workspace, log_in,
    move_mouse_to, own_pointer, received, sent, text_of, type_into, unique_suffix,
    viewer_state, wait_canvas_exact, wait_connected, wait_pointer_at, wait_screen_changes,
};
use support::{ADMIN_PASSWORD, Oriel, blocking};

/// How long the canvas may take to settle to an exact copy of the screen
/// (lossy tiles are refreshed losslessly once the screen is quiet).
const SETTLE: Duration = Duration::from_secs(30);

/// A quiet spot of the 1024×768 desktops (no window there), where the tests
/// park the mouse so that the pointer is the viewer's.
const PARK: (u32, u32) = (1000, 740);

/// Gateway → viewer message types (docs/protocol.md §2.2).
const MSG_CLIPBOARD: u8 = 0x85;
const MSG_NOTICE: u8 = 0x89;
/// Viewer → gateway CLIPBOARD.
const MSG_CLIPBOARD_UP: u8 = 0x06;

fn text_xterm(x: i32, y: i32, command: &str) -> XtermOptions {
    XtermOptions {
        columns: 64,
        rows: 12,
        x,
        y,
        command: Some(command.to_owned()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_launch_and_the_canvas_is_an_exact_copy() {
    let started = Instant::now();
    let desk = Desk::start(1024, 768).await.unwrap();
    let _text = desk
        .display
        .start_xterm(text_xterm(
            24,
            40,
            "echo 'Oriel browser test: exact picture'; \
             for i in 1 2 3 4 5 6 7 8; do echo \"line $i: the quick brown fox jumps over 0123456789\"; done; \
             sleep 600",
        ))
        .await
        .unwrap();
    let _second = desk
        .display
        .start_xterm(XtermOptions {
            columns: 30,
            rows: 6,
            x: 560,
            y: 420,
            background: Some("navy".into()),
            foreground: Some("yellow".into()),
            command: Some("echo second window; sleep 600".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    desk.workspace("desk", json!({})).await.unwrap();
    let page = &desk.page;

    // A wrong password: a message, no navigation, not logged in.
    log_in(page, &desk.oriel, "admin", "not-the-password")
        .await
        .unwrap();
    page.wait_for(
        "!document.getElementById('login-error').hidden \
         && document.getElementById('login-error').textContent.trim() !== ''",
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let error = text_of(page, "#login-error").await.unwrap();
    assert_eq!(error, "Wrong username or password.");
    assert_eq!(
        page.eval("location.pathname").await.unwrap(),
        "/index.html"
    );
    assert!(is_shown(page, "#login-view").await.unwrap());
    assert!(!is_shown(page, "#home-view").await.unwrap());
    assert!(!is_shown(page, "#user-area").await.unwrap());
    let me = page
        .eval("fetch('/api/v1/auth/me', {credentials: 'same-origin'}).then(r => r.status)")
        .await
        .unwrap();
    assert_eq!(me, 401, "a failed login must not log the browser in");

    // The right password in the same form.
    type_into(page, "#password", ADMIN_PASSWORD).await.unwrap();
    page.click_selector("#login-button").await.unwrap();
    expect_logged_in(page, "admin").await.unwrap();
    assert!(!is_shown(page, "#login-error").await.unwrap());
    let listed = text_of(page, "#workspaces > li[data-workspace-name=\"desk\"]")
        .await
        .unwrap();
    assert!(listed.contains("desk") && listed.contains("Launch"), "{listed:?}");

    // Launch, connect, draw.
    let session = launch_workspace(page, "desk").await.unwrap();
    let state = wait_connected(page, Duration::from_secs(20)).await.unwrap();
    assert_eq!((state["width"].as_u64(), state["height"].as_u64()), (Some(1024), Some(768)));
    assert_eq!(state["connectCount"], 1);
    assert_eq!(state["lastEnd"], serde_json::Value::Null);
    assert_eq!(
        page.eval("document.getElementById('status').dataset.state")
            .await
            .unwrap(),
        "connected"
    );
    let listed_sessions = desk.api.clone();
    let sessions = blocking(move || listed_sessions.call("GET", "/api/v1/sessions", None, &[]))
        .await
        .unwrap();
    assert!(
        sessions.body.to_string().contains(&session),
        "session {session} not in {}",
        sessions.body
    );
    let geometry = CanvasGeometry::of(page).await.unwrap();
    assert_eq!((geometry.width, geometry.height), (1024, 768));
    assert!(geometry.is_one_to_one(), "{geometry:?}");

    own_pointer(page, &desk.display, PARK).await.unwrap();
    wait_canvas_exact(page, &desk.display, SETTLE, "exact")
        .await
        .unwrap();
    assert_no_js_errors(page);
    eprintln!("login_launch_and_the_canvas_is_an_exact_copy: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn animation_stays_close_and_settles_exactly() {
    let desk = Desk::start(1024, 768).await.unwrap();
    let _text = desk
        .display
        .start_xterm(text_xterm(420, 320, "echo 'static text beside the video'; sleep 600"))
        .await
        .unwrap();
    desk.workspace("anim", json!({})).await.unwrap();
    desk.open("anim").await.unwrap();
    let page = &desk.page;
    let display = &desk.display;
    own_pointer(page, display, PARK).await.unwrap();
    wait_canvas_exact(page, display, SETTLE, "before-animation")
        .await
        .unwrap();

    let before = display.screenshot().await.unwrap();
    let mut cmd = display.command("ffplay");
    cmd.env("SDL_RENDER_DRIVER", "software").args([
        "-loglevel",
        "warning",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=30",
        "-an",
        "-noborder",
        "-left",
        "0",
        "-top",
        "0",
    ]);
    let mut ffplay = ChildGuard::spawn(cmd, "ffplay", display.scratch_dir()).unwrap();
    let first = wait_screen_changes(display, &before).await.unwrap();
    wait_screen_changes(display, &first)
        .await
        .unwrap_or_else(|e| panic!("ffplay does not animate: {e:#}\n{}", ffplay.log_tail(20)));
    let frames = viewer_state(page).await.unwrap()["framesDrawn"]
        .as_u64()
        .unwrap();
    page.wait_for(
        &format!("orielViewer.framesDrawn >= {}", frames + 10),
        Duration::from_secs(10),
    )
    .await
    .unwrap();

    // Tolerance while it plays: PSNR ≥ 20 dB over the whole screen. The two
    // captures are up to a frame apart (xwd, then the canvas a CDP round
    // trip later), and the moving region is sent lossily (JPEG) while it
    // moves, so exact equality cannot be asked for; 20 dB still fails for
    // a missing, misplaced or stale video region.
    const MIN_PSNR_DB: f64 = 20.0;
    let mut psnrs = Vec::new();
    let mut previous = None;
    let mut screens_changed = 0;
    for i in 0..8 {
        let diff = compare_once(page, display, MIN_PSNR_DB, &format!("animation-{i}"))
            .await
            .unwrap();
        psnrs.push(diff.psnr_db);
        let frame = viewer_state(page).await.unwrap()["lastFrameId"].clone();
        if previous.as_ref().is_some_and(|p| *p != frame) {
            screens_changed += 1;
        }
        previous = Some(frame);
        // Pacing between samples, so that they spread over the animation.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    ffplay.ensure_running().unwrap();
    assert!(
        screens_changed >= 5,
        "the viewer did not keep drawing new frames during the animation"
    );
    let finite: Vec<f64> = psnrs.iter().copied().filter(|p| p.is_finite()).collect();
    let min = psnrs.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
    eprintln!(
        "animation PSNR over the whole screen: min {min:.2} dB, mean {mean:.2} dB \
         (of {} finite samples; {} identical), all {psnrs:.2?}",
        finite.len(),
        psnrs.len() - finite.len()
    );

    drop(ffplay);
    wait_canvas_exact(page, display, SETTLE, "after-animation")
        .await
        .unwrap();
    assert_no_js_errors(page);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_reaches_an_xterm() {
    let desk = Desk::start(1024, 768).await.unwrap();
    let file = desk.display.scratch_dir().path().join("typed.txt");
    let xterm = desk
        .display
        .start_xterm(XtermOptions {
            columns: 60,
            rows: 10,
            x: 100,
            y: 120,
            command: Some(format!(
                "read line; printf '%s' \"$line\" > '{}'; sleep 600",
                file.display()
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
    let geometry = desk
        .display
        .xdotool(&["getwindowgeometry", &xterm.window_id.to_string()])
        .await
        .unwrap();
    eprintln!("xterm: {geometry}");

    // Shifted letters, a comma, a space, '!' (Shift+1) and digits.
    let text = "Hello, Oriel! 123";
    page.type_text(text).await.unwrap();
    assert!(
        !file.exists(),
        "the line must not be complete before Enter"
    );
    page.press_key("Enter").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let typed = loop {
        let now = std::fs::read_to_string(&file).unwrap_or_default();
        if now == text || Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(typed, text, "what the xterm read");

    // The echoed line is on the canvas too.
    wait_canvas_exact(page, &desk.display, SETTLE, "typed")
        .await
        .unwrap();
    assert_no_js_errors(page);
}

/// Cell size and origin of an xterm's text area from its window geometry
/// (the default internal border is 2 pixels).
async fn xterm_cells(
    display: &oriel_testkit::VncDisplay,
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
    for at in [(0, 0), (1023, 0), (1023, 767), (0, 767), (3, 5), (700, 90), (512, 384)] {
        move_mouse_to(page, display, at, 0)
            .await
            .unwrap_or_else(|e| panic!("moving to {at:?}: {e:#}"));
    }

    // Scaled: a smaller viewport makes the client fit the canvas (CSS scale
    // < 1); the mapping is then exact to ±1 desktop pixel.
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
    for at in [(0, 0), (1023, 767), (1023, 0), (0, 767), (511, 383), (250, 600)] {
        move_mouse_to(page, display, at, 1)
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
    // The shell has enabled mouse tracking once cat opened the file.
    assert!(wait_file(0).await.is_empty());
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
    click_desktop(page, right, MouseButton::Right).await.unwrap();
    wait_pointer_at(display, right, 0).await.unwrap();
    expected.extend(mouse_report(2, 61, 19)); // button 3 pressed
    expected.extend(mouse_report(3, 61, 19)); // released
    let got = wait_file(expected.len()).await;
    assert_eq!(got, expected, "right click as the xterm saw it");
    assert_no_js_errors(page);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clipboard_policy_is_enforced_by_the_gateway() {
    let desk = Desk::start(1024, 768).await.unwrap();
    let display = &desk.display;
    desk.workspace(
        "clip-both",
        json!({"clipboard_up": true, "clipboard_down": true}),
    )
    .await
    .unwrap();
    desk.workspace("clip-none", json!({})).await.unwrap();

    // Two tabs of one browser (one login cookie), both on the same display:
    // A may copy both ways, B neither. A is the positive control for B.
    let a = &desk.page;
    install_ws_spy(a).await.unwrap();
    desk.open("clip-both").await.unwrap();
    let b = desk.browser.new_page().await.unwrap();
    install_ws_spy(&b).await.unwrap();
    goto_index(&b, &desk.oriel).await.unwrap();
    expect_logged_in(&b, "admin").await.unwrap();
    launch_workspace(&b, "clip-none").await.unwrap();
    wait_connected(&b, Duration::from_secs(20)).await.unwrap();
    assert_eq!(viewer_state(a).await.unwrap()["policy"], 3);
    assert_eq!(viewer_state(&b).await.unwrap()["policy"], 0);
    for page in [a, &b] {
        page.click_selector("#clipboard-toggle").await.unwrap();
        assert!(is_shown(page, "#clipboard-panel").await.unwrap());
    }
    let disabled = |sel: &str| format!("document.querySelector('{sel}').disabled");
    assert_eq!(a.eval(&disabled("#clipboard-send")).await.unwrap(), false);
    assert_eq!(b.eval(&disabled("#clipboard-send")).await.unwrap(), true);
    assert_eq!(b.eval(&disabled("#clipboard-local")).await.unwrap(), true);

    // Remote → local.
    let from_remote = format!("from-remote-{}", unique_suffix());
    display.clipboard_set(&from_remote).await.unwrap();
    a.wait_for(
        &format!(
            "document.getElementById('clipboard-remote').value === {}",
            serde_json::to_string(&from_remote).unwrap()
        ),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    // B got nothing, not even a message the UI could have ignored.
    let quiet_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < quiet_until {
        assert_eq!(
            b.eval("document.getElementById('clipboard-remote').value")
                .await
                .unwrap(),
            ""
        );
        assert_eq!(received(&b, MSG_CLIPBOARD).await.unwrap(), 0);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(received(a, MSG_CLIPBOARD).await.unwrap() >= 1);

    // Local → remote, allowed: typed into A's panel and sent.
    let from_local = format!("from-local-{}", unique_suffix());
    type_into(a, "#clipboard-local", &from_local).await.unwrap();
    a.click_selector("#clipboard-send").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = display.clipboard_get().await.unwrap_or_default();
        if now == from_local {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the X clipboard is {now:?}, not {from_local:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(text_of(a, "#clipboard-local-note").await.unwrap().starts_with("Sent "));

    // Local → remote, denied. The UI does not let B send (the button is
    // disabled), so the client's encoder sends CLIPBOARD on B's own stream,
    // as a modified client would: the gateway must drop it and say why.
    let kept = format!("kept-{}", unique_suffix());
    display.clipboard_set(&kept).await.unwrap();
    a.wait_for(
        &format!(
            "document.getElementById('clipboard-remote').value === {}",
            serde_json::to_string(&kept).unwrap()
        ),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    b.click_selector("#clipboard-send").await.unwrap();
    assert_eq!(
        sent(&b, MSG_CLIPBOARD_UP).await.unwrap(),
        0,
        "a disabled button sends nothing"
    );
    let forced = format!("forced-{}", unique_suffix());
    let sent_ok = b
        .eval(&format!(
            "import('/js/wire.js').then(({{ encodeClipboard }}) => {{ \
               const ws = window.__orielSpy.sockets.at(-1); \
               if (ws.readyState !== WebSocket.OPEN) return false; \
               ws.send(encodeClipboard({})); return true; }})",
            serde_json::to_string(&forced).unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(sent_ok, true);
    b.wait_for(
        "!document.getElementById('notice').hidden \
         && document.getElementById('notice').textContent.includes('disabled by policy')",
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    eprintln!("denied notice: {:?}", text_of(&b, "#notice").await.unwrap());
    assert_eq!(received(&b, MSG_NOTICE).await.unwrap(), 1);
    // The gateway answered (it handles a stream's messages in order), and
    // the X clipboard kept its value; it still has it a moment later.
    assert_eq!(display.clipboard_get().await.unwrap(), kept);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(display.clipboard_get().await.unwrap(), kept);
    assert_eq!(
        a.eval("document.getElementById('clipboard-remote').value")
            .await
            .unwrap(),
        kept.as_str()
    );
    assert_eq!(received(&b, MSG_CLIPBOARD).await.unwrap(), 0);
    assert_eq!(viewer_state(&b).await.unwrap()["state"], "connected");
    assert_no_js_errors(a);
    assert_no_js_errors(&b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_the_session_shows_ended_and_does_not_reconnect() {
    let desk = Desk::start(1024, 768).await.unwrap();
    desk.workspace("desk", json!({})).await.unwrap();
    let id = desk.open("desk").await.unwrap();
    let page = &desk.page;
    let count = viewer_state(page).await.unwrap()["connectCount"].clone();
    assert_eq!(count, 1);

    let api = desk.api.clone();
    let path = format!("/api/v1/sessions/{id}");
    let started = Instant::now();
    let status = blocking(move || api.call("DELETE", &path, None, &[]).unwrap().status).await;
    assert_eq!(status, 204);
    page.wait_for(
        "orielViewer.state === 'ended' && document.getElementById('status').dataset.state === 'ended'",
        Duration::from_secs(3),
    )
    .await
    .unwrap();
    let took = started.elapsed();
    eprintln!("ended shown {took:?} after DELETE");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    let message = text_of(page, "#end-message").await.unwrap();
    assert!(
        message.to_lowercase().contains("session has ended"),
        "end message {message:?}"
    );
    assert!(is_shown(page, "#end-overlay").await.unwrap());
    assert_eq!(text_of(page, "#end-title").await.unwrap(), "Session ended");
    let end = viewer_state(page).await.unwrap()["lastEnd"].clone();
    assert_eq!(end["code"], 4000, "{end}");
    assert_eq!(end["retryable"], false, "{end}");

    // No reconnect: the count and the state stay for 5 s.
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        let state = viewer_state(page).await.unwrap();
        assert_eq!(state["connectCount"], count, "{state}");
        assert_eq!(state["state"], "ended", "{state}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_no_js_errors(page);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target_says_it_cannot_be_reached() {
    let desk = Desk::start(640, 480).await.unwrap();
    let port = free_port().unwrap();
    desk.workspace_on("nowhere", port, json!({})).await.unwrap();
    log_in(&desk.page, &desk.oriel, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    expect_logged_in(&desk.page, "admin").await.unwrap();
    launch_workspace(&desk.page, "nowhere").await.unwrap();
    let page = &desk.page;
    page.wait_for(
        "orielViewer.lastEnd !== null && orielViewer.lastEnd.code === 4004",
        Duration::from_secs(15),
    )
    .await
    .unwrap();
    let state = viewer_state(page).await.unwrap();
    eprintln!("viewer after the unreachable target: {state}");
    let end = &state["lastEnd"];
    assert!(
        end["message"].as_str().unwrap().contains("cannot be reached"),
        "{end}"
    );
    assert_eq!(end["klass"], 1, "a target error: {end}");
    assert_eq!(state["framesDrawn"], 0);
    // 4004 is retryable (protocol §5): the viewer says so and keeps trying
    // with backoff; it gives up ('error') after a minute. Either way the
    // status is not 'connected' and the reason is on the page.
    let status = page
        .eval("document.getElementById('status').dataset.state")
        .await
        .unwrap();
    assert!(
        status == "reconnecting" || status == "error",
        "status {status}"
    );
    page.wait_for(
        "(!document.getElementById('notice').hidden \
           && document.getElementById('notice').textContent.includes('cannot be reached')) \
         || (!document.getElementById('end-overlay').hidden \
           && document.getElementById('end-message').textContent.includes('cannot be reached'))",
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let title = page
        .eval("document.getElementById('status').title")
        .await
        .unwrap();
    eprintln!("status tooltip: {title}; notice: {:?}", text_of(page, "#notice").await.unwrap());
    assert_ne!(viewer_state(page).await.unwrap()["state"], "connected");
    assert_no_js_errors(page);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_reconnects_after_a_restart_with_a_fresh_token() {
    let mut desk = Desk::start(1024, 768).await.unwrap();
    let _text = desk
        .display
        .start_xterm(text_xterm(40, 60, "echo 'survives a restart'; sleep 600"))
        .await
        .unwrap();
    desk.workspace("desk", json!({})).await.unwrap();
    desk.open("desk").await.unwrap();
    own_pointer(&desk.page, &desk.display, PARK).await.unwrap();
    wait_canvas_exact(&desk.page, &desk.display, SETTLE, "before-restart")
        .await
        .unwrap();
    let before = viewer_state(&desk.page).await.unwrap();
    let count = before["connectCount"].as_u64().unwrap();
    assert_eq!(count, 1);
    let tokens = token_requests(&desk.page).await;

    // Stop oriel; the viewer notices and starts reconnecting.
    let port = desk.oriel.port;
    let dir = desk.oriel.dir.clone();
    let data = desk.oriel.data_dir();
    tokio::task::block_in_place(|| desk.oriel.guard.stop()).unwrap();
    desk.page
        .wait_for("orielViewer.state === 'reconnecting'", Duration::from_secs(10))
        .await
        .unwrap();

    // The same port and data directory: keys, database and login survive.
    desk.oriel = Oriel::start_at("up", &[], &[], dir, data, &format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    let page = &desk.page;
    let reconnected = page
        .wait_for(
            &format!("orielViewer.state === 'connected' && orielViewer.connectCount > {count}"),
            Duration::from_secs(30),
        )
        .await;
    if let Err(e) = reconnected {
        let state = viewer_state(page).await.unwrap_or_default();
        panic!("{e:#}\nviewer: {state}\noriel:\n{}", desk.oriel.log_tail(30));
    }
    assert_eq!(page.eval("location.pathname").await.unwrap(), "/viewer.html");
    // The client fetched a fresh token for the new stream.
    assert!(token_requests(page).await > tokens);
    own_pointer(page, &desk.display, (PARK.0 - 20, PARK.1)).await.unwrap();
    wait_canvas_exact(page, &desk.display, SETTLE, "after-restart")
        .await
        .unwrap();
    let after = viewer_state(page).await.unwrap();
    assert!(after["framesDrawn"].as_u64() > before["framesDrawn"].as_u64());
    assert_no_js_errors(page);
}

/// How many `POST /api/v1/sessions/{id}/token` requests the page made:
/// the client asks for a fresh token before every (re)connect.
async fn token_requests(page: &oriel_testkit::Page) -> u64 {
    page.eval(
        "performance.getEntriesByType('resource') \
           .filter(e => /\\/api\\/v1\\/sessions\\/[^/]+\\/token$/.test(e.name)).length",
    )
    .await
    .unwrap()
    .as_u64()
    .unwrap()
}
