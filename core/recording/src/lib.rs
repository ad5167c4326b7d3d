//! The session recording format (core tier: no I/O, no clock), specified in
//! `docs/recording.md`.
//!
//! A recording is a header and a sequence of records: what the viewers of
//! the session were sent (the same FRAME, DESKTOP_SIZE and CURSOR messages,
//! keyframes marked for seeking), an event track (input, clipboard and file
//! transfers with names and sizes, resizes, viewers joining and leaving),
//! and an END. Every few seconds a CHECKPOINT extends a SHA-256 hash chain
//! over the records since the previous one and signs it with the gateway's
//! key: [`read`] tells a complete recording, one cut short by a crash
//! (playable up to its end, the tail after the last checkpoint unverified)
//! and a tampered one (where the chain or a signature breaks) apart.
//!
//! An SSH session also has a terminal track (what the shell printed, the
//! terminal's size): [`asciicast`] turns it into an asciicast v2 file and
//! [`transcript`] into plain text for search.
//!
//! [`Writer`] turns records into the bytes to append; the gateway's recorder
//! writes them to a file.

mod chain;
mod format;
mod reader;
mod terminal;
pub mod upload;
mod writer;

pub use chain::{Chain, SIGNATURE_DOMAIN};
pub use format::{FormatError, Header, MAGIC, MAX_HEADER, MAX_RECORD, Record, RecordKind, VERSION};
pub use reader::{Recording, Verdict, read};
pub use terminal::{MAX_TRANSCRIPT, TerminalEntry, asciicast, terminal_track, transcript};
pub use writer::Writer;

#[cfg(test)]
mod tests;
