//! Helpers shared by the RDP adapter's integration tests: a viewer that
//! applies session events to a framebuffer, requests, and US-layout scancodes.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use oriel_core_model::{CursorShape, InputEvent, Rect, SessionError, SessionEvent, Size};
use oriel_core_token::Credentials;
use oriel_encoders_damage::Framebuffer;
use oriel_protocols_session::{ConnectRequest, RemoteSession, TargetTrust};
use oriel_testkit::{RgbImage, TEST_PASSWORD, TEST_USER};

/// Logs to stderr when `RUST_LOG` is set (e.g. `RUST_LOG=oriel_protocols_rdp=debug`).
pub fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// Skips (passes with a message) when not root: the RDP servers log real users in.
#[macro_export]
macro_rules! require_root {
    () => {
        common::init_logging();
        if !oriel_testkit::rdp::is_root() {
            eprintln!("skipped: needs root (PAM logins, xrdp's sesman); CI runs as root");
            return;
        }
    };
}

pub fn credentials(password: &str) -> Credentials {
    let mut c = Credentials::default();
    c.username = Some(TEST_USER.to_owned());
    c.password = Some(password.to_owned());
    c
}

pub fn request(port: u16, trust: TargetTrust, password: Option<&str>) -> ConnectRequest {
    ConnectRequest {
        session_id: "rdp-test".to_owned(),
        host: "127.0.0.1".to_owned(),
        port,
        credentials: Some(credentials(password.unwrap_or(TEST_PASSWORD))),
        trust,
        desired_size: None,
        timeout: Duration::from_secs(20),
    }
}

/// A session with the viewer's side of it: the framebuffer the events paint.
pub struct Viewer {
    pub session: RemoteSession,
    pub fb: Framebuffer,
    pub cursor: Option<CursorShape>,
    pub clipboard: Vec<String>,
    pub sizes: Vec<Size>,
    pub pixel_events: usize,
    pub pixel_area: u64,
    pub max_rect: Option<Rect>,
    pub ended: Option<Option<SessionError>>,
}

impl Viewer {
    pub fn new(session: RemoteSession) -> Self {
        let fb = Framebuffer::new(session.info.size);
        Viewer {
            session,
            fb,
            cursor: None,
            clipboard: Vec::new(),
            sizes: Vec::new(),
            pixel_events: 0,
            pixel_area: 0,
            max_rect: None,
            ended: None,
        }
    }

    fn apply(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::DesktopSize(size) => {
                self.fb.reset(size);
                self.sizes.push(size);
            }
            SessionEvent::Pixels { rect, layout, data } => {
                self.fb
                    .blit(rect, layout, &data)
                    .expect("pixels fit the framebuffer");
                self.pixel_events += 1;
                self.pixel_area += u64::from(rect.area());
                if self.max_rect.is_none_or(|m| m.area() < rect.area()) {
                    self.max_rect = Some(rect);
                }
            }
            SessionEvent::Fill { rect, rgb } => self.fb.fill(rect, rgb).expect("fill fits"),
            SessionEvent::Copy { src, dst } => self.fb.copy(src, dst).expect("copy fits"),
            SessionEvent::Cursor(shape) => self.cursor = Some(shape),
            SessionEvent::Clipboard(text) => self.clipboard.push(text),
            SessionEvent::Bell
            | SessionEvent::TerminalOutput(_)
            | SessionEvent::TerminalGrid { .. }
            | SessionEvent::UpdateEnd => {}
        }
    }

    /// Applies events for at most `d` (returns early when the session ends).
    pub async fn pump(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        while self.ended.is_none() {
            match tokio::time::timeout_at(deadline, self.session.events.recv()).await {
                Err(_) => return,
                Ok(None) => self.ended = Some(None),
                Ok(Some(Err(e))) => self.ended = Some(Some(e)),
                Ok(Some(Ok(ev))) => self.apply(ev),
            }
        }
    }

    /// Pumps until `check` holds, or panics after `timeout` with `what`.
    pub async fn pump_until(
        &mut self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&Viewer) -> bool,
    ) {
        let start = Instant::now();
        loop {
            if check(self) {
                return;
            }
            assert!(
                self.ended.is_none(),
                "session ended while waiting for {what}: {:?}",
                self.ended
            );
            assert!(start.elapsed() < timeout, "timed out waiting for {what}");
            self.pump(Duration::from_millis(100)).await;
        }
    }

    pub fn image(&self) -> RgbImage {
        let size = self.fb.size();
        RgbImage::new(
            u32::from(size.width),
            u32::from(size.height),
            self.fb.as_rgb().to_vec(),
        )
        .expect("framebuffer image")
    }

    pub async fn send(&self, input: InputEvent) {
        self.session
            .input
            .send(input)
            .await
            .expect("session accepts input");
    }

    /// Types `text` as US-layout scancodes, then Enter.
    pub async fn type_line(&self, text: &str) {
        for ch in text.chars() {
            let (scancode, shift) =
                us_scancode(ch).unwrap_or_else(|| panic!("no scancode for {ch:?}"));
            if shift {
                self.key(0x2A, 0xFFE1, true).await;
            }
            self.key(scancode, u32::from(ch), true).await;
            self.key(scancode, u32::from(ch), false).await;
            if shift {
                self.key(0x2A, 0xFFE1, false).await;
            }
        }
        self.key(0x1C, 0xFF0D, true).await;
        self.key(0x1C, 0xFF0D, false).await;
    }

    pub async fn key(&self, scancode: u16, keysym: u32, down: bool) {
        self.send(InputEvent::Key {
            keysym,
            scancode,
            down,
        })
        .await;
    }
}

/// PC/AT set-1 scancode of a character on a US keyboard, and whether it needs Shift.
pub fn us_scancode(ch: char) -> Option<(u16, bool)> {
    const ROWS: [(&str, &str, u16); 4] = [
        ("1234567890-=", "!@#$%^&*()_+", 0x02),
        ("qwertyuiop[]", "QWERTYUIOP{}", 0x10),
        ("asdfghjkl;'`", "ASDFGHJKL:\"~", 0x1E),
        ("zxcvbnm,./", "ZXCVBNM<>?", 0x2C),
    ];
    if ch == ' ' {
        return Some((0x39, false));
    }
    if ch == '\\' {
        return Some((0x2B, false));
    }
    if ch == '|' {
        return Some((0x2B, true));
    }
    for (plain, shifted, base) in ROWS {
        if let Some(i) = plain.chars().position(|c| c == ch) {
            return Some((base + i as u16, false));
        }
        if let Some(i) = shifted.chars().position(|c| c == ch) {
            return Some((base + i as u16, true));
        }
    }
    None
}
