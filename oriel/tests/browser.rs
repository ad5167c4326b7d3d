//! End to end through a real headless Chromium: the embedded web client of
//! the real `oriel up`, against real Xtigervnc displays and X clients. What
//! the canvas shows is compared with the X server's `xwd` screenshot; what
//! the browser types, points, clicks and copies is checked on the X side
//! (a file an xterm writes, `xdotool`, `xclip`).
//!
//! - [`picture`]: log in, launch, an exact copy; a video within a PSNR bound.
//! - [`input`]: typing into an xterm; pointer position and buttons.
//! - [`clipboard`]: both directions, allowed and denied by policy.
//! - [`sessions`]: ending, an unreachable target, reconnecting after a
//!   restart, the session list.
//! - [`codec`]: the JavaScript stream codec's self-test against the spec.
//! - [`sharing`]: an admin shadows a session from Live sessions; a share
//!   link watched from another browser, revoked; an expired link refused.
//! - [`playback`]: a recording played in the browser's player against the
//!   live viewer's pictures; a tampered one.
//!
//! Failures leave the canvas and the screenshot as PNG files in the
//! display's scratch directory (the path is printed). Fixtures are in
//! `support/web.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

#[path = "browser/clipboard.rs"]
mod clipboard;
#[path = "browser/codec.rs"]
mod codec;
#[path = "browser/input.rs"]
mod input;
#[path = "browser/picture.rs"]
mod picture;
#[path = "browser/playback.rs"]
mod playback;
#[path = "browser/sessions.rs"]
mod sessions;
#[path = "browser/sharing.rs"]
mod sharing;

use oriel_testkit::XtermOptions;
use std::time::Duration;

/// How long the canvas may take to settle to an exact copy of the screen
/// (lossy tiles are refreshed losslessly once the screen is quiet).
const SETTLE: Duration = Duration::from_secs(30);

/// A quiet spot of the 1024×768 desktops (no window there), where the tests
/// park the mouse so that the pointer is the viewer's.
const PARK: (u32, u32) = (1000, 740);

/// A 64×12 xterm at (`x`, `y`) running `command`.
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
