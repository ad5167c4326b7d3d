//! The session core without sockets or a clock: time is a number, encoding
//! is a plain conversion of the plan (the encoders are tested on their own),
//! and every output is looked at.

use super::*;
use oriel_core_model::{PixelLayout, Rect, SessionErrorKind, SessionEvent, Size};
use oriel_core_token::{ClipboardDecision, Policy};
use oriel_core_wire::{ClientMessage, Codec, FrameOp, NoticeKind, ServerMessage, caps};
use oriel_encoders_damage::{FramePlan, TileContent};

const SIZE: Size = Size::new(256, 128);
const MS: u64 = 1000;
const S: u64 = 1_000_000;

/// A core and what came out of it.
struct Harness {
    core: SessionCore,
    now: u64,
    outputs: Vec<Output>,
}

fn policy() -> Policy {
    Policy {
        clipboard_up: true,
        clipboard_down: true,
        ..Policy::default()
    }
}

fn spec() -> SinkSpec {
    SinkSpec {
        capabilities: 0,
        policy: policy(),
        control: true,
        deadline_us: None,
        kind: SinkKind::Viewer {
            label: "alice from 192.0.2.7".into(),
        },
        watcher: None,
    }
}

/// The plan as operations, as an encoder would order them.
fn encode(plan: Option<FramePlan>) -> Option<Encoded> {
    let plan = plan?;
    let mut ops: Vec<FrameOp> = plan
        .copies
        .iter()
        .map(|&(src, dst)| FrameOp::Copy { src, dst })
        .collect();
    let mut lossy_px = 0;
    for t in plan.tiles {
        ops.push(match t.content {
            TileContent::Solid(rgb) => FrameOp::Fill { rect: t.rect, rgb },
            TileContent::Lossless(rgb) => FrameOp::Image {
                rect: t.rect,
                codec: Codec::Png,
                data: rgb,
            },
            TileContent::Lossy { rgb, .. } => {
                lossy_px += u64::from(t.rect.area());
                FrameOp::Image {
                    rect: t.rect,
                    codec: Codec::Jpeg,
                    data: rgb,
                }
            }
        });
    }
    Some(Encoded {
        ops,
        lossy_px,
        lossy_us: 100,
    })
}

impl Harness {
    fn new() -> Self {
        Self::with(CoreSettings::default())
    }

    fn with(settings: CoreSettings) -> Self {
        let start = SessionStart {
            session_id: "s-1".into(),
            name: "desk".into(),
            size: SIZE,
            files: false,
            watermark: None,
        };
        Harness {
            core: SessionCore::new(settings, start, 1_000 * S),
            now: 1_000 * S,
            outputs: Vec::new(),
        }
    }

    fn collect(&mut self) -> Vec<Output> {
        while let Some(o) = self.core.poll_output() {
            self.outputs.push(o);
        }
        std::mem::take(&mut self.outputs)
    }

    fn join(&mut self, spec: SinkSpec) -> SinkId {
        let id = self.core.add_sink(spec, self.now);
        self.step(true);
        id
    }

    /// Schedules with the target quiet, runs any encode job at once, and
    /// returns everything that came out.
    fn step(&mut self, quiet: bool) -> Vec<Output> {
        self.core.schedule(self.now, quiet);
        let mut all = Vec::new();
        loop {
            let outs = self.collect();
            let mut job = None;
            for o in outs {
                match o {
                    Output::Encode(j) => job = Some(j),
                    other => all.push(other),
                }
            }
            let Some(job) = job else {
                return all;
            };
            let result = EncodedJob {
                frame: encode(job.frame),
                keyframe: encode(job.keyframe),
            };
            self.core.handle_encoded(job.id, result, self.now);
        }
    }

    fn paint(&mut self, rect: Rect, rgb: [u8; 3]) {
        self.now += MS;
        self.core
            .handle_target(SessionEvent::Fill { rect, rgb }, self.now);
    }

    fn noise(&mut self, rect: Rect, seed: u8) {
        self.now += MS;
        let data = (0..rect.area() as usize * 3)
            .map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed))
            .collect();
        self.core.handle_target(
            SessionEvent::Pixels {
                rect,
                layout: PixelLayout::Rgb24,
                data,
            },
            self.now,
        );
    }

    fn ack(&mut self, sink: SinkId, frame_id: u32) -> Vec<Output> {
        self.now += MS;
        self.core
            .handle_viewer(sink, ClientMessage::Ack { frame_id }, self.now);
        self.step(true)
    }

    fn viewer(&mut self, sink: SinkId, msg: ClientMessage) -> Vec<Output> {
        self.now += MS;
        self.core.handle_viewer(sink, msg, self.now);
        self.step(true)
    }
}

/// The messages sent to `sink`, decoded.
fn sent(outputs: &[Output], sink: SinkId) -> Vec<ServerMessage> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send(to, bytes) | Output::SendKeyframe(to, bytes) if *to == sink => {
                Some(ServerMessage::decode(bytes).unwrap())
            }
            _ => None,
        })
        .collect()
}

/// The ids of the frames sent to `sink`.
fn frames(outputs: &[Output], sink: SinkId) -> Vec<u32> {
    sent(outputs, sink)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::Frame(f) => Some(f.id),
            _ => None,
        })
        .collect()
}

fn inputs(outputs: &[Output]) -> Vec<InputEventKind> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Input(i) => Some(InputEventKind::of(i)),
            _ => None,
        })
        .collect()
}

#[derive(Debug, PartialEq, Eq)]
enum InputEventKind {
    Key,
    Pointer,
    Clipboard(String),
    Resize,
    Other,
}

impl InputEventKind {
    fn of(i: &oriel_core_model::InputEvent) -> Self {
        use oriel_core_model::InputEvent as I;
        match i {
            I::Key { .. } => InputEventKind::Key,
            I::Pointer { .. } => InputEventKind::Pointer,
            I::Clipboard(t) => InputEventKind::Clipboard(t.clone()),
            I::Resize(_) => InputEventKind::Resize,
            _ => InputEventKind::Other,
        }
    }
}

fn ended(outputs: &[Output]) -> Option<Ending> {
    outputs.iter().find_map(|o| match o {
        Output::End(e) => Some(e.clone()),
        _ => None,
    })
}

fn closed(outputs: &[Output], sink: SinkId) -> Option<SessionErrorKind> {
    outputs.iter().find_map(|o| match o {
        Output::Close(to, e) if *to == sink => Some(e.kind),
        _ => None,
    })
}

mod frames;
mod policy;
mod recorder;
mod timers;
mod watchers;
mod watermark;
