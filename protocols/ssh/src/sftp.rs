//! File transfer over SFTP (russh-sftp: SFTP version 3,
//! draft-ietf-secsh-filexfer-02, the version OpenSSH speaks), on a second
//! session channel of the same SSH connection (RFC 4254 §6.5 `subsystem`).
//!
//! The channel is opened on first use. Paths may be absolute, relative to
//! the home directory, or start with `~/`. Uploads go to a hidden temporary
//! file in the target directory and are renamed over the target only once
//! every announced byte arrived: an interrupted upload leaves neither a
//! partial file nor a damaged original.

use crate::client::ClientHandler;
use bytes::Bytes;
use oriel_protocols_session::{BoxFuture, FileEntry, FileError, FileTransfer};
use ring::rand::SecureRandom as _;
use russh::ChannelMsg;
use russh::client::Handle;
use russh_sftp::client::SftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::StatusCode;
use std::sync::Arc;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{OnceCell, mpsc};
use tracing::{debug, warn};

/// Bytes per download chunk.
const CHUNK: usize = 64 * 1024;

/// Most directory entries returned by one listing.
const MAX_ENTRIES: usize = 100_000;

/// SFTP over the session's SSH connection.
pub struct SftpFiles {
    handle: Arc<Handle<ClientHandler>>,
    sftp: OnceCell<(SftpSession, String)>,
}

impl std::fmt::Debug for SftpFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpFiles")
            .field("open", &self.sftp.initialized())
            .finish()
    }
}

fn failed(e: impl std::fmt::Display) -> FileError {
    FileError::Failed(e.to_string())
}

/// The file error for an SFTP error about `path`.
fn file_error(e: SftpError, path: &str) -> FileError {
    match e {
        SftpError::Status(s) => match s.status_code {
            StatusCode::NoSuchFile => FileError::NotFound(path.to_owned()),
            StatusCode::PermissionDenied => FileError::Denied(path.to_owned()),
            _ if s.error_message.is_empty() => {
                FileError::Failed(format!("{path}: {}", s.status_code))
            }
            _ => FileError::Failed(format!("{path}: {}", s.error_message)),
        },
        other => FileError::Failed(format!("{path}: {other}")),
    }
}

/// `path` made absolute against `home` (`~`, `~/x` and relative paths).
pub fn resolve(home: &str, path: &str) -> Result<String, FileError> {
    if path.is_empty() || path.contains('\0') {
        return Err(FileError::InvalidPath(path.escape_debug().to_string()));
    }
    let home = home.trim_end_matches('/');
    Ok(if path == "~" {
        if home.is_empty() {
            "/".to_owned()
        } else {
            home.to_owned()
        }
    } else if let Some(rest) = path.strip_prefix("~/") {
        format!("{home}/{rest}")
    } else if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{home}/{path}")
    })
}

/// Directory and file name of an absolute path.
fn split(path: &str) -> Result<(&str, &str), FileError> {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((dir, name)) if !name.is_empty() && name != "." && name != ".." => {
            Ok((if dir.is_empty() { "/" } else { dir }, name))
        }
        _ => Err(FileError::InvalidPath(path.to_owned())),
    }
}

impl SftpFiles {
    /// File transfer on `handle`'s connection (opened lazily).
    pub fn new(handle: Arc<Handle<ClientHandler>>) -> Self {
        SftpFiles {
            handle,
            sftp: OnceCell::new(),
        }
    }

    /// The SFTP session and the home directory, opening them if needed.
    async fn open(&self) -> Result<&(SftpSession, String), FileError> {
        self.sftp
            .get_or_try_init(|| async {
                let mut channel = self.handle.channel_open_session().await.map_err(failed)?;
                channel
                    .request_subsystem(true, "sftp")
                    .await
                    .map_err(failed)?;
                loop {
                    match channel.wait().await {
                        Some(ChannelMsg::Success) => break,
                        Some(ChannelMsg::Failure) => {
                            return Err(FileError::Failed(
                                "the ssh server offers no sftp subsystem".to_owned(),
                            ));
                        }
                        Some(ChannelMsg::Close) | None => {
                            return Err(FileError::Failed(
                                "the ssh connection closed the sftp channel".to_owned(),
                            ));
                        }
                        Some(_) => {}
                    }
                }
                let sftp = SftpSession::new(channel.into_stream())
                    .await
                    .map_err(failed)?;
                let home = sftp
                    .canonicalize(".")
                    .await
                    .map_err(|e| file_error(e, "."))?;
                debug!(home = %home, "sftp session opened");
                Ok((sftp, home))
            })
            .await
    }

    async fn resolved(&self, path: &str) -> Result<(&SftpSession, String), FileError> {
        let (sftp, home) = self.open().await?;
        Ok((sftp, resolve(home, path)?))
    }

    async fn list_dir(&self, dir: &str) -> Result<Vec<FileEntry>, FileError> {
        let (sftp, home) = self.open().await?;
        let path = if dir.is_empty() {
            home.clone()
        } else {
            resolve(home, dir)?
        };
        let entries = sftp
            .read_dir(path.as_str())
            .await
            .map_err(|e| file_error(e, &path))?;
        let mut out: Vec<FileEntry> = entries
            .take(MAX_ENTRIES)
            .map(|entry| {
                let meta = entry.metadata();
                let is_dir = meta.is_dir();
                FileEntry {
                    name: entry.file_name(),
                    size: if is_dir { 0 } else { meta.len() },
                    is_dir,
                    modified: meta.mtime.map(u64::from),
                }
            })
            .collect();
        out.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
        Ok(out)
    }

    /// The size of the regular file at the absolute `path`.
    async fn regular_size(sftp: &SftpSession, path: &str) -> Result<u64, FileError> {
        let meta = sftp.metadata(path).await.map_err(|e| file_error(e, path))?;
        if meta.is_dir() {
            return Err(FileError::InvalidPath(format!("{path} is a directory")));
        }
        Ok(meta.len())
    }

    async fn file_size(&self, path: &str) -> Result<u64, FileError> {
        let (sftp, path) = self.resolved(path).await?;
        Self::regular_size(sftp, &path).await
    }

    async fn download_to(&self, path: &str, chunks: mpsc::Sender<Bytes>) -> Result<u64, FileError> {
        let (sftp, path) = self.resolved(path).await?;
        Self::regular_size(sftp, &path).await?;
        let mut file = sftp
            .open(path.as_str())
            .await
            .map_err(|e| file_error(e, &path))?;
        let mut sent = 0u64;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = file
                .read(&mut buf)
                .await
                .map_err(|e| FileError::Failed(format!("{path}: {e}")))?;
            if n == 0 {
                break;
            }
            if chunks
                .send(Bytes::copy_from_slice(&buf[..n]))
                .await
                .is_err()
            {
                return Err(FileError::Aborted(format!(
                    "download of {path} stopped by the viewer"
                )));
            }
            sent += n as u64;
        }
        let _ = file.shutdown().await;
        Ok(sent)
    }

    async fn upload_from(
        &self,
        path: &str,
        mut chunks: mpsc::Receiver<Bytes>,
        expected: u64,
    ) -> Result<u64, FileError> {
        let (sftp, target) = self.resolved(path).await?;
        let (dir, name) = split(&target)?;
        let mut nonce = [0u8; 6];
        ring::rand::SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| FileError::Failed("no randomness for a temporary name".to_owned()))?;
        let suffix: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let dir_prefix = if dir == "/" { "" } else { dir };
        let temp = format!("{dir_prefix}/.{name}.oriel-upload-{suffix}");
        let mut file = sftp
            .create(temp.as_str())
            .await
            .map_err(|e| file_error(e, &target))?;
        let mut written = 0u64;
        let outcome: Result<(), FileError> = async {
            while let Some(chunk) = chunks.recv().await {
                written += chunk.len() as u64;
                if written > expected {
                    return Err(FileError::Aborted(format!(
                        "upload of {target} sent more than the announced {expected} bytes"
                    )));
                }
                file.write_all(&chunk)
                    .await
                    .map_err(|e| FileError::Failed(format!("{target}: {e}")))?;
            }
            if written != expected {
                return Err(FileError::Aborted(format!(
                    "upload of {target} stopped after {written} of {expected} bytes"
                )));
            }
            file.shutdown()
                .await
                .map_err(|e| FileError::Failed(format!("{target}: {e}")))
        }
        .await;
        if let Err(e) = outcome {
            drop(file);
            if let Err(rm) = sftp.remove_file(temp.as_str()).await {
                warn!(error = %rm, "cannot remove the partial upload");
            }
            return Err(e);
        }
        drop(file);
        // SFTP v3 RENAME fails when the target exists (draft-02 §6.5).
        if sftp.rename(temp.as_str(), target.as_str()).await.is_err() {
            let replaced = match sftp.remove_file(target.as_str()).await {
                Ok(()) => sftp.rename(temp.as_str(), target.as_str()).await,
                Err(e) => Err(e),
            };
            if let Err(e) = replaced {
                let _ = sftp.remove_file(temp.as_str()).await;
                return Err(file_error(e, &target));
            }
        }
        Ok(written)
    }
}

impl FileTransfer for SftpFiles {
    fn home(&self) -> BoxFuture<'_, Result<String, FileError>> {
        Box::pin(async move { Ok(self.open().await?.1.clone()) })
    }

    fn list(&self, dir: &str) -> BoxFuture<'_, Result<Vec<FileEntry>, FileError>> {
        let dir = dir.to_owned();
        Box::pin(async move { self.list_dir(&dir).await })
    }

    fn size(&self, path: &str) -> BoxFuture<'_, Result<u64, FileError>> {
        let path = path.to_owned();
        Box::pin(async move { self.file_size(&path).await })
    }

    fn download(
        &self,
        path: &str,
        chunks: mpsc::Sender<Bytes>,
    ) -> BoxFuture<'_, Result<u64, FileError>> {
        let path = path.to_owned();
        Box::pin(async move { self.download_to(&path, chunks).await })
    }

    fn upload(
        &self,
        path: &str,
        chunks: mpsc::Receiver<Bytes>,
        expected_size: u64,
    ) -> BoxFuture<'_, Result<u64, FileError>> {
        let path = path.to_owned();
        Box::pin(async move { self.upload_from(&path, chunks, expected_size).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_against_home() {
        assert_eq!(resolve("/home/u", "a.txt").as_deref(), Ok("/home/u/a.txt"));
        assert_eq!(resolve("/home/u/", "d/a").as_deref(), Ok("/home/u/d/a"));
        assert_eq!(resolve("/home/u", "~").as_deref(), Ok("/home/u"));
        assert_eq!(resolve("/home/u", "~/x").as_deref(), Ok("/home/u/x"));
        assert_eq!(
            resolve("/home/u", "/etc/hosts").as_deref(),
            Ok("/etc/hosts")
        );
        assert!(matches!(
            resolve("/home/u", ""),
            Err(FileError::InvalidPath(_))
        ));
        assert!(matches!(
            resolve("/home/u", "a\0b"),
            Err(FileError::InvalidPath(_))
        ));
    }

    #[test]
    fn names_split_from_directories() {
        assert_eq!(split("/home/u/a.txt"), Ok(("/home/u", "a.txt")));
        assert_eq!(split("/a"), Ok(("/", "a")));
        assert!(split("/").is_err());
        assert!(split("/home/..").is_err());
    }
}
