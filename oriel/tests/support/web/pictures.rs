//! The canvas against the X server: exact copies of a still screen, close
//! copies of a moving one, with the two pictures saved as PNG files when
//! they differ.

use super::{SCREEN, viewer_state};
use anyhow::{Context as _, Result, bail, ensure};
use oriel_testkit::{ImageDiff, Page, Rect, RgbImage, VncDisplay, parse_xwd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The X server's screenshot. `xwd` walks the window tree, and fails with
/// BadWindow when a window goes away meanwhile (ffplay's SDL creates and
/// destroys windows as it starts and stops): such a screenshot is retried.
pub async fn screenshot(display: &VncDisplay) -> Result<RgbImage> {
    retry_bad_window(|| display.screenshot()).await
}

/// Raw `xwd` dumps, retried on BadWindow as [`screenshot`] is.
async fn screenshot_raw(display: &VncDisplay) -> Result<Vec<u8>> {
    retry_bad_window(|| display.screenshot_xwd()).await
}

/// Runs `shoot` again (up to five times) while it fails with BadWindow.
async fn retry_bad_window<T, F: Future<Output = Result<T>>>(shoot: impl Fn() -> F) -> Result<T> {
    let mut attempts = 0;
    loop {
        match shoot().await {
            Err(e) if attempts < 5 && format!("{e:#}").contains("BadWindow") => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

/// The X server's screenshot and the canvas, taken at the same time (both
/// requests start together; the canvas is read in the first CDP round trip).
pub async fn capture_both(page: &Page, display: &VncDisplay) -> Result<(RgbImage, RgbImage)> {
    let (shot, canvas) = tokio::join!(screenshot(display), page.canvas_image(SCREEN));
    Ok((shot?, canvas?))
}

/// Saves `{tag}-canvas.png` and `{tag}-xwd.png` in the display's scratch
/// directory (kept after the test) and returns the directory.
pub fn save_artefacts(
    display: &VncDisplay,
    tag: &str,
    canvas: &RgbImage,
    shot: &RgbImage,
) -> PathBuf {
    let dir = display.scratch_dir();
    dir.keep();
    let canvas_path = dir.unique_path(&format!("{tag}-canvas"), "png");
    let shot_path = dir.unique_path(&format!("{tag}-xwd"), "png");
    if let Err(e) = canvas.save_png(&canvas_path) {
        eprintln!("cannot save {}: {e:#}", canvas_path.display());
    }
    if let Err(e) = shot.save_png(&shot_path) {
        eprintln!("cannot save {}: {e:#}", shot_path.display());
    }
    eprintln!(
        "artefacts: {} and {}",
        canvas_path.display(),
        shot_path.display()
    );
    dir.path().to_owned()
}

/// Polls until the canvas equals the X server's screenshot pixel for pixel.
/// On timeout saves both pictures (tag `tag`) and fails with the last diff.
pub async fn wait_canvas_exact(
    page: &Page,
    display: &VncDisplay,
    timeout: Duration,
    tag: &str,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let (why, canvas, shot) = loop {
        let (shot, canvas) = capture_both(page, display).await?;
        let why = if (canvas.width, canvas.height) == (shot.width, shot.height) {
            let diff = canvas.compare(&shot)?;
            if diff.is_identical() {
                return Ok(());
            }
            format!("{diff:?}")
        } else {
            format!(
                "canvas {}x{} vs screen {}x{}",
                canvas.width, canvas.height, shot.width, shot.height
            )
        };
        if Instant::now() > deadline {
            break (why, canvas, shot);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let dir = save_artefacts(display, tag, &canvas, &shot);
    let state = viewer_state(page).await.unwrap_or_default();
    bail!(
        "the canvas never equalled the X screen within {timeout:?} (last: {why}); \
         viewer {state}; images in {}",
        dir.display()
    )
}

/// One comparison of the canvas with the X screen while the screen changes.
#[derive(Debug, Clone, Copy)]
pub struct MovingSample {
    /// The canvas against the closest of the screenshots.
    pub best: ImageDiff,
    /// How long before the canvas was read that screenshot was started.
    pub best_lead: Duration,
    /// The canvas against a screenshot taken at the same time.
    pub during: ImageDiff,
}

/// Compares the canvas with the X screen while it changes. The canvas shows
/// the screen as it was a pipeline latency ago, so screenshots are taken
/// back to back for `lead` before the canvas is read, and one while it is
/// read; the closest counts. Fails, saving the canvas and the screenshot
/// taken with it (tag `tag`), when the best PSNR is below `min_psnr_db`, or
/// when outside `moving` (the rectangle of tiles that change, at the
/// top-left corner) the canvas differs from every screenshot.
pub async fn compare_while_moving(
    page: &Page,
    display: &VncDisplay,
    min_psnr_db: f64,
    lead: Duration,
    moving: Option<Rect>,
    tag: &str,
) -> Result<MovingSample> {
    // Unparsed dumps (about 10 ms each), so that they follow closely.
    let mut dumps = Vec::new();
    let started = Instant::now();
    while started.elapsed() < lead {
        dumps.push((started.elapsed(), screenshot_raw(display).await?));
    }
    let read_at = started.elapsed();
    let (during, canvas) = tokio::join!(screenshot_raw(display), page.canvas_image(SCREEN));
    dumps.push((read_at, during?));
    let canvas = canvas?;
    let mut shots = Vec::new();
    for (at, dump) in dumps {
        let shot = parse_xwd(&dump).context("cannot parse the xwd screenshot")?;
        ensure!(
            (canvas.width, canvas.height) == (shot.width, shot.height),
            "canvas {}x{} vs screen {}x{}",
            canvas.width,
            canvas.height,
            shot.width,
            shot.height
        );
        let diff = canvas.compare(&shot)?;
        shots.push((read_at - at, shot, diff));
    }
    let (_, during_shot, during) = shots.last().context("no screenshot")?;
    let (best_lead, best_shot, best) = shots
        .iter()
        .max_by(|a, b| a.2.psnr_db.total_cmp(&b.2.psnr_db))
        .context("no screenshot")?;
    let sample = MovingSample {
        best: *best,
        best_lead: *best_lead,
        during: *during,
    };
    let mut problem = None;
    if sample.best.psnr_db < min_psnr_db {
        problem = Some(format!(
            "PSNR {:.2} dB < {min_psnr_db} dB against all {} screenshots ({sample:?})",
            sample.best.psnr_db,
            shots.len()
        ));
    }
    if let Some(moving) = moving {
        for part in still_parts(canvas.width, canvas.height, moving) {
            let mine = canvas.crop(part)?;
            let mut equal = false;
            for (_, shot, _) in &shots {
                equal |= mine.compare(&shot.crop(part)?)?.is_identical();
            }
            if !equal {
                problem = Some(format!("the still part {part:?} differs from the screen"));
            }
        }
    }
    if let Some(problem) = problem {
        let dir = save_artefacts(display, tag, &canvas, during_shot);
        let closest = dir.join(format!("{tag}-xwd-closest.png"));
        if let Err(e) = best_shot.save_png(&closest) {
            eprintln!("cannot save {}: {e:#}", closest.display());
        }
        bail!("{problem}; images in {}", dir.display());
    }
    Ok(sample)
}

/// The parts of a `width`×`height` screen right of and below `moving`
/// (which must touch the top-left corner).
fn still_parts(width: u32, height: u32, moving: Rect) -> Vec<Rect> {
    let right = moving.x + moving.width;
    let bottom = moving.y + moving.height;
    let mut parts = Vec::new();
    if right < width {
        parts.push(Rect::new(right, 0, width - right, height));
    }
    if bottom < height {
        parts.push(Rect::new(0, bottom, right.min(width), height - bottom));
    }
    parts
}

/// Waits until the screen differs from `before` (something was drawn).
pub async fn wait_screen_changes(display: &VncDisplay, before: &RgbImage) -> Result<RgbImage> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = screenshot(display).await?;
        if &now != before {
            return Ok(now);
        }
        ensure!(Instant::now() < deadline, "the screen never changed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
