//! VNC adapter (RFB, RFC 6143) on vnc-rs (adapter tier).
//!
//! [`VncConnector`] connects with security None or VNC password, asks for
//! 32-bit RGBX pixels, the cursor pseudo-encoding (so the pointer is never
//! drawn into the framebuffer) and desktop-size updates, then runs one task
//! per session that forwards RFB updates as session events and viewer input
//! as RFB messages. The translation itself is pure ([`translate`]).
//!
//! Update pacing: RFB is pull-based. Once an update has arrived whole (the
//! end of its FramebufferUpdate message, which vnc-rs reports in our tree's
//! copy, `third_party/vnc-rs`), the task asks for the next incremental
//! update, at most `max_update_rate` times per second: exactly one request
//! is outstanding at any time, as noVNC does, so the server sends each
//! change of the screen as one update, not in pieces. Each update ends with
//! `SessionEvent::UpdateEnd`: the gateway puts one whole update in a frame.
//!
//! Known limits of vnc-rs 0.6: no VeNCrypt/TLS (the gateway→VNC leg must be
//! a trusted network or a tunnel), and clipboard text is sent as its UTF-8
//! bytes, so non-ASCII text reaches Latin-1 servers garbled.

pub mod translate;

use oriel_core_model::{
    InputEvent, SessionError, SessionErrorKind, SessionEvent, SessionInfo, Size,
};
use oriel_protocols_session::{
    BoxFuture, ConnectRequest, Connector, EVENT_CHANNEL, INPUT_CHANNEL, RemoteSession,
};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};
use tracing::{debug, warn};
use translate::{EventTranslator, InputTranslator, connect_error};
use vnc::{PixelFormat, VncClient, VncEncoding, VncEvent, X11Event};

/// Which RFB encodings to ask for, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Tight (lossless: we never ask for JPEG quality levels).
    Tight,
    /// ZRLE.
    Zrle,
    /// TRLE.
    Trle,
    /// Raw pixels: cheapest on CPU, heaviest on the network.
    Raw,
}

/// Settings of the VNC adapter.
#[derive(Debug, Clone)]
pub struct VncSettings {
    /// Encodings in order of preference (CopyRect and the pseudo-encodings are always added).
    pub encodings: Vec<Encoding>,
    /// Highest rate of update requests, per second.
    pub max_update_rate: u32,
}

impl Default for VncSettings {
    fn default() -> Self {
        VncSettings {
            encodings: vec![Encoding::Tight, Encoding::Zrle, Encoding::Raw],
            max_update_rate: 60,
        }
    }
}

/// The VNC protocol adapter, serving workspaces of kind `vnc`.
#[derive(Debug, Clone, Default)]
pub struct VncConnector {
    settings: VncSettings,
}

impl VncConnector {
    /// An adapter with these settings.
    pub fn new(settings: VncSettings) -> Self {
        VncConnector { settings }
    }
}

impl Connector for VncConnector {
    fn kind(&self) -> &'static str {
        "vnc"
    }

    fn connect(
        &self,
        request: ConnectRequest,
    ) -> BoxFuture<'static, Result<RemoteSession, SessionError>> {
        let settings = self.settings.clone();
        Box::pin(async move {
            let deadline = request.timeout;
            match timeout(deadline, connect(request, settings)).await {
                Ok(result) => result,
                Err(_) => Err(SessionError::new(
                    SessionErrorKind::TargetTimeout,
                    format!("no complete RFB handshake within {deadline:?}"),
                )),
            }
        })
    }
}

async fn connect(
    request: ConnectRequest,
    settings: VncSettings,
) -> Result<RemoteSession, SessionError> {
    let tcp = TcpStream::connect((request.host.as_str(), request.port))
        .await
        .map_err(|e| {
            SessionError::new(
                SessionErrorKind::TargetUnreachable,
                format!("connect to {}:{}: {e}", request.host, request.port),
            )
        })?;
    let _ = tcp.set_nodelay(true);
    let password = request
        .credentials
        .as_ref()
        .and_then(|c| c.password.clone());
    let mut connector = vnc::VncConnector::new(tcp)
        .set_auth_method(async move { password.ok_or(vnc::VncError::NoPassword) })
        .allow_shared(true)
        .set_pixel_format(PixelFormat::rgba())
        .add_encoding(VncEncoding::CopyRect);
    for enc in &settings.encodings {
        connector = connector.add_encoding(match enc {
            Encoding::Tight => VncEncoding::Tight,
            Encoding::Zrle => VncEncoding::Zrle,
            Encoding::Trle => VncEncoding::Trle,
            Encoding::Raw => VncEncoding::Raw,
        });
    }
    let client = connector
        .add_encoding(VncEncoding::CursorPseudo)
        .add_encoding(VncEncoding::ExtendedDesktopSizePseudo)
        .add_encoding(VncEncoding::DesktopSizePseudo)
        .add_encoding(VncEncoding::LastRectPseudo)
        .build()
        .map_err(connect_error)?
        .try_start()
        .await
        .map_err(connect_error)?
        .finish()
        .map_err(connect_error)?;

    // vnc-rs reports the ServerInit size as the first event.
    let size = match client.recv_event().await.map_err(connect_error)? {
        VncEvent::SetResolution(s) => Size::new(s.width, s.height),
        VncEvent::Error(m) => return Err(SessionError::new(SessionErrorKind::TargetProtocol, m)),
        other => {
            return Err(SessionError::new(
                SessionErrorKind::TargetProtocol,
                format!("expected the desktop size first, got {other:?}"),
            ));
        }
    };
    oriel_core_model::validate_size(size)?;
    let (events_tx, events_rx) = mpsc::channel(EVENT_CHANNEL);
    let (input_tx, input_rx) = mpsc::channel(INPUT_CHANNEL);
    let session = VncSession {
        client,
        events: events_tx,
        input: input_rx,
        translator: EventTranslator::new(size),
        inputs: InputTranslator::default(),
        size,
        min_interval: Duration::from_micros(1_000_000 / u64::from(settings.max_update_rate.max(1))),
    };
    if let Some(wanted) = request
        .desired_size
        .filter(|s| s.width > 0 && s.height > 0 && *s != size)
    {
        session.resize(wanted);
    }
    tokio::spawn(session.run());
    Ok(RemoteSession {
        info: SessionInfo {
            name: String::new(),
            size,
            identity: None,
        },
        events: events_rx,
        input: input_tx,
        files: None,
    })
}

struct VncSession {
    client: VncClient,
    events: mpsc::Sender<Result<SessionEvent, SessionError>>,
    input: mpsc::Receiver<InputEvent>,
    translator: EventTranslator,
    inputs: InputTranslator,
    size: Size,
    min_interval: Duration,
}

enum Step {
    Event(Result<VncEvent, vnc::VncError>),
    Input(Option<InputEvent>),
    RequestUpdate,
}

impl VncSession {
    async fn run(mut self) {
        let mut last_request = Instant::now();
        let mut want_request = false;
        let result = loop {
            // Each select builds a fresh `recv_event` future; when input wins,
            // that future (and vnc-rs's client lock it holds) is dropped, so
            // input is never stuck behind an idle screen.
            let step = tokio::select! {
                biased;
                input = self.input.recv() => Step::Input(input),
                () = sleep_until(last_request + self.min_interval), if want_request => Step::RequestUpdate,
                event = self.client.recv_event() => Step::Event(event),
            };
            match step {
                Step::Input(None) => break Ok(()),
                Step::Input(Some(input)) => {
                    if let Err(e) = self.send_input(input).await {
                        break Err(e);
                    }
                }
                Step::RequestUpdate => {
                    want_request = false;
                    last_request = Instant::now();
                    if let Err(e) = self.client.input(X11Event::Refresh).await {
                        break Err(closed(e));
                    }
                }
                Step::Event(Err(e)) => break Err(closed(e)),
                Step::Event(Ok(event)) => {
                    if matches!(event, VncEvent::UpdateEnd) {
                        want_request = true;
                    }
                    match self.translator.translate(event) {
                        Ok(Some(ev)) => {
                            if let SessionEvent::DesktopSize(size) = &ev {
                                self.size = *size;
                            }
                            if self.events.send(Ok(ev)).await.is_err() {
                                break Ok(());
                            }
                        }
                        Ok(None) => {}
                        Err(e) => break Err(e),
                    }
                }
            }
        };
        if let Err(e) = result {
            debug!(error = %e, "vnc session ended");
            let _ = self.events.send(Err(e)).await;
        }
        let _ = self.client.close().await;
    }

    async fn send_input(&mut self, input: InputEvent) -> Result<(), SessionError> {
        if let InputEvent::Resize(size) = input {
            self.resize(size);
            return Ok(());
        }
        for event in self.inputs.translate(input, self.size) {
            self.client.input(event).await.map_err(closed)?;
        }
        Ok(())
    }

    /// Asks the server to resize; the answer arrives as a desktop-size event.
    fn resize(&self, size: Size) {
        if oriel_core_model::validate_size(size).is_err() {
            return;
        }
        let client = self.client.clone();
        tokio::spawn(async move {
            if let Err(e) = client.resize_desktop(size.width, size.height).await {
                warn!(error = %e, width = size.width, height = size.height, "vnc server refused to resize");
            }
        });
    }
}

fn closed(e: vnc::VncError) -> SessionError {
    match e {
        vnc::VncError::ClientNotRunning => SessionError::new(
            SessionErrorKind::TargetClosed,
            "the vnc server closed the connection",
        ),
        other => SessionError::new(SessionErrorKind::TargetProtocol, other.to_string()),
    }
}
