//! The sans-IO session core: frames from the server and input from the
//! viewer go in, bytes for the server and session events come out. It wraps
//! IronRDP's `ActiveStage` and the image it decodes into (bitmap updates,
//! RemoteFX surface bits and the graphics pipeline all land there,
//! [MS-RDPBCGR] 2.2.9, [MS-RDPEGFX] 3.3.5), and turns the damage of each
//! frame into pixel rectangles. The async shell (`session`) owns the socket
//! and the clock.
//!
//! [MS-RDPBCGR]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/
//! [MS-RDPEGFX]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpegfx/

use std::time::{Duration, Instant};

use ironrdp_cliprdr::CliprdrClient;
use ironrdp_cliprdr::pdu::{ClipboardFormat, ClipboardFormatId, OwnedFormatDataResponse};
use ironrdp_core::{MonotonicInstant, WriteBuf};
use ironrdp_displaycontrol::pdu::MonitorLayoutEntry;
use ironrdp_graphics::image_processing::PixelFormat;
use ironrdp_pdu::Action;
use ironrdp_pdu::input::fast_path::FastPathInputEvent;
use ironrdp_pdu::input::{InputEvent as SlowPathInput, InputEventPdu};
use ironrdp_pdu::rdp::headers::ShareDataPdu;
use ironrdp_session::image::DecodedImage;
use ironrdp_session::{ActiveStage, ActiveStageOutput};
use oriel_core_model::{InputEvent, SessionError, SessionErrorKind, SessionEvent, Size};
use tracing::{debug, warn};

use crate::channels::{ClipboardAction, ClipboardQueue, MAX_CLIPBOARD_BYTES, encode_text};
use crate::error::session_error;
use crate::translate::{
    InputTranslator, coalesce, cursor_shape, default_cursor, hidden_cursor, region_pixels,
};

/// The image layout the core decodes into: R, G, B, then an unused byte,
/// which is [`oriel_core_model::PixelLayout::Rgbx32`].
pub const IMAGE_FORMAT: PixelFormat = PixelFormat::RgbA32;

/// What the core wants done.
#[derive(Debug)]
pub enum Output {
    /// Send these bytes to the server.
    Send(Vec<u8>),
    /// Hand this event to the viewer.
    Event(SessionEvent),
    /// The server started a deactivation-reactivation sequence ([MS-RDPBCGR]
    /// 1.3.1.3): the shell runs it, then calls [`RdpCore::reactivated`].
    ///
    /// [MS-RDPBCGR]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/
    Reactivate,
    /// The server ended the session.
    Terminate(String),
}

/// What the connection (or a reactivation) settled.
#[derive(Debug, Clone, Copy)]
pub struct Activation {
    /// Desktop size.
    pub size: Size,
    /// Whether the server accepts fast-path input ([MS-RDPBCGR] 2.2.8.1.2).
    ///
    /// [MS-RDPBCGR]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/
    pub fastpath_input: bool,
    /// Whether the server accepts Refresh Rect PDUs.
    pub refresh_rect: bool,
    /// Whether the server accepts Suppress Output PDUs.
    pub suppress_output: bool,
}

/// The session core; see the module docs.
pub struct RdpCore {
    stage: ActiveStage,
    image: DecodedImage,
    activation: Activation,
    inputs: InputTranslator,
    clipboard: ClipboardQueue,
    local_text: Option<String>,
    /// The newest resize the viewer asked for that is not sent yet: display
    /// control was not ready, or an earlier request is still in flight.
    pending_resize: Option<Size>,
    /// The resize request sent last, until the server has reactivated (or
    /// reset the graphics pipeline) or the request timed out.
    resize_in_flight: Option<ResizeRequest>,
    /// After a reactivation, no resize request is sent before this time.
    resize_quiet_until: Option<Instant>,
    /// The time of the latest input, for requests sent from other paths.
    last_input_at: Option<Instant>,
}

/// How long a resize request may go unanswered before it is sent again, or
/// the next one is sent instead (a server may ignore a request).
pub const RESIZE_ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// How long after a reactivation the next resize request waits: xrdp
/// (with xorgxrdp) fails the session when a new size arrives while its X
/// server is still swapping the shared framebuffer for the last one.
pub const RESIZE_SETTLE: Duration = Duration::from_millis(1000);

/// How often one resize request is sent before the adapter gives up on it
/// (until the viewer wishes another size).
pub const RESIZE_ATTEMPTS: u8 = 3;

/// A resize request sent to the server.
#[derive(Debug, Clone, Copy)]
struct ResizeRequest {
    /// The size asked for (after the display-control adjustments).
    size: Size,
    sent_at: Instant,
    attempt: u8,
}

impl std::fmt::Debug for RdpCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RdpCore")
            .field("activation", &self.activation)
            .finish_non_exhaustive()
    }
}

impl RdpCore {
    /// A core for an active stage whose connection settled `activation`.
    pub fn new(
        stage: ActiveStage,
        activation: Activation,
        clipboard: ClipboardQueue,
    ) -> Result<Self, SessionError> {
        oriel_core_model::validate_size(activation.size)?;
        Ok(RdpCore {
            stage,
            image: DecodedImage::new(IMAGE_FORMAT, activation.size.width, activation.size.height),
            activation,
            inputs: InputTranslator::default(),
            clipboard,
            local_text: None,
            pending_resize: None,
            resize_in_flight: None,
            resize_quiet_until: None,
            last_input_at: None,
        })
    }

    /// Current desktop size.
    pub fn size(&self) -> Size {
        self.activation.size
    }

    /// The IronRDP stage, for the shell's reactivation.
    pub fn stage_mut(&mut self) -> &mut ActiveStage {
        &mut self.stage
    }

    /// Processes one frame from the server.
    pub fn handle_frame(
        &mut self,
        action: Action,
        frame: &[u8],
        received_at: Option<MonotonicInstant>,
    ) -> Result<Vec<Output>, SessionError> {
        let before = self.image_size();
        let outputs = self
            .stage
            .process(&mut self.image, action, frame, received_at)
            .map_err(|e| session_error(&e))?;
        let mut out = Vec::new();
        let after = self.image_size();
        if after != before {
            // A graphics pipeline reset resized the image.
            oriel_core_model::validate_size(after)?;
            self.activation.size = after;
            self.resize_in_flight = None;
            out.push(Output::Event(SessionEvent::DesktopSize(after)));
        }
        let mut painted = false;
        for output in outputs {
            match output {
                ActiveStageOutput::ResponseFrame(frame) if !frame.is_empty() => {
                    out.push(Output::Send(frame));
                }
                ActiveStageOutput::ResponseFrame(_) => {}
                ActiveStageOutput::GraphicsUpdate(_) if !painted => {
                    painted = true;
                    let regions = coalesce(self.stage.take_damage_regions());
                    for region in regions {
                        if let Some(ev) = region_pixels(&self.image, &region) {
                            out.push(Output::Event(ev));
                        }
                    }
                }
                ActiveStageOutput::GraphicsUpdate(_) => {}
                ActiveStageOutput::PointerDefault => {
                    out.push(Output::Event(SessionEvent::Cursor(default_cursor())));
                }
                ActiveStageOutput::PointerHidden => {
                    out.push(Output::Event(SessionEvent::Cursor(hidden_cursor())));
                }
                ActiveStageOutput::PointerBitmap(pointer) => match cursor_shape(&pointer) {
                    Some(shape) => out.push(Output::Event(SessionEvent::Cursor(shape))),
                    None => warn!("ignoring a pointer bitmap of inconsistent size"),
                },
                ActiveStageOutput::DeactivateAll => out.push(Output::Reactivate),
                ActiveStageOutput::Terminate(reason) => {
                    out.push(Output::Terminate(reason.description()));
                }
                ActiveStageOutput::ServerRedirection(_) => {
                    return Err(SessionError::new(
                        SessionErrorKind::TargetProtocol,
                        "the server redirected the session elsewhere, which the gateway does not follow",
                    ));
                }
                other => debug!(output = ?std::mem::discriminant(&other), "ignored session output"),
            }
        }
        if self.stage.take_bitmap_recovery_request() {
            out.extend(self.refresh()?);
        }
        self.drain_clipboard(&mut out)?;
        if self.resize_in_flight.is_none()
            && self.resize_quiet_until.is_none()
            && let (Some(size), Some(now)) = (self.pending_resize.take(), self.last_input_at)
        {
            out.extend(self.resize(size, now)?);
        }
        Ok(out)
    }

    /// Translates one input event that arrived at `now`.
    pub fn handle_input(
        &mut self,
        input: InputEvent,
        now: Instant,
    ) -> Result<Vec<Output>, SessionError> {
        self.last_input_at = Some(now);
        match input {
            InputEvent::Clipboard(text) => self.set_local_clipboard(text),
            InputEvent::Resize(size) => self.resize(size, now),
            InputEvent::Refresh => self.refresh(),
            other => {
                let events = self.inputs.translate(other, self.activation.size);
                self.send_input(&events)
            }
        }
    }

    /// The server finished a reactivation with a desktop of `activation.size`
    /// at `now`: the image starts over at that size, and a resize the viewer
    /// asked for meanwhile is sent.
    pub fn reactivated(
        &mut self,
        activation: Activation,
        now: Instant,
    ) -> Result<Vec<Output>, SessionError> {
        oriel_core_model::validate_size(activation.size)?;
        // The server answered (with the size asked for, or another one); the
        // next request, if any, waits for the server to settle.
        self.resize_in_flight = None;
        self.resize_quiet_until = Some(now + RESIZE_SETTLE);
        let changed = activation.size != self.activation.size;
        self.activation = activation;
        self.image = DecodedImage::new(IMAGE_FORMAT, activation.size.width, activation.size.height);
        let mut out = Vec::new();
        if changed {
            out.push(Output::Event(SessionEvent::DesktopSize(activation.size)));
        }
        // The server repaints after reactivating; ask anyway where allowed.
        out.extend(self.refresh()?);
        Ok(out)
    }

    fn image_size(&self) -> Size {
        Size::new(self.image.width(), self.image.height())
    }

    fn send_input(&mut self, events: &[FastPathInputEvent]) -> Result<Vec<Output>, SessionError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        if self.activation.fastpath_input {
            let outputs = self
                .stage
                .process_fastpath_input(&mut self.image, events)
                .map_err(|e| session_error(&e))?;
            return Ok(outputs
                .into_iter()
                .filter_map(|o| match o {
                    ActiveStageOutput::ResponseFrame(f) if !f.is_empty() => Some(Output::Send(f)),
                    _ => None,
                })
                .collect());
        }
        // Slow-path input ([MS-RDPBCGR] 2.2.8.1.1.3) for servers without fast-path input.
        let slow: Vec<SlowPathInput> = events.iter().filter_map(slow_path).collect();
        let mut buf = WriteBuf::new();
        self.stage
            .encode_static(&mut buf, ShareDataPdu::Input(InputEventPdu(slow)))
            .map_err(|e| session_error(&e))?;
        Ok(vec![Output::Send(buf.into_inner())])
    }

    fn refresh(&self) -> Result<Vec<Output>, SessionError> {
        let Size { width, height } = self.activation.size;
        Ok(self
            .stage
            .request_full_redraw(
                width,
                height,
                self.activation.refresh_rect,
                self.activation.suppress_output,
            )
            .map_err(|e| session_error(&e))?
            .into_iter()
            .map(Output::Send)
            .collect())
    }

    /// Asks the server for a desktop of `wanted`, one request at a time: a
    /// request sent while the server is still reactivating for the previous
    /// one makes servers (xrdp) interleave two reactivations, which breaks
    /// the connection. Newer wishes wait, and only the newest is sent.
    fn resize(&mut self, wanted: Size, now: Instant) -> Result<Vec<Output>, SessionError> {
        if oriel_core_model::validate_size(wanted).is_err() {
            return Ok(Vec::new());
        }
        if self
            .resize_in_flight
            .is_some_and(|f| now < f.sent_at + RESIZE_ANSWER_TIMEOUT)
            || self.resize_quiet_until.is_some_and(|t| now < t)
        {
            self.pending_resize = Some(wanted);
            return Ok(Vec::new());
        }
        self.pending_resize = None;
        self.send_resize(wanted, now, 1)
    }

    fn send_resize(
        &mut self,
        wanted: Size,
        now: Instant,
        attempt: u8,
    ) -> Result<Vec<Output>, SessionError> {
        self.resize_in_flight = None;
        let (width, height) = MonitorLayoutEntry::adjust_display_size(
            u32::from(wanted.width),
            u32::from(wanted.height),
        );
        let (Ok(w), Ok(h)) = (u16::try_from(width), u16::try_from(height)) else {
            return Ok(Vec::new());
        };
        let requested = Size::new(w, h);
        if requested == self.activation.size {
            return Ok(Vec::new());
        }
        match self.stage.display_control_ready() {
            None => {
                debug!("the server offers no display control channel: resize ignored");
                Ok(Vec::new())
            }
            Some(false) => {
                self.pending_resize = Some(wanted);
                Ok(Vec::new())
            }
            Some(true) => match self.stage.encode_resize(width, height, None, None) {
                Some(Ok(frame)) => {
                    self.resize_in_flight = Some(ResizeRequest {
                        size: requested,
                        sent_at: now,
                        attempt,
                    });
                    Ok(vec![Output::Send(frame)])
                }
                Some(Err(e)) => {
                    warn!(error = %e, "cannot encode a resize request");
                    Ok(Vec::new())
                }
                None => Ok(Vec::new()),
            },
        }
    }

    /// When [`RdpCore::handle_timeout`] wants to be called, if at all.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let answer = self
            .resize_in_flight
            .map(|f| f.sent_at + RESIZE_ANSWER_TIMEOUT);
        let quiet = self.resize_quiet_until;
        match (answer, quiet) {
            (Some(a), Some(q)) => Some(a.min(q)),
            (a, q) => a.or(q),
        }
    }

    /// Time passed: once the server has settled after a reactivation, the
    /// newest resize wish is sent; a request the server did not answer in
    /// time is sent again (xrdp drops one that comes too early), at most
    /// [`RESIZE_ATTEMPTS`] times, unless a newer wish replaces it.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<Vec<Output>, SessionError> {
        if self.resize_quiet_until.is_some_and(|t| now >= t) {
            self.resize_quiet_until = None;
        }
        let mut retry = None;
        if let Some(request) = self.resize_in_flight
            && now >= request.sent_at + RESIZE_ANSWER_TIMEOUT
        {
            self.resize_in_flight = None;
            if request.attempt < RESIZE_ATTEMPTS && request.size != self.activation.size {
                retry = Some(request);
            }
        }
        if self.resize_in_flight.is_some() || self.resize_quiet_until.is_some() {
            return Ok(Vec::new());
        }
        if let Some(wanted) = self.pending_resize.take() {
            return self.send_resize(wanted, now, 1);
        }
        if let Some(request) = retry {
            debug!(
                attempt = request.attempt + 1,
                "the server did not answer a resize request: sending it again"
            );
            return self.send_resize(request.size, now, request.attempt + 1);
        }
        Ok(Vec::new())
    }

    fn set_local_clipboard(&mut self, text: String) -> Result<Vec<Output>, SessionError> {
        if text.len() > MAX_CLIPBOARD_BYTES {
            return Ok(Vec::new());
        }
        self.local_text = Some(text);
        let Some(cliprdr) = self.stage.get_svc_processor_mut::<CliprdrClient>() else {
            return Ok(Vec::new());
        };
        if !cliprdr.is_ready() {
            // Announced when the channel asks for our formats.
            return Ok(Vec::new());
        }
        let messages = cliprdr
            .initiate_copy(&[ClipboardFormat::new(ClipboardFormatId::CF_UNICODETEXT)])
            .map_err(|e| protocol(format!("clipboard: {e}")))?;
        let frame = self
            .stage
            .process_svc_processor_messages(messages)
            .map_err(|e| session_error(&e))?;
        Ok(vec![Output::Send(frame)])
    }

    fn drain_clipboard(&mut self, out: &mut Vec<Output>) -> Result<(), SessionError> {
        let actions: Vec<ClipboardAction> = match self.clipboard.lock() {
            Ok(mut q) => q.drain(..).collect(),
            Err(_) => return Ok(()),
        };
        for action in actions {
            let Some(cliprdr) = self.stage.get_svc_processor_mut::<CliprdrClient>() else {
                return Ok(());
            };
            let messages = match action {
                ClipboardAction::RemoteText(text) => {
                    out.push(Output::Event(SessionEvent::Clipboard(text)));
                    continue;
                }
                ClipboardAction::Advertise => {
                    let formats: &[ClipboardFormat] = if self.local_text.is_some() {
                        &[ClipboardFormat::new(ClipboardFormatId::CF_UNICODETEXT)]
                    } else {
                        &[]
                    };
                    cliprdr.initiate_copy(formats)
                }
                ClipboardAction::Fetch(format) => cliprdr.initiate_paste(format),
                ClipboardAction::Provide(format) => {
                    let response = match (&self.local_text, format) {
                        (Some(text), f) if f == ClipboardFormatId::CF_UNICODETEXT => {
                            OwnedFormatDataResponse::new_unicode_string(&encode_text(text))
                        }
                        (Some(text), f) if f == ClipboardFormatId::CF_TEXT => {
                            OwnedFormatDataResponse::new_string(&encode_text(text))
                        }
                        _ => OwnedFormatDataResponse::new_error(),
                    };
                    cliprdr.submit_format_data(response)
                }
            }
            .map_err(|e| protocol(format!("clipboard: {e}")))?;
            let frame = self
                .stage
                .process_svc_processor_messages(messages)
                .map_err(|e| session_error(&e))?;
            if !frame.is_empty() {
                out.push(Output::Send(frame));
            }
        }
        Ok(())
    }
}

fn protocol(detail: String) -> SessionError {
    SessionError::new(SessionErrorKind::TargetProtocol, detail)
}

fn slow_path(event: &FastPathInputEvent) -> Option<SlowPathInput> {
    use ironrdp_pdu::input::fast_path::KeyboardFlags;
    use ironrdp_pdu::input::scan_code::{KeyboardFlags as SlowKeyboard, ScanCodePdu};
    use ironrdp_pdu::input::sync::{SyncPdu, SyncToggleFlags};
    use ironrdp_pdu::input::unicode::{KeyboardFlags as UnicodeFlags, UnicodePdu};
    Some(match event {
        FastPathInputEvent::KeyboardEvent(flags, code) => {
            let mut f = SlowKeyboard::empty();
            f.set(
                SlowKeyboard::RELEASE,
                flags.contains(KeyboardFlags::RELEASE),
            );
            f.set(
                SlowKeyboard::EXTENDED,
                flags.contains(KeyboardFlags::EXTENDED),
            );
            f.set(
                SlowKeyboard::EXTENDED_1,
                flags.contains(KeyboardFlags::EXTENDED1),
            );
            SlowPathInput::ScanCode(ScanCodePdu {
                flags: f,
                key_code: u16::from(*code),
            })
        }
        FastPathInputEvent::UnicodeKeyboardEvent(flags, unit) => {
            let mut f = UnicodeFlags::empty();
            f.set(
                UnicodeFlags::RELEASE,
                flags.contains(KeyboardFlags::RELEASE),
            );
            SlowPathInput::Unicode(UnicodePdu {
                flags: f,
                unicode_code: *unit,
            })
        }
        FastPathInputEvent::MouseEvent(m) => SlowPathInput::Mouse(*m),
        FastPathInputEvent::MouseEventEx(m) => SlowPathInput::MouseX(*m),
        FastPathInputEvent::SyncEvent(flags) => SlowPathInput::Sync(SyncPdu {
            flags: SyncToggleFlags::from_bits_truncate(u32::from(flags.bits())),
        }),
        _ => return None,
    })
}
