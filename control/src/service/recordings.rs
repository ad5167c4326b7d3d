//! Session recordings in the control plane's storage (`docs/recording.md`):
//! a gateway hands over each finished file (in process under `oriel up`,
//! or uploaded by a stand-alone gateway), the control plane judges it with
//! `oriel_core_recording::read` and the gateway keys it knows, keeps the
//! bytes in its recordings directory and a row in the database; admins and
//! auditors list, check, download and (admins) delete them; a sweep
//! deletes what the workspace's retention policy lets go.

use super::{Authed, ServiceError};
use crate::ControlPlane;
use crate::audit::Audit;
use crate::time::now_ms;
use oriel_control_store::{
    DataKey, RecordingFilter, RecordingRecord, RecordingVerdict, StoreError, new_id,
};
use oriel_core_recording::Verdict;
use oriel_core_token::TokenVerifier;
use std::path::{Path, PathBuf};
use tracing::{info, warn};

/// Largest recording the control plane takes (it is judged in memory).
pub const MAX_RECORDING_BYTES: u64 = 1 << 30;

/// A recording file handed over by a gateway.
#[derive(Debug)]
pub struct RecordingUpload<'a> {
    /// The gateway's name of the file: `<start µs>.orec`.
    pub file_name: &'a str,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// The SHA-256 the gateway claims (lowercase hex), checked when given.
    pub sha256: Option<&'a str>,
    /// Who hands it over, for the audit log (`gateway` or its key id).
    pub by: &'a str,
}

/// What a stored recording's bytes say now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Judgement {
    pub verdict: RecordingVerdict,
    pub detail: String,
}

/// Lowercase hex SHA-256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A gateway's file name: digits and `.orec`.
fn valid_file_name(name: &str) -> bool {
    name.strip_suffix(".orec").is_some_and(|stem| {
        !stem.is_empty() && stem.len() <= 20 && stem.bytes().all(|b| b.is_ascii_digit())
    })
}

fn judge(verdict: &Verdict) -> Judgement {
    match verdict {
        Verdict::Complete => Judgement {
            verdict: RecordingVerdict::Complete,
            detail: String::new(),
        },
        Verdict::Incomplete { verified_records } => Judgement {
            verdict: RecordingVerdict::Incomplete,
            detail: format!("{verified_records} records verified"),
        },
        Verdict::Tampered { at, reason } => Judgement {
            verdict: RecordingVerdict::Tampered,
            detail: format!("{reason} (byte {at})"),
        },
    }
}

impl ControlPlane {
    fn recordings_dir(&self) -> Result<&Path, ServiceError> {
        self.settings
            .recordings
            .dir
            .as_deref()
            .ok_or_else(|| ServiceError::Internal("no recordings directory is configured".into()))
    }

    /// The gateway keys recordings are judged with: the configured ones
    /// and those the agents' node gateways registered.
    pub(crate) async fn recording_verifier(&self) -> Result<TokenVerifier, ServiceError> {
        let mut keys: Vec<[u8; 32]> = self
            .settings
            .recordings
            .keys
            .keys()
            .map(|(_, k)| *k)
            .collect();
        keys.extend(self.agent_gateway_keys().await?);
        Ok(TokenVerifier::new(keys))
    }

    /// The row of recording `id`, or 404.
    async fn recording_row(&self, id: &str) -> Result<RecordingRecord, ServiceError> {
        self.store
            .recording(id)
            .await?
            .ok_or(ServiceError::NotFound("recording"))
    }

    fn stored_path(&self, rec: &RecordingRecord) -> Result<PathBuf, ServiceError> {
        Ok(self.recordings_dir()?.join(&rec.path))
    }

    /// Reads a stored recording's file off the async runtime: its bytes
    /// as the gateway wrote them (decrypted when stored encrypted), or why
    /// they cannot be had.
    async fn read_stored(&self, rec: &RecordingRecord) -> Result<Vec<u8>, ServiceError> {
        let path = self.stored_path(rec)?;
        let key = self.keys.data.clone();
        let id = rec.id.clone();
        tokio::task::spawn_blocking(move || read_stored(&path, &key, &id))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?
    }

    /// Stores a recording a gateway hands over: judged with the gateway
    /// keys this control plane knows, kept in the recordings directory,
    /// recorded in the database. Handing the same file over again returns
    /// the stored row (an upload whose answer was lost).
    pub async fn store_recording(
        &self,
        upload: RecordingUpload<'_>,
    ) -> Result<RecordingRecord, ServiceError> {
        let dir = self.recordings_dir()?.to_owned();
        if !valid_file_name(upload.file_name) {
            return Err(ServiceError::invalid(
                "the recording's file name must be <digits>.orec",
            ));
        }
        if upload.bytes.len() as u64 > MAX_RECORDING_BYTES {
            return Err(ServiceError::invalid("the recording is too large"));
        }
        let keys = self.recording_verifier().await?;
        let bytes = upload.bytes;
        let (bytes, sha256, read) = tokio::task::spawn_blocking(move || {
            let sha = sha256_hex(&bytes);
            let read = oriel_core_recording::read(&bytes, &keys).map(|r| {
                let ended_us = r
                    .records
                    .last()
                    .map_or(r.header.started_us, |(_, rec)| rec.time_us);
                // What an SSH session printed, for search.
                let text = oriel_core_recording::transcript(r.records.iter().map(|(_, rec)| rec));
                (r.header, judge(&r.verdict), ended_us, text)
            });
            (bytes, sha, read)
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        if let Some(claimed) = upload.sha256
            && !claimed.eq_ignore_ascii_case(&sha256)
        {
            return Err(ServiceError::invalid(
                "the recording's bytes do not match its SHA-256",
            ));
        }
        let (header, judgement, ended_us, text) =
            read.map_err(|e| ServiceError::invalid(format!("not a recording: {e}")))?;
        if let Some(existing) = self
            .store
            .recording_by_file(&header.session_id, upload.file_name)
            .await?
        {
            return if existing.sha256 == sha256 {
                Ok(existing)
            } else {
                Err(ServiceError::Conflict {
                    reason: "recording_exists",
                    message: "another file of this name is stored for the session".into(),
                })
            };
        }
        let session = self.store.session(&header.session_id).await?;
        let workspace = match &session {
            Some(s) => self.store.workspace(&s.workspace_id).await?,
            None => None,
        };
        let now = now_ms();
        let retention_days = workspace
            .as_ref()
            .map_or(0, |w| w.policy.recording_retention_days);
        let id = new_id();
        let rec = RecordingRecord {
            path: format!("{id}.orec"),
            id,
            session_id: header.session_id.clone(),
            file_name: upload.file_name.to_owned(),
            workspace_id: session.as_ref().map(|s| s.workspace_id.clone()),
            workspace_name: header.workspace.clone(),
            user_id: header.user_id.clone(),
            username: header.user.clone(),
            kind: header.kind.clone(),
            gateway: header.gateway.clone(),
            started_at: (header.started_us / 1000) as i64,
            ended_at: (ended_us / 1000) as i64,
            bytes: bytes.len() as i64,
            sha256,
            verdict: judgement.verdict,
            verdict_detail: judgement.detail,
            retain_until: (retention_days > 0)
                .then(|| now + i64::from(retention_days) * 86_400_000),
            created_at: now,
        };
        let path = dir.join(&rec.path);
        let bytes = if self.settings.recordings.encrypt {
            let key = self.keys.data.clone();
            let id = rec.id.clone();
            tokio::task::spawn_blocking(move || encrypt(&key, &id, bytes))
                .await
                .map_err(|e| ServiceError::Internal(e.to_string()))??
        } else {
            bytes
        };
        write_file(&dir, &path, bytes)
            .await
            .map_err(|e| ServiceError::Internal(format!("cannot store a recording: {e}")))?;
        if let Err(e) = self.store.add_recording(&rec).await {
            let _ = tokio::fs::remove_file(&path).await;
            return match e {
                // The same file, handed over twice at once: the other won.
                StoreError::Conflict(_) => self
                    .store
                    .recording_by_file(&rec.session_id, &rec.file_name)
                    .await?
                    .filter(|r| r.sha256 == rec.sha256)
                    .ok_or(ServiceError::Conflict {
                        reason: "recording_exists",
                        message: "another file of this name is stored for the session".into(),
                    }),
                e => Err(e.into()),
            };
        }
        if !text.is_empty()
            && let Err(e) = self.store.set_recording_text(&rec.id, &text).await
        {
            // The recording is kept; only the search misses it.
            warn!(recording_id = %rec.id, error = %e, "a recording's text could not be kept for search");
        }
        info!(recording_id = %rec.id, session_id = %rec.session_id, verdict = rec.verdict.as_str(), bytes = rec.bytes, "recording stored");
        self.audit(
            Audit {
                actor_name: upload.by,
                action: "recording.store",
                success: true,
                details: Some(serde_json::json!({
                    "session_id": rec.session_id,
                    "verdict": rec.verdict.as_str(),
                    "bytes": rec.bytes,
                    "gateway": rec.gateway,
                })),
                ..Default::default()
            }
            .on("recording", &rec.id, Some(&rec.workspace_name)),
        )
        .await;
        Ok(rec)
    }

    /// Stores the recording file at `path` (the gateway of this process
    /// hands it over); the caller deletes its copy once this succeeded.
    pub async fn store_recording_file(&self, path: &Path) -> Result<String, ServiceError> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| ServiceError::invalid("a recording file has no name"))?
            .to_owned();
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| ServiceError::Internal(format!("cannot read {}: {e}", path.display())))?;
        let rec = self
            .store_recording(RecordingUpload {
                file_name: &name,
                bytes,
                sha256: None,
                by: "gateway",
            })
            .await?;
        Ok(rec.id)
    }

    /// Recordings (admins and auditors).
    pub(crate) async fn list_recordings(
        &self,
        auth: &Authed,
        filter: &RecordingFilter<'_>,
        limit: i64,
    ) -> Result<Vec<RecordingRecord>, ServiceError> {
        auth.require_reader()?;
        Ok(self.store.list_recordings(filter, limit).await?)
    }

    /// A recording (admins and auditors), its verdict checked again on
    /// the stored bytes (and updated when it changed).
    pub(crate) async fn recording_checked(
        &self,
        auth: &Authed,
        id: &str,
    ) -> Result<RecordingRecord, ServiceError> {
        auth.require_reader()?;
        let mut rec = self.recording_row(id).await?;
        let keys = self.recording_verifier().await?;
        let judgement = match self.read_stored(&rec).await {
            Ok(bytes) => tokio::task::spawn_blocking(move || {
                match oriel_core_recording::read(&bytes, &keys) {
                    Ok(r) => judge(&r.verdict),
                    Err(e) => Judgement {
                        verdict: RecordingVerdict::Tampered,
                        detail: format!("not a recording: {e}"),
                    },
                }
            })
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?,
            Err(e) => Judgement {
                verdict: RecordingVerdict::Tampered,
                detail: e.to_string(),
            },
        };
        if judgement.verdict != rec.verdict || judgement.detail != rec.verdict_detail {
            warn!(recording_id = %rec.id, was = rec.verdict.as_str(), now = judgement.verdict.as_str(), detail = %judgement.detail, "a stored recording's verdict changed");
            self.store
                .set_recording_verdict(&rec.id, judgement.verdict, &judgement.detail)
                .await?;
            rec.verdict = judgement.verdict;
            rec.verdict_detail = judgement.detail;
        }
        Ok(rec)
    }

    /// A recording's bytes (admins and auditors), audited as
    /// `recording.view` (the player) or `recording.download`.
    pub(crate) async fn recording_bytes(
        &self,
        auth: &Authed,
        id: &str,
        view: bool,
    ) -> Result<(RecordingRecord, Vec<u8>), ServiceError> {
        auth.require_reader()?;
        let rec = self.recording_row(id).await?;
        let bytes = self.read_stored(&rec).await?;
        self.audit(
            Audit::by(
                auth,
                if view {
                    "recording.view"
                } else {
                    "recording.download"
                },
            )
            .on("recording", &rec.id, Some(&rec.workspace_name))
            .details(serde_json::json!({ "session_id": rec.session_id, "bytes": bytes.len() })),
        )
        .await;
        Ok((rec, bytes))
    }

    /// An SSH recording's terminal track as an asciicast v2 file (admins
    /// and auditors), audited as `recording.download`; 409
    /// `no_terminal_text` for a recording without one.
    pub(crate) async fn recording_cast(
        &self,
        auth: &Authed,
        id: &str,
    ) -> Result<(RecordingRecord, String), ServiceError> {
        auth.require_reader()?;
        let rec = self.recording_row(id).await?;
        let keys = self.recording_verifier().await?;
        let bytes = self.read_stored(&rec).await?;
        let cast = tokio::task::spawn_blocking(move || {
            let r = oriel_core_recording::read(&bytes, &keys)
                .map_err(|e| format!("the stored file is not a recording: {e}"))?;
            Ok::<_, String>(oriel_core_recording::asciicast(
                &r.header,
                r.records.iter().map(|(_, rec)| rec),
            ))
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
        .map_err(ServiceError::Internal)?
        .ok_or_else(|| ServiceError::Conflict {
            reason: "no_terminal_text",
            message: "this recording has no terminal text (only SSH sessions have)".into(),
        })?;
        self.audit(
            Audit::by(auth, "recording.download")
                .on("recording", &rec.id, Some(&rec.workspace_name))
                .details(serde_json::json!({
                    "session_id": rec.session_id,
                    "format": "asciicast",
                    "bytes": cast.len(),
                })),
        )
        .await;
        Ok((rec, cast))
    }

    /// Deletes a recording, file and row (admins).
    pub(crate) async fn delete_recording(
        &self,
        auth: &Authed,
        id: &str,
    ) -> Result<(), ServiceError> {
        auth.require_admin()?;
        let rec = self.recording_row(id).await?;
        self.remove_recording(&rec).await?;
        self.audit(
            Audit::by(auth, "recording.delete")
                .on("recording", &rec.id, Some(&rec.workspace_name))
                .details(serde_json::json!({ "session_id": rec.session_id })),
        )
        .await;
        Ok(())
    }

    async fn remove_recording(&self, rec: &RecordingRecord) -> Result<(), ServiceError> {
        let path = self.stored_path(rec)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ServiceError::Internal(format!(
                    "cannot delete {}: {e}",
                    path.display()
                )));
            }
        }
        self.store.delete_recording(&rec.id).await?;
        Ok(())
    }

    /// Runs [`Self::sweep_recordings`] every `settings.recordings.sweep_every`.
    pub fn spawn_recording_sweep(self: &std::sync::Arc<Self>) {
        let cp = std::sync::Arc::clone(self);
        let every = self.settings.recordings.sweep_every;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match cp.sweep_recordings().await {
                    Ok(0) => {}
                    Ok(n) => info!(deleted = n, "expired recordings deleted"),
                    Err(e) => warn!(error = %e, "the recording retention sweep failed"),
                }
            }
        });
    }

    /// Deletes the recordings whose retention ended (file and row), each
    /// audited as `recording.expire`; returns how many.
    pub async fn sweep_recordings(&self) -> Result<usize, ServiceError> {
        let mut done = 0;
        loop {
            let expired = self.store.expired_recordings(now_ms(), 100).await?;
            if expired.is_empty() {
                return Ok(done);
            }
            for rec in &expired {
                self.remove_recording(rec).await?;
                done += 1;
                self.audit(
                    Audit {
                        actor_name: "system",
                        action: "recording.expire",
                        success: true,
                        details: Some(serde_json::json!({
                            "session_id": rec.session_id,
                            "retain_until": crate::time::rfc3339(rec.retain_until.unwrap_or(0)),
                        })),
                        ..Default::default()
                    }
                    .on("recording", &rec.id, Some(&rec.workspace_name)),
                )
                .await;
            }
        }
    }
}

/// The first bytes of a recording stored encrypted.
const ENCRYPTED_MAGIC: &[u8; 8] = b"ORIELENC";
/// Its version: ChaCha20-Poly1305 with the data key.
const ENCRYPTED_VERSION: u16 = 1;

/// What an encrypted recording's tag is bound to: the recording's id, so
/// a file moved to another row does not decrypt.
fn encryption_aad(id: &str) -> Vec<u8> {
    let mut aad = b"oriel-recording-at-rest-1\0".to_vec();
    aad.extend_from_slice(id.as_bytes());
    aad
}

/// `bytes` encrypted at rest for recording `id`: `ORIELENC`, version,
/// nonce, ciphertext, tag (docs/recording.md).
fn encrypt(key: &DataKey, id: &str, bytes: Vec<u8>) -> Result<Vec<u8>, ServiceError> {
    let mut out = key
        .seal_bytes(bytes, &encryption_aad(id))
        .map_err(|e| ServiceError::Internal(format!("cannot encrypt a recording: {e}")))?;
    let mut head = ENCRYPTED_MAGIC.to_vec();
    head.extend_from_slice(&ENCRYPTED_VERSION.to_be_bytes());
    drop(out.splice(0..0, head));
    Ok(out)
}

/// The stored file of recording `id` at `path`, decrypted when it was
/// stored encrypted. A file that does not decrypt was changed (or the data
/// key was): `409 recording_unreadable`.
fn read_stored(path: &Path, key: &DataKey, id: &str) -> Result<Vec<u8>, ServiceError> {
    let mut bytes = std::fs::read(path).map_err(|e| ServiceError::Conflict {
        reason: "recording_unreadable",
        message: format!("the stored file cannot be read: {e}"),
    })?;
    if !bytes.starts_with(ENCRYPTED_MAGIC) {
        return Ok(bytes);
    }
    let unreadable = |why: &str| ServiceError::Conflict {
        reason: "recording_unreadable",
        message: format!("the stored file is encrypted and {why}"),
    };
    if bytes.get(8..10) != Some(&ENCRYPTED_VERSION.to_be_bytes()[..]) {
        return Err(unreadable("of a version this control plane does not know"));
    }
    bytes.drain(..10);
    key.open_bytes(bytes, &encryption_aad(id))
        .map_err(|_| unreadable("does not decrypt with the data key: it was changed"))
}

/// Writes `bytes` to `path` in `dir` (made 0700), the file 0600, through a
/// temporary name so a half-written file is never taken for a recording.
async fn write_file(dir: &Path, path: &Path, bytes: Vec<u8>) -> std::io::Result<()> {
    tokio::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .await?;
    let tmp = path.with_extension("orec.part");
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .await?;
    use tokio::io::AsyncWriteExt as _;
    file.write_all(&bytes).await?;
    file.sync_all().await?;
    drop(file);
    tokio::fs::rename(&tmp, path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_digits_and_orec() {
        assert!(valid_file_name("1765000000000000.orec"));
        for bad in [
            "",
            ".orec",
            "../1.orec",
            "1.orec.part",
            "a1.orec",
            "1/2.orec",
            "1.txt",
        ] {
            assert!(!valid_file_name(bad), "{bad}");
        }
    }

    #[test]
    fn stored_files_encrypted_read_back_bound_to_their_id_and_changes_show() {
        let dir = std::env::temp_dir().join(format!("oriel-rec-enc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = DataKey::from_bytes(&[4; 32]).unwrap();
        let plain = b"ORIELREC\0\x01 the recording's bytes".repeat(100);
        let sealed = encrypt(&key, "rec-1", plain.clone()).unwrap();
        assert!(sealed.starts_with(b"ORIELENC\0\x01"));
        assert!(!sealed.windows(8).any(|w| w == b"ORIELREC"));
        let path = dir.join("rec-1.orec");
        std::fs::write(&path, &sealed).unwrap();
        assert_eq!(read_stored(&path, &key, "rec-1").unwrap(), plain);
        let unreadable = |r: Result<Vec<u8>, ServiceError>| {
            matches!(
                r,
                Err(ServiceError::Conflict {
                    reason: "recording_unreadable",
                    ..
                })
            )
        };
        // Another row's id, another key, a changed byte, a cut file, an
        // unknown version: refused.
        assert!(unreadable(read_stored(&path, &key, "rec-2")));
        let other = DataKey::from_bytes(&[5; 32]).unwrap();
        assert!(unreadable(read_stored(&path, &other, "rec-1")));
        for at in [12, sealed.len() / 2, sealed.len() - 1] {
            let mut changed = sealed.clone();
            changed[at] ^= 0x80;
            std::fs::write(&path, &changed).unwrap();
            assert!(unreadable(read_stored(&path, &key, "rec-1")), "{at}");
        }
        std::fs::write(&path, &sealed[..sealed.len() - 10]).unwrap();
        assert!(unreadable(read_stored(&path, &key, "rec-1")));
        let mut version = sealed.clone();
        version[9] = 2;
        std::fs::write(&path, &version).unwrap();
        assert!(unreadable(read_stored(&path, &key, "rec-1")));
        // A file stored before encryption was turned on reads as it is.
        std::fs::write(&path, &plain).unwrap();
        assert_eq!(read_stored(&path, &key, "rec-1").unwrap(), plain);
        // A missing file.
        assert!(unreadable(read_stored(&dir.join("none"), &key, "rec-1")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
