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

use super::{Outgoing, client_error};
use crate::metrics::GatewayMetrics;
use bytes::Bytes;
use oriel_core_model::SessionError;
use oriel_core_token::{Policy, TransferDecision};
use oriel_core_wire::{
    FILE_WINDOW, FileBytes, FileErrorCode, FileListing, FilePolicy, ListingEntry, MAX_FILE_CHUNK,
    MAX_FILE_NAME, MAX_LISTING_ENTRIES, ServerMessage,
};
use oriel_protocols_session::{FileError, FileTransfer};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument as _, info, warn};

/// Listings and transfers at once per stream.
pub(crate) const MAX_ACTIVE: usize = 4;
/// Upload chunks queued between the stream's loop and the upload's task.
const UPLOAD_QUEUE: usize = 64;
/// Chunks queued between the adapter and a transfer's task.
const ADAPTER_QUEUE: usize = 2;

/// Why the stream's loop stops a transfer.
#[derive(Debug)]
enum Stop {
    Cancelled,
    Invalid(String),
}

enum UploadMsg {
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

/// What a transfer's task needs to talk to the viewer.
#[derive(Clone)]
struct Reply {
    id: u32,
    out: mpsc::Sender<Outgoing>,
    finished: Arc<AtomicBool>,
    metrics: GatewayMetrics,
    direction: &'static str,
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
        }
        self.finished.store(true, Ordering::Release);
        let _ = self.send(msg).await;
    }

    async fn fail(&self, code: FileErrorCode, message: impl Into<String>) {
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

/// A directory path made absolute against `home` (`~`, `~/x`, relative).
fn absolute(home: &str, path: &str) -> String {
    let home = home.trim_end_matches('/');
    let joined = if path.is_empty() || path == "~" {
        home.to_owned()
    } else if let Some(rest) = path.strip_prefix("~/") {
        format!("{home}/{rest}")
    } else if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{home}/{path}")
    };
    if joined.is_empty() {
        "/".to_owned()
    } else {
        joined
    }
}

/// The remote path of an upload: `name` in `dir` (empty: home). `None` when
/// the name is not a plain file name.
fn upload_path(dir: &str, name: &str) -> Option<String> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return None;
    }
    Some(match dir.trim_end_matches('/') {
        "" if dir.is_empty() => name.to_owned(),
        "" => format!("/{name}"),
        d => format!("{d}/{name}"),
    })
}

/// The last part of a path.
fn base_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

fn limit_text(limit: u64) -> String {
    if limit >= 1 << 20 && limit.is_multiple_of(1 << 20) {
        format!("{} MiB", limit >> 20)
    } else if limit >= 1 << 10 && limit.is_multiple_of(1 << 10) {
        format!("{} KiB", limit >> 10)
    } else {
        format!("{limit} bytes")
    }
}

/// File transfer of one stream.
pub(crate) struct FileService {
    files: Arc<dyn FileTransfer>,
    policy: Policy,
    out: mpsc::Sender<Outgoing>,
    metrics: GatewayMetrics,
    active: HashMap<u32, Active>,
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
    /// File transfer under `policy`, or `None` when it allows neither direction.
    pub(crate) fn new(
        files: Arc<dyn FileTransfer>,
        policy: &Policy,
        out: mpsc::Sender<Outgoing>,
        metrics: GatewayMetrics,
    ) -> Option<Self> {
        (policy.upload || policy.download).then(|| FileService {
            files,
            policy: policy.clone(),
            out,
            metrics,
            active: HashMap::new(),
        })
    }

    /// The FILES message announcing what this session may do.
    pub(crate) fn announcement(&self) -> ServerMessage {
        ServerMessage::Files(FilePolicy {
            upload: self.policy.upload,
            download: self.policy.download,
            upload_max_bytes: self.policy.upload_max_bytes,
            download_max_bytes: self.policy.download_max_bytes,
        })
    }

    async fn refuse(
        &self,
        id: u32,
        code: FileErrorCode,
        message: String,
    ) -> Result<(), SessionError> {
        super::pipeline::send(&self.out, ServerMessage::FileError { id, code, message }).await
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

    fn reply(&self, id: u32, direction: &'static str) -> Reply {
        Reply {
            id,
            out: self.out.clone(),
            finished: Arc::new(AtomicBool::new(false)),
            metrics: self.metrics.clone(),
            direction,
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
        let reply = self.reply(id, "list");
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
        if !self.policy.download {
            info!(id, path = %path, "file download denied by policy");
            self.metrics
                .file_transfers
                .with_label_values(&["download", FileErrorCode::Denied.as_str()])
                .inc();
            return self
                .refuse(
                    id,
                    FileErrorCode::Denied,
                    "downloading files is disabled by policy".into(),
                )
                .await;
        }
        if path.is_empty() {
            return self
                .refuse(id, FileErrorCode::Invalid, "no file was named".into())
                .await;
        }
        if !self.admit(id, "download").await? {
            return Ok(());
        }
        let reply = self.reply(id, "download");
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
        let refused = match self.policy.allows_upload(size) {
            TransferDecision::Allowed => None,
            TransferDecision::Denied => Some((
                FileErrorCode::Denied,
                "uploading files is disabled by policy".to_owned(),
            )),
            TransferDecision::TooLarge { limit } => Some((
                FileErrorCode::TooLarge,
                format!(
                    "{name} ({size} bytes) is larger than the upload limit of {}",
                    limit_text(limit)
                ),
            )),
        };
        if let Some((code, message)) = refused {
            info!(id, dir = %dir, name = %name, size, code = code.as_str(), "file upload refused by policy");
            self.metrics
                .file_transfers
                .with_label_values(&["upload", code.as_str()])
                .inc();
            return self.refuse(id, code, message).await;
        }
        let Some(path) = upload_path(&dir, &name) else {
            return self
                .refuse(
                    id,
                    FileErrorCode::Invalid,
                    format!("{name:?} is not a file name"),
                )
                .await;
        };
        if !self.admit(id, "upload").await? {
            return Ok(());
        }
        info!(id, path = %path, size, "file upload accepted");
        // Accepted: the viewer may send data from now on.
        super::pipeline::send(&self.out, ServerMessage::FileProgress { id, bytes: 0 }).await?;
        let reply = self.reply(id, "upload");
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

async fn list_task(files: Arc<dyn FileTransfer>, path: String, r: &Reply) {
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

async fn download_task(
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
    let name = base_name(&path).to_owned();
    if limit > 0 && size > limit {
        info!(path = %path, size, limit, "file download refused: over the size limit");
        let message = format!(
            "{name} ({size} bytes) is larger than the download limit of {}",
            limit_text(limit)
        );
        return r.fail(FileErrorCode::TooLarge, message).await;
    }
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

async fn upload_task(
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

#[cfg(test)]
mod tests;
