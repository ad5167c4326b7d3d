//! File transfer for one stream (`docs/protocol.md` §2.3): the workspace
//! policy decides whether uploads and downloads happen at all and how large
//! they may be; the adapter's [`FileTransfer`] only moves bytes.
//!
//! The stream's loop never waits for a transfer: each listing, download and
//! upload runs in its own task, which alone sends the messages of its id
//! (so they arrive in order and end with exactly one FILE_LISTING, FILE_DONE
//! or FILE_ERROR). Buffers are bounded: a download keeps at most
//! [`FILE_WINDOW`] bytes unacknowledged by the viewer, an upload accepts at
//! most that much beyond what the target has taken (a viewer that sends more
//! breaks the protocol). Every decision is logged for the audit trail, with
//! paths and sizes, never contents.

mod tasks;

use super::{Outgoing, client_error};
use crate::metrics::GatewayMetrics;
use bytes::Bytes;
use oriel_core_model::SessionError;
use oriel_core_stream::files as rules;
use oriel_core_token::Policy;
use oriel_core_wire::{FILE_WINDOW, FileBytes, FileErrorCode, ServerMessage};
use oriel_protocols_session::FileTransfer;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tasks::{Reply, download_task, list_task, upload_task};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument as _, info};

/// Listings and transfers at once per stream.
pub(crate) const MAX_ACTIVE: usize = 4;
/// Upload chunks queued between the stream's loop and the upload's task.
const UPLOAD_QUEUE: usize = 64;

/// Why the stream's loop stops a transfer.
#[derive(Debug)]
pub(super) enum Stop {
    Cancelled,
    Invalid(String),
}

pub(super) enum UploadMsg {
    Data(Bytes),
    End,
}

enum Kind {
    Listing,
    Download {
        acked: watch::Sender<u64>,
    },
    Upload {
        size: u64,
        received: u64,
        passed: Arc<AtomicU64>,
        tx: mpsc::Sender<UploadMsg>,
    },
}

struct Active {
    kind: Kind,
    /// Set by the task just before it sends the id's last message.
    finished: Arc<AtomicBool>,
    stop: Option<oneshot::Sender<Stop>>,
    task: JoinHandle<()>,
}

/// File transfer of one stream.
pub(crate) struct FileService {
    files: Arc<dyn FileTransfer>,
    policy: Policy,
    out: mpsc::Sender<Outgoing>,
    metrics: GatewayMetrics,
    active: HashMap<u32, Active>,
    notes: Option<FileNotes>,
}

/// Where the outcome of every upload and download is told (the session's
/// recording and the control plane's audit log).
pub(crate) type FileNotes = Arc<dyn Fn(FileNote) + Send + Sync>;

/// The outcome of an upload or a download.
#[derive(Debug, Clone)]
pub(crate) struct FileNote {
    /// `upload` or `download`.
    pub(crate) direction: &'static str,
    /// The file's path on the target.
    pub(crate) path: String,
    /// Its size, when known.
    pub(crate) bytes: Option<u64>,
    /// `done`, or the FILE_ERROR code that refused or stopped it.
    pub(crate) outcome: &'static str,
}

impl FileNote {
    /// The recording's event (docs/recording.md).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "file",
            "direction": self.direction,
            "path": self.path,
            "bytes": self.bytes,
            "outcome": self.outcome,
        })
    }
}

impl Drop for FileService {
    fn drop(&mut self) {
        // The stream is over: nothing more may reach the viewer. An upload's
        // adapter task, left running, sees its data end early and removes
        // the partial file.
        for (_, a) in self.active.drain() {
            a.task.abort();
        }
    }
}

impl FileService {
    /// File transfer under `policy`, or `None` when it allows neither
    /// direction (a viewer that does not `control` the session has none).
    pub(crate) fn new(
        files: Arc<dyn FileTransfer>,
        policy: &Policy,
        control: bool,
        out: mpsc::Sender<Outgoing>,
        metrics: GatewayMetrics,
    ) -> Option<Self> {
        let (upload, download) = rules::directions(policy, control);
        (upload || download).then(|| FileService {
            files,
            policy: Policy {
                upload,
                download,
                ..policy.clone()
            },
            out,
            metrics,
            active: HashMap::new(),
            notes: None,
        })
    }

    async fn refuse(
        &self,
        id: u32,
        code: FileErrorCode,
        message: String,
    ) -> Result<(), SessionError> {
        super::send(&self.out, ServerMessage::FileError { id, code, message }).await
    }

    /// A new id must not belong to a listing or transfer still running;
    /// `Ok(false)` when too many are running (the viewer has been told).
    async fn admit(&mut self, id: u32, direction: &str) -> Result<bool, SessionError> {
        self.active
            .retain(|_, a| !a.finished.load(Ordering::Acquire) && !a.task.is_finished());
        if self.active.contains_key(&id) {
            return Err(client_error(format!(
                "file id {id} is still in use by an unfinished request"
            )));
        }
        if self.active.len() >= MAX_ACTIVE {
            if direction != "list" {
                self.metrics
                    .file_transfers
                    .with_label_values(&[direction, FileErrorCode::Busy.as_str()])
                    .inc();
            }
            self.refuse(
                id,
                FileErrorCode::Busy,
                format!("at most {MAX_ACTIVE} file transfers at once: wait for one to finish"),
            )
            .await?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Tells `notes` the outcome of every transfer.
    pub(crate) fn with_notes(mut self, notes: FileNotes) -> Self {
        self.notes = Some(notes);
        self
    }

    fn reply(&self, id: u32, direction: &'static str, path: &str, size: Option<u64>) -> Reply {
        Reply {
            id,
            out: self.out.clone(),
            finished: Arc::new(AtomicBool::new(false)),
            metrics: self.metrics.clone(),
            direction,
            path: path.to_owned(),
            size,
            notes: self.notes.clone(),
        }
    }

    fn note_refused(
        &self,
        direction: &'static str,
        path: &str,
        size: Option<u64>,
        code: FileErrorCode,
    ) {
        if let Some(notes) = &self.notes {
            notes(FileNote {
                direction,
                path: path.to_owned(),
                bytes: size,
                outcome: code.as_str(),
            });
        }
    }

    fn insert(
        &mut self,
        id: u32,
        kind: Kind,
        reply: &Reply,
        stop: oneshot::Sender<Stop>,
        task: JoinHandle<()>,
    ) {
        self.active.insert(
            id,
            Active {
                kind,
                finished: Arc::clone(&reply.finished),
                stop: Some(stop),
                task,
            },
        );
    }

    /// FILE_LIST.
    pub(crate) async fn list(&mut self, id: u32, path: String) -> Result<(), SessionError> {
        if !self.admit(id, "list").await? {
            return Ok(());
        }
        let reply = self.reply(id, "list", &path, None);
        let (stop_tx, stop_rx) = oneshot::channel();
        let files = Arc::clone(&self.files);
        let r = reply.clone();
        let task = tokio::spawn(
            async move {
                tokio::select! {
                    () = list_task(files, path, &r) => {}
                    _ = stop_rx => r.fail(FileErrorCode::Cancelled, "listing cancelled").await,
                }
            }
            .in_current_span(),
        );
        self.insert(id, Kind::Listing, &reply, stop_tx, task);
        Ok(())
    }

    /// FILE_DOWNLOAD.
    pub(crate) async fn download(&mut self, id: u32, path: String) -> Result<(), SessionError> {
        if let Err((code, message)) = rules::download(&self.policy, &path) {
            info!(id, path = %path, code = code.as_str(), "file download refused");
            self.note_refused("download", &path, None, code);
            if code == FileErrorCode::Denied {
                self.metrics
                    .file_transfers
                    .with_label_values(&["download", code.as_str()])
                    .inc();
            }
            return self.refuse(id, code, message).await;
        }
        if !self.admit(id, "download").await? {
            return Ok(());
        }
        let reply = self.reply(id, "download", &path, None);
        let (stop_tx, stop_rx) = oneshot::channel();
        let (acked_tx, acked_rx) = watch::channel(0u64);
        let files = Arc::clone(&self.files);
        let limit = self.policy.download_max_bytes;
        let r = reply.clone();
        let task =
            tokio::spawn(download_task(files, path, limit, r, acked_rx, stop_rx).in_current_span());
        self.insert(
            id,
            Kind::Download { acked: acked_tx },
            &reply,
            stop_tx,
            task,
        );
        Ok(())
    }

    /// FILE_UPLOAD: refused here, before any data, when the policy denies it
    /// or the announced size is over the limit.
    pub(crate) async fn upload(
        &mut self,
        id: u32,
        size: u64,
        dir: String,
        name: String,
    ) -> Result<(), SessionError> {
        let path = match rules::upload(&self.policy, size, &dir, &name) {
            Ok(path) => path,
            Err((code, message)) => {
                info!(id, dir = %dir, name = %name, size, code = code.as_str(), "file upload refused");
                self.note_refused("upload", &format!("{dir}/{name}"), Some(size), code);
                if code != FileErrorCode::Invalid {
                    self.metrics
                        .file_transfers
                        .with_label_values(&["upload", code.as_str()])
                        .inc();
                }
                return self.refuse(id, code, message).await;
            }
        };
        if !self.admit(id, "upload").await? {
            return Ok(());
        }
        info!(id, path = %path, size, "file upload accepted");
        // Accepted: the viewer may send data from now on.
        super::send(&self.out, ServerMessage::FileProgress { id, bytes: 0 }).await?;
        let reply = self.reply(id, "upload", &path, Some(size));
        let (stop_tx, stop_rx) = oneshot::channel();
        let (tx, rx) = mpsc::channel(UPLOAD_QUEUE + 1);
        let passed = Arc::new(AtomicU64::new(0));
        let files = Arc::clone(&self.files);
        let r = reply.clone();
        let task = tokio::spawn(
            upload_task(files, path, size, rx, stop_rx, Arc::clone(&passed), r).in_current_span(),
        );
        let kind = Kind::Upload {
            size,
            received: 0,
            passed,
            tx,
        };
        self.insert(id, kind, &reply, stop_tx, task);
        Ok(())
    }

    /// Stops a running transfer; its task sends the last message.
    fn stop(&mut self, id: u32, why: Stop) {
        if let Some(a) = self.active.get_mut(&id)
            && let Some(stop) = a.stop.take()
        {
            let _ = stop.send(why);
        }
    }

    /// FILE_DATA of an upload.
    pub(crate) fn data(&mut self, id: u32, data: FileBytes) -> Result<(), SessionError> {
        let Some(a) = self.active.get_mut(&id) else {
            return Ok(()); // finished or never accepted: ignored (§2.3)
        };
        if a.stop.is_none() || a.finished.load(Ordering::Acquire) {
            return Ok(());
        }
        let Kind::Upload {
            size,
            received,
            passed,
            tx,
        } = &mut a.kind
        else {
            return Err(client_error(format!("file id {id} is not an upload")));
        };
        let len = data.0.len() as u64;
        if *received + len > *size {
            let why = Stop::Invalid(format!(
                "the upload sent more than the announced {size} bytes"
            ));
            self.stop(id, why);
            return Ok(());
        }
        *received += len;
        if *received - passed.load(Ordering::Acquire) > FILE_WINDOW {
            return Err(client_error(format!(
                "upload {id} sent more than {FILE_WINDOW} bytes ahead of FILE_PROGRESS"
            )));
        }
        if tx.capacity() <= 1 {
            return Err(client_error(format!(
                "upload {id} sent more than {UPLOAD_QUEUE} chunks ahead of FILE_PROGRESS"
            )));
        }
        // Closed: the task already ended (its last message is on the way).
        let _ = tx.try_send(UploadMsg::Data(Bytes::from(data.0)));
        Ok(())
    }

    /// FILE_END of an upload.
    pub(crate) fn end(&mut self, id: u32) -> Result<(), SessionError> {
        let Some(a) = self.active.get_mut(&id) else {
            return Ok(());
        };
        if a.stop.is_none() || a.finished.load(Ordering::Acquire) {
            return Ok(());
        }
        let Kind::Upload {
            size, received, tx, ..
        } = &a.kind
        else {
            return Err(client_error(format!("file id {id} is not an upload")));
        };
        if received != size {
            let why = Stop::Invalid(format!(
                "the upload ended after {received} of the announced {size} bytes"
            ));
            self.stop(id, why);
            return Ok(());
        }
        // One slot is always kept free for END (see `data`).
        let _ = tx.try_send(UploadMsg::End);
        Ok(())
    }

    /// FILE_CANCEL.
    pub(crate) fn cancel(&mut self, id: u32) {
        self.stop(id, Stop::Cancelled);
    }

    /// FILE_ACK of a download.
    pub(crate) fn ack(&mut self, id: u32, offset: u64) {
        if let Some(Active {
            kind: Kind::Download { acked },
            ..
        }) = self.active.get(&id)
        {
            acked.send_if_modified(|a| {
                let newer = offset > *a;
                if newer {
                    *a = offset;
                }
                newer
            });
        }
    }
}

#[cfg(test)]
mod tests;
