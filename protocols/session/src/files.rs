//! File transfer between the viewer and a session's target (SFTP for SSH
//! targets, the container's file system for container sessions).
//!
//! An adapter that can move files offers a [`FileTransfer`] with its
//! [`RemoteSession`](crate::RemoteSession). The gateway sits between it and
//! the viewer: it decides by the token's policy whether uploads and downloads
//! are allowed at all, enforces the size limit while bytes flow, and reports
//! progress; the adapter only moves bytes.

use crate::BoxFuture;
use bytes::Bytes;
use tokio::sync::mpsc;

/// Why a file operation failed. Messages are for the user (they describe
/// the user's own server), never internals of Oriel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// No such file or directory.
    #[error("no such file or directory: {0}")]
    NotFound(String),
    /// The target refused (permissions, read-only file system, ...).
    #[error("permission denied: {0}")]
    Denied(String),
    /// The path is not acceptable (empty, not absolute where required, ...).
    #[error("invalid path: {0}")]
    InvalidPath(String),
    /// The transfer was cut short (the viewer stopped, the size limit was hit).
    #[error("transfer aborted: {0}")]
    Aborted(String),
    /// The target failed otherwise.
    #[error("file transfer failed: {0}")]
    Failed(String),
}

/// An entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Name within the directory.
    pub name: String,
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Modification time, Unix seconds, if known.
    pub modified: Option<u64>,
}

/// Moves files to and from a session's target.
pub trait FileTransfer: Send + Sync + 'static {
    /// The directory transfers start in (the user's home).
    fn home(&self) -> BoxFuture<'_, Result<String, FileError>>;

    /// Lists a directory.
    fn list(&self, dir: &str) -> BoxFuture<'_, Result<Vec<FileEntry>, FileError>>;

    /// Size of a regular file, before downloading it.
    fn size(&self, path: &str) -> BoxFuture<'_, Result<u64, FileError>>;

    /// Streams the file at `path` into `chunks`, in order. Stops early, with
    /// [`FileError::Aborted`], when the receiver is dropped. Returns the bytes sent.
    fn download(
        &self,
        path: &str,
        chunks: mpsc::Sender<Bytes>,
    ) -> BoxFuture<'_, Result<u64, FileError>>;

    /// Writes what arrives on `chunks` to a new file at `path` (replacing an
    /// existing file). The upload is complete when the sender is dropped
    /// after the last chunk and `complete` is true; when the sender is
    /// dropped early the partial file is removed. Returns the bytes written.
    fn upload(
        &self,
        path: &str,
        chunks: mpsc::Receiver<Bytes>,
        expected_size: u64,
    ) -> BoxFuture<'_, Result<u64, FileError>>;
}
