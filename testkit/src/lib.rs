//! Oriel's end-to-end test harness: real peers, owned by the test.
//!
//! - [`process`]: [`ChildGuard`] (a child stopped on drop, output in a log
//!   file), [`ScratchDir`], [`free_port`], [`wait_for_port`], [`wait_until`].
//! - [`display`]: [`VncDisplay`], an X display served by Xtigervnc or
//!   Xvfb + x11vnc on a free display number and loopback port, with X client
//!   helpers (xdotool, xclip clipboard, xwd screenshots, xterm).
//! - [`rfb`]: probes for a VNC server's banner and security types.
//! - [`image`] and [`xwd`]: [`RgbImage`] with crop, compare and PNG output;
//!   [`parse_xwd`] for X Window Dumps.
//! - [`browser`], [`page`] and [`cdp`]: headless Chromium over the DevTools
//!   protocol, with [`Page`], the one page API of the browser tests:
//!   navigation, JavaScript, elements by selector (wait, click, fill, read),
//!   real key and mouse events, canvas pixels, a screenshot on failure.
//! - [`oidc`]: [`OidcProvider`], a real OpenID Connect provider
//!   (django-oidc-provider) with users, groups, a client and key rotation.
//! - [`viewer`]: [`StreamViewer`], a verifying client of the stream protocol
//!   that decodes every tile into its own framebuffer.
//!
//! Everything a fixture starts is stopped when the fixture drops, also when
//! the test fails; nothing binds a fixed port or kills by name, so tests may
//! run in parallel. Logs live in a temporary directory that is kept (and its
//! path printed) when the test panics or `ORIEL_TESTKIT_KEEP=1` is set.
//! The async parts need a tokio runtime (`#[tokio::test]` is enough).

pub mod browser;
pub mod cdp;
pub mod display;
pub mod docker;
pub mod image;
pub mod images;
mod keys;
pub mod oidc;
pub mod page;
pub mod postgres;
pub mod process;
pub mod rdp;
pub mod rfb;
pub mod sshd;
pub mod totp;
pub mod users;
pub mod viewer;
pub mod xwd;

pub use browser::{Browser, BrowserOptions, DEFAULT_TIMEOUT, DEFAULT_VIEWPORT, DEFAULT_WAIT};
pub use cdp::{CdpConnection, CdpEvent};
pub use display::{VncDisplay, VncOptions, VncServer, Xterm, XtermOptions};
pub use image::{ImageDiff, Rect, RgbImage};
pub use oidc::{OidcProvider, OidcProviderOptions};
pub use page::{CssRect, MouseButton, Page};
pub use postgres::Postgres;
pub use process::{
    ChildGuard, KEEP_ENV, ScratchDir, free_port, run_command, wait_for_port, wait_for_value,
    wait_until,
};
pub use rfb::{SECURITY_NONE, SECURITY_VNC_AUTH, read_rfb_banner, rfb_security_types};
pub use users::{TEST_PASSWORD, TEST_USER, ensure_test_user};
pub use viewer::{
    StreamViewer, ViewerEvent, handshake_status, tls_connector, tls_connector_trusting,
};
pub use xwd::parse_xwd;

/// Deterministic pseudo-random bytes (xorshift), different per `seed`: file
/// contents for transfer tests.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
