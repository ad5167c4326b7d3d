//! File transfer into and out of a session's container, for the gateway's
//! Files panel ([`FileTransfer`]).
//!
//! Docker's archive endpoints (`docker cp`) cannot be used: they write
//! through the container's root file system, which is read-only, and never
//! reach the tmpfs home. So every operation is a short `exec` in the
//! container **as the session's user** (uid 1000 by the image contract, in
//! its home), with the bytes streamed through the exec's stdin or stdout:
//! `cat > path` to upload, `cat path` to download, `find` to list and
//! `stat` for sizes. The user's own permissions apply; nothing runs as root.
//! Paths travel as arguments, never through a shell's parsing.

use std::pin::Pin;

use bollard::Docker;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bytes::Bytes;
use futures_util::StreamExt as _;
use oriel_protocols_session::{BoxFuture, FileEntry, FileError, FileTransfer};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;

use super::DockerRuntime;
use crate::SessionId;

/// The session user's home in every workspace image.
pub const HOME: &str = "/home/oriel";
/// The session user (uid:gid) of the image contract.
const USER: &str = "1000:1000";
/// Most stdout kept from a listing or `stat` (a listing of ~10 000 entries).
const MAX_TEXT: usize = 2 << 20;

/// Files of one session's container.
#[derive(Debug, Clone)]
pub struct ContainerFiles {
    docker: Docker,
    container: String,
}

impl DockerRuntime {
    /// File transfer for a session's container.
    pub fn container_files(&self, session: &SessionId) -> ContainerFiles {
        ContainerFiles {
            docker: self.docker.clone(),
            container: self.resource_name(session),
        }
    }
}

fn check_path(path: &str) -> Result<(), FileError> {
    if !path.starts_with('/') || path.contains('\0') || path.len() > 4096 {
        return Err(FileError::InvalidPath(path.to_owned()));
    }
    Ok(())
}

/// What an exec did.
struct Ran {
    stdout: Vec<u8>,
    stdout_bytes: u64,
    stderr: String,
    exit: i64,
}

/// The user-facing error for a command that failed, from its stderr.
fn refused(path: &str, ran: &Ran) -> FileError {
    let e = ran.stderr.to_ascii_lowercase();
    if e.contains("no such file") {
        FileError::NotFound(path.to_owned())
    } else if e.contains("permission denied") || e.contains("read-only file system") {
        FileError::Denied(path.to_owned())
    } else if e.contains("is a directory") || e.contains("not a directory") {
        FileError::InvalidPath(path.to_owned())
    } else {
        let first = ran.stderr.lines().next().unwrap_or("").trim();
        FileError::Failed(format!(
            "the remote system refused ({}){}",
            ran.exit,
            if first.is_empty() {
                String::new()
            } else {
                format!(": {}", first.chars().take(200).collect::<String>())
            }
        ))
    }
}

impl ContainerFiles {
    /// Runs `cmd` as the session user; feeds `stdin`; sends stdout to
    /// `stdout_to` (else keeps up to [`MAX_TEXT`] of it).
    async fn run(
        &self,
        cmd: Vec<String>,
        stdin: Option<mpsc::Receiver<Bytes>>,
        stdout_to: Option<mpsc::Sender<Bytes>>,
    ) -> Result<Ran, FileError> {
        let gone = |e: bollard::errors::Error| {
            FileError::Failed(format!("the session's container cannot be reached: {e}"))
        };
        let exec = self
            .docker
            .create_exec(
                &self.container,
                ExecConfig {
                    attach_stdin: Some(stdin.is_some()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(false),
                    cmd: Some(cmd),
                    user: Some(USER.to_owned()),
                    working_dir: Some(HOME.to_owned()),
                    ..Default::default()
                },
            )
            .await
            .map_err(gone)?;
        let started = self
            .docker
            .start_exec(
                &exec.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: Some(64 * 1024),
                }),
            )
            .await
            .map_err(gone)?;
        let StartExecResults::Attached { mut output, input } = started else {
            return Err(FileError::Failed("the command did not attach".into()));
        };
        let feeder = stdin.map(|mut rx| {
            let mut input: Pin<Box<dyn tokio::io::AsyncWrite + Send>> = input;
            tokio::spawn(async move {
                while let Some(chunk) = rx.recv().await {
                    if input.write_all(&chunk).await.is_err() {
                        return false;
                    }
                }
                input.shutdown().await.is_ok()
            })
        });
        let mut ran = Ran {
            stdout: Vec::new(),
            stdout_bytes: 0,
            stderr: String::new(),
            exit: 0,
        };
        while let Some(item) = output.next().await {
            match item.map_err(gone)? {
                bollard::container::LogOutput::StdOut { message } => {
                    ran.stdout_bytes += message.len() as u64;
                    match &stdout_to {
                        Some(tx) => {
                            if tx.send(message).await.is_err() {
                                return Err(FileError::Aborted("the viewer stopped".into()));
                            }
                        }
                        None if ran.stdout.len() + message.len() <= MAX_TEXT => {
                            ran.stdout.extend_from_slice(&message);
                        }
                        None => return Err(FileError::Failed("the listing is too long".into())),
                    }
                }
                bollard::container::LogOutput::StdErr { message } if ran.stderr.len() < 4096 => {
                    ran.stderr.push_str(&String::from_utf8_lossy(&message));
                }
                _ => {}
            }
        }
        if let Some(f) = feeder {
            let _ = f.await;
        }
        let inspect = self.docker.inspect_exec(&exec.id).await.map_err(gone)?;
        ran.exit = inspect.exit_code.unwrap_or(-1);
        Ok(ran)
    }

    async fn remove(&self, path: &str) {
        let _ = self
            .run(
                vec!["rm".into(), "-f".into(), "--".into(), path.to_owned()],
                None,
                None,
            )
            .await;
    }
}

/// Parses `find -printf '%y\t%s\t%T@\t%f\0'`.
fn parse_listing(out: &[u8]) -> Vec<FileEntry> {
    out.split(|b| *b == 0)
        .filter(|r| !r.is_empty())
        .filter_map(|record| {
            let text = String::from_utf8_lossy(record);
            let mut f = text.splitn(4, '\t');
            let (kind, size, mtime, name) = (f.next()?, f.next()?, f.next()?, f.next()?);
            let is_dir = kind == "d";
            Some(FileEntry {
                name: name.to_owned(),
                size: if is_dir { 0 } else { size.parse().unwrap_or(0) },
                is_dir,
                modified: mtime.split('.').next().and_then(|s| s.parse().ok()),
            })
        })
        .collect()
}

impl FileTransfer for ContainerFiles {
    fn home(&self) -> BoxFuture<'_, Result<String, FileError>> {
        Box::pin(async { Ok(HOME.to_owned()) })
    }

    fn list(&self, dir: &str) -> BoxFuture<'_, Result<Vec<FileEntry>, FileError>> {
        let dir = dir.to_owned();
        Box::pin(async move {
            check_path(&dir)?;
            let cmd = [
                "find",
                &dir,
                "-mindepth",
                "1",
                "-maxdepth",
                "1",
                "-printf",
                "%y\t%s\t%T@\t%f\\0",
            ];
            let ran = self
                .run(cmd.iter().map(|s| (*s).to_owned()).collect(), None, None)
                .await?;
            if ran.exit != 0 {
                return Err(refused(&dir, &ran));
            }
            let mut entries = parse_listing(&ran.stdout);
            entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then(a.name.cmp(&b.name)));
            Ok(entries)
        })
    }

    fn size(&self, path: &str) -> BoxFuture<'_, Result<u64, FileError>> {
        let path = path.to_owned();
        Box::pin(async move {
            check_path(&path)?;
            let cmd = ["stat", "-L", "-c", "%F|%s", "--", &path];
            let ran = self
                .run(cmd.iter().map(|s| (*s).to_owned()).collect(), None, None)
                .await?;
            if ran.exit != 0 {
                return Err(refused(&path, &ran));
            }
            let text = String::from_utf8_lossy(&ran.stdout);
            let (kind, size) = text
                .trim()
                .split_once('|')
                .ok_or_else(|| FileError::Failed("unexpected stat output".into()))?;
            if kind != "regular file" && kind != "regular empty file" {
                return Err(FileError::InvalidPath(format!(
                    "{path} is not a regular file"
                )));
            }
            size.parse()
                .map_err(|_| FileError::Failed("unexpected stat output".into()))
        })
    }

    fn download(
        &self,
        path: &str,
        chunks: mpsc::Sender<Bytes>,
    ) -> BoxFuture<'_, Result<u64, FileError>> {
        let path = path.to_owned();
        Box::pin(async move {
            check_path(&path)?;
            let cmd = vec!["cat".to_owned(), "--".to_owned(), path.clone()];
            let ran = self.run(cmd, None, Some(chunks)).await?;
            if ran.exit != 0 {
                return Err(refused(&path, &ran));
            }
            Ok(ran.stdout_bytes)
        })
    }

    fn upload(
        &self,
        path: &str,
        chunks: mpsc::Receiver<Bytes>,
        expected_size: u64,
    ) -> BoxFuture<'_, Result<u64, FileError>> {
        let path = path.to_owned();
        Box::pin(async move {
            check_path(&path)?;
            // Count what goes in, to tell a finished upload from one cut short.
            let (tx, rx) = mpsc::channel::<Bytes>(4);
            let counter = tokio::spawn(async move {
                let mut chunks = chunks;
                let mut n = 0u64;
                while let Some(c) = chunks.recv().await {
                    n += c.len() as u64;
                    if tx.send(c).await.is_err() {
                        break;
                    }
                }
                n
            });
            // `$1` is the path: it is never parsed by the shell.
            let cmd = vec![
                "sh".to_owned(),
                "-c".to_owned(),
                "cat > \"$1\"".to_owned(),
                "sh".to_owned(),
                path.clone(),
            ];
            let ran = self.run(cmd, Some(rx), None).await;
            let written = counter.await.unwrap_or(0);
            let ran = match ran {
                Ok(r) => r,
                Err(e) => {
                    self.remove(&path).await;
                    return Err(e);
                }
            };
            if ran.exit != 0 {
                return Err(refused(&path, &ran));
            }
            if written != expected_size {
                self.remove(&path).await;
                return Err(FileError::Aborted(format!(
                    "{written} of {expected_size} bytes arrived"
                )));
            }
            Ok(written)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_parse_names_with_tabs_and_newlines() {
        let out = b"d\t4096\t1700000000.5\tDocuments\0f\t12\t1700000001.0\tnotes\nv2.txt\0f\t3\t1.0\ta\tb\0";
        let e = parse_listing(out);
        assert_eq!(e.len(), 3);
        assert!(e[0].is_dir && e[0].size == 0 && e[0].name == "Documents");
        assert_eq!(e[1].name, "notes\nv2.txt");
        assert_eq!((e[1].size, e[1].modified), (12, Some(1_700_000_001)));
        assert_eq!(e[2].name, "a\tb");
    }

    #[test]
    fn only_absolute_paths_without_nul() {
        assert!(check_path("/home/oriel/x").is_ok());
        assert!(check_path("relative").is_err());
        assert!(check_path("/a\0b").is_err());
    }
}
