//! The recorder: a sink that writes what the session's viewers are sent,
//! and its event track, to a file in the recordings directory
//! (`docs/recording.md`). It takes the same frames as the viewers (a
//! keyframe every few seconds, for seeking) and acknowledges each once it
//! is written; a checkpoint signed with the gateway's key closes every
//! stretch of records, and the file is synced to disk with it.
//!
//! Fail closed: if the file cannot be created the session does not start;
//! if a write fails the session ends for every viewer. Nothing is streamed
//! unrecorded.

use crate::handover::{KeepRecordings, RecordingHandover};
use crate::session::Inbound;
use oriel_core_model::{SessionError, SessionErrorKind};
use oriel_core_recording::{Header, RecordKind, TerminalEntry, Writer};
use oriel_core_stream::{Note, SinkId};
use oriel_core_token::{ClipboardDecision, TokenSigner, WatchedVia};
use oriel_core_wire::ClientMessage;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWriteExt as _, BufWriter};
use tokio::sync::mpsc;
use tracing::{info, warn};

/// Items waiting for the recorder's writer (frames are few: each waits
/// for the one before to be written; the rest is the event track).
pub(crate) const RECORDER_QUEUE: usize = 1024;

/// Where and how recordings are written.
#[derive(Debug, Clone)]
pub struct RecordingSettings {
    /// The directory recordings are written to; `None`: this gateway
    /// cannot record (sessions whose policy asks for it are refused).
    pub dir: Option<PathBuf>,
    /// A signed checkpoint (and a sync to disk) at least this often.
    pub checkpoint_every: Duration,
    /// A keyframe at least this often, for seeking.
    pub keyframe_every: Duration,
    /// Who takes a recording once its file is closed (the control plane's
    /// storage); by default files stay in `dir`.
    pub handover: Arc<dyn RecordingHandover>,
}

impl Default for RecordingSettings {
    fn default() -> Self {
        RecordingSettings {
            dir: None,
            checkpoint_every: Duration::from_secs(5),
            keyframe_every: Duration::from_secs(10),
            handover: Arc::new(KeepRecordings),
        }
    }
}

/// What the recorder writes.
#[derive(Debug)]
pub(crate) enum RecorderItem {
    /// A message as viewers get it; a keyframe is marked for seeking.
    Message {
        /// Its bytes.
        bytes: Vec<u8>,
        /// It repaints the whole desktop.
        keyframe: bool,
    },
    /// An entry of the event track from the core.
    Note(Note),
    /// A file transfer a viewer made.
    File(crate::sinks::files::FileNote),
    /// The session is over.
    End(serde_json::Value),
}

/// A recording file, opened.
pub(crate) struct Recorder {
    file: BufWriter<tokio::fs::File>,
    writer: Writer,
    path: PathBuf,
    signer: Arc<TokenSigner>,
    /// A FRAME has been written and signed.
    signed_a_frame: bool,
}

fn unwritable(path: &Path, e: impl std::fmt::Display) -> SessionError {
    SessionError::new(
        SessionErrorKind::FeatureUnavailable,
        format!(
            "the session recording cannot be written ({}: {e})",
            path.display()
        ),
    )
}

/// Opens a new recording for `header` under `dir` and writes its header and
/// a first checkpoint. Fails closed: an error here keeps the session from
/// starting.
pub(crate) async fn open(
    dir: &Path,
    header: Header,
    signer: Arc<TokenSigner>,
) -> Result<Recorder, SessionError> {
    let folder = dir.join(safe_name(&header.session_id));
    let path = folder.join(format!("{}.orec", header.started_us));
    let created = async {
        tokio::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&folder)
            .await?;
        tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .await
    };
    let file = created.await.map_err(|e| unwritable(&path, e))?;
    let (writer, head) = Writer::new(&header);
    let mut recorder = Recorder {
        file: BufWriter::new(file),
        path,
        signer,
        writer,
        signed_a_frame: false,
    };
    recorder.append(&head).await?;
    recorder.checkpoint(header.started_us).await?;
    info!(path = %recorder.path.display(), "recording started");
    Ok(recorder)
}

/// A session id as a file name (ids are ours, but never trust a name).
fn safe_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A note of the event track as the record it is written as: a JSON
/// EVENT, or a TERMINAL record.
fn note_record(note: &Note) -> (RecordKind, Vec<u8>) {
    let decision = |d: &ClipboardDecision| match d {
        ClipboardDecision::Allowed => "allowed",
        ClipboardDecision::Denied => "denied",
        ClipboardDecision::TooLarge => "too_large",
    };
    let event = match note {
        Note::Key { keysym, down } => json!({"type": "key", "keysym": keysym, "down": down}),
        Note::Buttons { x, y, buttons } => {
            json!({"type": "buttons", "x": x, "y": y, "buttons": buttons})
        }
        Note::Clipboard {
            up,
            bytes,
            decision: d,
        } => json!({
            "type": "clipboard",
            "direction": if *up { "up" } else { "down" },
            "bytes": bytes,
            "decision": decision(d),
        }),
        Note::Resize(size) => {
            json!({"type": "resize", "width": size.width, "height": size.height})
        }
        Note::Joined {
            sink,
            label,
            control,
            via,
        } => {
            let mut j = json!({"type": "viewer_joined", "viewer": sink.get(), "who": label, "control": control});
            if let Some(via) = via {
                j["via"] = json!(match via {
                    WatchedVia::Share => "share_link",
                    WatchedVia::Shadow => "shadow",
                });
            }
            j
        }
        Note::Control {
            sink,
            label,
            control,
        } => {
            json!({"type": "viewer_control", "viewer": sink.get(), "who": label, "control": control})
        }
        Note::Left { sink, label } => {
            json!({"type": "viewer_left", "viewer": sink.get(), "who": label})
        }
        // The terminal track is not JSON: TERMINAL records.
        Note::TerminalOutput(bytes) => {
            return (
                RecordKind::Terminal,
                TerminalEntry::Output(bytes.clone()).to_payload(),
            );
        }
        Note::TerminalGrid { cols, rows } => {
            return (
                RecordKind::Terminal,
                TerminalEntry::Grid {
                    cols: *cols,
                    rows: *rows,
                }
                .to_payload(),
            );
        }
    };
    (RecordKind::Event, event.to_string().into_bytes())
}

fn now_us() -> u64 {
    crate::now_us()
}

impl Recorder {
    async fn append(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        let path = self.path.clone();
        self.file
            .write_all(bytes)
            .await
            .map_err(|e| unwritable(&path, e))
    }

    async fn record(&mut self, kind: RecordKind, payload: &[u8]) -> Result<(), SessionError> {
        let bytes = self.writer.record(kind, now_us(), payload);
        self.append(&bytes).await
    }

    /// Signs what was written since the last checkpoint and syncs it to disk.
    async fn checkpoint(&mut self, time_us: u64) -> Result<(), SessionError> {
        let bytes = self.writer.checkpoint(time_us, &self.signer);
        self.append(&bytes).await?;
        let path = self.path.clone();
        self.file.flush().await.map_err(|e| unwritable(&path, e))?;
        self.file
            .get_ref()
            .sync_data()
            .await
            .map_err(|e| unwritable(&path, e))
    }

    async fn write(&mut self, item: RecorderItem) -> Result<Option<u32>, SessionError> {
        match item {
            RecorderItem::Message { bytes, keyframe } => {
                let kind = if keyframe {
                    RecordKind::Keyframe
                } else {
                    RecordKind::Message
                };
                self.record(kind, &bytes).await?;
                let frame = (bytes.first() == Some(&0x82) && bytes.len() >= 5)
                    .then(|| u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]));
                // A picture a player can start from is signed at once, and
                // so is the first picture (a recorder that joined before
                // it gets it as a frame from black), so even a recording
                // cut short right after (a full disk) verifies from its
                // first picture.
                if keyframe || (frame.is_some() && !self.signed_a_frame) {
                    self.checkpoint(now_us()).await?;
                    self.signed_a_frame |= frame.is_some();
                }
                // A FRAME is acknowledged once written (its id after the type byte).
                Ok(frame)
            }
            RecorderItem::Note(note) => {
                let (kind, payload) = note_record(&note);
                self.record(kind, &payload).await?;
                Ok(None)
            }
            RecorderItem::File(note) => {
                self.record(RecordKind::Event, note.to_json().to_string().as_bytes())
                    .await?;
                Ok(None)
            }
            RecorderItem::End(end) => {
                self.record(RecordKind::End, end.to_string().as_bytes())
                    .await?;
                Ok(None)
            }
        }
    }

    /// Writes what arrives until the session ends, acknowledging frames to
    /// the session; a write that fails ends the session (fail closed).
    /// The closed file is handed over (the control plane's storage),
    /// whatever ended it.
    pub(crate) async fn run(
        mut self,
        sink: SinkId,
        mut items: mpsc::Receiver<RecorderItem>,
        session: mpsc::Sender<Inbound>,
        checkpoint_every: Duration,
        handover: Arc<dyn RecordingHandover>,
    ) {
        let mut tick = tokio::time::interval(checkpoint_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let failed = loop {
            let result = tokio::select! {
                item = items.recv() => match item {
                    Some(RecorderItem::End(end)) => {
                        let done = self.write(RecorderItem::End(end)).await;
                        break done.and(self.checkpoint(now_us()).await).err();
                    }
                    Some(item) => match self.write(item).await {
                        Ok(Some(frame_id)) => {
                            let _ = session
                                .send(Inbound::Viewer(sink, ClientMessage::Ack { frame_id }))
                                .await;
                            Ok(())
                        }
                        Ok(None) => Ok(()),
                        Err(e) => Err(e),
                    },
                    // The session stopped without an END (it cannot happen
                    // in order; a crash leaves the file cut short the same way).
                    None => break self.checkpoint(now_us()).await.err(),
                },
                _ = tick.tick() => {
                    if self.writer.unsigned() > 0 {
                        self.checkpoint(now_us()).await
                    } else {
                        Ok(())
                    }
                }
            };
            if let Err(e) = result {
                break Some(e);
            }
        };
        match failed {
            None => info!(path = %self.path.display(), "recording finished"),
            Some(e) => {
                warn!(path = %self.path.display(), error = %e, "recording failed: the session ends");
                let _ = session.send(Inbound::RecorderFailed(e)).await;
            }
        }
        // Whatever was buffered goes to the file first (after a failed
        // write this may fail too: the file then ends earlier).
        let _ = self.file.flush().await;
        let Recorder { file, path, .. } = self;
        drop(file);
        handover.finished(path);
    }
}
