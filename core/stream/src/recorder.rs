//! What a recorder sink gets besides the pictures: keyframes at intervals
//! (where playback can start) and the session's event track ([`Note`]).
//! A recorder never controls the session, is never pinged and is never sent
//! clipboard text; its shell acknowledges each frame once it is written, so
//! a slow disk makes it fall behind (and catch up with a keyframe) like a
//! slow viewer.

use crate::session::{Output, SessionCore, SinkId};
use crate::sink::Picture;
use oriel_core_model::Size;
use oriel_core_token::{ClipboardDecision, WatchedVia};

/// What kind of sink joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkKind {
    /// A viewer, named for the event track (e.g. `alice from 192.0.2.7`).
    Viewer {
        /// Who, for the event track and notices.
        label: String,
    },
    /// A session recorder.
    Recorder {
        /// A keyframe at least this often (µs), so that playback can seek.
        keyframe_every_us: u64,
        /// Whether keystrokes go into the event track.
        keystrokes: bool,
    },
}

/// An entry of the event track, for recorders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A key went down or up (only where the recorder records keystrokes).
    Key {
        /// X11 keysym.
        keysym: u32,
        /// Pressed.
        down: bool,
    },
    /// A pointer button went down or up (not the pointer's moves).
    Buttons {
        /// Where the pointer was.
        x: u16,
        /// Where the pointer was.
        y: u16,
        /// The buttons held now (`oriel_core_model::buttons`).
        buttons: u8,
    },
    /// Clipboard text was checked against the policy (never its content).
    Clipboard {
        /// Viewer → target.
        up: bool,
        /// Its length.
        bytes: usize,
        /// The policy's decision.
        decision: ClipboardDecision,
    },
    /// The desktop changed size.
    Resize(Size),
    /// A viewer joined.
    Joined {
        /// Which.
        sink: SinkId,
        /// Who.
        label: String,
        /// Whether it may control the session.
        control: bool,
        /// How it came, when the session is not its own.
        via: Option<WatchedVia>,
    },
    /// A share link's viewer was handed control, or it was taken back.
    Control {
        /// Which.
        sink: SinkId,
        /// Who.
        label: String,
        /// Whether it controls the session now.
        control: bool,
    },
    /// A terminal (an SSH shell) printed these bytes since the last frame.
    TerminalOutput(Vec<u8>),
    /// A terminal's columns and rows.
    TerminalGrid {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// A viewer left.
    Left {
        /// Which.
        sink: SinkId,
        /// Who.
        label: String,
    },
}

impl SessionCore {
    /// Whether a recorder is listening (the event track costs nothing
    /// otherwise).
    pub(crate) fn recording(&self) -> bool {
        self.sinks.iter().any(|s| s.is_recorder())
    }

    /// Keystrokes go into the event track.
    pub(crate) fn recording_keystrokes(&self) -> bool {
        self.sinks.iter().any(|s| {
            matches!(
                s.spec.kind,
                SinkKind::Recorder {
                    keystrokes: true,
                    ..
                }
            )
        })
    }

    /// Adds to the event track, if anyone records it.
    pub(crate) fn note(&mut self, note: Note) {
        if self.recording() {
            self.emit(Output::Note(note));
        }
    }

    /// Recorders due a keyframe get one: the whole picture with the next
    /// frame.
    pub(crate) fn recorder_keyframes_due(&mut self, now_us: u64) {
        for sink in &mut self.sinks {
            if let SinkKind::Recorder {
                keyframe_every_us, ..
            } = sink.spec.kind
                && now_us >= sink.next_keyframe_us
            {
                sink.next_keyframe_us = now_us.saturating_add(keyframe_every_us);
                if sink.picture == Picture::InStep {
                    sink.backlog.clear();
                    sink.picture = Picture::Behind { from_black: false };
                }
            }
        }
    }
}
