//! RDP end to end through a real headless Chromium: the real `oriel up`,
//! workspaces of kind `rdp` created by an admin through the API, opened with
//! the web client's Launch button against real RDP servers.
//!
//! - [`shadow`]: FreeRDP's shadow server mirroring an
//!   Xvfb display, with TLS (PAM) and with NLA (CredSSP/NTLM): the canvas is
//!   an exact copy of the X display, typing reaches an xterm, the target's
//!   identity is recorded on first use and then pinned, and a wrong password
//!   or a wrong pinned fingerprint is refused with a clear message.
//! - [`xrdp`]: xrdp with the Xorg backend logging the test user
//!   in: the picture, typing, lock keys synced from the browser, the
//!   clipboard denied and then allowed both ways by policy, and resizing the
//!   session with the browser window.
//!
//! One test per server: each test starts its own servers, `oriel up` and
//! Chromium once and runs its scenario in order. Both need root (PAM logins,
//! xrdp's session manager) and skip with a message otherwise; CI runs as root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use oriel_testkit::{Page, RgbImage, ScratchDir, TEST_USER, run_command};
use serde_json::{Value, json};
use support::web::{SCREEN, expect_logged_in, goto_index, launch_workspace, text_of, viewer_state};
use support::{Api, Oriel, blocking};

/// How long the canvas may take to become an exact copy of the screen.
pub(crate) const SETTLE: Duration = Duration::from_secs(30);

/// Gateway → viewer CLIPBOARD and NOTICE, viewer → gateway CLIPBOARD and
/// LOCKS (docs/protocol.md §2).
pub(crate) const MSG_CLIPBOARD: u8 = 0x85;
pub(crate) const MSG_NOTICE: u8 = 0x89;
pub(crate) const MSG_CLIPBOARD_UP: u8 = 0x06;
pub(crate) const MSG_LOCKS_UP: u8 = 0x0a;

/// Skips (passes with a message) when not root.
macro_rules! require_root {
    () => {
        if !oriel_testkit::rdp::is_root() {
            eprintln!("skipped: needs root (PAM logins, xrdp's sesman); CI runs as root");
            return;
        }
    };
}

#[path = "rdp/shadow.rs"]
mod shadow;
#[path = "rdp/xrdp.rs"]
mod xrdp;

// -- the API ------------------------------------------------------------------------

/// Creates an rdp workspace on 127.0.0.1:`port` logging in as the test user
/// with `password`, optionally pinned to `identity`.
pub(crate) async fn rdp_workspace(
    api: &Api,
    name: &str,
    port: u16,
    password: &str,
    identity: Option<&str>,
    policy: Value,
) -> Value {
    let mut body = json!({
        "name": name,
        "kind": "rdp",
        "target": {"host": "127.0.0.1", "port": port},
        "credentials": {"username": TEST_USER, "password": password},
        "policy": policy,
    });
    if let Some(identity) = identity {
        body["identity"] = json!(identity);
    }
    let api = api.clone();
    let reply = blocking(move || api.call("POST", "/api/v1/workspaces", Some(&body), &[]))
        .await
        .unwrap();
    assert_eq!(reply.status, 201, "create workspace {name}: {reply:?}");
    assert!(
        reply.body.get("credentials").is_none() && reply.body["has_credentials"] == true,
        "{}",
        reply.body
    );
    reply.body
}

pub(crate) async fn get_workspace(api: &Api, id: &str) -> Value {
    let api = api.clone();
    let path = format!("/api/v1/workspaces/{id}");
    let reply = blocking(move || api.call("GET", &path, None, &[]))
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body
}

/// Waits until the control plane shows an identity recorded for the workspace.
pub(crate) async fn wait_recorded_identity(api: &Api, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let w = get_workspace(api, id).await;
        if let Some(fp) = w["identity"].as_str() {
            return fp.to_owned();
        }
        assert!(Instant::now() < deadline, "no identity recorded: {w}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `SHA256:` + unpadded base64 of the SHA-256 of a certificate's
/// SubjectPublicKeyInfo, computed with the openssl command line: an
/// independent check of the fingerprint the gateway reports.
pub(crate) async fn spki_fingerprint(cert_pem: &Path) -> String {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c").arg(format!(
        "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform DER \
         | openssl dgst -sha256 -binary | base64 -w0",
        cert_pem.display()
    ));
    let out = run_command(cmd, Duration::from_secs(10)).await.unwrap();
    let b64 = String::from_utf8(out.stdout).unwrap();
    format!("SHA256:{}", b64.trim().trim_end_matches('='))
}

/// The shadow server's self-signed certificate (it makes one under $HOME).
pub(crate) fn find_certificate(dir: &Path) -> Option<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "crt") {
                return Some(path);
            }
        }
    }
    None
}

// -- the browser ----------------------------------------------------------------------

/// From any page of the logged-in browser: the index, then Launch `workspace`.
pub(crate) async fn relaunch(page: &Page, oriel: &Oriel, workspace: &str) -> String {
    goto_index(page, oriel).await.unwrap();
    expect_logged_in(page, "admin").await.unwrap();
    launch_workspace(page, workspace).await.unwrap()
}

/// Waits until the viewer shows an END with `code`; returns its state.
pub(crate) async fn wait_refused(page: &Page, oriel: &Oriel, code: u32) -> Value {
    let waited = page
        .wait_for(
            &format!("orielViewer.lastEnd !== null && orielViewer.lastEnd.code === {code}"),
            Duration::from_secs(30),
        )
        .await;
    if let Err(e) = waited {
        let state = viewer_state(page).await.unwrap_or_default();
        panic!("{e:#}; viewer {state}\n{}", oriel.log_tail(30));
    }
    let state = viewer_state(page).await.unwrap();
    assert_eq!(state["framesDrawn"], 0, "{state}");
    assert_eq!(state["lastEnd"]["klass"], 1, "a target error: {state}");
    assert_eq!(state["lastEnd"]["retryable"], false, "{state}");
    state
}

/// Waits until the page shows `needle` to the user: the end overlay's
/// message or the notice.
pub(crate) async fn wait_message_shown(page: &Page, needle: &str) -> String {
    let needle_js = serde_json::to_string(needle).unwrap();
    page.wait_for(
        &format!(
            "(!document.getElementById('end-overlay').hidden \
               && document.getElementById('end-message').textContent.includes({needle_js})) \
             || (!document.getElementById('notice').hidden \
               && document.getElementById('notice').textContent.includes({needle_js}))"
        ),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let end = text_of(page, "#end-message").await.unwrap();
    if end.contains(needle) {
        end
    } else {
        text_of(page, "#notice").await.unwrap()
    }
}

/// Types into the focused canvas as key presses, then Enter.
pub(crate) async fn type_line(page: &Page, text: &str) {
    page.type_text(text).await.unwrap();
    page.press_key("Enter").await.unwrap();
}

/// Waits until `file` holds `want` (an xterm's `read` loop writes it).
pub(crate) async fn wait_file(file: &Path, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = std::fs::read_to_string(file).unwrap_or_default();
        if now == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} holds {now:?}, not {want:?}",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls until the canvas equals `screen()` pixel for pixel; on timeout saves
/// both pictures in `artefacts` and fails.
pub(crate) async fn wait_exact<F, Fut>(
    page: &Page,
    artefacts: &ScratchDir,
    tag: &str,
    mut screen: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<RgbImage>>,
{
    let deadline = Instant::now() + SETTLE;
    loop {
        let (shot, canvas) = tokio::join!(screen(), page.canvas_image(SCREEN));
        let why = match (shot, canvas) {
            (Ok(shot), Ok(canvas)) => {
                if (canvas.width, canvas.height) == (shot.width, shot.height) {
                    let diff = canvas.compare(&shot).unwrap();
                    if diff.is_identical() {
                        return;
                    }
                    if Instant::now() > deadline {
                        artefacts.keep();
                        let _ = canvas.save_png(artefacts.path().join(format!("{tag}-canvas.png")));
                        let _ = shot.save_png(artefacts.path().join(format!("{tag}-xwd.png")));
                    }
                    format!("{diff:?}")
                } else {
                    format!(
                        "canvas {}x{} vs screen {}x{}",
                        canvas.width, canvas.height, shot.width, shot.height
                    )
                }
            }
            (shot, canvas) => format!(
                "screen: {:?}, canvas: {:?}",
                shot.err().map(|e| format!("{e:#}")),
                canvas.err().map(|e| format!("{e:#}"))
            ),
        };
        if Instant::now() > deadline {
            let state = viewer_state(page).await.unwrap_or_default();
            panic!(
                "{tag}: the canvas never equalled the screen within {SETTLE:?} (last: {why}); \
                 viewer {state}; images in {}",
                artefacts.path().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
