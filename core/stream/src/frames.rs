//! Frame scheduling: when the session plans a frame (and keyframes for the
//! sinks that need one), which codec its lossy tiles take, and how encoded
//! frames reach each sink's window or backlog.

use crate::session::{EncodeJob, EncodedJob, Job, JobId, Observation, Output, SessionCore, SinkId};
use crate::sink::{Picture, Sink};
use oriel_core_wire::{Codec, FrameBytes, caps};
use oriel_encoders_damage::{FramePlan, TileContent};
use std::sync::Arc;

impl SessionCore {
    /// Starts an encode job when one is due: a frame when a sink in step
    /// can take it and the target paused (`target_quiet`) or the coalescing
    /// deadline passed; a keyframe as soon as a sink that needs one has room
    /// (with the frame, since a keyframe is only valid right after one).
    /// Call after every batch of events.
    pub fn schedule(&mut self, now_us: u64, target_quiet: bool) {
        if self.ended || self.job.is_some() {
            return;
        }
        if self.watermark.as_ref().is_some_and(|w| !w.ready) {
            // Nothing leaves without the mark.
            return;
        }
        let wants_keyframe: Vec<(SinkId, bool)> = self
            .sinks
            .iter()
            .filter(|s| s.flow.can_send())
            .filter_map(|s| match s.picture {
                Picture::Behind { from_black } => Some((s.id, from_black)),
                _ => None,
            })
            .collect();
        // Viewers set the pace: a recorder (which takes every frame at
        // once) joins the frames they are sent, and paces them only when
        // no viewer is in step; otherwise recording would raise the frame
        // rate and the cost of everything downstream.
        let in_step = |s: &&Sink| s.picture == Picture::InStep;
        let viewers_in_step = self.sinks.iter().filter(in_step).any(|s| !s.is_recorder());
        // One whole update of the target a frame: at the end of the update
        // where the target marks it, else when it pauses; at the latest
        // after a bounded wait.
        let update_ready = if self.marks_updates {
            self.update_complete
        } else {
            target_quiet
        };
        let frame_due = self.pending_since_us.is_some_and(|since| {
            update_ready || now_us >= since.saturating_add(self.frame_wait_us())
        }) && self
            .sinks
            .iter()
            .filter(in_step)
            .filter(|s| !(viewers_in_step && s.is_recorder()))
            .any(Sink::can_take_frame);
        if wants_keyframe.is_empty() && !frame_due {
            return;
        }
        self.pending_since_us = None;
        self.update_complete = false;
        let (frame, keyframe) = if wants_keyframe.is_empty() {
            (self.tracker.plan(now_us), None)
        } else {
            let from_black = wants_keyframe.iter().all(|&(_, black)| black);
            self.tracker.plan_with_keyframe(now_us, from_black)
        };
        let frame_to: Vec<SinkId> = self
            .sinks
            .iter()
            .filter(|s| s.picture == Picture::InStep)
            .map(|s| s.id)
            .collect();
        let keyframe_to: Vec<SinkId> = wants_keyframe.iter().map(|&(id, _)| id).collect();
        // Nobody in step: the frame only moves the model on.
        let frame = frame.filter(|_| !frame_to.is_empty());
        if keyframe.is_none() {
            // Nothing but black to show: the joining sinks are in step.
            for id in &keyframe_to {
                if let Some(sink) = self.sink_mut(*id) {
                    sink.picture = Picture::InStep;
                }
            }
        }
        if frame.is_none() && keyframe.is_none() {
            return;
        }
        for id in &keyframe_to {
            if let Some(sink) = self.sink_mut(*id) {
                sink.picture = Picture::KeyframeComing;
            }
        }
        let codec = self.codec(
            now_us,
            frame.as_ref(),
            keyframe.as_ref(),
            &frame_to,
            &keyframe_to,
        );
        let id = JobId(self.next_job);
        self.next_job += 1;
        self.job = Some(Job {
            id,
            codec,
            frame_damage_us: frame.as_ref().map_or(now_us, |f| f.damage_time_us),
            keyframe_damage_us: keyframe.as_ref().map_or(now_us, |k| k.damage_time_us),
            frame_to: if frame.is_some() {
                frame_to
            } else {
                Vec::new()
            },
            keyframe_to: if keyframe.is_some() {
                keyframe_to
            } else {
                Vec::new()
            },
        });
        self.emit(Output::Encode(EncodeJob {
            id,
            codec,
            frame,
            keyframe,
        }));
    }

    /// Longest wait for a change before its frame is planned anyway.
    pub(crate) fn frame_wait_us(&self) -> u64 {
        if self.marks_updates {
            self.settings.max_update_wait_us
        } else {
            self.settings.max_coalesce_us
        }
    }

    /// A change of our own (a refresh, the watermark) is due at once, as a
    /// whole update.
    pub(crate) fn frame_due_now(&mut self, now_us: u64) {
        let since = self.pending_since_us.unwrap_or(now_us);
        self.pending_since_us = Some(since.min(now_us.saturating_sub(self.frame_wait_us())));
        self.update_complete = true;
    }

    /// The lossy codec of a job: WebP only when every sink taking it
    /// decodes WebP and the chooser allows it.
    fn codec(
        &mut self,
        now_us: u64,
        frame: Option<&FramePlan>,
        keyframe: Option<&FramePlan>,
        frame_to: &[SinkId],
        keyframe_to: &[SinkId],
    ) -> Codec {
        let all_webp = frame_to.iter().chain(keyframe_to).all(|id| {
            self.sinks
                .iter()
                .any(|s| s.id == *id && s.spec.capabilities & caps::WEBP != 0)
        });
        let Some(chooser) = self.chooser.as_mut().filter(|_| all_webp) else {
            return Codec::Jpeg;
        };
        let lossy_px = frame
            .into_iter()
            .chain(keyframe)
            .flat_map(|p| &p.tiles)
            .filter(|t| matches!(t.content, TileContent::Lossy { .. }))
            .map(|t| u64::from(t.rect.area()))
            .sum();
        chooser.choose(now_us, lossy_px)
    }

    /// The encoders finished job `id` at `now_us`.
    pub fn handle_encoded(&mut self, id: JobId, result: EncodedJob, now_us: u64) {
        if self.ended || self.job.as_ref().is_none_or(|j| j.id != id) {
            // A job dropped by a resize, or the session is over.
            return;
        }
        let Some(job) = self.job.take() else {
            return;
        };
        if let (Some(chooser), Some(frame)) = (&mut self.chooser, &result.frame) {
            chooser.observe(job.codec, frame.lossy_px, frame.lossy_us);
        }
        if let Some(encoded) = result.frame {
            let frame = Arc::new(FrameBytes::new(job.frame_damage_us, encoded.ops));
            for id in job.frame_to {
                self.deliver(id, &frame, now_us, false);
            }
        }
        if let Some(encoded) = result.keyframe {
            let keyframe = Arc::new(FrameBytes::new(job.keyframe_damage_us, encoded.ops));
            for id in job.keyframe_to {
                if self
                    .sink_mut(id)
                    .is_some_and(|s| s.picture == Picture::KeyframeComing)
                {
                    self.deliver(id, &keyframe, now_us, true);
                }
            }
        }
    }

    /// Hands a frame to a sink: sent now if its window has room and nothing
    /// waits before it, else into its backlog; a backlog that overflows
    /// means the sink fell behind.
    fn deliver(&mut self, id: SinkId, frame: &Arc<FrameBytes>, now_us: u64, keyframe: bool) {
        let (backlog_frames, backlog_bytes) =
            (self.settings.backlog_frames, self.settings.backlog_bytes);
        let Some(sink) = self.sink_mut(id) else {
            return;
        };
        if keyframe {
            sink.picture = Picture::InStep;
        } else if sink.picture != Picture::InStep {
            // It asked for the whole picture meanwhile (REFRESH).
            return;
        }
        if sink.backlog.is_empty() && sink.flow.can_send() {
            let msg = sink.send_frame(frame, now_us);
            self.emit(if keyframe {
                Output::SendKeyframe(id, msg)
            } else {
                Output::Send(id, msg)
            });
            self.emit(Output::Observe(Observation::FrameSent { keyframe }));
        } else if sink.backlog.len() < backlog_frames
            && sink.backlog_bytes() + frame.len() <= backlog_bytes
        {
            sink.backlog.push_back(Arc::clone(frame));
        } else {
            sink.backlog.clear();
            sink.picture = Picture::Behind { from_black: false };
            self.emit(Output::Observe(Observation::FellBehind));
        }
    }

    /// Sends what waits in a sink's backlog while its window has room.
    pub(crate) fn drain_backlog(&mut self, id: SinkId, now_us: u64) {
        let mut sent = Vec::new();
        if let Some(sink) = self.sink_mut(id) {
            while sink.flow.can_send() {
                let Some(frame) = sink.backlog.pop_front() else {
                    break;
                };
                sent.push(sink.send_frame(&frame, now_us));
            }
        }
        for msg in sent {
            self.emit(Output::Send(id, msg));
            self.emit(Output::Observe(Observation::FrameSent { keyframe: false }));
        }
    }
}
