//! Test support: a live SSH session whose events are applied to a
//! framebuffer as the gateway would, plus typing and waiting helpers.

use oriel_core_model::{InputEvent, Point, SessionError, SessionEvent, Size};
use oriel_core_token::Credentials;
use oriel_encoders_damage::Framebuffer;
use oriel_protocols_session::{ConnectRequest, FileTransfer, RemoteSession, TargetTrust};
use oriel_protocols_ssh::{ScreenProbe, ScreenSnapshot, SshConnector};
use oriel_testkit::sshd::Sshd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long any single wait may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// Credentials (the type wipes itself on drop, so no struct update syntax).
pub fn credentials(user: &str, password: Option<&str>, private_key: Option<&str>) -> Credentials {
    let mut c = Credentials::default();
    c.username = Some(user.to_owned());
    c.password = password.map(str::to_owned);
    c.private_key = private_key.map(str::to_owned);
    c
}

/// Password credentials of the test user.
pub fn password(sshd: &Sshd) -> Credentials {
    credentials(sshd.user(), Some(sshd.password()), None)
}

/// A request for `sshd`.
pub fn request(
    port: u16,
    credentials: Credentials,
    trust: TargetTrust,
    size: Option<Size>,
) -> ConnectRequest {
    ConnectRequest {
        session_id: "ssh-test".to_owned(),
        host: "127.0.0.1".to_owned(),
        port,
        credentials: Some(credentials),
        trust,
        desired_size: size,
        timeout: WAIT,
    }
}

/// What the pump saw.
#[derive(Debug)]
pub struct Seen {
    pub fb: Framebuffer,
    pub applied: u64,
    pub copies: u64,
    pub pixels: u64,
    pub desktop_sizes: Vec<Size>,
    pub clipboard: Vec<String>,
    /// What the shell printed, from the text track.
    pub printed: Vec<u8>,
    /// The terminal's columns and rows as announced.
    pub grids: Vec<(u16, u16)>,
    /// Whole updates announced (`UpdateEnd`).
    pub updates: u64,
    pub error: Option<SessionError>,
    pub ended: bool,
    pub last_event: Instant,
}

/// A connected session and its viewer-side picture.
pub struct Live {
    pub input: mpsc::Sender<InputEvent>,
    pub files: Option<Arc<dyn FileTransfer>>,
    pub probe: ScreenProbe,
    pub seen: Arc<Mutex<Seen>>,
    pub info: oriel_core_model::SessionInfo,
}

impl Live {
    /// Connects and starts applying events.
    pub async fn connect(request: ConnectRequest) -> Result<Live, SessionError> {
        let (session, probe) = SshConnector::default().connect_with_probe(request).await?;
        Ok(Live::start(session, probe))
    }

    fn start(session: RemoteSession, probe: ScreenProbe) -> Live {
        let RemoteSession {
            info,
            mut events,
            input,
            files,
        } = session;
        let seen = Arc::new(Mutex::new(Seen {
            fb: Framebuffer::new(info.size),
            applied: 0,
            copies: 0,
            pixels: 0,
            desktop_sizes: Vec::new(),
            clipboard: Vec::new(),
            printed: Vec::new(),
            grids: Vec::new(),
            updates: 0,
            error: None,
            ended: false,
            last_event: Instant::now(),
        }));
        let pump = seen.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let mut s = pump.lock().expect("lock");
                s.last_event = Instant::now();
                match event {
                    Err(e) => s.error = Some(e),
                    Ok(ev) => {
                        match ev {
                            SessionEvent::DesktopSize(size) => {
                                s.fb.reset(size);
                                s.desktop_sizes.push(size);
                            }
                            SessionEvent::Pixels { rect, layout, data } => {
                                s.pixels += 1;
                                s.fb.blit(rect, layout, &data).expect("pixels fit");
                            }
                            SessionEvent::Fill { rect, rgb } => {
                                s.fb.fill(rect, rgb).expect("fill fits")
                            }
                            SessionEvent::Copy { src, dst } => {
                                s.copies += 1;
                                s.fb.copy(src, dst).expect("copy fits");
                            }
                            SessionEvent::Clipboard(text) => s.clipboard.push(text),
                            SessionEvent::TerminalOutput(bytes) => s.printed.extend(bytes),
                            SessionEvent::TerminalGrid { cols, rows } => s.grids.push((cols, rows)),
                            SessionEvent::UpdateEnd => s.updates += 1,
                            SessionEvent::Bell | SessionEvent::Cursor(_) => {}
                        }
                        s.applied += 1;
                    }
                }
            }
            pump.lock().expect("lock").ended = true;
        });
        Live {
            input,
            files,
            probe,
            seen,
            info,
        }
    }

    /// Sends an input event.
    pub async fn send(&self, event: InputEvent) {
        self.input.send(event).await.expect("session alive");
    }

    /// Presses and releases one key.
    pub async fn key(&self, keysym: u32) {
        for down in [true, false] {
            self.send(InputEvent::Key {
                keysym,
                scancode: 0,
                down,
            })
            .await;
        }
    }

    /// Types text as key presses (`\n` is Return).
    pub async fn type_text(&self, text: &str) {
        for c in text.chars() {
            let keysym = match c {
                '\n' => 0xff0d,
                ' '..='~' => c as u32,
                c => 0x0100_0000 + c as u32,
            };
            self.key(keysym).await;
        }
    }

    /// A snapshot whose events have all been applied.
    pub async fn snapshot(&self) -> ScreenSnapshot {
        let snap = self.probe.snapshot().await.expect("session alive");
        let deadline = Instant::now() + WAIT;
        while self.seen.lock().expect("lock").applied < snap.events_sent {
            assert!(Instant::now() < deadline, "events not delivered");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        snap
    }

    /// Waits until the screen text satisfies `pred`.
    pub async fn wait_screen(
        &self,
        what: &str,
        pred: impl Fn(&ScreenSnapshot) -> bool,
    ) -> ScreenSnapshot {
        let deadline = Instant::now() + WAIT;
        loop {
            let snap = self.snapshot().await;
            if pred(&snap) {
                return snap;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{}",
                snap.text.join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until some row of the screen is exactly `line`; returns its row.
    pub async fn wait_line(&self, line: &str) -> (ScreenSnapshot, usize) {
        let snap = self
            .wait_screen(&format!("the line {line:?}"), |s| {
                s.text.iter().any(|l| l == line)
            })
            .await;
        let row = snap
            .text
            .iter()
            .rposition(|l| l == line)
            .expect("line present");
        (snap, row)
    }

    /// Waits for no events for `quiet`, then checks that the viewer's
    /// picture equals a fresh render of the terminal.
    pub async fn assert_exact(&self) -> ScreenSnapshot {
        let deadline = Instant::now() + WAIT;
        loop {
            let snap = self.snapshot().await;
            let s = self.seen.lock().expect("lock");
            if s.applied == snap.events_sent {
                assert_eq!(s.fb.size(), snap.size, "framebuffer size");
                if s.fb.as_rgb() != snap.rgb.as_slice() {
                    let w = usize::from(snap.size.width);
                    let at =
                        s.fb.as_rgb()
                            .iter()
                            .zip(&snap.rgb)
                            .position(|(a, b)| a != b)
                            .unwrap_or(0)
                            / 3;
                    panic!(
                        "the viewer's picture differs from a fresh render at ({}, {})",
                        at % w,
                        at / w
                    );
                }
                return snap;
            }
            drop(s);
            assert!(Instant::now() < deadline, "the screen never settled");
        }
    }

    /// Waits until no event arrived for `quiet`.
    pub async fn wait_quiet(&self, quiet: Duration) {
        let deadline = Instant::now() + WAIT;
        loop {
            let last = self.seen.lock().expect("lock").last_event;
            if last.elapsed() >= quiet {
                return;
            }
            assert!(Instant::now() < deadline, "the session never went quiet");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The framebuffer pixel at `at`.
    pub fn pixel(&self, at: Point) -> [u8; 3] {
        self.seen
            .lock()
            .expect("lock")
            .fb
            .pixel(at)
            .expect("inside")
    }

    /// Waits until the shell shows a prompt (the user's name and a `$`).
    pub async fn wait_prompt(&self) -> ScreenSnapshot {
        self.wait_screen("a shell prompt", |s| {
            s.text.iter().any(|l| l.trim_end().ends_with('$'))
        })
        .await
    }
}
