//! The tasks of file transfers: a listing, a download paced by the
//! viewer's acknowledgements, an upload fed by the stream's loop. Each alone
//! sends the messages of its id and ends with exactly one FILE_LISTING,
//! FILE_DONE or FILE_ERROR.

use super::{Outgoing, Stop, UploadMsg};
use crate::metrics::GatewayMetrics;
use bytes::Bytes;
use oriel_core_stream::files::{self as rules, absolute, base_name, limit_text};
use oriel_core_wire::{
    FILE_WINDOW, FileBytes, FileErrorCode, FileListing, ListingEntry, MAX_FILE_CHUNK,
    MAX_FILE_NAME, MAX_LISTING_ENTRIES, ServerMessage,
};
use oriel_protocols_session::{FileError, FileTransfer};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument as _, info, warn};

/// Chunks queued between the adapter and a transfer's task.
const ADAPTER_QUEUE: usize = 2;

/// What a transfer's task needs to talk to the viewer.
#[derive(Clone)]
pub(super) struct Reply {
    pub(super) id: u32,
    pub(super) out: mpsc::Sender<Outgoing>,
    pub(super) finished: Arc<AtomicBool>,
    pub(super) metrics: GatewayMetrics,
    pub(super) direction: &'static str,
    /// What the transfer is about, for the recording's event track.
    pub(super) path: String,
    pub(super) size: Option<u64>,
    pub(super) notes: Option<super::FileNotes>,
}

impl Reply {
    async fn send(&self, msg: ServerMessage) -> bool {
        self.out
            .send(Outgoing::Message(msg.to_bytes()))
            .await
            .is_ok()
    }

    /// The id's last message: marks the id reusable first.
    async fn finish(&self, msg: ServerMessage) {
        let outcome = match &msg {
            ServerMessage::FileError { code, .. } => code.as_str(),
            _ => "done",
        };
        if self.direction != "list" {
            self.metrics
                .file_transfers
                .with_label_values(&[self.direction, outcome])
                .inc();
            if let Some(notes) = &self.notes {
                let size = match &msg {
                    ServerMessage::FileDone { bytes, .. } => Some(*bytes),
                    _ => self.size,
                };
                notes(super::FileNote {
                    direction: self.direction,
                    path: self.path.clone(),
                    bytes: size,
                    outcome,
                });
            }
        }
        self.finished.store(true, Ordering::Release);
        let _ = self.send(msg).await;
    }

    pub(super) async fn fail(&self, code: FileErrorCode, message: impl Into<String>) {
        let message = message.into();
        info!(
            id = self.id,
            direction = self.direction,
            code = code.as_str(),
            error = %message,
            "file transfer failed"
        );
        self.finish(ServerMessage::FileError {
            id: self.id,
            code,
            message,
        })
        .await;
    }
}

/// The FILE_ERROR code for an adapter's error.
fn code_of(e: &FileError) -> FileErrorCode {
    match e {
        FileError::NotFound(_) => FileErrorCode::NotFound,
        FileError::InvalidPath(_) => FileErrorCode::Invalid,
        _ => FileErrorCode::Target,
    }
}

pub(super) async fn list_task(files: Arc<dyn FileTransfer>, path: String, r: &Reply) {
    let dir = if path.is_empty() || path == "~" || !path.starts_with('/') {
        match files.home().await {
            Ok(home) => absolute(&home, &path),
            Err(e) => return r.fail(code_of(&e), e.to_string()).await,
        }
    } else {
        path
    };
    match files.list(&dir).await {
        Ok(found) => {
            let mut entries: Vec<ListingEntry> = found
                .into_iter()
                .filter(|e| {
                    e.name != "."
                        && e.name != ".."
                        && !e.name.is_empty()
                        && e.name.len() <= MAX_FILE_NAME
                        && !e.name.contains(['/', '\0'])
                })
                .map(|e| ListingEntry {
                    name: e.name,
                    is_dir: e.is_dir,
                    size: if e.is_dir { 0 } else { e.size },
                    modified: e.modified.unwrap_or(0),
                })
                .collect();
            entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
            let truncated = entries.len() > MAX_LISTING_ENTRIES;
            entries.truncate(MAX_LISTING_ENTRIES);
            r.finish(ServerMessage::FileListing(FileListing {
                id: r.id,
                path: dir,
                truncated,
                entries,
            }))
            .await;
        }
        Err(e) => r.fail(code_of(&e), e.to_string()).await,
    }
}

pub(super) async fn download_task(
    files: Arc<dyn FileTransfer>,
    path: String,
    limit: u64,
    r: Reply,
    mut acked: watch::Receiver<u64>,
    mut stop: oneshot::Receiver<Stop>,
) {
    let stopped = |s: Result<Stop, oneshot::error::RecvError>| match s {
        Ok(Stop::Invalid(m)) => (FileErrorCode::Invalid, m),
        _ => (FileErrorCode::Cancelled, "download cancelled".to_owned()),
    };
    let size = tokio::select! {
        s = &mut stop => {
            let (code, m) = stopped(s);
            return r.fail(code, m).await;
        }
        size = files.size(&path) => size,
    };
    let size = match size {
        Ok(size) => size,
        Err(e) => return r.fail(code_of(&e), e.to_string()).await,
    };
    if let Err((code, message)) = rules::download_size(limit, &path, size) {
        info!(path = %path, size, limit, "file download refused: over the size limit");
        return r.fail(code, message).await;
    }
    let name = base_name(&path).to_owned();
    info!(path = %path, size, "file download started");
    if !r
        .send(ServerMessage::FileStart {
            id: r.id,
            size,
            name,
        })
        .await
    {
        return;
    }
    let (tx, mut rx) = mpsc::channel::<Bytes>(ADAPTER_QUEUE);
    let adapter = {
        let files = Arc::clone(&files);
        let path = path.clone();
        tokio::spawn(async move { files.download(&path, tx).await }.in_current_span())
    };
    let mut offset = 0u64;
    loop {
        let chunk = tokio::select! {
            s = &mut stop => {
                drop(rx);
                let (code, m) = stopped(s);
                info!(path = %path, bytes = offset, "file download stopped by the viewer");
                return r.fail(code, m).await;
            }
            chunk = rx.recv() => chunk,
        };
        let Some(chunk) = chunk else { break };
        for piece in chunk.chunks(MAX_FILE_CHUNK) {
            let len = piece.len() as u64;
            if limit > 0 && offset + len > limit {
                drop(rx);
                warn!(path = %path, bytes = offset, limit, "file download stopped: the file grew past the size limit");
                let message = format!(
                    "{} grew past the download limit of {} while downloading",
                    base_name(&path),
                    limit_text(limit)
                );
                return r.fail(FileErrorCode::TooLarge, message).await;
            }
            let room = tokio::select! {
                s = &mut stop => Err(s),
                ok = acked.wait_for(|a| offset + len <= a + FILE_WINDOW) => Ok(ok.is_ok()),
            };
            match room {
                Ok(true) => {}
                Ok(false) => return, // the stream is gone
                Err(s) => {
                    drop(rx);
                    let (code, m) = stopped(s);
                    info!(path = %path, bytes = offset, "file download stopped by the viewer");
                    return r.fail(code, m).await;
                }
            }
            let msg = ServerMessage::FileData {
                id: r.id,
                offset,
                data: FileBytes(piece.to_vec()),
            };
            if !r.send(msg).await {
                return;
            }
            offset += len;
            r.metrics
                .file_bytes
                .with_label_values(&["download"])
                .inc_by(len);
        }
    }
    match adapter.await {
        Ok(Ok(_)) => {
            info!(path = %path, bytes = offset, "file download done");
            r.finish(ServerMessage::FileDone {
                id: r.id,
                bytes: offset,
            })
            .await;
        }
        Ok(Err(e)) => r.fail(code_of(&e), e.to_string()).await,
        Err(e) => {
            warn!(error = %e, "file download task failed");
            r.fail(FileErrorCode::Target, "the download failed").await;
        }
    }
}

type AdapterUpload = (mpsc::Sender<Bytes>, JoinHandle<Result<u64, FileError>>);

fn start_upload(files: &Arc<dyn FileTransfer>, path: &str, size: u64) -> AdapterUpload {
    let (tx, rx) = mpsc::channel::<Bytes>(ADAPTER_QUEUE);
    let files = Arc::clone(files);
    let path = path.to_owned();
    let task = tokio::spawn(async move { files.upload(&path, rx, size).await }.in_current_span());
    (tx, task)
}

/// The adapter's verdict on an upload whose data it no longer takes.
async fn upload_outcome(task: JoinHandle<Result<u64, FileError>>) -> (FileErrorCode, String) {
    match task.await {
        Ok(Err(e)) => (code_of(&e), e.to_string()),
        Ok(Ok(_)) => (
            FileErrorCode::Target,
            "the remote stopped taking data".to_owned(),
        ),
        Err(e) => {
            warn!(error = %e, "file upload task failed");
            (FileErrorCode::Target, "the upload failed".to_owned())
        }
    }
}

pub(super) async fn upload_task(
    files: Arc<dyn FileTransfer>,
    path: String,
    size: u64,
    mut rx: mpsc::Receiver<UploadMsg>,
    mut stop: oneshot::Receiver<Stop>,
    passed: Arc<AtomicU64>,
    r: Reply,
) {
    // Started at once for a non-empty file (so a refusal by the target comes
    // early); an empty file only at FILE_END, so a cancelled one is never made.
    let mut adapter = (size > 0).then(|| start_upload(&files, &path, size));
    // The chunk that completes the file waits for FILE_END: until then a
    // cancel still leaves no file behind.
    let mut held: Option<Bytes> = None;
    let mut forwarded = 0u64;
    let stopped = |s: Result<Stop, oneshot::error::RecvError>, bytes: u64| {
        let (code, m) = match s {
            Ok(Stop::Invalid(m)) => (FileErrorCode::Invalid, m),
            _ => (FileErrorCode::Cancelled, "upload cancelled".to_owned()),
        };
        info!(path = %path, bytes, code = code.as_str(), "file upload stopped");
        (code, m)
    };
    loop {
        let msg = tokio::select! {
            biased;
            s = &mut stop => {
                drop(adapter);
                let (code, m) = stopped(s, forwarded);
                return r.fail(code, m).await;
            }
            msg = rx.recv() => msg,
        };
        match msg {
            None => return, // the stream is gone; the adapter removes the partial file
            Some(UploadMsg::Data(chunk)) => {
                if forwarded + chunk.len() as u64 == size {
                    held = Some(chunk);
                    continue;
                }
                let Some((tx, _)) = &adapter else { continue };
                let len = chunk.len() as u64;
                let sent = tokio::select! {
                    biased;
                    s = &mut stop => Err(s),
                    sent = tx.send(chunk) => Ok(sent.is_ok()),
                };
                let sent = match sent {
                    Ok(sent) => sent,
                    Err(s) => {
                        drop(adapter);
                        let (code, m) = stopped(s, forwarded);
                        return r.fail(code, m).await;
                    }
                };
                if !sent {
                    if let Some((_, task)) = adapter.take() {
                        let (code, m) = upload_outcome(task).await;
                        return r.fail(code, m).await;
                    }
                    return;
                }
                forwarded += len;
                passed.store(forwarded, Ordering::Release);
                r.metrics
                    .file_bytes
                    .with_label_values(&["upload"])
                    .inc_by(len);
                if !r
                    .send(ServerMessage::FileProgress {
                        id: r.id,
                        bytes: forwarded,
                    })
                    .await
                {
                    return;
                }
            }
            Some(UploadMsg::End) => break,
        }
    }
    let (tx, task) = match adapter.take() {
        Some(a) => a,
        None => start_upload(&files, &path, size),
    };
    if let Some(last) = held.take() {
        let len = last.len() as u64;
        if tx.send(last).await.is_err() {
            let (code, m) = upload_outcome(task).await;
            return r.fail(code, m).await;
        }
        forwarded += len;
        passed.store(forwarded, Ordering::Release);
        r.metrics
            .file_bytes
            .with_label_values(&["upload"])
            .inc_by(len);
        let _ = r
            .send(ServerMessage::FileProgress {
                id: r.id,
                bytes: forwarded,
            })
            .await;
    }
    drop(tx);
    match task.await {
        Ok(Ok(bytes)) => {
            info!(path = %path, bytes, "file upload stored");
            r.finish(ServerMessage::FileDone { id: r.id, bytes }).await;
        }
        Ok(Err(e)) => r.fail(code_of(&e), e.to_string()).await,
        Err(e) => {
            warn!(error = %e, "file upload task failed");
            r.fail(FileErrorCode::Target, "the upload failed").await;
        }
    }
}
