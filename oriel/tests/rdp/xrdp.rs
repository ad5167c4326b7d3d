//! xrdp with the Xorg backend (xorgxrdp), TLS only, logging the test user
//! into a real session whose `~/startwm.sh` starts an xterm.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use oriel_testkit::rdp::XrdpServer;
use oriel_testkit::{
    ChildGuard, Page, RgbImage, ScratchDir, TEST_PASSWORD, TEST_USER, ensure_test_user, parse_xwd,
    run_command,
};
use serde_json::json;

use crate::support::web::{
    CONNECT_TIMEOUT, CanvasGeometry, SCREEN, assert_no_js_errors, bring_to_front, expect_logged_in,
    install_ws_spy, is_shown, launch_workspace, log_in, received, sent, type_into, unique_suffix,
    wait_connected,
};
use crate::support::{ADMIN_PASSWORD, Oriel, blocking};
use crate::{
    MSG_CLIPBOARD, MSG_CLIPBOARD_UP, MSG_LOCKS_UP, MSG_NOTICE, rdp_workspace, relaunch, type_line,
    wait_exact, wait_file,
};

/// An X client run as root inside the xrdp session on `display`.
fn session_command(display: &str, program: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    cmd.env("DISPLAY", display)
        .env("XAUTHORITY", format!("/home/{TEST_USER}/.Xauthority"));
    cmd
}

async fn session_output(display: &str, program: &str, args: &[&str]) -> Result<Vec<u8>> {
    let mut cmd = tokio::process::Command::from(session_command(display, program));
    cmd.args(args);
    Ok(run_command(cmd, Duration::from_secs(10)).await?.stdout)
}

async fn session_screenshot(display: &str) -> Result<RgbImage> {
    parse_xwd(&session_output(display, "xwd", &["-root", "-silent"]).await?)
}

async fn session_clipboard(display: &str) -> Result<String> {
    let out = session_output(display, "xclip", &["-o", "-selection", "clipboard"]).await?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Makes `text` the session's CLIPBOARD (xclip keeps serving it until dropped).
fn session_clipboard_owner(display: &str, text: &str, dir: &ScratchDir) -> ChildGuard {
    let mut cmd = session_command(display, "xclip");
    cmd.args(["-i", "-selection", "clipboard", "-quiet"]);
    let mut owner = ChildGuard::spawn_with_stdin(cmd, "xclip-in", dir).unwrap();
    owner
        .write_stdin_and_close(text.as_bytes().to_vec())
        .unwrap();
    owner
}

/// Waits until the session's X pointer is at `at`.
async fn wait_session_pointer(display: &str, at: (u32, u32)) {
    let want = format!("x:{} y:{} ", at.0, at.1);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = session_output(display, "xdotool", &["getmouselocation"])
            .await
            .unwrap_or_default();
        let out = String::from_utf8_lossy(&out);
        if out.starts_with(&want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the pointer is at {out:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Moves the browser's mouse over desktop pixel `at` of the canvas.
async fn point_at(page: &Page, display: &str, at: (u32, u32)) {
    let geometry = CanvasGeometry::of(page).await.unwrap();
    let (x, y) = geometry.to_page(at.0, at.1);
    page.mouse_move(x, y).await.unwrap();
    wait_session_pointer(display, at).await;
}

/// Waits for the session's startwm.sh to name its display in `file`, and
/// for that X server to answer.
async fn wait_session_display(file: &Path, server: &XrdpServer) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let display = std::fs::read_to_string(file).unwrap_or_default();
        let display = display.trim();
        if !display.is_empty() && x_answers(display).await {
            return display.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the xrdp session never started:\n{}",
            server.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether the X server of `display` answers.
async fn x_answers(display: &str) -> bool {
    let mut cmd = tokio::process::Command::from(session_command(display, "xdpyinfo"));
    cmd.arg("-queryExtensions");
    run_command(cmd, Duration::from_secs(5)).await.is_ok()
}

/// Sends key presses with Caps Lock reported on (as a browser does while
/// the local Caps Lock is on): KeyboardEvents carrying the lock state,
/// dispatched on the canvas.
async fn type_with_caps_lock(page: &Page, letters: &str) {
    let letters = serde_json::to_string(letters).unwrap();
    page.eval(&format!(
        "(() => {{ const c = document.querySelector({SCREEN:?}); \
           for (const ch of {letters}) {{ \
             const init = {{ key: ch.toUpperCase(), code: 'Key' + ch.toUpperCase(), \
               modifierCapsLock: true, bubbles: true, cancelable: true }}; \
             c.dispatchEvent(new KeyboardEvent('keydown', init)); \
             c.dispatchEvent(new KeyboardEvent('keyup', init)); \
           }} return true; }})()"
    ))
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xrdp_login_session() {
    require_root!();
    let started = Instant::now();
    let home = ensure_test_user().unwrap();
    let work = home.join("oriel-rdp-browser-test");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let _ = std::process::Command::new("chown")
        .arg(format!("{TEST_USER}:"))
        .arg(&work)
        .status();
    let startwm = format!(
        "#!/bin/sh\n\
         echo \"$DISPLAY\" > {w}/display.tmp && mv {w}/display.tmp {w}/display\n\
         xsetroot -solid '#205080' 2>/dev/null\n\
         xterm -geometry 70x15+20+20 -fn fixed -e sh -c 'echo oriel xrdp browser test; \
         while read l; do printf %s \"$l\" > {w}/typed.tmp; mv {w}/typed.tmp {w}/typed.txt; done' \
         </dev/null >/dev/null 2>&1 &\n\
         exec sleep 3600\n",
        w = work.display()
    );
    let server = XrdpServer::start(&startwm).await.unwrap();
    let scratch = ScratchDir::new("rdp-browser").unwrap();
    let oriel = Oriel::up(&[]).await.unwrap();
    let mut api = oriel.api();
    let api = blocking(move || api.login_admin().map(|()| api))
        .await
        .unwrap();
    let browser = oriel_testkit::Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    install_ws_spy(&page).await.unwrap();
    rdp_workspace(
        &api,
        "xrdp-no-clipboard",
        server.port(),
        TEST_PASSWORD,
        None,
        json!({}),
    )
    .await;
    rdp_workspace(
        &api,
        "xrdp",
        server.port(),
        TEST_PASSWORD,
        None,
        json!({"clipboard_up": true, "clipboard_down": true}),
    )
    .await;
    let display_file = work.join("display");
    let typed = work.join("typed.txt");

    // A session whose policy denies the clipboard both ways.
    log_in(&page, &oriel, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    expect_logged_in(&page, "admin").await.unwrap();
    launch_workspace(&page, "xrdp-no-clipboard").await.unwrap();
    let state = wait_connected(&page, CONNECT_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}\n{}", oriel.log_tail(30), server.log_tail(30)));
    assert_eq!(state["policy"], 0, "{state}");
    let display = wait_session_display(&display_file, &server).await;
    eprintln!("xrdp session on {display} after {:?}", started.elapsed());
    let geometry = CanvasGeometry::of(&page).await.unwrap();
    point_at(&page, &display, (geometry.width - 5, geometry.height - 5)).await;
    wait_exact(&page, &scratch, "xrdp-first", || {
        session_screenshot(&display)
    })
    .await;
    eprintln!("xrdp: exact picture after {:?}", started.elapsed());

    // Remote → local denied: the session's clipboard changes, the viewer
    // gets nothing.
    let kept = format!("kept-{}", unique_suffix());
    let owner = session_clipboard_owner(&display, &kept, &scratch);
    let quiet_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < quiet_until {
        assert_eq!(received(&page, MSG_CLIPBOARD).await.unwrap(), 0);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Local → remote denied: the UI does not offer it, so the viewer's own
    // stream carries a CLIPBOARD as a modified client would send it; the
    // gateway drops it and says why, and the session keeps its clipboard.
    let forced = format!("forced-{}", unique_suffix());
    let sent_ok = page
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
    page.wait_for(
        "!document.getElementById('notice').hidden \
         && document.getElementById('notice').textContent.includes('disabled by policy')",
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(received(&page, MSG_NOTICE).await.unwrap(), 1);
    assert_eq!(session_clipboard(&display).await.unwrap(), kept);
    drop(owner);
    assert_eq!(received(&page, MSG_CLIPBOARD).await.unwrap(), 0);

    // End it. The next login gets a new session, or (when sesman keeps the
    // disconnected one) takes this one over: either way startwm.sh's display
    // is the one whose X server answers.
    page.click_selector("#end-session-button").await.unwrap();
    page.wait_for(
        "!document.getElementById('end-overlay').hidden",
        Duration::from_secs(10),
    )
    .await
    .unwrap();

    // A session whose policy allows the clipboard both ways.
    relaunch(&page, &oriel, "xrdp").await;
    let state = wait_connected(&page, CONNECT_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}\n{}", oriel.log_tail(30), server.log_tail(30)));
    assert_eq!(state["policy"], 3, "{state}");
    let display = wait_session_display(&display_file, &server).await;
    eprintln!(
        "second xrdp session on {display} after {:?}",
        started.elapsed()
    );

    // Typing reaches the xterm (focus follows the pointer: no window manager).
    point_at(&page, &display, (200, 100)).await;
    type_line(&page, "xrdp typing 7").await;
    wait_file(&typed, "xrdp typing 7").await;

    // Lock keys: keys whose events report Caps Lock on make the viewer send
    // LOCKS first, the adapter sends a synchronize event, and the session
    // types capitals; the next key reports it off, and it is off again.
    let locks_before = sent(&page, MSG_LOCKS_UP).await.unwrap();
    type_with_caps_lock(&page, "caps").await;
    page.press_key("Enter").await.unwrap();
    wait_file(&typed, "CAPS").await;
    type_line(&page, "off").await;
    wait_file(&typed, "off").await;
    assert!(
        sent(&page, MSG_LOCKS_UP).await.unwrap() >= locks_before + 2,
        "caps on and off again were sent as LOCKS"
    );

    // The picture, exactly, with the pointer parked.
    let geometry = CanvasGeometry::of(&page).await.unwrap();
    point_at(&page, &display, (geometry.width - 5, geometry.height - 5)).await;
    wait_exact(&page, &scratch, "xrdp-typed", || {
        session_screenshot(&display)
    })
    .await;

    // Remote → local: the session's clipboard shows in the clipboard panel.
    page.click_selector("#clipboard-toggle").await.unwrap();
    assert!(is_shown(&page, "#clipboard-panel").await.unwrap());
    let from_remote = format!("from the session ✓ {}", unique_suffix());
    let owner = session_clipboard_owner(&display, &from_remote, &scratch);
    page.wait_for(
        &format!(
            "document.getElementById('clipboard-remote').value === {}",
            serde_json::to_string(&from_remote).unwrap()
        ),
        Duration::from_secs(15),
    )
    .await
    .unwrap();
    drop(owner);

    // Local → remote: typed into the panel and sent; the session pastes it.
    let from_local = format!("from-the-browser-{}", unique_suffix());
    type_into(&page, "#clipboard-local", &from_local)
        .await
        .unwrap();
    page.click_selector("#clipboard-send").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = session_clipboard(&display).await.unwrap_or_default();
        if now == from_local {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the session's clipboard is {now:?}, not {from_local:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(sent(&page, MSG_CLIPBOARD_UP).await.unwrap() >= 1);
    page.click_selector("#clipboard-toggle").await.unwrap();

    // Resize: with "resize remote" on, a smaller browser window resizes the
    // session (display control), and the picture follows exactly.
    bring_to_front(&page).await.unwrap();
    let before = CanvasGeometry::of(&page).await.unwrap();
    page.click_selector("#resize-toggle").await.unwrap();
    page.set_viewport(1000, 700).await.unwrap();
    page.wait_for(
        &format!(
            "(() => {{ const c = document.querySelector({SCREEN:?}); \
               return c.width !== {} && c.width <= 1000 && c.height < 700; }})()",
            before.width
        ),
        Duration::from_secs(20),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", oriel.log_tail(30)));
    let after = CanvasGeometry::of(&page).await.unwrap();
    eprintln!(
        "resized from {}x{} to {}x{}",
        before.width, before.height, after.width, after.height
    );
    let screen = session_screenshot(&display).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut screen = screen;
    while (screen.width, screen.height) != (after.width, after.height) {
        assert!(
            Instant::now() < deadline,
            "the session is {}x{}, the canvas {}x{}",
            screen.width,
            screen.height,
            after.width,
            after.height
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        screen = session_screenshot(&display).await.unwrap();
    }
    point_at(&page, &display, (after.width - 5, after.height - 5)).await;
    wait_exact(&page, &scratch, "xrdp-resized", || {
        session_screenshot(&display)
    })
    .await;
    assert_no_js_errors(&page);
    drop(page);
    drop(browser);
    drop(server);
    let _ = std::fs::remove_dir_all(&work);
    eprintln!("xrdp_login_session: {:?}", started.elapsed());
}
