//! Fidelity: the viewer's decoded framebuffer against the X server's own
//! picture (`xwd -root`, parsed by `oriel_testkit::parse_xwd`).
//!
//! While the workload runs the two captures can never be of the same
//! instant: the viewer shows the screen as it was one pipeline latency ago
//! (RFB update, the gateway, decoding), and one `xwd` of 1920×1080 (a new
//! process, the dump, the parse) takes 50–150 ms, at some unknown moment
//! inside which the screen is read. So a *moving* sample takes screenshots
//! back to back from [`AROUND`] before copying the viewer's framebuffer to
//! [`AROUND`] after it, compares each with the copy, and keeps the best,
//! with how far that screenshot's midpoint was from the copy (`lead`). It
//! measures timing skew as much as picture quality. A *paused* sample
//! freezes the workload (`SIGSTOP`) for [`PAUSE`] first, so both sides show
//! the same instant; it is taken before the tiles still for 300 ms are sent
//! again losslessly, so it measures what the lossy path shows. PSNR is over
//! all RGB channels of the whole screen. After the run the workload is
//! frozen for good, and every viewer must then match its server exactly
//! (lossy tiles are sent again losslessly once still).

use super::session::Session;
use crate::stats::round;
use oriel_testkit::{RgbImage, VncDisplay};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Screenshots of a moving sample are taken from this long before the
/// viewer's copy to this long after it.
pub const AROUND: Duration = Duration::from_millis(300);

/// How long a paused sample lets the viewer catch up before comparing
/// (well under the gateway's 300 ms lossless refresh).
pub const PAUSE: Duration = Duration::from_millis(120);

/// One fidelity sample while the workload runs.
#[derive(Debug, Clone)]
pub struct Sample {
    pub session: usize,
    /// Seconds into the measured window.
    pub at_s: f64,
    /// Best PSNR (dB) of the viewer's copy against the screenshots; infinite
    /// when one was identical.
    pub best_psnr_db: f64,
    /// How long before the viewer's copy the best screenshot's midpoint
    /// was (ms; negative: after it). 0 for a paused sample.
    pub lead_ms: f64,
    /// Whether the workload was frozen for the sample.
    pub paused: bool,
    pub screenshots: usize,
}

/// JSON of a PSNR: `null` when identical (infinite).
pub fn psnr_json(db: f64) -> Value {
    if db.is_finite() {
        json!(round(db, 2))
    } else {
        Value::Null
    }
}

impl Sample {
    pub fn to_json(&self) -> Value {
        json!({
            "session": self.session,
            "at_s": round(self.at_s, 2),
            "best_psnr_db": psnr_json(self.best_psnr_db),
            "identical": self.best_psnr_db.is_infinite(),
            "lead_ms": round(self.lead_ms, 1),
            "paused": self.paused,
            "screenshots": self.screenshots,
        })
    }
}

/// Takes one moving sample of `session` on `display`.
pub async fn sample(
    display: &VncDisplay,
    session: &Session,
    index: usize,
    at_s: f64,
) -> anyhow::Result<Sample> {
    let started = Instant::now();
    // (start, end, picture) of each screenshot.
    let mut shots: Vec<(Instant, Instant, RgbImage)> = Vec::new();
    while started.elapsed() < AROUND || shots.is_empty() {
        let t = Instant::now();
        let shot = display.screenshot().await?;
        shots.push((t, Instant::now(), shot));
    }
    let copied = Instant::now();
    let viewer = session.snapshot().await?;
    while copied.elapsed() < AROUND {
        let t = Instant::now();
        let shot = display.screenshot().await?;
        shots.push((t, Instant::now(), shot));
    }
    let mut best = (f64::NEG_INFINITY, 0.0);
    for (start, end, shot) in &shots {
        let p = viewer.compare(shot)?.psnr_db;
        if p > best.0 {
            let mid = *start + (*end - *start) / 2;
            let lead = if mid <= copied {
                (copied - mid).as_secs_f64()
            } else {
                -(mid - copied).as_secs_f64()
            };
            best = (p, lead * 1000.0);
        }
    }
    Ok(Sample {
        session: index,
        at_s,
        best_psnr_db: best.0,
        lead_ms: best.1,
        paused: false,
        screenshots: shots.len(),
    })
}

/// Takes one paused sample: the caller has frozen the workload just now.
pub async fn paused(
    display: &VncDisplay,
    session: &Session,
    index: usize,
    at_s: f64,
) -> anyhow::Result<Sample> {
    tokio::time::sleep(PAUSE).await;
    let (viewer, server) = tokio::join!(session.snapshot(), display.screenshot());
    Ok(Sample {
        session: index,
        at_s,
        best_psnr_db: viewer?.compare(&server?)?.psnr_db,
        lead_ms: 0.0,
        paused: true,
        screenshots: 1,
    })
}

/// Whether a session's viewer converged to the server's picture after the
/// workload froze.
#[derive(Debug, Clone)]
pub struct Settle {
    pub exact: bool,
    /// Time from the freeze to the first exact match, ms.
    pub after_ms: Option<f64>,
    /// The last comparison: PSNR and differing pixels.
    pub psnr_db: f64,
    pub differing_pixels: usize,
}

impl Settle {
    pub fn to_json(&self) -> Value {
        json!({
            "exact": self.exact,
            "after_freeze_ms": self.after_ms.map(|x| round(x, 0)),
            "psnr_db": psnr_json(self.psnr_db),
            "differing_pixels": self.differing_pixels,
        })
    }
}

/// Compares until identical or `deadline`; `frozen` is when the workload
/// stopped.
pub async fn settle(
    display: &VncDisplay,
    session: &Session,
    frozen: Instant,
    deadline: Instant,
) -> anyhow::Result<Settle> {
    loop {
        let server = display.screenshot().await?;
        let viewer = session.snapshot().await?;
        let diff = viewer.compare(&server)?;
        if diff.is_identical() || Instant::now() >= deadline {
            return Ok(Settle {
                exact: diff.is_identical(),
                after_ms: diff
                    .is_identical()
                    .then(|| frozen.elapsed().as_secs_f64() * 1000.0),
                psnr_db: diff.psnr_db,
                differing_pixels: diff.differing_pixels,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
