//! Messages from a sink's viewer, under its token's policy: acknowledgements
//! move its window, input reaches the target only from a sink that controls
//! the session, clipboard text only where the policy allows it and within
//! its size limit.

use crate::recorder::Note;
use crate::session::{Observation, Output, SessionCore, SinkId};
use crate::sink::Picture;
use oriel_core_model::{InputEvent, SessionError, SessionErrorKind};
use oriel_core_token::ClipboardDecision;
use oriel_core_wire::{ClientMessage, NoticeKind, ServerMessage};

fn protocol_error(detail: impl Into<String>) -> SessionError {
    SessionError::new(SessionErrorKind::ClientProtocol, detail)
}

impl SessionCore {
    /// A message from the sink's viewer at `now_us`. A message that breaks
    /// the protocol closes the sink ([`Output::Close`]); the session goes
    /// on. File messages only count as the user at work here: the shell's
    /// file service serves them.
    pub fn handle_viewer(&mut self, id: SinkId, msg: ClientMessage, now_us: u64) {
        if self.is_ended() {
            return;
        }
        let Some(sink) = self.sink_mut(id) else {
            return;
        };
        sink.last_heard_us = now_us;
        let control = sink.spec.control;
        let input = match msg {
            ClientMessage::Hello(_) => {
                return self.close_sink(id, protocol_error("HELLO sent twice"));
            }
            ClientMessage::Ack { frame_id } => return self.ack(id, frame_id, now_us),
            ClientMessage::Ping { nonce } => {
                return self.emit(Output::Send(id, ServerMessage::Pong { nonce }.to_bytes()));
            }
            ClientMessage::Refresh => {
                // The whole picture again, for this sink only.
                if sink.picture == Picture::InStep {
                    sink.backlog.clear();
                    sink.picture = Picture::Behind { from_black: false };
                }
                return;
            }
            ClientMessage::Key {
                down,
                keysym,
                scancode,
            } => InputEvent::Key {
                keysym,
                scancode,
                down,
            },
            ClientMessage::Pointer { at, buttons } => InputEvent::Pointer { at, buttons },
            ClientMessage::Wheel { at, dx, dy } => InputEvent::Wheel { at, dx, dy },
            ClientMessage::Locks { caps, num, scroll } => InputEvent::Locks { caps, num, scroll },
            ClientMessage::Resize(size) => {
                if oriel_core_model::validate_size(size).is_err() {
                    return;
                }
                InputEvent::Resize(size)
            }
            ClientMessage::Clipboard(text) => return self.clipboard_up(id, control, text, now_us),
            _file => {
                // A transfer in progress is the user at work (idle timeout).
                if control {
                    self.last_input_us = now_us;
                }
                return;
            }
        };
        if !control {
            return self.emit(Output::Observe(Observation::InputRefused));
        }
        if let InputEvent::Key { keysym, down, .. } = input
            && self.recording_keystrokes()
        {
            self.note(Note::Key { keysym, down });
        }
        if let InputEvent::Pointer { at, buttons } = input
            && buttons != std::mem::replace(&mut self.buttons, buttons)
        {
            self.note(Note::Buttons {
                x: at.x,
                y: at.y,
                buttons,
            });
        }
        // Resizing and lock-key state are not the user at work.
        if !matches!(input, InputEvent::Resize(_) | InputEvent::Locks { .. }) {
            self.last_input_us = now_us;
        }
        self.emit(Output::Input(input));
    }

    fn ack(&mut self, id: SinkId, frame_id: u32, now_us: u64) {
        let Some(sink) = self.sink_mut(id) else {
            return;
        };
        match sink.flow.on_ack(frame_id, now_us) {
            Ok(acked) => {
                self.emit(Output::Observe(Observation::FrameAcked {
                    damage_to_ack_us: acked.damage_to_ack_us,
                }));
                self.drain_backlog(id, now_us);
            }
            Err(e) => self.close_sink(id, protocol_error(e.to_string())),
        }
    }

    fn clipboard_up(&mut self, id: SinkId, control: bool, text: String, now_us: u64) {
        if !control {
            return self.emit(Output::Observe(Observation::InputRefused));
        }
        self.last_input_us = now_us;
        let Some(sink) = self.sink_mut(id) else {
            return;
        };
        let policy = &sink.spec.policy;
        let decision = policy.allows_clipboard_up(text.len());
        let limit = policy.clipboard_max_bytes;
        self.emit(Output::Observe(Observation::Clipboard {
            up: true,
            decision,
        }));
        self.note(Note::Clipboard {
            up: true,
            bytes: text.len(),
            decision,
        });
        let (kind, message) = match decision {
            ClipboardDecision::Allowed => {
                return self.emit(Output::Input(InputEvent::Clipboard(text)));
            }
            ClipboardDecision::Denied => (
                NoticeKind::ClipboardUpDenied,
                "copying to the remote system is disabled by policy".to_owned(),
            ),
            ClipboardDecision::TooLarge => (
                NoticeKind::ClipboardTooLarge,
                format!("clipboard text over the {limit} byte limit was not sent"),
            ),
        };
        self.emit(Output::Send(
            id,
            ServerMessage::Notice { kind, message }.to_bytes(),
        ));
    }
}
