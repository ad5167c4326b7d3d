//! The per-stream pipeline: target events into the damage tracker, frames out
//! through the shared encode pool under acknowledgement-based flow control,
//! viewer input back to the target under the token's policy.
//!
//! At most one frame is being encoded per stream and at most
//! `max_frames_in_flight` are unacknowledged; meanwhile changes accumulate in
//! the tracker, which keeps only the newest content of each tile. Memory per
//! stream is therefore bounded by the framebuffer, whatever the viewer does.

use super::files::FileService;
use super::shared;
use super::{Ending, Outgoing, WsSource, binary, client_error};
use crate::registry::StreamGuard;
use crate::{Gateway, LossyCodec, now_us};
use futures_util::StreamExt as _;
use oriel_core_model::{InputEvent, SessionError, SessionErrorKind, SessionEvent, Size};
use oriel_core_token::{ClipboardDecision, SessionClaims};
use oriel_core_wire::{
    ClientMessage, ClipboardText, Codec, CursorImage, FileErrorCode, FlowControl, Frame,
    NoticeKind, ServerHello, ServerMessage, VERSION, caps, policy_bits,
};
use oriel_encoders_codecs::{CodecError, EncodedFrame, LossyChooser, encode_cursor};
use oriel_encoders_damage::{DamageTracker, TileContent};
use oriel_gateway_http::ShutdownWatch;
use oriel_protocols_session::RemoteSession;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tracing::debug;

type Encoding = Pin<Box<dyn Future<Output = (u64, Result<EncodedFrame, CodecError>)> + Send>>;

/// Largest cursor shape forwarded (browsers ignore bigger CSS cursors).
const MAX_CURSOR: u16 = 256;
/// Liveness ping interval.
const PING_EVERY: Duration = Duration::from_secs(15);

pub(crate) struct Pipeline<'a> {
    gw: &'a Gateway,
    claims: SessionClaims,
    capabilities: u32,
    remote: RemoteSession,
    out: mpsc::Sender<Outgoing>,
    tracker: DamageTracker,
    flow: FlowControl,
    encoding: Option<Encoding>,
    /// Picks WebP or JPEG per frame, when the viewer decodes WebP and the
    /// settings allow it; `None`: always JPEG.
    lossy: Option<LossyChooser>,
    /// The lossy codec of the frame being encoded.
    encoding_codec: Codec,
    /// When the oldest change not yet planned arrived.
    pending_since: Option<Instant>,
    last_client_message: Instant,
    next_ping: Instant,
    /// Last keyboard/pointer/clipboard input, for the idle timeout.
    last_input: Instant,
    /// The session's deadline (maximum length), if any.
    deadline: Option<Instant>,
    /// File transfer, when the target offers it and the policy allows a direction.
    files: Option<FileService>,
}

enum Wake {
    Stop,
    Shutdown,
    Client(
        Option<
            Result<tokio_tungstenite::tungstenite::Message, tokio_tungstenite::tungstenite::Error>,
        >,
    ),
    Encoded(u64, Result<EncodedFrame, CodecError>),
    Target(Option<Result<SessionEvent, SessionError>>),
    Timer,
}

impl<'a> Pipeline<'a> {
    pub(crate) fn new(
        gw: &'a Gateway,
        claims: SessionClaims,
        capabilities: u32,
        remote: RemoteSession,
        out: mpsc::Sender<Outgoing>,
    ) -> Self {
        let size = remote.info.size;
        let now = Instant::now();
        let files = remote
            .files
            .clone()
            .and_then(|f| FileService::new(f, &claims.policy, out.clone(), gw.metrics.clone()));
        Pipeline {
            files,
            tracker: DamageTracker::new(size, gw.settings.tile_size, gw.settings.plan.clone()),
            flow: FlowControl::new(gw.settings.max_frames_in_flight),
            gw,
            claims,
            capabilities,
            remote,
            out,
            encoding: None,
            lossy: match gw.settings.lossy_codec {
                _ if capabilities & caps::WEBP == 0 => None,
                LossyCodec::Jpeg => None,
                LossyCodec::Webp => Some(LossyChooser::new(f64::INFINITY)),
                LossyCodec::Auto { cpu_budget } => Some(LossyChooser::new(cpu_budget)),
            },
            encoding_codec: Codec::Jpeg,
            pending_since: None,
            last_client_message: now,
            next_ping: now + PING_EVERY,
            last_input: now,
            deadline: None,
        }
    }

    fn idle_timeout(&self) -> Option<Duration> {
        let secs = self.claims.policy.idle_timeout_secs;
        (secs > 0).then(|| Duration::from_secs(u64::from(secs)))
    }

    fn hello(&self) -> ServerMessage {
        let p = &self.claims.policy;
        let mut policy = 0;
        if p.clipboard_up {
            policy |= policy_bits::CLIPBOARD_UP;
        }
        if p.clipboard_down {
            policy |= policy_bits::CLIPBOARD_DOWN;
        }
        let size = self.tracker.size();
        ServerMessage::Hello(ServerHello {
            version: VERSION,
            // WebP only when it may be sent.
            capabilities: if self.lossy.is_some() {
                self.capabilities & caps::ALL
            } else {
                self.capabilities & caps::ALL & !caps::WEBP
            },
            size,
            max_frames_in_flight: self.gw.settings.max_frames_in_flight,
            policy,
            clipboard_max_bytes: p.clipboard_max_bytes,
            name: if self.remote.info.name.is_empty() {
                self.claims.ws.clone()
            } else {
                self.remote.info.name.clone()
            },
            session_id: self.claims.sid.clone(),
        })
    }

    pub(crate) async fn run(
        mut self,
        source: &mut WsSource,
        mut guard: StreamGuard,
        mut shutdown: ShutdownWatch,
    ) -> Result<Ending, SessionError> {
        send(&self.out, self.hello()).await?;
        if let Some(files) = &self.files {
            send(&self.out, files.announcement()).await?;
        }
        self.deadline = self
            .claims
            .deadline
            .map(|d| Instant::now() + Duration::from_secs(d.saturating_sub(crate::now_secs())));
        // A watch whose sender is gone resolves `changed()` at once, for ever:
        // stop polling it then, instead of spinning.
        let mut stop_open = true;
        let mut shutdown_open = true;
        loop {
            let deadline = self.next_deadline();
            let wake = tokio::select! {
                biased;
                r = guard.stop.changed(), if stop_open => match r {
                    Ok(()) => Wake::Stop,
                    Err(_) => { stop_open = false; continue; }
                },
                r = shutdown.changed(), if shutdown_open => match r {
                    Ok(()) => Wake::Shutdown,
                    Err(_) => { shutdown_open = false; continue; }
                },
                msg = source.next() => Wake::Client(msg),
                (damage, frame) = async { self.encoding.as_mut().expect("guarded by the select condition").await }, if self.encoding.is_some() => Wake::Encoded(damage, frame),
                ev = self.remote.events.recv() => Wake::Target(ev),
                () = sleep_until(deadline) => Wake::Timer,
            };
            match wake {
                Wake::Stop => {
                    if let Some(why) = *guard.stop.borrow() {
                        return Err(crate::registry::stop_error(why));
                    }
                }
                Wake::Shutdown => {
                    if *shutdown.borrow() {
                        return Err(SessionError::new(
                            SessionErrorKind::ShuttingDown,
                            "server shutting down",
                        ));
                    }
                }
                Wake::Client(msg) => {
                    self.last_client_message = Instant::now();
                    match binary(msg)? {
                        None => return Ok(Ending::ClientClosed),
                        Some(None) => {}
                        Some(Some(bytes)) => self.on_client(&bytes).await?,
                    }
                }
                Wake::Encoded(damage, frame) => {
                    self.encoding = None;
                    let frame = frame.map_err(|e| {
                        SessionError::new(SessionErrorKind::Internal, e.to_string())
                    })?;
                    if let Some(chooser) = &mut self.lossy {
                        let (px, us) = frame.stats.lossy;
                        chooser.observe(self.encoding_codec, px, us);
                    }
                    self.send_frame(damage, frame).await?;
                }
                Wake::Target(None) => return Ok(Ending::TargetClosed),
                Wake::Target(Some(ev)) => self.on_target(ev?).await?,
                Wake::Timer => self.on_timer().await?,
            }
            self.maybe_plan(&guard);
        }
    }

    fn next_deadline(&self) -> Instant {
        let mut next = self
            .next_ping
            .min(self.last_client_message + self.gw.settings.idle_client_timeout);
        if let Some(idle) = self.idle_timeout() {
            next = next.min(self.last_input + idle);
        }
        if let Some(d) = self.deadline {
            next = next.min(d);
        }
        if self.encoding.is_none() && self.flow.can_send() {
            if let Some(since) = self.pending_since {
                next = next.min(since + self.gw.settings.max_coalesce);
            }
            if let Some(at_us) = self.tracker.next_refresh_at() {
                let wait = Duration::from_micros(at_us.saturating_sub(now_us()));
                next = next.min(Instant::now() + wait);
            }
        }
        next
    }

    async fn on_timer(&mut self) -> Result<(), SessionError> {
        let now = Instant::now();
        if self.deadline.is_some_and(|d| now >= d) {
            return Err(SessionError::new(
                SessionErrorKind::SessionExpired,
                "the session reached its maximum length",
            ));
        }
        if self
            .idle_timeout()
            .is_some_and(|idle| now >= self.last_input + idle)
        {
            return Err(SessionError::new(
                SessionErrorKind::IdleTimeout,
                "no input from the viewer for longer than the policy allows",
            ));
        }
        if now >= self.last_client_message + self.gw.settings.idle_client_timeout {
            return Err(SessionError::new(
                SessionErrorKind::ClientTimeout,
                "the viewer stopped answering",
            ));
        }
        if now >= self.next_ping {
            self.next_ping = now + PING_EVERY;
            let _ = self.out.send(Outgoing::Ping).await;
        }
        // A due refresh or coalescing deadline is handled by maybe_plan.
        if self
            .tracker
            .next_refresh_at()
            .is_some_and(|t| t <= now_us())
            && self.pending_since.is_none()
        {
            self.pending_since = Some(now - self.gw.settings.max_coalesce);
        }
        Ok(())
    }

    /// Starts encoding a frame when the viewer can take one and either the
    /// target has paused or the coalescing deadline passed.
    fn maybe_plan(&mut self, guard: &StreamGuard) {
        let Some(since) = self.pending_since else {
            return;
        };
        if self.encoding.is_some() || !self.flow.can_send() {
            return;
        }
        let quiet = self.remote.events.is_empty();
        if !quiet && since.elapsed() < self.gw.settings.max_coalesce {
            return;
        }
        self.pending_since = None;
        let Some(mut plan) = self.tracker.plan(now_us()) else {
            return;
        };
        let pool = self.gw.pool.clone();
        let damage = plan.damage_time_us;
        let codec = match &mut self.lossy {
            Some(chooser) => {
                let lossy_px = plan
                    .tiles
                    .iter()
                    .filter(|t| matches!(t.content, TileContent::Lossy { .. }))
                    .map(|t| u64::from(t.rect.area()))
                    .sum();
                chooser.choose(now_us(), lossy_px)
            }
            None => Codec::Jpeg,
        };
        self.encoding_codec = codec;
        // Images another viewer of this session just encoded are reused.
        let shared = guard
            .encode_cache()
            .map(|cache| shared::take_cached(&mut plan, cache, codec));
        if let Some(pending) = &shared {
            self.gw
                .metrics
                .tiles
                .with_label_values(&["shared"])
                .inc_by(pending.reused());
        }
        self.encoding = Some(Box::pin(async move {
            let frame = pool.encode_plan(plan, codec).await;
            let frame = match shared {
                Some(pending) => frame.map(|f| shared::complete(pending, f)),
                None => frame,
            };
            (damage, frame)
        }));
    }

    async fn send_frame(
        &mut self,
        damage_time_us: u64,
        frame: EncodedFrame,
    ) -> Result<(), SessionError> {
        let m = &self.gw.metrics;
        m.encode_seconds.observe(frame.stats.wall_us as f64 / 1e6);
        m.tiles
            .with_label_values(&["fill"])
            .inc_by(u64::from(frame.stats.fills));
        m.tiles
            .with_label_values(&["png"])
            .inc_by(u64::from(frame.stats.png.0));
        m.tiles
            .with_label_values(&["jpeg"])
            .inc_by(u64::from(frame.stats.jpeg.0));
        m.tiles
            .with_label_values(&["webp"])
            .inc_by(u64::from(frame.stats.webp.0));
        let id = self.flow.on_send(now_us(), damage_time_us);
        m.frames_sent.inc();
        send(
            &self.out,
            ServerMessage::Frame(Frame {
                id,
                damage_time_us,
                ops: frame.ops,
            }),
        )
        .await
    }

    async fn on_target(&mut self, ev: SessionEvent) -> Result<(), SessionError> {
        let now = now_us();
        let drawn = match ev {
            SessionEvent::Pixels { rect, layout, data } => {
                self.tracker.draw_pixels(rect, layout, &data, now)
            }
            SessionEvent::Fill { rect, rgb } => self.tracker.fill(rect, rgb, now),
            SessionEvent::Copy { src, dst } => self.tracker.copy(src, dst, now),
            SessionEvent::DesktopSize(size) => {
                self.resize(size).await?;
                return Ok(());
            }
            SessionEvent::Cursor(shape) => {
                if shape.size.width > MAX_CURSOR || shape.size.height > MAX_CURSOR {
                    debug!(?shape.size, "cursor too large, ignored");
                    return Ok(());
                }
                let png = encode_cursor(&shape).map_err(|e| {
                    SessionError::new(SessionErrorKind::TargetProtocol, e.to_string())
                })?;
                let hidden = png.is_empty();
                return send(
                    &self.out,
                    ServerMessage::Cursor(CursorImage {
                        hotspot: shape.hotspot,
                        size: if hidden { Size::new(0, 0) } else { shape.size },
                        png,
                    }),
                )
                .await;
            }
            SessionEvent::Clipboard(text) => {
                let decision = self.claims.policy.allows_clipboard_down(text.len());
                self.count_clipboard("down", decision);
                if decision == ClipboardDecision::Allowed {
                    return send(&self.out, ServerMessage::Clipboard(ClipboardText(text))).await;
                }
                return Ok(());
            }
            SessionEvent::Bell => return send(&self.out, ServerMessage::Bell).await,
        };
        drawn.map_err(|e| SessionError::new(SessionErrorKind::TargetProtocol, e.to_string()))?;
        self.pending_since.get_or_insert_with(Instant::now);
        Ok(())
    }

    async fn resize(&mut self, size: Size) -> Result<(), SessionError> {
        oriel_core_model::validate_size(size)?;
        self.tracker.resize(size, now_us());
        // A frame being encoded for the old size is dropped, never sent.
        self.encoding = None;
        self.pending_since = None;
        send(&self.out, ServerMessage::DesktopSize(size)).await
    }

    fn count_clipboard(&self, direction: &str, decision: ClipboardDecision) {
        let label = match decision {
            ClipboardDecision::Allowed => "allowed",
            ClipboardDecision::Denied => "denied",
            ClipboardDecision::TooLarge => "too_large",
        };
        self.gw
            .metrics
            .clipboard
            .with_label_values(&[direction, label])
            .inc();
    }

    async fn on_client(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        let msg = ClientMessage::decode(bytes).map_err(|e| client_error(e.to_string()))?;
        match msg {
            ClientMessage::Hello(_) => return Err(client_error("HELLO sent twice")),
            ClientMessage::Ack { frame_id } => {
                let acked = self
                    .flow
                    .on_ack(frame_id, now_us())
                    .map_err(|e| client_error(e.to_string()))?;
                self.gw
                    .metrics
                    .frame_latency_seconds
                    .observe(acked.damage_to_ack_us as f64 / 1e6);
            }
            ClientMessage::Key {
                down,
                keysym,
                scancode,
            } => {
                self.last_input = Instant::now();
                input(
                    &self.remote.input,
                    InputEvent::Key {
                        keysym,
                        scancode,
                        down,
                    },
                )
                .await;
            }
            ClientMessage::Pointer { at, buttons } => {
                self.last_input = Instant::now();
                input(&self.remote.input, InputEvent::Pointer { at, buttons }).await;
            }
            ClientMessage::Wheel { at, dx, dy } => {
                self.last_input = Instant::now();
                input(&self.remote.input, InputEvent::Wheel { at, dx, dy }).await
            }
            ClientMessage::Clipboard(text) => {
                self.last_input = Instant::now();
                let decision = self.claims.policy.allows_clipboard_up(text.len());
                self.count_clipboard("up", decision);
                match decision {
                    ClipboardDecision::Allowed => {
                        input(&self.remote.input, InputEvent::Clipboard(text)).await
                    }
                    ClipboardDecision::Denied => {
                        send(
                            &self.out,
                            ServerMessage::Notice {
                                kind: NoticeKind::ClipboardUpDenied,
                                message: "copying to the remote system is disabled by policy"
                                    .into(),
                            },
                        )
                        .await?;
                    }
                    ClipboardDecision::TooLarge => {
                        send(
                            &self.out,
                            ServerMessage::Notice {
                                kind: NoticeKind::ClipboardTooLarge,
                                message: format!(
                                    "clipboard text over the {} byte limit was not sent",
                                    self.claims.policy.clipboard_max_bytes
                                ),
                            },
                        )
                        .await?;
                    }
                }
            }
            ClientMessage::Resize(size) => {
                if oriel_core_model::validate_size(size).is_ok() {
                    input(&self.remote.input, InputEvent::Resize(size)).await;
                }
            }
            ClientMessage::Ping { nonce } => send(&self.out, ServerMessage::Pong { nonce }).await?,
            ClientMessage::Refresh => {
                self.tracker.refresh_all(now_us());
                self.pending_since.get_or_insert_with(Instant::now);
            }
            ClientMessage::Locks { caps, num, scroll } => {
                input(&self.remote.input, InputEvent::Locks { caps, num, scroll }).await;
            }
            file => {
                // A transfer in progress is the user at work (idle timeout).
                self.last_input = Instant::now();
                self.on_file(file).await?;
            }
        }
        Ok(())
    }

    async fn on_file(&mut self, msg: ClientMessage) -> Result<(), SessionError> {
        let Some(files) = self.files.as_mut() else {
            let id = match msg {
                ClientMessage::FileList { id, .. }
                | ClientMessage::FileDownload { id, .. }
                | ClientMessage::FileUpload { id, .. } => id,
                // Data, ends, cancels and acks of transfers that never started.
                _ => return Ok(()),
            };
            let message = if self.remote.files.is_some() {
                "file transfer is disabled by policy"
            } else {
                "this session offers no file transfer"
            };
            let code = if self.remote.files.is_some() {
                FileErrorCode::Denied
            } else {
                FileErrorCode::Unsupported
            };
            return send(
                &self.out,
                ServerMessage::FileError {
                    id,
                    code,
                    message: message.into(),
                },
            )
            .await;
        };
        match msg {
            ClientMessage::FileList { id, path } => files.list(id, path).await,
            ClientMessage::FileDownload { id, path } => files.download(id, path).await,
            ClientMessage::FileUpload {
                id,
                size,
                dir,
                name,
            } => files.upload(id, size, dir, name).await,
            ClientMessage::FileData { id, data } => files.data(id, data),
            ClientMessage::FileEnd { id } => files.end(id),
            ClientMessage::FileCancel { id } => {
                files.cancel(id);
                Ok(())
            }
            ClientMessage::FileAck { id, offset } => {
                files.ack(id, offset);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

pub(super) async fn send(
    out: &mpsc::Sender<Outgoing>,
    msg: ServerMessage,
) -> Result<(), SessionError> {
    out.send(Outgoing::Message(msg.to_bytes()))
        .await
        .map_err(|_| client_error("the viewer connection is gone"))
}

/// Forwards input to the adapter. A closed input channel means the adapter
/// is gone; its error arrives on the events channel.
async fn input(tx: &mpsc::Sender<InputEvent>, ev: InputEvent) {
    let _ = tx.send(ev).await;
}
