//! File transfer messages (§2.3 of `docs/protocol.md`): listing a directory,
//! downloads (gateway → viewer chunks, acknowledged by the viewer) and
//! uploads (announced with their size, accepted or refused before any data
//! flows, then chunks acknowledged by the gateway). Both directions keep at
//! most [`FILE_WINDOW`] bytes unacknowledged, so a transfer never holds more
//! than that in the gateway, and never delays frames by more than that.

use crate::codec::{Reader, WireError, Writer, truncate_utf8};

/// Largest chunk of file data in one FILE_DATA message.
pub const MAX_FILE_CHUNK: usize = 256 << 10;

/// Bytes of one transfer that may be sent and not yet acknowledged.
pub const FILE_WINDOW: u64 = 1 << 20;

/// Longest path, bytes.
pub const MAX_FILE_PATH: usize = 4096;

/// Longest file name, bytes.
pub const MAX_FILE_NAME: usize = 255;

/// Most entries in one FILE_LISTING.
pub const MAX_LISTING_ENTRIES: usize = 10_000;

/// Bytes of a file: `Debug` shows the length only, never the content.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct FileBytes(pub Vec<u8>);

impl std::fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileBytes({} bytes)", self.0.len())
    }
}

/// What the session offers for files (FILES, sent after HELLO when the
/// target can transfer files and the policy allows a direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilePolicy {
    /// Uploads (viewer → remote) are allowed.
    pub upload: bool,
    /// Downloads (remote → viewer) are allowed.
    pub download: bool,
    /// Largest upload, bytes; 0: no limit.
    pub upload_max_bytes: u64,
    /// Largest download, bytes; 0: no limit.
    pub download_max_bytes: u64,
}

/// One entry of a FILE_LISTING.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingEntry {
    /// Name within the directory.
    pub name: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Modification time, Unix seconds; 0 if unknown.
    pub modified: u64,
}

/// A FILE_LISTING: the answer to FILE_LIST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileListing {
    /// The request's id.
    pub id: u32,
    /// The directory listed, absolute.
    pub path: String,
    /// More entries existed than one listing carries.
    pub truncated: bool,
    /// Directories first, then files, each by name.
    pub entries: Vec<ListingEntry>,
}

/// Why a file request or transfer failed (FILE_ERROR `code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileErrorCode {
    /// The workspace policy does not allow this direction.
    Denied = 1,
    /// Over the policy's size limit.
    TooLarge = 2,
    /// No such file or directory on the remote.
    NotFound = 3,
    /// The remote refused or failed (permissions, disk full, ...).
    Target = 4,
    /// The request is not acceptable (bad name, size mismatch, ...).
    Invalid = 5,
    /// Cancelled by the viewer.
    Cancelled = 6,
    /// Too many transfers at once; try again when one finished.
    Busy = 7,
    /// This session offers no file transfer.
    Unsupported = 8,
}

impl FileErrorCode {
    pub(crate) fn from_u8(v: u8) -> Result<Self, WireError> {
        use FileErrorCode::*;
        Ok(match v {
            1 => Denied,
            2 => TooLarge,
            3 => NotFound,
            4 => Target,
            5 => Invalid,
            6 => Cancelled,
            7 => Busy,
            8 => Unsupported,
            _ => return Err(WireError::Invalid("file error code")),
        })
    }

    /// Short name for logs and metrics.
    pub const fn as_str(self) -> &'static str {
        use FileErrorCode::*;
        match self {
            Denied => "denied",
            TooLarge => "too_large",
            NotFound => "not_found",
            Target => "target",
            Invalid => "invalid",
            Cancelled => "cancelled",
            Busy => "busy",
            Unsupported => "unsupported",
        }
    }
}

/// Reads a u16-length path: at most [`MAX_FILE_PATH`] bytes, no NUL.
pub(crate) fn read_path(r: &mut Reader<'_>) -> Result<String, WireError> {
    read_text(r, MAX_FILE_PATH, "file path")
}

/// Reads a u16-length file name: at most [`MAX_FILE_NAME`] bytes, no NUL.
pub(crate) fn read_name(r: &mut Reader<'_>) -> Result<String, WireError> {
    read_text(r, MAX_FILE_NAME, "file name")
}

fn read_text(r: &mut Reader<'_>, limit: usize, what: &'static str) -> Result<String, WireError> {
    let len = r.u16()? as usize;
    if len > limit {
        return Err(WireError::TooLarge { len, limit });
    }
    let bytes = r.bytes(len)?;
    if bytes.contains(&0) {
        return Err(WireError::Invalid(what));
    }
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| WireError::Utf8)
}

/// Writes a path cut to [`MAX_FILE_PATH`] bytes.
pub(crate) fn write_path(w: &mut Writer<'_>, path: &str) {
    w.string16(truncate_utf8(path, MAX_FILE_PATH));
}

/// Writes a name cut to [`MAX_FILE_NAME`] bytes.
pub(crate) fn write_name(w: &mut Writer<'_>, name: &str) {
    w.string16(truncate_utf8(name, MAX_FILE_NAME));
}

/// Reads a u32-length chunk: 1 to [`MAX_FILE_CHUNK`] bytes.
pub(crate) fn read_chunk(r: &mut Reader<'_>) -> Result<FileBytes, WireError> {
    let data = r.blob32(MAX_FILE_CHUNK)?;
    if data.is_empty() {
        return Err(WireError::Invalid("empty file chunk"));
    }
    Ok(FileBytes(data.to_vec()))
}

/// Writes a chunk (callers keep it within [`MAX_FILE_CHUNK`]).
pub(crate) fn write_chunk(w: &mut Writer<'_>, data: &FileBytes) {
    w.blob32(&data.0[..data.0.len().min(MAX_FILE_CHUNK)]);
}

pub(crate) fn write_listing(w: &mut Writer<'_>, l: &FileListing) {
    let count = l.entries.len().min(MAX_LISTING_ENTRIES);
    w.u32(l.id).u8(u8::from(l.truncated));
    write_path(w, &l.path);
    w.u32(count as u32);
    for e in &l.entries[..count] {
        w.u8(u8::from(e.is_dir)).u64(e.size).u64(e.modified);
        write_name(w, &e.name);
    }
}

pub(crate) fn read_listing(r: &mut Reader<'_>, body_len: usize) -> Result<FileListing, WireError> {
    let id = r.u32()?;
    let truncated = r.bool("truncated flag")?;
    let path = read_path(r)?;
    let count = r.u32()? as usize;
    if count > MAX_LISTING_ENTRIES {
        return Err(WireError::TooLarge {
            len: count,
            limit: MAX_LISTING_ENTRIES,
        });
    }
    // Each entry takes at least 19 bytes: do not trust `count` for allocation.
    let mut entries = Vec::with_capacity(count.min(body_len / 19));
    for _ in 0..count {
        let is_dir = r.bool("entry kind")?;
        let size = r.u64()?;
        let modified = r.u64()?;
        let name = read_name(r)?;
        entries.push(ListingEntry {
            name,
            is_dir,
            size,
            modified,
        });
    }
    Ok(FileListing {
        id,
        path,
        truncated,
        entries,
    })
}

pub(crate) fn write_policy(w: &mut Writer<'_>, p: &FilePolicy) {
    let flags = u8::from(p.upload) | u8::from(p.download) << 1;
    w.u8(flags)
        .u64(p.upload_max_bytes)
        .u64(p.download_max_bytes);
}

pub(crate) fn read_policy(r: &mut Reader<'_>) -> Result<FilePolicy, WireError> {
    let flags = r.u8()?;
    if flags & !0b11 != 0 {
        return Err(WireError::Invalid("file flags"));
    }
    Ok(FilePolicy {
        upload: flags & 1 != 0,
        download: flags & 2 != 0,
        upload_max_bytes: r.u64()?,
        download_max_bytes: r.u64()?,
    })
}
