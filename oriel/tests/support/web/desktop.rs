//! Desktop pixels ↔ page points through the canvas's CSS scale, and the
//! mouse over the desktop (checked on the X server's pointer).

use super::SCREEN;
use anyhow::{Context as _, Result, bail};
use oriel_testkit::{CssRect, MouseButton, Page, VncDisplay};
use std::time::{Duration, Instant};

/// Where the desktop is drawn: the canvas's box in CSS pixels and its backing
/// store (the desktop, 1:1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CanvasGeometry {
    pub rect: CssRect,
    pub width: u32,
    pub height: u32,
}

impl CanvasGeometry {
    /// The viewer canvas's geometry now.
    pub async fn of(page: &Page) -> Result<CanvasGeometry> {
        let g = page
            .eval(&format!(
                "(() => {{ const c = document.querySelector({SCREEN:?}); \
                 const r = c.getBoundingClientRect(); \
                 return {{x: r.x, y: r.y, w: r.width, h: r.height, cw: c.width, ch: c.height}}; }})()"
            ))
            .await?;
        let f = |k: &str| g[k].as_f64().with_context(|| format!("bad geometry {g}"));
        Ok(CanvasGeometry {
            rect: CssRect {
                x: f("x")?,
                y: f("y")?,
                width: f("w")?,
                height: f("h")?,
            },
            width: f("cw")? as u32,
            height: f("ch")? as u32,
        })
    }

    /// CSS pixels per desktop pixel, horizontally and vertically.
    pub fn scale(&self) -> (f64, f64) {
        (
            self.rect.width / f64::from(self.width),
            self.rect.height / f64::from(self.height),
        )
    }

    /// True when one desktop pixel is one CSS pixel.
    pub fn is_one_to_one(&self) -> bool {
        let (sx, sy) = self.scale();
        sx == 1.0 && sy == 1.0
    }

    /// The page point over the centre of desktop pixel (`x`, `y`):
    /// `rect.x + (x + ½) · rect.width / canvas.width` (the centre, so that the
    /// client's `floor` lands on `x` whatever the fraction of `rect.x`).
    pub fn to_page(self, x: u32, y: u32) -> (f64, f64) {
        let (sx, sy) = self.scale();
        (
            self.rect.x + (f64::from(x) + 0.5) * sx,
            self.rect.y + (f64::from(y) + 0.5) * sy,
        )
    }
}

/// Moves the browser's mouse over desktop pixel `at` and waits until the X
/// server's pointer is there (±`tolerance` pixels).
pub async fn move_mouse_to(
    page: &Page,
    display: &VncDisplay,
    at: (u32, u32),
    tolerance: i32,
) -> Result<()> {
    let geometry = CanvasGeometry::of(page).await?;
    let (px, py) = geometry.to_page(at.0, at.1);
    page.mouse_move(px, py).await?;
    wait_pointer_at(display, at, tolerance).await
}

/// Waits until the X pointer is within `tolerance` of `at`.
pub async fn wait_pointer_at(display: &VncDisplay, at: (u32, u32), tolerance: i32) -> Result<()> {
    let want = (at.0 as i32, at.1 as i32);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = display.pointer_location().await?;
        if (now.0 - want.0).abs() <= tolerance && (now.1 - want.1).abs() <= tolerance {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the X pointer is at {now:?}, not at {want:?} (±{tolerance})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Makes the pointer this viewer's, as a user moving the mouse does: TigerVNC
/// draws the pointer into the framebuffer while it is somewhere this viewer
/// did not put it, and `xwd` never shows it. Moves next to `at` first so the
/// browser sees a real move even if the mouse was already there.
pub async fn own_pointer(page: &Page, display: &VncDisplay, at: (u32, u32)) -> Result<()> {
    let near = (at.0.saturating_sub(3), at.1.saturating_sub(3));
    move_mouse_to(page, display, near, 1).await?;
    move_mouse_to(page, display, at, 0).await
}

/// Clicks `button` over desktop pixel `at` with real mouse events.
pub async fn click_desktop(page: &Page, at: (u32, u32), button: MouseButton) -> Result<()> {
    let geometry = CanvasGeometry::of(page).await?;
    let (px, py) = geometry.to_page(at.0, at.1);
    page.mouse_click(px, py, button).await
}
