//! One sink's state: its acknowledgement window, the frames waiting for
//! room in it, whether its picture is in step with the session's, and when
//! it was last heard from.

use crate::recorder::SinkKind;
use crate::session::{CoreSettings, SessionStart, SinkId, SinkSpec};
use oriel_core_model::Size;
use oriel_core_wire::{
    FilePolicy, FlowControl, FrameBytes, ServerHello, ServerMessage, VERSION, caps, policy_bits,
};
use std::collections::VecDeque;
use std::sync::Arc;

/// Whether a sink holds the picture the session's frames apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Picture {
    /// It applied every frame: it takes the next one.
    InStep,
    /// It missed frames, or starts black (`from_black`: a new connection):
    /// it takes no frame until a keyframe.
    Behind {
        /// It holds a black desktop (black tiles need not be sent).
        from_black: bool,
    },
    /// Its keyframe is being encoded.
    KeyframeComing,
}

#[derive(Debug)]
pub(crate) struct Sink {
    pub(crate) id: SinkId,
    pub(crate) spec: SinkSpec,
    pub(crate) flow: FlowControl,
    /// Frames for it that its window had no room for, oldest first.
    pub(crate) backlog: VecDeque<Arc<FrameBytes>>,
    pub(crate) picture: Picture,
    pub(crate) last_heard_us: u64,
    pub(crate) next_ping_us: u64,
    /// A recorder's next periodic keyframe.
    pub(crate) next_keyframe_us: u64,
}

impl Sink {
    pub(crate) fn new(id: SinkId, spec: SinkSpec, settings: &CoreSettings, now_us: u64) -> Self {
        Sink {
            id,
            flow: FlowControl::new(settings.max_frames_in_flight),
            backlog: VecDeque::new(),
            picture: Picture::Behind { from_black: true },
            next_keyframe_us: match spec.kind {
                SinkKind::Recorder {
                    keyframe_every_us, ..
                } => now_us.saturating_add(keyframe_every_us),
                SinkKind::Viewer { .. } => u64::MAX,
            },
            spec,
            last_heard_us: now_us,
            next_ping_us: now_us.saturating_add(settings.ping_every_us),
        }
    }

    pub(crate) fn is_recorder(&self) -> bool {
        matches!(self.spec.kind, SinkKind::Recorder { .. })
    }

    /// Whether a frame planned now would be sent to it at once.
    pub(crate) fn can_take_frame(&self) -> bool {
        self.flow.can_send() && self.backlog.is_empty()
    }

    pub(crate) fn backlog_bytes(&self) -> usize {
        self.backlog.iter().map(|f| f.len()).sum()
    }

    /// The frame's message under this sink's next frame id.
    pub(crate) fn send_frame(&mut self, frame: &FrameBytes, now_us: u64) -> Vec<u8> {
        let id = self.flow.on_send(now_us, frame.damage_time_us());
        frame.message(id)
    }

    /// The gateway's HELLO for this sink.
    pub(crate) fn hello(
        &self,
        start: &SessionStart,
        size: Size,
        settings: &CoreSettings,
    ) -> ServerMessage {
        let p = &self.spec.policy;
        let mut policy = 0;
        if p.clipboard_up && self.spec.control {
            policy |= policy_bits::CLIPBOARD_UP;
        }
        if p.clipboard_down {
            policy |= policy_bits::CLIPBOARD_DOWN;
        }
        if !self.spec.control {
            policy |= policy_bits::VIEW_ONLY;
        }
        // WebP may be sent only when the settings allow it at all.
        let mut capabilities = self.spec.capabilities & caps::ALL;
        if settings.lossy_codec.chooser().is_none() {
            capabilities &= !caps::WEBP;
        }
        ServerMessage::Hello(ServerHello {
            version: VERSION,
            capabilities,
            size,
            max_frames_in_flight: settings.max_frames_in_flight.max(1),
            policy,
            clipboard_max_bytes: p.clipboard_max_bytes,
            name: start.name.clone(),
            session_id: start.session_id.clone(),
        })
    }

    /// The FILES message announcing what this sink may move, when its policy
    /// allows a direction (the target can move files).
    pub(crate) fn files(&self) -> Option<ServerMessage> {
        let p = &self.spec.policy;
        let (upload, download) = crate::files::directions(p, self.spec.control);
        (upload || download).then_some(ServerMessage::Files(FilePolicy {
            upload,
            download,
            upload_max_bytes: p.upload_max_bytes,
            download_max_bytes: p.download_max_bytes,
        }))
    }
}
