//! Handing finished recordings to the control plane's storage
//! (`docs/recording.md`). When a recorder stops, whatever the reason, its
//! file is handed over: in process under `oriel up` ([`HandoverFn`]), or
//! uploaded over HTTPS by a stand-alone gateway ([`HttpHandover`]). The
//! gateway keeps its copy until the control plane took it, retrying while
//! it is away, and hands over at start what a crash or a stop left behind
//! ([`leftover_recordings`]: those read as incomplete).

use crate::report::control_agent;
use oriel_core_recording::upload::{UPLOAD_DOMAIN, UPLOAD_HEADERS, hex, upload_signed_bytes};
use oriel_core_token::TokenSigner;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info, warn};

/// Takes finished recording files.
pub trait RecordingHandover: Send + Sync + std::fmt::Debug + 'static {
    /// The recorder closed `path`: hand it over. Never blocks.
    fn finished(&self, path: PathBuf);
}

/// No control plane takes recordings: they stay in the gateway's directory.
#[derive(Debug, Default)]
pub struct KeepRecordings;

impl RecordingHandover for KeepRecordings {
    fn finished(&self, path: PathBuf) {
        info!(path = %path.display(), "recording kept in the gateway's directory (no control plane takes it)");
    }
}

/// Files are handed to a function (the control plane in the same process).
pub struct HandoverFn(Box<dyn Fn(PathBuf) + Send + Sync>);

impl HandoverFn {
    /// Calls `f` with every finished file.
    pub fn new(f: impl Fn(PathBuf) + Send + Sync + 'static) -> Self {
        HandoverFn(Box::new(f))
    }
}

impl std::fmt::Debug for HandoverFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HandoverFn")
    }
}

impl RecordingHandover for HandoverFn {
    fn finished(&self, path: PathBuf) {
        (self.0)(path);
    }
}

/// The recording files in `dir` (`<session>/<start µs>.orec`), oldest
/// first. Called at start, before any session runs, they are the files a
/// previous run did not hand over (a crash, a stop, a control plane away).
pub fn leftover_recordings(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(sessions) = std::fs::read_dir(dir) else {
        return found;
    };
    for session in sessions.flatten() {
        if !session.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(files) = std::fs::read_dir(session.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            if file.file_type().is_ok_and(|t| t.is_file())
                && path.extension().is_some_and(|e| e == "orec")
            {
                found.push(path);
            }
        }
    }
    found.sort_by_key(|p| p.file_name().map(|n| n.to_owned()));
    found
}

/// Deletes a recording the control plane took, and its session's
/// directory once empty.
pub fn remove_handed_over(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        warn!(path = %path.display(), error = %e, "cannot delete a recording the control plane took");
        return;
    }
    if let Some(parent) = path.parent() {
        // Fails while other recordings of the session are there: fine.
        let _ = std::fs::remove_dir(parent);
    }
}

/// Path of the control plane's recording upload endpoint.
pub const UPLOAD_PATH: &str = "/api/v1/gateway/recordings";
/// Longest wait between two attempts to hand a file over.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Recordings uploaded to a remote control plane over HTTPS, signed with
/// the gateway's key (the one its reports are signed with).
pub struct HttpHandover {
    queue: std::sync::mpsc::SyncSender<PathBuf>,
}

impl std::fmt::Debug for HttpHandover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpHandover")
    }
}

impl HttpHandover {
    /// Uploads to `control_url` (`https://…`), whose certificate must chain
    /// to `ca_pem`; signed with `signer`. Starts one background thread,
    /// which sends the files in order, each retried until taken.
    pub fn new(control_url: &str, ca_pem: &[u8], signer: Arc<TokenSigner>) -> Result<Self, String> {
        let agent = control_agent(ca_pem)?;
        let url = format!("{}{UPLOAD_PATH}", control_url.trim_end_matches('/'));
        let (queue, rx) = std::sync::mpsc::sync_channel::<PathBuf>(4096);
        std::thread::Builder::new()
            .name("oriel-recordings".into())
            .spawn(move || {
                while let Ok(path) = rx.recv() {
                    upload_with_retries(&agent, &url, &signer, &path);
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(HttpHandover { queue })
    }
}

impl RecordingHandover for HttpHandover {
    fn finished(&self, path: PathBuf) {
        if self.queue.try_send(path.clone()).is_err() {
            warn!(path = %path.display(), "upload queue full: the recording stays here until the next start");
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

fn upload_with_retries(agent: &ureq::Agent, url: &str, signer: &TokenSigner, path: &Path) {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let mut backoff = Duration::from_secs(1);
    loop {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                warn!(path = %path.display(), error = %e, "cannot read a recording to upload; it stays here");
                return;
            }
        };
        let sha = sha256_hex(&bytes);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let signature = signer.sign_bytes(UPLOAD_DOMAIN, &upload_signed_bytes(&name, &sha, now));
        let result = agent
            .post(url)
            .query("file", &name)
            .header("content-type", "application/octet-stream")
            .header(UPLOAD_HEADERS[0], signer.kid().as_str())
            .header(UPLOAD_HEADERS[1], &now.to_string())
            .header(UPLOAD_HEADERS[2], &sha)
            .header(UPLOAD_HEADERS[3], &hex(&signature))
            .send(&bytes[..]);
        match result {
            Ok(_) => {
                info!(path = %path.display(), bytes = bytes.len(), "recording uploaded to the control plane");
                remove_handed_over(path);
                return;
            }
            Err(ureq::Error::StatusCode(code))
                if (400..500).contains(&code) && code != 408 && code != 429 =>
            {
                warn!(path = %path.display(), status = code, "the control plane refused a recording; it stays here");
                return;
            }
            Err(e) => {
                debug!(path = %path.display(), error = %e, "cannot upload a recording yet; retrying");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_the_orec_files_of_session_folders() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("s1");
        std::fs::create_dir(&a).unwrap();
        std::fs::write(a.join("2.orec"), b"x").unwrap();
        std::fs::write(a.join("1.orec"), b"x").unwrap();
        std::fs::write(a.join("notes.txt"), b"x").unwrap();
        std::fs::write(dir.path().join("3.orec"), b"x").unwrap();
        let found = leftover_recordings(dir.path());
        assert_eq!(found, vec![a.join("1.orec"), a.join("2.orec")]);
        remove_handed_over(&found[0]);
        remove_handed_over(&found[1]);
        assert!(!a.join("2.orec").exists());
        // The folder went with its last recording, not before.
        assert!(a.join("notes.txt").exists());
        assert!(leftover_recordings(&dir.path().join("missing")).is_empty());
    }
}
