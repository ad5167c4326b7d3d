//! [`SessionCore`]: the session's state, its inputs and outputs, sinks
//! joining and leaving, target events and deadlines. Frame scheduling is in
//! [`crate::frames`]. Viewer messages are in [`crate::viewer`], a
//! sink's window and backlog in [`crate::sink`].

use crate::lossy::{LossyChooser, LossyCodec};
use crate::recorder::{Note, SinkKind};
use crate::sink::{Picture, Sink};
use crate::watermark::{Watermark, WatermarkSpec, WatermarkText};
use oriel_core_model::{InputEvent, SessionError, SessionErrorKind, SessionEvent, Size};
use oriel_core_token::{ClipboardDecision, Policy, Watcher};
use oriel_core_wire::{ClipboardText, Codec, CursorImage, FrameOp, ServerMessage};
use oriel_encoders_damage::{DamageTracker, FramePlan, PlanSettings};
use std::collections::VecDeque;

/// Tunables of the session core.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    /// Frames a sink may have unacknowledged.
    pub max_frames_in_flight: u8,
    /// Tile side in pixels.
    pub tile_size: u16,
    /// Damage planning (JPEG quality, lossless threshold, settle time).
    pub plan: PlanSettings,
    /// Longest wait (µs) for the target to pause before a frame is planned,
    /// for targets that do not mark where their updates end.
    pub max_coalesce_us: u64,
    /// Longest wait (µs) for a target that marks where its updates end
    /// ([`SessionEvent::UpdateEnd`]) to finish one before the damage so far
    /// is sent anyway (a huge update still shows progress).
    pub max_update_wait_us: u64,
    /// The codec of lossy tiles.
    pub lossy_codec: LossyCodec,
    /// Frames a sink without room may have waiting; one more and it has
    /// fallen behind (it gets a keyframe instead).
    pub backlog_frames: usize,
    /// Bytes a sink may have waiting, the same way.
    pub backlog_bytes: usize,
    /// A sink is sent a liveness ping this often (µs).
    pub ping_every_us: u64,
    /// A sink silent this long (µs: no message, no pong) is closed.
    pub silence_us: u64,
}

impl Default for CoreSettings {
    fn default() -> Self {
        CoreSettings {
            max_frames_in_flight: 2,
            tile_size: oriel_encoders_damage::DEFAULT_TILE,
            plan: PlanSettings::default(),
            max_coalesce_us: 16_000,
            max_update_wait_us: 100_000,
            lossy_codec: LossyCodec::Auto { cpu_budget: 0.02 },
            backlog_frames: 4,
            backlog_bytes: 16 << 20,
            ping_every_us: 15_000_000,
            silence_us: 45_000_000,
        }
    }
}

/// What every sink is told about the session in HELLO.
#[derive(Debug, Clone)]
pub struct SessionStart {
    /// The session's id.
    pub session_id: String,
    /// The desktop's name.
    pub name: String,
    /// The desktop's size when the target connected.
    pub size: Size,
    /// Whether the target can move files (the sinks' policies decide which
    /// directions they may use).
    pub files: bool,
    /// The watermark drawn into every picture, if the policy asks for one.
    pub watermark: Option<WatermarkSpec>,
}

/// A sink of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SinkId(pub(crate) u64);

impl SinkId {
    /// The number, for logs.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// What a sink brings when it joins.
#[derive(Debug, Clone)]
pub struct SinkSpec {
    /// Capabilities from the viewer's HELLO.
    pub capabilities: u32,
    /// The policy of the token it was admitted with.
    pub policy: Policy,
    /// Whether its keyboard, pointer, clipboard and resize reach the target
    /// (false: it only watches).
    pub control: bool,
    /// The session's end (maximum length) written in its token, Unix µs.
    pub deadline_us: Option<u64>,
    /// A viewer or a recorder.
    pub kind: SinkKind,
    /// Set for a viewer of a session that is not theirs (a share link, an
    /// admin shadowing it), from its token.
    pub watcher: Option<Watcher>,
}

/// An encode job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobId(pub(crate) u64);

/// Work for the encoders: the next frame, a keyframe, or both, with the
/// lossy codec chosen for them.
#[derive(Debug)]
pub struct EncodeJob {
    /// Hand back with the result.
    pub id: JobId,
    /// The codec of lossy tiles.
    pub codec: Codec,
    /// The frame the sinks in step take.
    pub frame: Option<FramePlan>,
    /// The whole picture, for sinks that join or fell behind.
    pub keyframe: Option<FramePlan>,
}

/// An encoded plan.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    /// The frame's operations, COPYs first.
    pub ops: Vec<FrameOp>,
    /// Pixels of its lossy tiles.
    pub lossy_px: u64,
    /// Time spent encoding them, µs.
    pub lossy_us: u64,
}

/// An encode job's result.
#[derive(Debug, Default)]
pub struct EncodedJob {
    /// The frame, if the job had one.
    pub frame: Option<Encoded>,
    /// The keyframe, if the job had one.
    pub keyframe: Option<Encoded>,
}

/// How a session ended for every sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The target ended the session.
    TargetClosed,
    /// An error: the target failed, a deadline passed, or Oriel failed.
    Failed(SessionError),
}

/// Something that happened, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// A frame went to a sink.
    FrameSent {
        /// It was a keyframe.
        keyframe: bool,
    },
    /// A sink acknowledged a frame.
    FrameAcked {
        /// Oldest damage in the frame → ACK, µs.
        damage_to_ack_us: u64,
    },
    /// A clipboard text was checked against the policy.
    Clipboard {
        /// Viewer → target (`true`) or target → viewer.
        up: bool,
        /// The decision.
        decision: ClipboardDecision,
    },
    /// A sink's backlog overflowed: it waits for a keyframe.
    FellBehind,
    /// Input from a sink that may only watch was dropped.
    InputRefused,
}

/// What the shell must do.
#[derive(Debug)]
pub enum Output {
    /// Send this message to the sink.
    Send(SinkId, Vec<u8>),
    /// Send the sink a transport-level liveness ping.
    Ping(SinkId),
    /// Pass this input to the target.
    Input(InputEvent),
    /// Encode this job and hand the result to [`SessionCore::handle_encoded`];
    /// a job still running is no longer wanted.
    Encode(EncodeJob),
    /// The sink is closed (it broke the protocol or went silent); the
    /// session goes on for the others.
    Close(SinkId, SessionError),
    /// The session is over for every sink; nothing more comes out.
    End(Ending),
    /// For metrics.
    Observe(Observation),
    /// Send this keyframe (a FRAME that repaints the whole desktop) to the
    /// sink; viewers take it like any frame, recorders mark it for seeking.
    SendKeyframe(SinkId, Vec<u8>),
    /// Add this to the recorders' event track.
    Note(Note),
    /// Render these lines as the watermark and hand the pattern to
    /// [`SessionCore::set_watermark`]; no frame goes out before the first.
    Watermark(WatermarkText),
}

/// The job being encoded and who takes its parts.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) id: JobId,
    pub(crate) codec: Codec,
    pub(crate) frame_to: Vec<SinkId>,
    pub(crate) frame_damage_us: u64,
    pub(crate) keyframe_to: Vec<SinkId>,
    pub(crate) keyframe_damage_us: u64,
}

/// One session's logic. See the [crate] documentation.
#[derive(Debug)]
pub struct SessionCore {
    pub(crate) settings: CoreSettings,
    pub(crate) start: SessionStart,
    pub(crate) tracker: DamageTracker,
    pub(crate) sinks: Vec<Sink>,
    next_sink: u64,
    pub(crate) job: Option<Job>,
    pub(crate) next_job: u64,
    /// When the oldest change not yet planned arrived.
    pub(crate) pending_since_us: Option<u64>,
    /// The target marks where its updates end (it sent an UpdateEnd): a
    /// frame waits for the end of the update, not for a pause.
    pub(crate) marks_updates: bool,
    /// The changes pending end with a whole update.
    pub(crate) update_complete: bool,
    /// The pointer buttons held at the target (clicks go into the event
    /// track).
    pub(crate) buttons: u8,
    pub(crate) chooser: Option<LossyChooser>,
    /// Last input from a sink that controls the session (idle timeout).
    pub(crate) last_input_us: u64,
    /// The pointer's shape, for sinks that join later.
    cursor: Option<Vec<u8>>,
    pub(crate) watermark: Option<Watermark>,
    /// The list of watchers the owner's viewers were last told.
    pub(crate) watchers_told: String,
    out: VecDeque<Output>,
    pub(crate) ended: bool,
}

impl SessionCore {
    /// A session whose target just connected, at `now_us`, with no sink yet.
    pub fn new(settings: CoreSettings, start: SessionStart, now_us: u64) -> Self {
        let mut core = SessionCore {
            tracker: DamageTracker::new(start.size, settings.tile_size, settings.plan.clone()),
            chooser: settings.lossy_codec.chooser(),
            settings,
            sinks: Vec::new(),
            next_sink: 1,
            job: None,
            next_job: 1,
            pending_since_us: None,
            marks_updates: false,
            update_complete: false,
            buttons: 0,
            last_input_us: now_us,
            cursor: None,
            watermark: start.watermark.clone().map(Watermark::new),
            watchers_told: String::new(),
            out: VecDeque::new(),
            ended: false,
            start,
        };
        core.watermark_due(now_us);
        core
    }

    /// The desktop's current size.
    pub fn size(&self) -> Size {
        self.tracker.size()
    }

    /// Sinks joined.
    pub fn sinks(&self) -> usize {
        self.sinks.len()
    }

    /// Whether the session is over.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The next action, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    pub(crate) fn emit(&mut self, output: Output) {
        self.out.push_back(output);
    }

    pub(crate) fn sink_mut(&mut self, id: SinkId) -> Option<&mut Sink> {
        self.sinks.iter_mut().find(|s| s.id == id)
    }

    /// A sink joins at `now_us`: it is sent HELLO (and what files it may
    /// move, and the pointer's shape), then the whole picture as soon as it
    /// can take a frame.
    pub fn add_sink(&mut self, spec: SinkSpec, now_us: u64) -> SinkId {
        let id = SinkId(self.next_sink);
        self.next_sink += 1;
        if let SinkKind::Viewer { label } = &spec.kind {
            self.note(Note::Joined {
                sink: id,
                label: label.clone(),
                control: spec.control,
                via: spec.watcher.as_ref().map(|w| w.via),
            });
        }
        let sink = Sink::new(id, spec, &self.settings, now_us);
        let hello = sink.hello(&self.start, self.size(), &self.settings);
        let files = self.start.files.then(|| sink.files()).flatten();
        self.sinks.push(sink);
        if self.ended {
            return id;
        }
        self.emit(Output::Send(id, hello.to_bytes()));
        if let Some(files) = files {
            self.emit(Output::Send(id, files.to_bytes()));
        }
        if let Some(cursor) = &self.cursor {
            let cursor = cursor.clone();
            self.emit(Output::Send(id, cursor));
        }
        self.tell_watchers_to(id);
        self.watchers_changed();
        id
    }

    /// A sink left (its viewer closed, or the shell gave up on it).
    pub fn remove_sink(&mut self, id: SinkId) {
        if self.detach(id) {
            self.watchers_changed();
        }
    }

    /// Takes the sink out (the event track hears it left); false if it was
    /// not there.
    pub(crate) fn detach(&mut self, id: SinkId) -> bool {
        let Some(at) = self.sinks.iter().position(|s| s.id == id) else {
            return false;
        };
        let sink = self.sinks.remove(at);
        if let SinkKind::Viewer { label } = sink.spec.kind {
            self.note(Note::Left { sink: id, label });
        }
        true
    }

    /// Closes a sink the shell cannot deliver to (it stopped reading).
    pub fn close_sink(&mut self, id: SinkId, error: SessionError) {
        if self.detach(id) {
            self.emit(Output::Close(id, error));
            self.watchers_changed();
        }
    }

    /// Anything the sink sent (a message, a pong) at `now_us`; `at_work`
    /// when it was the user at work (a file transfer message), which holds
    /// off the idle timeout like input does.
    pub fn heard(&mut self, id: SinkId, now_us: u64, at_work: bool) {
        let Some(sink) = self.sink_mut(id) else {
            return;
        };
        sink.last_heard_us = now_us;
        if at_work && sink.spec.control {
            self.last_input_us = now_us;
        }
    }

    fn end(&mut self, ending: Ending) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.job = None;
        self.out.clear();
        self.emit(Output::End(ending));
    }

    /// The target closed the session.
    pub fn target_closed(&mut self) {
        self.end(Ending::TargetClosed);
    }

    /// The target (or its adapter) failed.
    pub fn target_failed(&mut self, error: SessionError) {
        self.end(Ending::Failed(error));
    }

    /// The session cannot go on (e.g. its recording cannot be written).
    pub fn fail(&mut self, error: SessionError) {
        self.end(Ending::Failed(error));
    }

    /// Oriel failed (e.g. the encoder).
    pub fn internal_error(&mut self, detail: impl Into<String>) {
        self.end(Ending::Failed(SessionError::new(
            SessionErrorKind::Internal,
            detail,
        )));
    }

    fn broadcast(&mut self, msg: &ServerMessage) {
        let bytes = msg.to_bytes();
        let ids: Vec<SinkId> = self.sinks.iter().map(|s| s.id).collect();
        for id in ids {
            self.emit(Output::Send(id, bytes.clone()));
        }
    }

    /// The pointer's shape changed (the shell turned the target's shape into
    /// a PNG first).
    pub fn handle_cursor(&mut self, cursor: CursorImage) {
        if self.ended {
            return;
        }
        let msg = ServerMessage::Cursor(cursor);
        self.cursor = Some(msg.to_bytes());
        self.broadcast(&msg);
    }

    /// An event from the target at `now_us`. Cursor shapes go through
    /// [`handle_cursor`](Self::handle_cursor) instead.
    pub fn handle_target(&mut self, event: SessionEvent, now_us: u64) {
        if self.ended {
            return;
        }
        let drawn = match event {
            SessionEvent::Pixels { rect, layout, data } => {
                self.tracker.draw_pixels(rect, layout, &data, now_us)
            }
            SessionEvent::Fill { rect, rgb } => self.tracker.fill(rect, rgb, now_us),
            SessionEvent::Copy { src, dst } => self.tracker.copy(src, dst, now_us),
            SessionEvent::DesktopSize(size) => return self.resize(size, now_us),
            SessionEvent::Clipboard(text) => return self.clipboard_down(text),
            SessionEvent::Bell => return self.broadcast(&ServerMessage::Bell),
            SessionEvent::Cursor(_) => return,
            SessionEvent::TerminalOutput(bytes) => return self.note(Note::TerminalOutput(bytes)),
            SessionEvent::TerminalGrid { cols, rows } => {
                return self.note(Note::TerminalGrid { cols, rows });
            }
            SessionEvent::UpdateEnd => {
                self.marks_updates = true;
                self.update_complete = self.pending_since_us.is_some();
                return;
            }
        };
        match drawn {
            Ok(()) => {
                self.pending_since_us.get_or_insert(now_us);
                // Part of the next update: wait for its end.
                self.update_complete = false;
            }
            Err(e) => self.target_failed(SessionError::new(
                SessionErrorKind::TargetProtocol,
                e.to_string(),
            )),
        }
    }

    fn resize(&mut self, size: Size, now_us: u64) {
        if let Err(e) = oriel_core_model::validate_size(size) {
            return self.target_failed(e);
        }
        self.tracker.resize(size, now_us);
        // A job for the old size is dropped, never sent; every sink clears
        // to black, which is what the tracker now holds: all are in step.
        self.job = None;
        self.pending_since_us = None;
        for sink in &mut self.sinks {
            sink.backlog.clear();
            sink.picture = Picture::InStep;
        }
        self.broadcast(&ServerMessage::DesktopSize(size));
        self.note(Note::Resize(size));
    }

    fn clipboard_down(&mut self, text: String) {
        let mut decisions = Vec::with_capacity(self.sinks.len());
        for sink in self.sinks.iter().filter(|s| !s.is_recorder()) {
            decisions.push((sink.id, sink.spec.policy.allows_clipboard_down(text.len())));
        }
        if let Some(&(_, decision)) = decisions.first() {
            self.note(Note::Clipboard {
                up: false,
                bytes: text.len(),
                decision,
            });
        }
        let msg = ServerMessage::Clipboard(ClipboardText(text)).to_bytes();
        for (id, decision) in decisions {
            self.emit(Output::Observe(Observation::Clipboard {
                up: false,
                decision,
            }));
            if decision == ClipboardDecision::Allowed {
                self.emit(Output::Send(id, msg.clone()));
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to be called
    /// next, Unix µs; `None`: not before another event.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.ended {
            return None;
        }
        let mut next: Option<u64> = None;
        let mut at = |t: u64| next = Some(next.map_or(t, |n| n.min(t)));
        for sink in &self.sinks {
            if sink.is_recorder() {
                at(sink.next_keyframe_us);
            } else {
                at(sink.next_ping_us);
                at(sink.last_heard_us.saturating_add(self.settings.silence_us));
            }
        }
        if let Some(idle) = self.idle_timeout_us() {
            at(self.last_input_us.saturating_add(idle));
        }
        if let Some(deadline) = self.deadline_us() {
            at(deadline);
        }
        if let Some(change) = self.watermark.as_ref().and_then(Watermark::next_change) {
            at(change);
        }
        if self.job.is_none() && self.sinks.iter().any(|s| s.can_take_frame()) {
            if let Some(since) = self.pending_since_us {
                at(since.saturating_add(self.frame_wait_us()));
            }
            if let Some(refresh) = self.tracker.next_refresh_at() {
                at(refresh);
            }
        }
        next
    }

    /// The strictest idle timeout of the sinks that control the session, µs.
    fn idle_timeout_us(&self) -> Option<u64> {
        self.sinks
            .iter()
            .filter(|s| s.spec.control && s.spec.policy.idle_timeout_secs > 0)
            .map(|s| u64::from(s.spec.policy.idle_timeout_secs) * 1_000_000)
            .min()
    }

    /// The session's end, Unix µs: the earliest its sinks' tokens name.
    fn deadline_us(&self) -> Option<u64> {
        self.sinks.iter().filter_map(|s| s.spec.deadline_us).min()
    }

    /// Time passed: deadlines, silent sinks, pings, a lossless refresh due.
    pub fn handle_timeout(&mut self, now_us: u64) {
        if self.ended {
            return;
        }
        if self.deadline_us().is_some_and(|d| now_us >= d) {
            return self.end(Ending::Failed(SessionError::new(
                SessionErrorKind::SessionExpired,
                "the session reached its maximum length",
            )));
        }
        if self
            .idle_timeout_us()
            .is_some_and(|idle| now_us >= self.last_input_us.saturating_add(idle))
        {
            return self.end(Ending::Failed(SessionError::new(
                SessionErrorKind::IdleTimeout,
                "no input from the viewer for longer than the policy allows",
            )));
        }
        let silence = self.settings.silence_us;
        let silent: Vec<SinkId> = self
            .sinks
            .iter()
            .filter(|s| !s.is_recorder() && now_us >= s.last_heard_us.saturating_add(silence))
            .map(|s| s.id)
            .collect();
        for id in silent {
            self.close_sink(
                id,
                SessionError::new(
                    SessionErrorKind::ClientTimeout,
                    "the viewer stopped answering",
                ),
            );
        }
        self.watermark_due(now_us);
        self.recorder_keyframes_due(now_us);
        let every = self.settings.ping_every_us;
        let mut pings = Vec::new();
        for sink in self.sinks.iter_mut().filter(|s| !s.is_recorder()) {
            if now_us >= sink.next_ping_us {
                sink.next_ping_us = now_us.saturating_add(every);
                pings.push(sink.id);
            }
        }
        for id in pings {
            self.emit(Output::Ping(id));
        }
        // A due refresh is planned like a change that waited long enough.
        if self.pending_since_us.is_none()
            && self.tracker.next_refresh_at().is_some_and(|t| t <= now_us)
        {
            self.frame_due_now(now_us);
        }
    }
}
