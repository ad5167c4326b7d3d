//! Bytes of a recording: the header and the records.

use serde::{Deserialize, Serialize};

/// The first bytes of every recording.
pub const MAGIC: &[u8; 8] = b"ORIELREC";
/// Format version.
pub const VERSION: u16 = 1;
/// Largest header, bytes.
pub const MAX_HEADER: usize = 64 << 10;
/// Largest record payload, bytes (a gateway → viewer message is at most 64 MiB).
pub const MAX_RECORD: usize = 64 << 20;

/// Who and what was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Session id.
    pub session_id: String,
    /// User id of the session's owner.
    pub user_id: String,
    /// User name.
    pub user: String,
    /// Workspace name.
    pub workspace: String,
    /// Workspace kind (`vnc`, `rdp`, `ssh`, `container`).
    pub kind: String,
    /// The recording gateway's id.
    pub gateway: String,
    /// Key id of the gateway key that signs the checkpoints.
    pub key_id: String,
    /// Start, Unix µs.
    pub started_us: u64,
    /// Whether keystrokes are in the event track.
    pub keystrokes: bool,
}

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    /// A gateway → viewer message as viewers get it (HELLO, FRAME with
    /// frame id 0, DESKTOP_SIZE, CURSOR, BELL; docs/protocol.md).
    Message = 1,
    /// A FRAME that repaints the whole desktop: playback can start here.
    Keyframe = 2,
    /// An event of the session, as a JSON object (docs/recording.md).
    Event = 3,
    /// `seq: u32`, the chain's hash (32 bytes), the gateway's Ed25519
    /// signature over them (64 bytes).
    Checkpoint = 4,
    /// How the session ended, as a JSON object.
    End = 5,
    /// The terminal track of an SSH session: a byte 0 and what the shell
    /// printed, or a byte 1 and the terminal's `cols: u16`, `rows: u16`
    /// ([`TerminalEntry`](crate::TerminalEntry)).
    Terminal = 6,
}

impl RecordKind {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => RecordKind::Message,
            2 => RecordKind::Keyframe,
            3 => RecordKind::Event,
            4 => RecordKind::Checkpoint,
            5 => RecordKind::End,
            6 => RecordKind::Terminal,
            _ => return None,
        })
    }
}

/// One record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// What it holds.
    pub kind: RecordKind,
    /// When, Unix µs.
    pub time_us: u64,
    /// Its bytes.
    pub payload: Vec<u8>,
}

/// Bytes of a record before its payload: kind, time, length.
pub(crate) const RECORD_HEAD: usize = 1 + 8 + 4;

impl Record {
    /// Appends the record's bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(RECORD_HEAD + self.payload.len());
        out.push(self.kind as u8);
        out.extend_from_slice(&self.time_us.to_be_bytes());
        out.extend_from_slice(&(self.payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.payload);
    }
}

/// Why bytes are not a recording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Not a recording, or a version this reader does not know.
    #[error("not an Oriel recording (version {VERSION})")]
    NotARecording,
    /// The header is cut short, too large or not valid.
    #[error("the recording's header is not valid: {0}")]
    Header(String),
    /// A record of an unknown kind or an impossible length at this offset.
    #[error("invalid record at byte {0}")]
    Record(usize),
}

/// The header's bytes: magic, version, length, JSON.
pub(crate) fn encode_header(header: &Header) -> Vec<u8> {
    let json = serde_json::to_vec(header).unwrap_or_default();
    let mut out = Vec::with_capacity(14 + json.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(&json);
    out
}

/// The header and where the records start.
pub(crate) fn decode_header(bytes: &[u8]) -> Result<(Header, usize), FormatError> {
    if bytes.len() < 14 || &bytes[..8] != MAGIC {
        return Err(FormatError::NotARecording);
    }
    if u16::from_be_bytes([bytes[8], bytes[9]]) != VERSION {
        return Err(FormatError::NotARecording);
    }
    let len = u32::from_be_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]) as usize;
    if len > MAX_HEADER || bytes.len() < 14 + len {
        return Err(FormatError::Header("cut short or too large".into()));
    }
    let header = serde_json::from_slice(&bytes[14..14 + len])
        .map_err(|e| FormatError::Header(e.to_string()))?;
    Ok((header, 14 + len))
}

/// The record at `at`: `Ok(None)` when the bytes end before it is whole
/// (a recording cut short), else the record and the offset after it.
pub(crate) fn decode_record(
    bytes: &[u8],
    at: usize,
) -> Result<Option<(Record, usize)>, FormatError> {
    let Some(head) = bytes.get(at..at + RECORD_HEAD) else {
        return Ok(None);
    };
    let kind = RecordKind::from_u8(head[0]).ok_or(FormatError::Record(at))?;
    let time_us = u64::from_be_bytes(head[1..9].try_into().map_err(|_| FormatError::Record(at))?);
    let len = u32::from_be_bytes(
        head[9..13]
            .try_into()
            .map_err(|_| FormatError::Record(at))?,
    ) as usize;
    if len > MAX_RECORD {
        return Err(FormatError::Record(at));
    }
    let start = at + RECORD_HEAD;
    let Some(payload) = bytes.get(start..start + len) else {
        return Ok(None);
    };
    Ok(Some((
        Record {
            kind,
            time_us,
            payload: payload.to_vec(),
        },
        start + len,
    )))
}
