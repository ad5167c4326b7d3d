//! The watermark's schedule: which text it shows and when it changes. The
//! core asks the shell to render the text ([`Output::Watermark`]) when the
//! session starts and each time the minute changes (the text carries the
//! time), and sends no frame until the first rendering is in place: a
//! watermarked session never shows a picture without its mark.

use crate::session::{Output, SessionCore};
use oriel_encoders_damage::Overlay;
use std::sync::Arc;

/// A session's watermark: the text template and what fills it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatermarkSpec {
    /// Template: `{user}`, `{time}`, `{session}`, `{client}`; `|` breaks lines.
    pub template: String,
    /// The user's name.
    pub user: String,
    /// The client's address (of the viewer that started the session).
    pub client: String,
    /// Opacity, percent.
    pub opacity: u8,
    /// Rotation, degrees counter-clockwise.
    pub angle: i16,
}

/// What the shell renders as the watermark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatermarkText {
    /// The lines, filled in.
    pub lines: Vec<String>,
    /// Opacity, percent.
    pub opacity: u8,
    /// Rotation, degrees counter-clockwise.
    pub angle: i16,
}

/// Minutes, in µs.
const MINUTE_US: u64 = 60_000_000;

/// `YYYY-MM-DD HH:MM UTC` of Unix µs.
pub fn utc_minute(unix_us: u64) -> String {
    let secs = unix_us / 1_000_000;
    let days = (secs / 86_400) as i64;
    let (h, m) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02} UTC")
}

/// The watermark's state in a session.
#[derive(Debug)]
pub(crate) struct Watermark {
    spec: WatermarkSpec,
    /// The minute (Unix µs) the text last asked for shows; none yet.
    shown_minute: Option<u64>,
    /// A rendering is in place: frames may go.
    pub(crate) ready: bool,
}

impl Watermark {
    pub(crate) fn new(spec: WatermarkSpec) -> Self {
        Watermark {
            spec,
            shown_minute: None,
            ready: false,
        }
    }

    /// When the text changes next, Unix µs.
    pub(crate) fn next_change(&self) -> Option<u64> {
        self.shown_minute.map(|m| m + MINUTE_US)
    }
}

impl SessionCore {
    /// Asks for the watermark's text again when its minute changed.
    pub(crate) fn watermark_due(&mut self, now_us: u64) {
        let session_id = self.start.session_id.clone();
        let Some(w) = self.watermark.as_mut() else {
            return;
        };
        let minute = now_us - now_us % MINUTE_US;
        if w.shown_minute == Some(minute) {
            return;
        }
        w.shown_minute = Some(minute);
        let lines = oriel_encoders_watermark::lines(
            &w.spec.template,
            &w.spec.user,
            &utc_minute(minute),
            &session_id,
            &w.spec.client,
        );
        let text = WatermarkText {
            lines,
            opacity: w.spec.opacity,
            angle: w.spec.angle,
        };
        self.emit(Output::Watermark(text));
    }

    /// The watermark's text rendered (after [`Output::Watermark`]): it is
    /// blended over everything sent from now on, and every tile is sent
    /// again with it.
    pub fn set_watermark(&mut self, overlay: Arc<Overlay>, now_us: u64) {
        let Some(w) = self.watermark.as_mut() else {
            return;
        };
        w.ready = true;
        self.tracker.set_overlay(Some(overlay), now_us);
        self.frame_due_now(now_us);
    }
}
