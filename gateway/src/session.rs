//! The session runtime: the async shell around one session's
//! [`SessionCore`](oriel_core_stream::SessionCore).
//!
//! A session has one task, started by its first viewer once the target is
//! connected ([`upstream`]), and ended when its last sink leaves, the
//! target goes away or a deadline passes. The task owns the target's
//! channels and the core; it feeds the core with what arrives (sinks
//! joining, viewer messages, target events, finished encode jobs, time) and
//! carries out what comes out: messages to sinks (never waiting on one),
//! input to the target, encode jobs on the process's shared pool.
//!
//! Sinks talk to the task through its [`SessionHandle`]: they join with a
//! channel for their messages and a one-shot that tells them how they
//! ended; they pass on what their viewer sends and say when they leave.

pub(crate) mod upstream;

use crate::metrics::GatewayMetrics;
use crate::sinks::recorder::{RECORDER_QUEUE, Recorder, RecorderItem};
use crate::sinks::{Ending as SinkEnding, Outgoing};
use crate::{Clock, Gateway};
use oriel_core_model::{SessionError, SessionErrorKind, SessionEvent};
use oriel_core_stream::{
    EncodeJob, Encoded, EncodedJob, Ending, JobId, Observation, Output, SessionCore, SinkId,
    SinkSpec,
};
use oriel_core_token::ClipboardDecision;
use oriel_core_wire::{ClientMessage, CursorImage};
use oriel_encoders_codecs::{CodecError, EncodePool, EncodedFrame, encode_cursor};
use oriel_protocols_session::{FileTransfer, RemoteSession};
use serde_json::json;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::time::sleep_until;
use tracing::{Instrument as _, debug, info};

/// Messages waiting for the session's task.
const INBOX: usize = 256;
/// Largest cursor shape forwarded (browsers ignore bigger CSS cursors).
const MAX_CURSOR: u16 = 256;

/// How a sink's part in the session ended.
pub(crate) type SinkEnd = Result<SinkEnding, SessionError>;

/// A sink asking to join.
pub(crate) struct Join {
    pub(crate) spec: SinkSpec,
    /// Where its messages go.
    pub(crate) out: mpsc::Sender<Outgoing>,
    /// Its id, once joined.
    pub(crate) joined: oneshot::Sender<SinkId>,
    /// How it ended, when the session ends it (not when it leaves itself).
    pub(crate) ended: oneshot::Sender<SinkEnd>,
}

/// What sinks tell the session's task.
pub(crate) enum Inbound {
    Join(Join),
    /// A message from the sink's viewer.
    Viewer(SinkId, ClientMessage),
    /// The sink heard from its viewer (`true`: the user at work, e.g. a
    /// file transfer) without a message for the core.
    Heard(SinkId, bool),
    /// The sink is gone, and why (`client_closed`, `ended`, an error kind).
    Leave(SinkId, &'static str),
    /// The recording cannot be written: the session ends (fail closed).
    RecorderFailed(SessionError),
    /// A viewer's file transfer ended (for the recording's event track).
    File(crate::sinks::files::FileNote),
    /// Hand a share link's control over or take it back; answers how many
    /// viewers changed.
    LinkControl {
        link: String,
        control: bool,
        changed: oneshot::Sender<usize>,
    },
}

/// A way into a running session.
#[derive(Clone)]
pub(crate) struct SessionHandle {
    inbox: mpsc::Sender<Inbound>,
    /// File transfer, when the target offers it.
    pub(crate) files: Option<Arc<dyn FileTransfer>>,
    /// The target's identity (first-use pinning), for reports.
    pub(crate) identity: Option<String>,
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("running", &!self.inbox.is_closed())
            .finish_non_exhaustive()
    }
}

impl SessionHandle {
    /// Whether the session's task has stopped.
    pub(crate) fn is_closed(&self) -> bool {
        self.inbox.is_closed()
    }

    /// Joins the session; `None` when it has ended meanwhile.
    pub(crate) async fn join(
        &self,
        spec: SinkSpec,
        out: mpsc::Sender<Outgoing>,
    ) -> Option<(SinkId, oneshot::Receiver<SinkEnd>)> {
        let (joined, joined_rx) = oneshot::channel();
        let (ended, ended_rx) = oneshot::channel();
        let join = Join {
            spec,
            out,
            joined,
            ended,
        };
        self.inbox.send(Inbound::Join(join)).await.ok()?;
        let id = joined_rx.await.ok()?;
        Some((id, ended_rx))
    }

    /// Where a viewer's file service tells its transfers' outcomes.
    pub(crate) fn file_notes(&self) -> crate::sinks::files::FileNotes {
        let inbox = self.inbox.clone();
        Arc::new(move |event| {
            let _ = inbox.try_send(Inbound::File(event));
        })
    }

    /// Passes something to the session's task; false when it has stopped.
    pub(crate) async fn tell(&self, msg: Inbound) -> bool {
        self.inbox.send(msg).await.is_ok()
    }
}

type EncodeResult = (JobId, Result<EncodedJob, CodecError>);
type Encoding = Pin<Box<dyn Future<Output = EncodeResult> + Send>>;

/// A sink as the task knows it.
struct SinkIo {
    out: SinkOut,
    ended: Option<oneshot::Sender<SinkEnd>>,
}

/// Where a sink's items go.
enum SinkOut {
    Viewer(mpsc::Sender<Outgoing>),
    Recorder(mpsc::Sender<RecorderItem>),
}

impl SessionTask {
    /// Viewers joined (the recorder does not keep a session alive).
    fn viewers(&self) -> usize {
        self.sinks
            .values()
            .filter(|s| matches!(s.out, SinkOut::Viewer(_)))
            .count()
    }
}

/// Starts a session's task on a connected target, with its first sink.
pub(crate) fn start(
    gw: &Arc<Gateway>,
    core: SessionCore,
    clock: Clock,
    remote: RemoteSession,
    first: Join,
    recorder: Option<(Recorder, SinkSpec)>,
) -> SessionHandle {
    let (inbox, inbox_rx) = mpsc::channel(INBOX);
    let handle = SessionHandle {
        inbox,
        files: remote.files.clone(),
        identity: remote.info.identity.clone(),
    };
    let mut task = SessionTask {
        core,
        clock,
        pool: gw.pool.clone(),
        metrics: gw.metrics.clone(),
        sinks: HashMap::new(),
        encoding: None,
        remote,
        last_leave: "client_closed",
    };
    if let Some((recorder, spec)) = recorder {
        // The recorder joins before anyone sees a picture.
        let id = task.core.add_sink(spec, task.clock.now_us());
        let (tx, rx) = mpsc::channel(RECORDER_QUEUE);
        task.sinks.insert(
            id,
            SinkIo {
                out: SinkOut::Recorder(tx),
                ended: None,
            },
        );
        let every = gw.settings.recordings.checkpoint_every;
        let handover = Arc::clone(&gw.settings.recordings.handover);
        tokio::spawn(
            recorder
                .run(id, rx, handle.inbox.clone(), every, handover)
                .in_current_span(),
        );
    }
    tokio::spawn(task.run(inbox_rx, first).in_current_span());
    handle
}

struct SessionTask {
    core: SessionCore,
    clock: Clock,
    pool: EncodePool,
    metrics: GatewayMetrics,
    sinks: HashMap<SinkId, SinkIo>,
    encoding: Option<Encoding>,
    remote: RemoteSession,
    /// Why the last viewer to leave left.
    last_leave: &'static str,
}

enum Wake {
    Inbound(Option<Inbound>),
    Encoded(EncodeResult),
    Target(Option<Result<SessionEvent, SessionError>>),
    Timer,
}

impl SessionTask {
    async fn run(mut self, mut inbox: mpsc::Receiver<Inbound>, first: Join) {
        self.metrics.upstreams_active.inc();
        self.join(first);
        loop {
            self.core
                .schedule(self.clock.now_us(), self.remote.events.is_empty());
            self.carry_out().await;
            if self.core.is_ended() || self.viewers() == 0 {
                break;
            }
            let timer = self.core.poll_timeout().map(|t| self.clock.instant(t));
            let wake = tokio::select! {
                msg = inbox.recv() => Wake::Inbound(msg),
                done = async { self.encoding.as_mut().expect("guarded by the select condition").await },
                    if self.encoding.is_some() => Wake::Encoded(done),
                ev = self.remote.events.recv() => Wake::Target(ev),
                () = async { sleep_until(timer.expect("guarded by the select condition")).await },
                    if timer.is_some() => Wake::Timer,
            };
            let now = self.clock.now_us();
            match wake {
                // Every handle is gone: nobody can join or leave any more.
                Wake::Inbound(None) => break,
                Wake::Inbound(Some(msg)) => self.inbound(msg, now),
                Wake::Encoded((id, result)) => {
                    self.encoding = None;
                    match result {
                        Ok(job) => self.core.handle_encoded(id, job, now),
                        Err(e) => self.core.internal_error(e.to_string()),
                    }
                }
                Wake::Target(None) => self.core.target_closed(),
                Wake::Target(Some(Err(e))) => self.core.target_failed(e),
                Wake::Target(Some(Ok(ev))) => self.target(ev, now),
                Wake::Timer => self.core.handle_timeout(now),
            }
        }
        // The recorder (if any) writes the end; late joins are refused
        // (their viewers connect a new session).
        if !self.core.is_ended() {
            // How the last viewer left: `ended` by the control plane, or closed.
            self.end_recording(json!({"reason": self.last_leave}));
        }
        inbox.close();
        while inbox.try_recv().is_ok() {}
        self.metrics.upstreams_active.dec();
        debug!("session task ended");
    }

    fn join(&mut self, join: Join) {
        let id = self.core.add_sink(join.spec, self.clock.now_us());
        if join.joined.send(id).is_err() {
            // It gave up waiting.
            self.core.remove_sink(id);
            return;
        }
        self.sinks.insert(
            id,
            SinkIo {
                out: SinkOut::Viewer(join.out),
                ended: Some(join.ended),
            },
        );
        info!(sink = id.get(), viewers = self.viewers(), "viewer joined");
    }

    fn inbound(&mut self, msg: Inbound, now: u64) {
        match msg {
            Inbound::Join(join) => self.join(join),
            Inbound::Viewer(id, msg) => self.core.handle_viewer(id, msg, now),
            Inbound::Heard(id, at_work) => self.core.heard(id, now, at_work),
            Inbound::Leave(id, why) => {
                self.core.remove_sink(id);
                if self.sinks.remove(&id).is_some() {
                    info!(
                        sink = id.get(),
                        viewers = self.viewers(),
                        why,
                        "viewer left"
                    );
                    self.last_leave = why;
                }
            }
            Inbound::RecorderFailed(e) => self.core.fail(e),
            Inbound::LinkControl {
                link,
                control,
                changed,
            } => {
                let n = self.core.set_link_control(&link, control);
                info!(link, control, viewers = n, "share link control changed");
                let _ = changed.send(n);
            }
            Inbound::File(event) => {
                for sink in self.sinks.values() {
                    if let SinkOut::Recorder(tx) = &sink.out {
                        let _ = tx.try_send(RecorderItem::File(event.clone()));
                    }
                }
            }
        }
    }

    fn target(&mut self, ev: SessionEvent, now: u64) {
        let SessionEvent::Cursor(shape) = ev else {
            return self.core.handle_target(ev, now);
        };
        if shape.size.width > MAX_CURSOR || shape.size.height > MAX_CURSOR {
            debug!(?shape.size, "cursor too large, ignored");
            return;
        }
        match encode_cursor(&shape) {
            Ok(png) => {
                let hidden = png.is_empty();
                self.core.handle_cursor(CursorImage {
                    hotspot: shape.hotspot,
                    size: if hidden {
                        oriel_core_model::Size::new(0, 0)
                    } else {
                        shape.size
                    },
                    png,
                });
            }
            Err(e) => self.core.target_failed(SessionError::new(
                SessionErrorKind::TargetProtocol,
                e.to_string(),
            )),
        }
    }

    /// Does what the core asks, until it asks nothing more.
    async fn carry_out(&mut self) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Send(id, bytes) => self.send(id, bytes, false),
                Output::SendKeyframe(id, bytes) => self.send(id, bytes, true),
                Output::Note(note) => {
                    let recorders: Vec<SinkId> = self
                        .sinks
                        .iter()
                        .filter(|(_, s)| matches!(s.out, SinkOut::Recorder(_)))
                        .map(|(id, _)| *id)
                        .collect();
                    for id in recorders {
                        self.record(id, RecorderItem::Note(note.clone()));
                    }
                }
                Output::Ping(id) => self.ping(id),
                // A closed input channel means the adapter is gone; its
                // error arrives on the events channel.
                Output::Input(ev) => {
                    let _ = self.remote.input.send(ev).await;
                }
                Output::Encode(job) => self.encoding = Some(self.encode(job)),
                Output::Close(id, error) => {
                    if let Some(mut sink) = self.sinks.remove(&id)
                        && let Some(ended) = sink.ended.take()
                    {
                        let _ = ended.send(Err(error));
                    }
                }
                Output::End(ending) => {
                    self.encoding = None;
                    let end = match ending {
                        Ending::TargetClosed => Ok(SinkEnding::TargetClosed),
                        Ending::Failed(e) => Err(e),
                    };
                    self.end_recording(match &end {
                        Ok(_) => json!({"reason": "target_closed"}),
                        Err(e) => json!({"reason": e.kind.as_str(), "class": e.class().as_str()}),
                    });
                    for (_, mut sink) in self.sinks.drain() {
                        if let Some(ended) = sink.ended.take() {
                            let _ = ended.send(end.clone());
                        }
                    }
                }
                Output::Observe(o) => self.observe(o),
                Output::Watermark(text) => {
                    let style = oriel_encoders_watermark::Style {
                        opacity: f32::from(text.opacity) / 100.0,
                        angle_deg: f32::from(text.angle),
                        ..Default::default()
                    };
                    match oriel_encoders_watermark::render(&text.lines, style) {
                        Ok(pattern) => self
                            .core
                            .set_watermark(Arc::new(pattern), self.clock.now_us()),
                        // Fail closed: no picture without the mark.
                        Err(e) => self.core.internal_error(format!("watermark: {e}")),
                    }
                }
            }
        }
    }

    /// Queues a message for a sink without waiting: a viewer that has no
    /// room is not reading and is closed; a recorder that has none cannot
    /// keep up, and the session ends (fail closed); a sink whose writer is
    /// gone has left.
    /// Hands `item` to recorder `id`. Fail closed either way: not one frame
    /// or event more goes by unrecorded. A recorder that stopped did so
    /// because a write failed (its own message, with the cause, is on its
    /// way to the log; the viewers are told the same).
    fn record(&mut self, id: SinkId, item: RecorderItem) {
        let Some(SinkOut::Recorder(tx)) = self.sinks.get(&id).map(|s| &s.out) else {
            return;
        };
        match tx.try_send(item) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.core.fail(SessionError::new(
                SessionErrorKind::FeatureUnavailable,
                "the session recording cannot keep up",
            )),
            Err(mpsc::error::TrySendError::Closed(_)) => self.core.fail(SessionError::new(
                SessionErrorKind::FeatureUnavailable,
                "the session recording cannot be written",
            )),
        }
    }

    fn send(&mut self, id: SinkId, bytes: Vec<u8>, keyframe: bool) {
        let Some(sink) = self.sinks.get(&id) else {
            return;
        };
        let sent = match &sink.out {
            SinkOut::Viewer(tx) => tx.try_send(Outgoing::Message(bytes)).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => true,
                mpsc::error::TrySendError::Closed(_) => false,
            }),
            SinkOut::Recorder(_) => {
                return self.record(id, RecorderItem::Message { bytes, keyframe });
            }
        };
        match sent {
            Ok(()) => {}
            Err(true) => self.core.close_sink(
                id,
                SessionError::new(
                    SessionErrorKind::ClientTimeout,
                    "the viewer is not taking the messages sent to it",
                ),
            ),
            Err(false) => {
                self.core.remove_sink(id);
                self.sinks.remove(&id);
            }
        }
    }

    fn ping(&mut self, id: SinkId) {
        if let Some(SinkIo {
            out: SinkOut::Viewer(tx),
            ..
        }) = self.sinks.get(&id)
        {
            let _ = tx.try_send(Outgoing::Ping);
        }
    }

    /// Tells the recorder (if any) how the session ended; it writes the
    /// END and a last checkpoint, then stops.
    fn end_recording(&mut self, end: serde_json::Value) {
        for sink in self.sinks.values() {
            if let SinkOut::Recorder(tx) = &sink.out {
                let _ = tx.try_send(RecorderItem::End(end.clone()));
            }
        }
        self.sinks
            .retain(|_, s| matches!(s.out, SinkOut::Viewer(_)));
    }

    fn encode(&self, job: EncodeJob) -> Encoding {
        let pool = self.pool.clone();
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let EncodeJob {
                id,
                codec,
                frame,
                keyframe,
            } = job;
            let run = |plan: Option<_>| {
                let pool = pool.clone();
                async move {
                    match plan {
                        Some(plan) => pool.encode_plan(plan, codec).await.map(Some),
                        None => Ok(None),
                    }
                }
            };
            let (frame, keyframe) = futures_util::future::join(run(frame), run(keyframe)).await;
            let result = frame.and_then(|frame| {
                Ok(EncodedJob {
                    frame: frame.map(|f| encoded(&metrics, f)),
                    keyframe: keyframe?.map(|f| encoded(&metrics, f)),
                })
            });
            (id, result)
        })
    }

    fn observe(&self, o: Observation) {
        let m = &self.metrics;
        match o {
            Observation::FrameSent { keyframe } => {
                m.frames_sent.inc();
                if keyframe {
                    m.keyframes.inc();
                }
            }
            Observation::FrameAcked { damage_to_ack_us } => m
                .frame_latency_seconds
                .observe(damage_to_ack_us as f64 / 1e6),
            Observation::Clipboard { up, decision } => {
                let label = match decision {
                    ClipboardDecision::Allowed => "allowed",
                    ClipboardDecision::Denied => "denied",
                    ClipboardDecision::TooLarge => "too_large",
                };
                let direction = if up { "up" } else { "down" };
                m.clipboard.with_label_values(&[direction, label]).inc();
            }
            Observation::FellBehind => m.sinks_behind.inc(),
            Observation::InputRefused => m.input_refused.inc(),
        }
    }
}

/// An encoded frame for the core, counted in the metrics.
fn encoded(m: &GatewayMetrics, frame: EncodedFrame) -> Encoded {
    let s = &frame.stats;
    m.encode_seconds.observe(s.wall_us as f64 / 1e6);
    for (label, n) in [
        ("fill", s.fills),
        ("png", s.png.0),
        ("jpeg", s.jpeg.0),
        ("webp", s.webp.0),
    ] {
        m.tiles.with_label_values(&[label]).inc_by(u64::from(n));
    }
    Encoded {
        lossy_px: s.lossy.0,
        lossy_us: s.lossy.1,
        ops: frame.ops,
    }
}
