//! The terminal track of an SSH recording: what the shell printed, as
//! bytes, and the terminal's size in characters (TERMINAL records,
//! `docs/recording.md`). From it, an asciicast v2 file for terminal players
//! and a plain-text transcript for search.

use crate::format::{Header, Record, RecordKind};
use serde_json::json;
use std::fmt::Write as _;

/// First byte of a TERMINAL record: what follows is the shell's output.
const OUTPUT: u8 = 0;
/// First byte of a TERMINAL record: `cols: u16`, `rows: u16` follow.
const GRID: u8 = 1;

/// An entry of the terminal track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalEntry {
    /// Bytes the shell printed (any UTF-8 sequence may be split across two).
    Output(Vec<u8>),
    /// The terminal now has this many columns and rows.
    Grid {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
}

impl TerminalEntry {
    /// The payload of its TERMINAL record.
    pub fn to_payload(&self) -> Vec<u8> {
        match self {
            TerminalEntry::Output(bytes) => {
                let mut out = Vec::with_capacity(1 + bytes.len());
                out.push(OUTPUT);
                out.extend_from_slice(bytes);
                out
            }
            TerminalEntry::Grid { cols, rows } => {
                let mut out = vec![GRID];
                out.extend_from_slice(&cols.to_be_bytes());
                out.extend_from_slice(&rows.to_be_bytes());
                out
            }
        }
    }

    /// Reads a TERMINAL record's payload; `None` when it is not one this
    /// reader knows (skipped, as a player skips what it cannot show).
    pub fn from_payload(payload: &[u8]) -> Option<Self> {
        match payload.split_first()? {
            (&OUTPUT, rest) => Some(TerminalEntry::Output(rest.to_vec())),
            (&GRID, [c0, c1, r0, r1]) => Some(TerminalEntry::Grid {
                cols: u16::from_be_bytes([*c0, *c1]),
                rows: u16::from_be_bytes([*r0, *r1]),
            }),
            _ => None,
        }
    }
}

/// The terminal track of `records`, with each entry's time (Unix µs).
pub fn terminal_track<'a>(
    records: impl IntoIterator<Item = &'a Record>,
) -> Vec<(u64, TerminalEntry)> {
    records
        .into_iter()
        .filter(|r| r.kind == RecordKind::Terminal)
        .filter_map(|r| Some((r.time_us, TerminalEntry::from_payload(&r.payload)?)))
        .collect()
}

/// Turns bytes that may split UTF-8 sequences into text: an incomplete
/// sequence at the end waits for the next bytes, invalid bytes become
/// U+FFFD.
#[derive(Debug, Default)]
struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    fn push(&mut self, bytes: &[u8], out: &mut String) {
        self.pending.extend_from_slice(bytes);
        let mut at = 0;
        loop {
            match std::str::from_utf8(&self.pending[at..]) {
                Ok(s) => {
                    out.push_str(s);
                    at = self.pending.len();
                    break;
                }
                Err(e) => {
                    let good = at + e.valid_up_to();
                    out.push_str(std::str::from_utf8(&self.pending[at..good]).unwrap_or_default());
                    match e.error_len() {
                        Some(n) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            at = good + n;
                        }
                        // Cut short: the rest comes with the next bytes.
                        None => {
                            at = good;
                            break;
                        }
                    }
                }
            }
        }
        self.pending.drain(..at);
    }

    fn finish(&mut self, out: &mut String) {
        if !self.pending.is_empty() {
            out.push(char::REPLACEMENT_CHARACTER);
            self.pending.clear();
        }
    }
}

/// The terminal track as an asciicast v2 file (one JSON header line, then
/// one `[seconds, "o", text]` or `[seconds, "r", "COLSxROWS"]` line per
/// event), or `None` when the recording has no terminal track (only SSH
/// sessions have one).
pub fn asciicast<'a>(
    header: &Header,
    records: impl IntoIterator<Item = &'a Record>,
) -> Option<String> {
    let track = terminal_track(records);
    if track.is_empty() {
        return None;
    }
    let (cols, rows) = track
        .iter()
        .find_map(|(_, e)| match e {
            TerminalEntry::Grid { cols, rows } => Some((*cols, *rows)),
            TerminalEntry::Output(_) => None,
        })
        .unwrap_or((80, 24));
    let head = json!({
        "version": 2,
        "width": cols,
        "height": rows,
        "timestamp": header.started_us / 1_000_000,
        "title": format!("{} on {} ({})", header.user, header.workspace, header.session_id),
        "env": {"TERM": "xterm-256color"},
    });
    let mut out = head.to_string();
    out.push('\n');
    let mut text = Utf8Stream::default();
    let mut first_grid = true;
    let seconds = |t: u64| t.saturating_sub(header.started_us) as f64 / 1e6;
    for (time_us, entry) in &track {
        let line = match entry {
            TerminalEntry::Output(bytes) => {
                let mut s = String::new();
                text.push(bytes, &mut s);
                if s.is_empty() {
                    continue;
                }
                json!([seconds(*time_us), "o", s])
            }
            TerminalEntry::Grid { cols, rows } => {
                // The first size is the header's.
                if std::mem::take(&mut first_grid) {
                    continue;
                }
                json!([seconds(*time_us), "r", format!("{cols}x{rows}")])
            }
        };
        let _ = writeln!(out, "{line}");
    }
    let mut rest = String::new();
    text.finish(&mut rest);
    if !rest.is_empty() {
        let end = track.last().map_or(0, |(t, _)| *t);
        let _ = writeln!(out, "{}", json!([seconds(end), "o", rest]));
    }
    Some(out)
}

/// Longest transcript kept, bytes: the search covers a session's first
/// 8 MiB of text.
pub const MAX_TRANSCRIPT: usize = 8 << 20;

/// What the shell printed as plain lines, for search: escape sequences are
/// removed and the line being written is edited as a terminal would
/// (carriage return, backspace, cursor left and right, erase and delete
/// in the line), so a command line edited at the prompt reads as it was
/// run. Screen-addressed programs (an editor) come out jumbled but their
/// words are there. At most [`MAX_TRANSCRIPT`] bytes.
pub fn transcript<'a>(records: impl IntoIterator<Item = &'a Record>) -> String {
    let mut text = Utf8Stream::default();
    let mut lines = LineEditor::default();
    let mut chunk = String::new();
    for (_, entry) in terminal_track(records) {
        if let TerminalEntry::Output(bytes) = entry {
            chunk.clear();
            text.push(&bytes, &mut chunk);
            for c in chunk.chars() {
                lines.feed(c);
            }
            if lines.out.len() >= MAX_TRANSCRIPT {
                return lines.finish();
            }
        }
    }
    chunk.clear();
    text.finish(&mut chunk);
    for c in chunk.chars() {
        lines.feed(c);
    }
    lines.finish()
}

/// Longest line of a transcript, characters.
const MAX_LINE: usize = 4096;

/// Where the escape-sequence parser is.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Escape {
    #[default]
    None,
    /// After ESC.
    Esc,
    /// In a control sequence (ESC [): parameters until a final byte.
    Csi,
    /// In a string (OSC, DCS, APC, PM, SOS) until BEL or ESC \.
    Str,
    /// ESC inside a string.
    StrEsc,
    /// ESC and an intermediate byte (a charset choice): one more byte.
    Skip,
}

/// The line being written, with its cursor.
#[derive(Debug, Default)]
struct LineEditor {
    out: String,
    line: Vec<char>,
    col: usize,
    state: Escape,
    params: String,
}

impl LineEditor {
    fn feed(&mut self, c: char) {
        match self.state {
            Escape::None => self.plain(c),
            Escape::Esc => {
                self.state = match c {
                    '[' => {
                        self.params.clear();
                        Escape::Csi
                    }
                    ']' | 'P' | 'X' | '^' | '_' => Escape::Str,
                    '(' | ')' | '*' | '+' | '#' | '%' => Escape::Skip,
                    _ => Escape::None,
                }
            }
            Escape::Csi => {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    self.state = Escape::None;
                    self.csi(c);
                } else if self.params.len() < 32 {
                    self.params.push(c);
                }
            }
            Escape::Str => match c {
                '\u{7}' => self.state = Escape::None,
                '\u{1b}' => self.state = Escape::StrEsc,
                _ => {}
            },
            Escape::StrEsc => self.state = if c == '\\' { Escape::None } else { Escape::Str },
            Escape::Skip => self.state = Escape::None,
        }
    }

    fn plain(&mut self, c: char) {
        match c {
            '\u{1b}' => self.state = Escape::Esc,
            '\n' => self.newline(),
            '\r' => self.col = 0,
            '\u{8}' => self.col = self.col.saturating_sub(1),
            '\t' => self.col = (self.col / 8 + 1) * 8,
            c if c.is_control() => {}
            c => {
                // A line longer than any terminal is wrapped.
                if self.col >= MAX_LINE {
                    self.newline();
                }
                if self.col >= self.line.len() {
                    self.line.resize(self.col, ' ');
                    self.line.push(c);
                } else {
                    self.line[self.col] = c;
                }
                self.col += 1;
            }
        }
    }

    /// The first numeric parameter, at least 1.
    fn count(&self) -> usize {
        self.params
            .split(';')
            .next()
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(1)
            .clamp(1, 4096)
    }

    fn csi(&mut self, fin: char) {
        // Private sequences (ESC [ ? …) change modes, not the text.
        if self.params.starts_with(['?', '>', '<', '=']) {
            return;
        }
        match fin {
            'C' => self.col = (self.col + self.count()).min(MAX_LINE),
            'D' => self.col = self.col.saturating_sub(self.count()),
            'G' => self.col = self.count() - 1,
            'K' => match self.params.as_str() {
                "" | "0" => self.line.truncate(self.col),
                "1" => {
                    let end = (self.col + 1).min(self.line.len());
                    self.line[..end].fill(' ');
                }
                _ => self.line.clear(),
            },
            'P' if self.col < self.line.len() => {
                let end = (self.col + self.count()).min(self.line.len());
                self.line.drain(self.col..end);
            }
            '@' if self.col <= self.line.len() => {
                let n = self.count();
                self.line
                    .splice(self.col..self.col, std::iter::repeat_n(' ', n));
                self.line.truncate(MAX_LINE);
            }
            // Moving to another row ends the line being written.
            'H' | 'f' | 'A' | 'B' | 'E' | 'F' | 'J' => {
                if !self.line.is_empty() {
                    self.newline();
                }
                self.col = 0;
            }
            _ => {}
        }
    }

    fn newline(&mut self) {
        let line: String = self.line.iter().collect();
        let line = line.trim_end();
        if !line.is_empty() || !self.out.ends_with("\n\n") {
            self.out.push_str(line);
            self.out.push('\n');
        }
        self.line.clear();
        self.col = 0;
    }

    fn finish(mut self) -> String {
        if !self.line.is_empty() {
            self.newline();
        }
        let mut out = self.out;
        if out.len() > MAX_TRANSCRIPT {
            let mut cut = MAX_TRANSCRIPT;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
        }
        out
    }
}
