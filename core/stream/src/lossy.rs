//! Choosing the lossy codec of each frame under a CPU budget.
//!
//! WebP (libwebp, fastest method) makes lossy images 20–35 % smaller than
//! JPEG at the same quality but costs about twice the time. KasmVNC caps
//! WebP at a share of each frame's time budget; we cap it at a share of a
//! core per stream, because on a gateway shared by many sessions the scarce
//! thing is CPU per session, not one frame's latency. [`LossyChooser`]
//! estimates the stream's lossy pixel rate (a decayed sum) and WebP's cost
//! per pixel (measured on the frames it encoded, starting from a
//! conservative prior), and picks WebP while their product fits the budget:
//! small or occasional lossy updates (a photo, a page with images) get the
//! smaller codec; sustained motion (video) falls back to JPEG.

use oriel_core_wire::Codec;

/// The codec of lossy tiles. WebP is only sent to viewers that offer it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LossyCodec {
    /// Always JPEG.
    Jpeg,
    /// Always WebP (when every viewer decodes it).
    Webp,
    /// WebP while its measured cost fits this many cores per session, JPEG
    /// otherwise ([`LossyChooser`]).
    Auto {
        /// Cores (0.02 = 2 % of one core).
        cpu_budget: f64,
    },
}

impl LossyCodec {
    /// The chooser for this setting; `None`: always JPEG.
    pub(crate) fn chooser(self) -> Option<LossyChooser> {
        match self {
            LossyCodec::Jpeg => None,
            LossyCodec::Webp => Some(LossyChooser::new(f64::INFINITY)),
            LossyCodec::Auto { cpu_budget } => Some(LossyChooser::new(cpu_budget)),
        }
    }
}

/// Half-life (µs) of the lossy pixel rate estimate.
const RATE_HALF_LIFE_US: f64 = 1_000_000.0;
/// WebP's cost (µs per pixel) before any frame was measured: a little above
/// what method 0 takes on a busy 2-core machine (docs/benchmarks.md).
const WEBP_PRIOR_US_PER_PX: f64 = 0.025;
/// Weight of a new measurement in the cost estimate.
const COST_WEIGHT: f64 = 0.2;

/// Per-session lossy codec choice. Sans I/O: the caller passes the time.
#[derive(Debug, Clone)]
pub struct LossyChooser {
    /// CPU time (µs) WebP may take per second of stream.
    budget_us_per_s: f64,
    /// Estimated WebP cost, µs per pixel.
    webp_us_per_px: f64,
    /// Lossy pixels planned, decayed with [`RATE_HALF_LIFE_US`].
    pixels: f64,
    at_us: u64,
}

impl LossyChooser {
    /// A chooser allowing WebP up to `cpu_budget` cores (0.02 = 2 % of one
    /// core) per stream; 0 never picks WebP.
    pub fn new(cpu_budget: f64) -> Self {
        LossyChooser {
            budget_us_per_s: cpu_budget.max(0.0) * 1e6,
            webp_us_per_px: WEBP_PRIOR_US_PER_PX,
            pixels: 0.0,
            at_us: 0,
        }
    }

    /// The codec for a frame planned at `now_us` carrying `lossy_px` pixels
    /// of lossy tiles.
    pub fn choose(&mut self, now_us: u64, lossy_px: u64) -> Codec {
        let dt = now_us.saturating_sub(self.at_us) as f64;
        self.pixels = self.pixels * 0.5f64.powf(dt / RATE_HALF_LIFE_US) + lossy_px as f64;
        self.at_us = now_us.max(self.at_us);
        // A steady rate r (px/s) keeps the decayed sum at r·H/ln 2.
        let rate = self.pixels * std::f64::consts::LN_2 / (RATE_HALF_LIFE_US / 1e6);
        if lossy_px > 0 && rate * self.webp_us_per_px <= self.budget_us_per_s {
            Codec::Webp
        } else {
            Codec::Jpeg
        }
    }

    /// What encoding the lossy tiles of a frame cost: `pixels` in `cpu_us`.
    pub fn observe(&mut self, codec: Codec, pixels: u64, cpu_us: u64) {
        if codec != Codec::Webp || pixels < 4096 {
            // Tiny images measure mostly fixed overhead.
            return;
        }
        let sample = cpu_us as f64 / pixels as f64;
        self.webp_us_per_px += COST_WEIGHT * (sample - self.webp_us_per_px);
    }

    /// Estimated WebP cost, µs per pixel.
    pub fn webp_us_per_px(&self) -> f64 {
        self.webp_us_per_px
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames of `px` lossy pixels at `fps` for `secs`; the codecs chosen.
    fn run(c: &mut LossyChooser, start_us: u64, fps: u64, px: u64, secs: u64) -> Vec<Codec> {
        (0..fps * secs)
            .map(|i| c.choose(start_us + i * 1_000_000 / fps, px))
            .collect()
    }

    #[test]
    fn occasional_lossy_updates_get_webp_sustained_video_gets_jpeg() {
        let mut c = LossyChooser::new(0.02);
        // A 256×256 picture changing twice a second: 131 kpx/s × 0.025 µs
        // = 3.3 ms/s, within 20 ms/s.
        assert!(
            run(&mut c, 0, 2, 256 * 256, 5)
                .iter()
                .all(|&k| k == Codec::Webp)
        );
        // 640×360 video at 30 fps: 6.9 Mpx/s × 0.025 = 173 ms/s: JPEG once
        // the rate estimate has caught up (within a few frames).
        let video = run(&mut c, 5_000_000, 30, 640 * 360, 3);
        assert!(video[10..].iter().all(|&k| k == Codec::Jpeg), "{video:?}");
        // The video stops; a few seconds later small updates get WebP again.
        assert_eq!(c.choose(20_000_000, 64 * 64), Codec::Webp);
    }

    #[test]
    fn measured_cost_moves_the_threshold() {
        let mut c = LossyChooser::new(0.02);
        // 600 kpx/s: 15 ms/s at the prior, within budget.
        let before = run(&mut c, 0, 10, 60_000, 3);
        assert_eq!(before.last(), Some(&Codec::Webp));
        // WebP turns out three times dearer here: 45 ms/s, over budget.
        for _ in 0..30 {
            c.observe(Codec::Webp, 60_000, 4_500);
        }
        assert!((c.webp_us_per_px() - 0.075).abs() < 0.005);
        let after = run(&mut c, 3_000_000, 10, 60_000, 3);
        assert!(after[5..].iter().all(|&k| k == Codec::Jpeg), "{after:?}");
        // JPEG measurements do not touch WebP's estimate.
        c.observe(Codec::Jpeg, 60_000, 1);
        assert!((c.webp_us_per_px() - 0.075).abs() < 0.005);
    }

    #[test]
    fn a_zero_budget_or_no_lossy_pixels_means_jpeg() {
        let mut c = LossyChooser::new(0.0);
        assert_eq!(c.choose(0, 64 * 64), Codec::Jpeg);
        let mut c = LossyChooser::new(0.02);
        assert_eq!(c.choose(0, 0), Codec::Jpeg);
    }
}
