//! The file service against a file transfer on the local file system: the
//! policy and the size limits are enforced before data flows, the windows
//! bound what is in flight, cancels and short uploads leave no file, and a
//! viewer that breaks the protocol is refused.
//!
//! Time is paused: a timeout elapses only once every task is waiting, so
//! "nothing more arrives" is decided without a wall-clock guess.

use super::*;
use oriel_core_wire::MAX_FILE_CHUNK;
use oriel_protocols_session::FileError;
use oriel_protocols_session::{BoxFuture, FileEntry};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

/// Files under a directory of this machine; relative paths start there.
struct LocalFiles {
    root: PathBuf,
    uploads_started: AtomicUsize,
    downloads_started: AtomicUsize,
}

fn io(e: std::io::Error) -> FileError {
    if e.kind() == std::io::ErrorKind::NotFound {
        FileError::NotFound(e.to_string())
    } else {
        FileError::Failed(e.to_string())
    }
}

impl LocalFiles {
    fn path(&self, p: &str) -> PathBuf {
        if p.starts_with('/') {
            PathBuf::from(p)
        } else {
            self.root.join(p)
        }
    }
}

impl FileTransfer for LocalFiles {
    fn home(&self) -> BoxFuture<'_, Result<String, FileError>> {
        Box::pin(async move { Ok(self.root.to_string_lossy().into_owned()) })
    }

    fn list(&self, dir: &str) -> BoxFuture<'_, Result<Vec<FileEntry>, FileError>> {
        let dir = self.path(dir);
        Box::pin(async move {
            let mut out = Vec::new();
            for e in std::fs::read_dir(dir).map_err(io)? {
                let e = e.map_err(io)?;
                let meta = e.metadata().map_err(io)?;
                out.push(FileEntry {
                    name: e.file_name().to_string_lossy().into_owned(),
                    size: meta.len(),
                    is_dir: meta.is_dir(),
                    modified: None,
                });
            }
            Ok(out)
        })
    }

    fn size(&self, path: &str) -> BoxFuture<'_, Result<u64, FileError>> {
        let path = self.path(path);
        Box::pin(async move { Ok(std::fs::metadata(path).map_err(io)?.len()) })
    }

    fn download(
        &self,
        path: &str,
        chunks: mpsc::Sender<Bytes>,
    ) -> BoxFuture<'_, Result<u64, FileError>> {
        let path = self.path(path);
        Box::pin(async move {
            self.downloads_started.fetch_add(1, Ordering::SeqCst);
            let data = std::fs::read(path).map_err(io)?;
            for c in data.chunks(64 * 1024) {
                if chunks.send(Bytes::copy_from_slice(c)).await.is_err() {
                    return Err(FileError::Aborted("stopped".into()));
                }
            }
            Ok(data.len() as u64)
        })
    }

    fn upload(
        &self,
        path: &str,
        mut chunks: mpsc::Receiver<Bytes>,
        expected_size: u64,
    ) -> BoxFuture<'_, Result<u64, FileError>> {
        let path = self.path(path);
        Box::pin(async move {
            self.uploads_started.fetch_add(1, Ordering::SeqCst);
            let mut data = Vec::new();
            while let Some(c) = chunks.recv().await {
                data.extend_from_slice(&c);
            }
            if data.len() as u64 != expected_size {
                return Err(FileError::Aborted("short".into()));
            }
            std::fs::write(path, &data).map_err(io)?;
            Ok(data.len() as u64)
        })
    }
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "oriel-gw-files-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Harness {
    service: FileService,
    out: mpsc::Receiver<Outgoing>,
    files: Arc<LocalFiles>,
    dir: Scratch,
}

fn policy(upload: bool, download: bool, limit: u64) -> Policy {
    Policy {
        upload,
        download,
        upload_max_bytes: limit,
        download_max_bytes: limit,
        ..Policy::default()
    }
}

fn harness(name: &str, policy: &Policy) -> Harness {
    let dir = Scratch::new(name);
    let files = Arc::new(LocalFiles {
        root: dir.path().to_owned(),
        uploads_started: AtomicUsize::new(0),
        downloads_started: AtomicUsize::new(0),
    });
    let (tx, out) = mpsc::channel(16);
    let metrics = GatewayMetrics::new(&prometheus::Registry::new()).unwrap();
    let service = FileService::new(files.clone(), policy, true, tx, metrics).unwrap();
    Harness {
        service,
        out,
        files,
        dir,
    }
}

impl Harness {
    async fn next(&mut self) -> ServerMessage {
        let item = tokio::time::timeout(Duration::from_secs(10), self.out.recv())
            .await
            .expect("a message in time")
            .expect("the channel is open");
        match item {
            Outgoing::Message(bytes) => ServerMessage::decode(&bytes).unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Nothing arrives for a moment (the service is waiting for the viewer).
    async fn quiet(&mut self) {
        let got = tokio::time::timeout(Duration::from_millis(200), self.out.recv()).await;
        assert!(got.is_err(), "unexpected message: {got:?}");
    }

    async fn upload(&mut self, id: u32, name: &str, size: u64) {
        self.service
            .upload(id, size, String::new(), name.into())
            .await
            .unwrap();
    }

    fn data(&mut self, id: u32, bytes: &[u8]) -> Result<(), SessionError> {
        self.service.data(id, FileBytes(bytes.to_vec()))
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test(start_paused = true)]
async fn uploads_over_the_limit_or_denied_are_refused_before_any_data() {
    let mut h = harness("refused", &policy(true, false, 100));
    h.upload(1, "big.bin", 101).await;
    match h.next().await {
        ServerMessage::FileError {
            id: 1,
            code,
            message,
        } => {
            assert_eq!(code, FileErrorCode::TooLarge);
            assert!(message.contains("100 bytes"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Data sent anyway is ignored, and the target never saw an upload.
    h.data(1, b"x").unwrap();
    h.service.end(1).unwrap();
    h.quiet().await;
    assert_eq!(h.files.uploads_started.load(Ordering::SeqCst), 0);

    // Exactly the limit is fine.
    h.upload(2, "ok.bin", 100).await;
    assert_eq!(
        h.next().await,
        ServerMessage::FileProgress { id: 2, bytes: 0 }
    );

    let mut h = harness("denied", &policy(false, true, 0));
    h.upload(3, "a.txt", 1).await;
    assert!(matches!(
        h.next().await,
        ServerMessage::FileError {
            id: 3,
            code: FileErrorCode::Denied,
            ..
        }
    ));
    h.service.download(4, "nothing".into()).await.unwrap();
    assert!(matches!(
        h.next().await,
        ServerMessage::FileError {
            id: 4,
            code: FileErrorCode::NotFound,
            ..
        }
    ));
    assert!(!h.dir.path().join("a.txt").exists());
}

#[tokio::test(start_paused = true)]
async fn an_upload_is_stored_only_after_its_last_byte_and_end() {
    let mut h = harness("upload", &policy(true, false, 0));
    let content = pattern(600_000);
    h.upload(1, "up.bin", content.len() as u64).await;
    assert_eq!(
        h.next().await,
        ServerMessage::FileProgress { id: 1, bytes: 0 }
    );
    let mut progress = 0;
    for chunk in content.chunks(MAX_FILE_CHUNK) {
        h.data(1, chunk).unwrap();
        if progress + (chunk.len() as u64) < content.len() as u64 {
            match h.next().await {
                ServerMessage::FileProgress { id: 1, bytes } => progress = bytes,
                other => panic!("{other:?}"),
            }
        }
    }
    // The last chunk waits for FILE_END.
    h.quiet().await;
    assert!(!h.dir.path().join("up.bin").exists());
    h.service.end(1).unwrap();
    assert_eq!(
        h.next().await,
        ServerMessage::FileProgress {
            id: 1,
            bytes: content.len() as u64
        }
    );
    assert_eq!(
        h.next().await,
        ServerMessage::FileDone {
            id: 1,
            bytes: content.len() as u64
        }
    );
    assert_eq!(std::fs::read(h.dir.path().join("up.bin")).unwrap(), content);
    // The id is free again once done.
    h.upload(1, "empty.bin", 0).await;
    assert_eq!(
        h.next().await,
        ServerMessage::FileProgress { id: 1, bytes: 0 }
    );
    h.service.end(1).unwrap();
    assert_eq!(h.next().await, ServerMessage::FileDone { id: 1, bytes: 0 });
    assert_eq!(std::fs::read(h.dir.path().join("empty.bin")).unwrap(), b"");
}

#[tokio::test(start_paused = true)]
async fn short_long_and_cancelled_uploads_leave_no_file() {
    let mut h = harness("short", &policy(true, false, 0));
    h.upload(1, "short.bin", 10).await;
    h.next().await;
    h.data(1, b"12345").unwrap();
    h.next().await; // progress 5
    h.service.end(1).unwrap();
    assert!(matches!(
        h.next().await,
        ServerMessage::FileError { id: 1, code: FileErrorCode::Invalid, ref message } if message.contains("5 of the announced 10")
    ));

    h.upload(2, "long.bin", 3).await;
    h.next().await;
    h.data(2, b"12345").unwrap();
    assert!(matches!(
        h.next().await,
        ServerMessage::FileError {
            id: 2,
            code: FileErrorCode::Invalid,
            ..
        }
    ));

    // A cancel after every byte but before FILE_END still stores nothing.
    h.upload(3, "cancelled.bin", 4).await;
    h.next().await;
    h.data(3, b"abcd").unwrap();
    h.service.cancel(3);
    assert!(matches!(
        h.next().await,
        ServerMessage::FileError {
            id: 3,
            code: FileErrorCode::Cancelled,
            ..
        }
    ));
    for name in ["short.bin", "long.bin", "cancelled.bin"] {
        assert!(!h.dir.path().join(name).exists(), "{name} exists");
    }
}

#[tokio::test(start_paused = true)]
async fn a_viewer_that_ignores_the_upload_window_breaks_the_protocol() {
    let mut h = harness("window", &policy(true, false, 0));
    // The upload's task does not run between these calls (one thread), so
    // nothing is passed on: the fifth 256 KiB chunk is beyond the window.
    let size = 4 * FILE_WINDOW;
    h.upload(1, "fast.bin", size).await;
    h.next().await;
    let chunk = vec![0u8; MAX_FILE_CHUNK];
    let mut result = Ok(());
    for _ in 0..(size as usize / MAX_FILE_CHUNK) {
        result = h.data(1, &chunk);
        if result.is_err() {
            break;
        }
    }
    let err = result.expect_err("more than the window in flight");
    assert_eq!(err.kind, oriel_core_model::SessionErrorKind::ClientProtocol);
    // Reusing an id still in use is a protocol error too.
    assert!(h.service.list(1, String::new()).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn downloads_wait_for_acknowledgements_and_respect_the_limit() {
    let content = pattern(3 * FILE_WINDOW as usize + 12345);
    let mut h = harness("download", &policy(false, true, 0));
    std::fs::write(h.dir.path().join("big.bin"), &content).unwrap();
    h.service.download(1, "big.bin".into()).await.unwrap();
    assert_eq!(
        h.next().await,
        ServerMessage::FileStart {
            id: 1,
            size: content.len() as u64,
            name: "big.bin".into()
        }
    );
    let mut got = Vec::new();
    let mut acked = 0u64;
    let mut stalls = 0;
    loop {
        // Without an acknowledgement, at most the window arrives; then the
        // service waits (the viewer's acknowledgement opens it again).
        let msg = tokio::time::timeout(Duration::from_millis(300), h.out.recv()).await;
        let Ok(Some(Outgoing::Message(bytes))) = msg else {
            assert_eq!(
                got.len() as u64 - acked,
                FILE_WINDOW,
                "stalled before the window was full"
            );
            stalls += 1;
            acked = got.len() as u64;
            h.service.ack(1, acked);
            continue;
        };
        match ServerMessage::decode(&bytes).unwrap() {
            ServerMessage::FileData {
                id: 1,
                offset,
                data,
            } => {
                assert_eq!(offset, got.len() as u64);
                got.extend_from_slice(&data.0);
                assert!(
                    got.len() as u64 - acked <= FILE_WINDOW,
                    "more than the window in flight"
                );
            }
            ServerMessage::FileDone { id: 1, bytes } => {
                assert_eq!(bytes, content.len() as u64);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(got == content, "downloaded bytes differ");
    assert_eq!(stalls, 3);

    // Over the limit: refused before the target is read.
    let mut h = harness("download-limit", &policy(false, true, 1000));
    std::fs::write(h.dir.path().join("big.bin"), pattern(1001)).unwrap();
    h.service.download(2, "big.bin".into()).await.unwrap();
    assert!(matches!(
        h.next().await,
        ServerMessage::FileError {
            id: 2,
            code: FileErrorCode::TooLarge,
            ..
        }
    ));
    assert_eq!(h.files.downloads_started.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_download_sends_nothing_more_and_busy_is_reported() {
    let mut h = harness("cancel", &policy(true, true, 0));
    std::fs::write(
        h.dir.path().join("big.bin"),
        pattern(2 * FILE_WINDOW as usize),
    )
    .unwrap();
    h.service.download(1, "big.bin".into()).await.unwrap();
    h.next().await; // FILE_START
    h.next().await; // the first chunk
    h.service.cancel(1);
    loop {
        match h.next().await {
            ServerMessage::FileData { id: 1, .. } => {} // already on the way
            ServerMessage::FileError { id: 1, code, .. } => {
                assert_eq!(code, FileErrorCode::Cancelled);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    h.quiet().await;

    // Four at once; the fifth is told to wait.
    for id in 10..14 {
        h.upload(id, &format!("f{id}"), 1).await;
        h.next().await;
    }
    h.upload(14, "f14", 1).await;
    assert!(matches!(
        h.next().await,
        ServerMessage::FileError {
            id: 14,
            code: FileErrorCode::Busy,
            ..
        }
    ));
    // Listings count too.
    h.service.list(15, String::new()).await.unwrap();
    assert!(matches!(
        h.next().await,
        ServerMessage::FileError {
            id: 15,
            code: FileErrorCode::Busy,
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn listings_are_absolute_sorted_and_filtered() {
    let mut h = harness("list", &policy(false, true, 0));
    std::fs::create_dir(h.dir.path().join("zdir")).unwrap();
    std::fs::write(h.dir.path().join("b.txt"), b"bb").unwrap();
    std::fs::write(h.dir.path().join("a.txt"), b"a").unwrap();
    h.service.list(1, String::new()).await.unwrap();
    let ServerMessage::FileListing(l) = h.next().await else {
        panic!("no listing")
    };
    assert_eq!(l.id, 1);
    assert_eq!(l.path, h.dir.path().to_string_lossy());
    let names: Vec<_> = l
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.is_dir, e.size))
        .collect();
    assert_eq!(
        names,
        [("zdir", true, 0), ("a.txt", false, 1), ("b.txt", false, 2)]
    );
    h.service.list(2, "zdir".into()).await.unwrap();
    let ServerMessage::FileListing(l) = h.next().await else {
        panic!("no listing")
    };
    assert_eq!(l.path, format!("{}/zdir", h.dir.path().to_string_lossy()));
    assert!(l.entries.is_empty());
}
