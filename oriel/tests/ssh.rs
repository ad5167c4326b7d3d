//! SSH workspaces end to end: the real `oriel up`, a real OpenSSH `sshd`
//! (testkit), the embedded web client in a real headless Chromium.
//!
//! The terminal is rendered on the gateway, so the browser shows pixels
//! only. What a command prints is found on the canvas by rendering the
//! expected line with the adapter's own terminal (same font, same colours)
//! and looking for that exact strip of pixels in the canvas's cell rows.
//!
//! - [`password_shell_resize_and_clipboard_policy`]: a password workspace;
//!   typing shows the output; the host key is recorded on first use; text
//!   selected by dragging and text sent by OSC 52 reach the viewer's
//!   clipboard when the policy allows copy-out, and never when it does not;
//!   resizing the browser window resizes the pty (`stty size`).
//! - [`key_login_sealed_and_changed_host_key`]: a private-key workspace (the
//!   key is never returned, not stored in clear, not logged); a wrong
//!   password and a changed host key end the session with a clear message
//!   in the viewer, and the recorded host key stays.

#![cfg(all(feature = "control", feature = "gateway"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use anyhow::{Context as _, Result, bail, ensure};
use oriel_core_model::{InputEvent, Point, Size, buttons};
use oriel_protocols_ssh::{Terminal, TerminalSettings};
use oriel_testkit::sshd::Sshd;
use oriel_testkit::{Browser, MouseButton, Page, Rect, RgbImage, ScratchDir};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use support::web::{
    CONNECT_TIMEOUT, CanvasGeometry, SCREEN, assert_no_js_errors, bring_to_front, expect_logged_in,
    install_ws_spy, is_shown, launch_workspace, log_in, received, text_of, viewer_state,
    wait_connected,
};
use support::{ADMIN_PASSWORD, Api, Oriel, blocking};

/// How long text may take to appear on the canvas.
const SHOW: Duration = Duration::from_secs(20);

/// Gateway → viewer CLIPBOARD (docs/protocol.md §2.2).
const MSG_CLIPBOARD: u8 = 0x85;

/// `oriel up`, an admin API client, `sshd` and a Chromium tab.
/// Fields drop in order: the tab before its browser.
struct SshDesk {
    page: Page,
    _browser: Browser,
    api: Api,
    oriel: Oriel,
    sshd: Sshd,
    artefacts: ScratchDir,
}

impl SshDesk {
    async fn start() -> Result<SshDesk> {
        let sshd = Sshd::start().await?;
        let oriel = Oriel::up(&[(
            "RUST_LOG",
            "info,oriel_gateway=debug,oriel_protocols_ssh=debug",
        )])
        .await?;
        let mut api = oriel.api();
        let api = blocking(move || api.login_admin().map(|()| api)).await?;
        let browser = Browser::launch().await?;
        let page = browser.new_page().await?;
        install_ws_spy(&page).await?;
        log_in(&page, &oriel, "admin", ADMIN_PASSWORD).await?;
        expect_logged_in(&page, "admin").await?;
        Ok(SshDesk {
            page,
            _browser: browser,
            api,
            oriel,
            sshd,
            artefacts: ScratchDir::new("ssh-e2e")?,
        })
    }

    /// Creates an ssh workspace on this desk's sshd; returns its JSON.
    async fn workspace(&self, name: &str, credentials: Value, policy: Value) -> Result<Value> {
        let body = json!({
            "name": name,
            "kind": "ssh",
            "target": {"host": "127.0.0.1", "port": self.sshd.port()},
            "credentials": credentials,
            "policy": policy,
        });
        let api = self.api.clone();
        let r = blocking(move || api.call("POST", "/api/v1/workspaces", Some(&body), &[])).await?;
        if r.status != 201 {
            bail!("create ssh workspace failed: {r:?}");
        }
        Ok(r.body)
    }

    async fn get(&self, path: &str) -> Result<Value> {
        let api = self.api.clone();
        let owned = path.to_owned();
        let r = blocking(move || api.call("GET", &owned, None, &[])).await?;
        if r.status != 200 {
            bail!("GET {path}: {r:?}");
        }
        Ok(r.body)
    }

    /// Goes to the workspace list, launches `name` and waits for a picture.
    async fn open(&self, name: &str) -> Result<Value> {
        support::web::goto_index(&self.page, &self.oriel).await?;
        expect_logged_in(&self.page, "admin").await?;
        launch_workspace(&self.page, name).await?;
        let state = wait_connected(&self.page, CONNECT_TIMEOUT)
            .await
            .with_context(|| {
                format!(
                    "oriel log:\n{}\nsshd log:\n{}",
                    self.oriel.log_tail(30),
                    self.sshd.log_tail(20)
                )
            })?;
        bring_to_front(&self.page).await?;
        focus_canvas(&self.page).await?;
        Ok(state)
    }

    /// Launches `name`, expecting the session to fail for good; returns the
    /// viewer's `lastEnd` once the end overlay shows it.
    async fn open_failing(&self, name: &str) -> Result<Value> {
        support::web::goto_index(&self.page, &self.oriel).await?;
        expect_logged_in(&self.page, "admin").await?;
        launch_workspace(&self.page, name).await?;
        self.page
            .wait_for(
                "orielViewer.lastEnd !== null && orielViewer.state === 'error'",
                Duration::from_secs(20),
            )
            .await
            .with_context(|| format!("oriel log:\n{}", self.oriel.log_tail(30)))?;
        ensure!(
            is_shown(&self.page, "#end-overlay").await?,
            "no end overlay"
        );
        let end = viewer_state(&self.page).await?["lastEnd"].clone();
        ensure!(end["klass"] == 1, "not a target error: {end}");
        Ok(end)
    }

    /// Waits until the workspace's recorded identity is `want`.
    async fn wait_identity(&self, id: &str, want: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let w = self.get(&format!("/api/v1/workspaces/{id}")).await?;
            if w["identity"] == want {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the workspace's identity is {}, not {want}", w["identity"]);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Types a shell command and presses Enter.
    async fn run(&self, command: &str) -> Result<()> {
        self.page.type_text(command).await?;
        self.page.press_key("Enter").await
    }

    /// Waits until some cell row of the canvas shows exactly `line` (from
    /// the first column, the rest of the row blank); returns the row.
    async fn wait_line(&self, line: &str) -> Result<u16> {
        wait_line(&self.page, line, None, &self.artefacts).await
    }

    /// Like [`Self::wait_line`], with columns `selected` drawn selected.
    async fn wait_selected(&self, line: &str, selected: (u16, u16)) -> Result<u16> {
        wait_line(&self.page, line, Some(selected), &self.artefacts).await
    }
}

/// Gives the canvas the keyboard without a click (a click is a pointer
/// event the terminal would see).
async fn focus_canvas(page: &Page) -> Result<()> {
    page.eval("document.getElementById('screen').focus({ preventScroll: true })")
        .await?;
    page.wait_for(
        "document.activeElement && document.activeElement.id === 'screen'",
        Duration::from_secs(5),
    )
    .await
}

/// The adapter's own terminal, as the gateway configures it, for a desktop of `size`.
fn terminal(size: Size) -> Terminal {
    Terminal::new(size, &TerminalSettings::default()).expect("terminal")
}

/// The cell size the gateway's terminal uses.
fn cell_size() -> Size {
    static CELL: std::sync::OnceLock<Size> = std::sync::OnceLock::new();
    *CELL.get_or_init(|| terminal(Size::new(640, 480)).cell_size())
}

/// A desktop-wide strip one cell high showing `line` from the first column,
/// rendered by the adapter's terminal without a cursor; with `selected`,
/// those columns selected by a drag as [`drag_select`] does it.
fn expected_strip(size: Size, line: &str, selected: Option<(u16, u16)>) -> RgbImage {
    let mut term = terminal(size);
    term.feed(b"\x1b[?25l");
    term.feed(line.as_bytes());
    if let Some((from, to)) = selected {
        let cell = term.cell_size();
        let at = |col: u16| Point::new(col * cell.width + 2, cell.height / 2);
        for (col, b) in [(from, buttons::LEFT), (to, buttons::LEFT), (to, 0)] {
            term.input(InputEvent::Pointer {
                at: at(col),
                buttons: b,
            });
        }
    }
    let full = RgbImage::new(
        u32::from(size.width),
        u32::from(size.height),
        term.render_full(),
    )
    .expect("render");
    let cell = term.cell_size();
    full.crop(Rect::new(0, 0, full.width, u32::from(cell.height)))
        .expect("strip")
}

/// The cell row of `canvas` equal to `strip`, if any (last match).
fn find_strip(canvas: &RgbImage, strip: &RgbImage, cell: Size) -> Option<u16> {
    if canvas.width != strip.width {
        return None;
    }
    let h = u32::from(cell.height);
    (0..canvas.height / h).rev().find_map(|row| {
        let part = canvas.crop(Rect::new(0, row * h, canvas.width, h)).ok()?;
        part.compare(strip)
            .ok()?
            .is_identical()
            .then_some(row as u16)
    })
}

/// Polls the canvas until a cell row shows exactly `line` (with the
/// `selected` columns selected). On timeout saves the canvas and the
/// expected strip as PNG files in `artefacts`.
async fn wait_line(
    page: &Page,
    line: &str,
    selected: Option<(u16, u16)>,
    artefacts: &ScratchDir,
) -> Result<u16> {
    let cell = cell_size();
    let deadline = Instant::now() + SHOW;
    // Rendered again only when the desktop size changes (loading the font
    // is not free in a debug build).
    let mut expected: Option<(Size, RgbImage)> = None;
    loop {
        let canvas = page.canvas_image(SCREEN).await?;
        let size = Size::new(canvas.width as u16, canvas.height as u16);
        let strip = match expected.take() {
            Some((s, strip)) if s == size => strip,
            _ => expected_strip(size, line, selected),
        };
        if let Some(row) = find_strip(&canvas, &strip, cell) {
            return Ok(row);
        }
        expected = Some((size, strip.clone()));
        if Instant::now() > deadline {
            artefacts.keep();
            let canvas_png = artefacts.unique_path("canvas", "png");
            let strip_png = artefacts.unique_path("expected-line", "png");
            let _ = canvas.save_png(&canvas_png);
            let _ = strip.save_png(&strip_png);
            let state = viewer_state(page).await.unwrap_or_default();
            bail!(
                "no row of the {}x{} canvas shows {line:?} within {SHOW:?}; viewer {state}; \
                 images: {} and {}",
                canvas.width,
                canvas.height,
                canvas_png.display(),
                strip_png.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Drags with the left button over cells `from`..=`to` of cell row `row`.
async fn drag_select(page: &Page, row: u16, from: u16, to: u16) -> Result<()> {
    let cell = cell_size();
    let geometry = CanvasGeometry::of(page).await?;
    let at = |col: u16| {
        geometry.to_page(
            u32::from(col * cell.width + 2),
            u32::from(row * cell.height + cell.height / 2),
        )
    };
    let (x, y) = at(from);
    page.mouse_move(x, y).await?;
    page.mouse_down(x, y, MouseButton::Left).await?;
    // Moves with the left button held (the page's `mouse_move` is a hover).
    for col in from + 1..=to {
        let (x, y) = at(col);
        page.call(
            "Input.dispatchMouseEvent",
            json!({"type": "mouseMoved", "x": x, "y": y, "button": "left", "buttons": 1}),
        )
        .await?;
    }
    let (x, y) = at(to);
    page.mouse_up(x, y, MouseButton::Left).await
}

/// The text of the viewer's "remote clipboard" box.
async fn remote_clipboard(page: &Page) -> Result<String> {
    Ok(page
        .eval("document.getElementById('clipboard-remote').value")
        .await?
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

async fn wait_remote_clipboard(page: &Page, want: &str) -> Result<()> {
    let waited = page
        .wait_for(
            &format!(
                "document.getElementById('clipboard-remote').value === {}",
                serde_json::to_string(want)?
            ),
            Duration::from_secs(10),
        )
        .await;
    let now = remote_clipboard(page).await?;
    waited.with_context(|| format!("the viewer's clipboard shows {now:?}, never {want:?}"))
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_shell_resize_and_clipboard_policy() {
    let started = Instant::now();
    let desk = SshDesk::start().await.unwrap();
    let page = &desk.page;
    let creds = json!({"username": desk.sshd.user(), "password": desk.sshd.password()});
    let allowed = desk
        .workspace("shell-copy", creds.clone(), json!({"clipboard_down": true}))
        .await
        .unwrap();
    desk.workspace("shell-nocopy", creds, json!({}))
        .await
        .unwrap();
    assert_eq!(allowed["kind"], "ssh");
    assert_eq!(allowed["has_credentials"], true);
    assert_eq!(allowed["identity"], Value::Null, "nothing recorded yet");
    assert!(
        !allowed.to_string().contains(desk.sshd.password()),
        "the password is returned: {allowed}"
    );

    // Typing a command shows its output, rendered as the adapter renders it.
    let state = desk.open("shell-copy").await.unwrap();
    assert_eq!(
        state["policy"].as_u64().unwrap() & 3,
        2,
        "copy-out only: {state}"
    );
    assert_eq!(
        (state["width"].as_u64(), state["height"].as_u64()),
        (Some(1024), Some(768))
    );
    desk.run("echo oriel-$((6*7))").await.unwrap();
    desk.wait_line("oriel-42").await.unwrap();

    // The control plane recorded the host key on first use.
    let fingerprint = desk.sshd.host_fingerprint().unwrap();
    desk.wait_identity(allowed["id"].as_str().unwrap(), &fingerprint)
        .await
        .unwrap();

    // Copy-out allowed: a drag over "beta" copies it to the viewer; a
    // program's OSC 52 copy arrives too.
    desk.run("echo alpha beta gamma").await.unwrap();
    let row = desk.wait_line("alpha beta gamma").await.unwrap();
    drag_select(page, row, 6, 9).await.unwrap();
    wait_remote_clipboard(page, "beta").await.unwrap();
    assert_eq!(
        desk.wait_selected("alpha beta gamma", (6, 9))
            .await
            .unwrap(),
        row,
        "the selection is drawn where it was made"
    );
    desk.run("printf '\\033]52;c;%s\\a' $(printf osc-copy | base64)")
        .await
        .unwrap();
    wait_remote_clipboard(page, "osc-copy").await.unwrap();
    assert!(received(page, MSG_CLIPBOARD).await.unwrap() >= 2);
    assert_no_js_errors(page);

    // Copy-out denied: the same two copies never reach the viewer. Each is
    // followed by output; the gateway forwards a session's events in
    // order, so once the output is drawn a copy would have arrived.
    let state = desk.open("shell-nocopy").await.unwrap();
    assert_eq!(state["policy"].as_u64().unwrap() & 3, 0, "no copy: {state}");
    desk.run("echo alpha beta gamma").await.unwrap();
    let row = desk.wait_line("alpha beta gamma").await.unwrap();
    drag_select(page, row, 6, 9).await.unwrap();
    desk.run("printf '\\033]52;c;%s\\a' $(printf osc-denied | base64); echo copies-$((1+1))")
        .await
        .unwrap();
    desk.wait_line("copies-2").await.unwrap();
    // The drag did select (the terminal draws it, the policy governs only
    // what leaves), yet nothing reached the viewer.
    assert_eq!(
        desk.wait_selected("alpha beta gamma", (6, 9))
            .await
            .unwrap(),
        row
    );
    assert_eq!(received(page, MSG_CLIPBOARD).await.unwrap(), 0);
    assert_eq!(remote_clipboard(page).await.unwrap(), "");

    // Resizing the browser window resizes the pty. "Resize remote" on: the
    // desktop follows the viewer's area; then a smaller window.
    let area = "(() => { const c = document.getElementById('screen-container'); \
                  return [c.clientWidth, c.clientHeight]; })()";
    let follows = "(() => { const c = document.getElementById('screen-container'); \
                     return orielViewer.width === c.clientWidth \
                       && orielViewer.height === c.clientHeight; })()";
    page.click_selector("#resize-toggle").await.unwrap();
    let waited = page.wait_for(follows, Duration::from_secs(10)).await;
    let big = page.eval(area).await.unwrap();
    let state = viewer_state(page).await.unwrap();
    waited
        .with_context(|| format!("area {big}, viewer {state}"))
        .unwrap();
    page.set_viewport(1000, 640).await.unwrap();
    let waited = page
        .wait_for(
            &format!("{follows} && orielViewer.width < {}", big[0]),
            Duration::from_secs(10),
        )
        .await;
    let small = page.eval(area).await.unwrap();
    let state = viewer_state(page).await.unwrap();
    waited
        .with_context(|| format!("area {small}, viewer {state}"))
        .unwrap();
    let state = viewer_state(page).await.unwrap();
    let (width, height) = (
        state["width"].as_u64().unwrap() as u16,
        state["height"].as_u64().unwrap() as u16,
    );
    let cell = cell_size();
    let (cols, rows) = (width / cell.width, height / cell.height);
    focus_canvas(page).await.unwrap();
    desk.run("clear; stty size").await.unwrap();
    desk.wait_line(&format!("{rows} {cols}")).await.unwrap();
    eprintln!("window {width}x{height} → pty {cols}x{rows}");
    assert_eq!(viewer_state(page).await.unwrap()["state"], "connected");
    assert_no_js_errors(page);
    assert!(
        !desk.oriel.guard.log().contains(desk.sshd.password()),
        "the password is in the log"
    );
    eprintln!("password shell test took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_login_sealed_and_changed_host_key() {
    let started = Instant::now();
    let mut desk = SshDesk::start().await.unwrap();
    let key = desk.sshd.generate_client_key("e2e").unwrap();
    desk.sshd.authorize(&key).unwrap();
    let workspace = desk
        .workspace(
            "shell-key",
            json!({"username": desk.sshd.user(), "private_key": key.private_openssh}),
            json!({}),
        )
        .await
        .unwrap();
    let id = workspace["id"].as_str().unwrap().to_owned();

    // The key is accepted, never returned, and not stored in clear: no line
    // of its body appears in any file of the data directory.
    let body_lines: Vec<&str> = key
        .private_openssh
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 40)
        .collect();
    assert!(!body_lines.is_empty());
    let listed = desk.get("/api/v1/workspaces").await.unwrap();
    let one = desk.get(&format!("/api/v1/workspaces/{id}")).await.unwrap();
    for json in [&workspace, &listed, &one] {
        let text = json.to_string();
        assert!(
            !text.contains("PRIVATE KEY") && body_lines.iter().all(|l| !text.contains(l)),
            "the private key is returned: {text}"
        );
    }
    assert_eq!(one["has_credentials"], true);
    for file in files_under(&desk.oriel.data_dir()) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for line in &body_lines {
            assert!(
                !text.contains(line),
                "the private key is stored in clear in {}",
                file.display()
            );
        }
    }

    // Key login in the browser.
    desk.open("shell-key").await.unwrap();
    desk.run("echo key-login-$((40+2))").await.unwrap();
    desk.wait_line("key-login-42").await.unwrap();
    let old = desk.sshd.host_fingerprint().unwrap();
    desk.wait_identity(&id, &old).await.unwrap();

    // A wrong password: the viewer says the credentials were rejected.
    desk.workspace(
        "shell-wrong",
        json!({"username": desk.sshd.user(), "password": "not-the-password"}),
        json!({}),
    )
    .await
    .unwrap();
    let end = desk.open_failing("shell-wrong").await.unwrap();
    assert_eq!(end["code"], 4005, "{end}");
    assert_eq!(end["retryable"], false, "{end}");
    let message = text_of(&desk.page, "#end-message").await.unwrap();
    assert!(
        message.contains("rejected the credentials") && message.contains("password"),
        "end message {message:?}"
    );

    // The server comes back with another host key: refused, and the viewer
    // says why.
    let old_port = desk.sshd.port();
    desk.sshd.restart_with_new_host_key().await.unwrap();
    let new = desk.sshd.host_fingerprint().unwrap();
    assert_ne!(new, old);
    if desk.sshd.port() != old_port {
        // The old port was taken meanwhile: point the workspace at the new
        // one, keeping the recorded key.
        let body = json!({
            "name": "shell-key",
            "kind": "ssh",
            "target": {"host": "127.0.0.1", "port": desk.sshd.port()},
            "identity": old,
        });
        let api = desk.api.clone();
        let path = format!("/api/v1/workspaces/{id}");
        let r = blocking(move || api.call("PUT", &path, Some(&body), &[]))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{r:?}");
    }
    let page = &desk.page;
    let end = desk.open_failing("shell-key").await.unwrap();
    let state = viewer_state(page).await.unwrap();
    eprintln!("viewer after the host key changed: {state}");
    assert_eq!(end["code"], 4014, "{end}");
    assert_eq!(end["retryable"], false, "{end}");
    assert_eq!(state["framesDrawn"], 0);
    assert!(is_shown(page, "#end-overlay").await.unwrap());
    let message = text_of(page, "#end-message").await.unwrap();
    assert!(
        message.contains("identity changed") && message.contains("host key"),
        "end message {message:?}"
    );
    assert!(
        message.contains(&old),
        "the recorded key is named: {message:?}"
    );
    // The recorded key stays; the new one was not trusted.
    desk.wait_identity(&id, &old).await.unwrap();
    assert_no_js_errors(page);
    let log = desk.oriel.guard.log();
    assert!(
        body_lines.iter().all(|l| !log.contains(l)),
        "the private key is in the log"
    );
    eprintln!("key login test took {:?}", started.elapsed());
}
