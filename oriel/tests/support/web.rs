//! Fixtures for the browser tests (headless Chromium over CDP): the real web
//! client logged in through its form, workspaces launched with their button,
//! desktop ↔ page coordinates through the canvas's CSS scale, and "the
//! canvas equals the X server" checks that leave PNG artefacts on failure.

use super::{ADMIN_PASSWORD, Api, Oriel, blocking};
use anyhow::{Context as _, Result, bail, ensure};
use oriel_testkit::{
    Browser, CssRect, ImageDiff, MouseButton, Page, Rect, RgbImage, VncDisplay, VncOptions,
    parse_xwd,
};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The viewer's canvas.
pub const SCREEN: &str = "#screen";

/// How long the viewer may take to connect and draw a first frame.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// One desktop, one `oriel up`, one headless Chromium with one tab.
/// Fields drop in order: the tab before its browser.
pub struct Desk {
    pub page: Page,
    pub browser: Browser,
    pub api: Api,
    pub oriel: Oriel,
    pub display: VncDisplay,
}

impl Desk {
    /// Xtigervnc at `width`×`height`, `oriel up` with an admin API client,
    /// and Chromium with one blank tab at the kit's default 1600×1000 viewport.
    pub async fn start(width: u32, height: u32) -> Result<Desk> {
        let display = VncDisplay::start(VncOptions::new(width, height)).await?;
        let oriel = Oriel::up(&[]).await?;
        let mut api = oriel.api();
        let api = blocking(move || api.login_admin().map(|()| api)).await?;
        let browser = Browser::launch().await?;
        let page = browser.new_page().await?;
        Ok(Desk {
            page,
            browser,
            api,
            oriel,
            display,
        })
    }

    /// Creates a VNC workspace on this desk's display with `policy`.
    pub async fn workspace(&self, name: &str, policy: Value) -> Result<Value> {
        self.workspace_on(name, self.display.rfb_port(), policy)
            .await
    }

    /// Creates a VNC workspace whose target is 127.0.0.1:`port`.
    pub async fn workspace_on(&self, name: &str, port: u16, policy: Value) -> Result<Value> {
        let api = self.api.clone();
        let name = name.to_owned();
        blocking(move || api.vnc_workspace(&name, port, None, policy)).await
    }

    /// Logs in as admin through the form, launches `workspace` with its
    /// button and waits for the first frame; returns the session id. Put
    /// something on the screen first: the viewer starts black, so a black
    /// desktop never needs a frame.
    pub async fn open(&self, workspace: &str) -> Result<String> {
        log_in(&self.page, &self.oriel, "admin", ADMIN_PASSWORD).await?;
        expect_logged_in(&self.page, "admin").await?;
        let id = launch_workspace(&self.page, workspace).await?;
        wait_connected(&self.page, CONNECT_TIMEOUT)
            .await
            .with_context(|| format!("oriel log:\n{}", self.oriel.log_tail(30)))?;
        Ok(id)
    }
}

// -- the index page -------------------------------------------------------------

/// Opens the index page and waits until it shows either the login form or
/// the home view (it asks `/auth/me` first). A load that shows neither (seen
/// on a loaded machine right after a redirect the test provoked: the
/// browser drops its half-open connections) is retried twice, and a final
/// failure says what the page showed.
pub async fn goto_index(page: &Page, oriel: &Oriel) -> Result<()> {
    const SHOWN: &str = "!!document.getElementById('login-view') && !!document.getElementById('home-view') \
         && (!document.getElementById('login-view').hidden || !document.getElementById('home-view').hidden)";
    let url = format!("{}/index.html", oriel.origin());
    let mut last = None;
    for _ in 0..3 {
        page.goto(&url).await?;
        match page.wait_for(SHOWN, Duration::from_secs(15)).await {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    let seen = page
        .eval("JSON.stringify({href: location.href, ready: document.readyState, text: (document.body || {}).innerText})")
        .await
        .unwrap_or_default();
    Err(last
        .unwrap_or_else(|| anyhow::anyhow!("the index page never loaded"))
        .context(format!("the index page showed neither view: {seen}")))
}

/// Replaces an input's text with `text` typed as real key presses.
pub async fn type_into(page: &Page, selector: &str, text: &str) -> Result<()> {
    // Emptying the field is not what is under test; the typing is.
    page.eval(&format!(
        "document.querySelector({}).value = ''",
        serde_json::to_string(selector)?
    ))
    .await?;
    page.click_selector(selector).await?;
    page.type_text(text).await
}

/// Opens the index page, types the credentials into the form and clicks
/// "Log in". Does not wait for the outcome.
pub async fn log_in(page: &Page, oriel: &Oriel, username: &str, password: &str) -> Result<()> {
    goto_index(page, oriel).await?;
    page.wait_for(
        "!document.getElementById('login-view').hidden",
        Duration::from_secs(5),
    )
    .await
    .context("the login form is not shown")?;
    type_into(page, "#username", username).await?;
    type_into(page, "#password", password).await?;
    page.click_selector("#login-button").await
}

/// Waits until the page shows `username` as the signed-in user and the home view.
pub async fn expect_logged_in(page: &Page, username: &str) -> Result<()> {
    let user = serde_json::to_string(username)?;
    page.wait_for(
        &format!(
            "document.getElementById('current-user').textContent === {user} \
             && !document.getElementById('user-area').hidden \
             && !document.getElementById('home-view').hidden"
        ),
        Duration::from_secs(10),
    )
    .await
    .context("the page never showed the signed-in user")
}

/// Clicks the Launch button of `workspace` in the list and waits for the
/// viewer page; returns the session id from its URL.
pub async fn launch_workspace(page: &Page, workspace: &str) -> Result<String> {
    let item = format!(
        "#workspaces > li[data-workspace-name={}][data-workspace-id]",
        serde_json::to_string(workspace)?
    );
    let button = format!("{item} button.launch");
    page.wait_for(
        &format!(
            "document.querySelector({}) !== null",
            serde_json::to_string(&button)?
        ),
        Duration::from_secs(10),
    )
    .await
    .with_context(|| format!("workspace {workspace:?} is not listed"))?;
    page.click_selector(&button).await?;
    page.wait_for(
        "location.pathname === '/viewer.html' && document.readyState === 'complete' \
         && window.orielViewer !== undefined",
        Duration::from_secs(10),
    )
    .await
    .context("launching did not open the viewer")?;
    let id = page
        .eval("new URLSearchParams(location.search).get('session')")
        .await?;
    id.as_str()
        .map(str::to_owned)
        .context("the viewer URL has no session")
}

// -- the viewer -------------------------------------------------------------------

/// `window.orielViewer` as JSON.
pub async fn viewer_state(page: &Page) -> Result<Value> {
    page.eval("window.orielViewer").await
}

/// Waits until the viewer is connected and has drawn a frame; returns its state.
pub async fn wait_connected(page: &Page, timeout: Duration) -> Result<Value> {
    let waited = page
        .wait_for(
            "window.orielViewer && orielViewer.state === 'connected' && orielViewer.framesDrawn > 0",
            timeout,
        )
        .await;
    let state = viewer_state(page).await?;
    waited.with_context(|| format!("viewer state: {state}"))?;
    Ok(state)
}

/// An element's text content ("" when it has none).
pub async fn text_of(page: &Page, selector: &str) -> Result<String> {
    let text = page
        .eval(&format!(
            "(document.querySelector({}) || {{}}).textContent || ''",
            serde_json::to_string(selector)?
        ))
        .await?;
    Ok(text.as_str().unwrap_or_default().to_owned())
}

/// Whether an element exists and is not `hidden`.
pub async fn is_shown(page: &Page, selector: &str) -> Result<bool> {
    let shown = page
        .eval(&format!(
            "(() => {{ const e = document.querySelector({}); return !!e && !e.hidden; }})()",
            serde_json::to_string(selector)?
        ))
        .await?;
    Ok(shown == Value::Bool(true))
}

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

// -- pictures -------------------------------------------------------------------

/// The X server's screenshot. `xwd` walks the window tree, and fails with
/// BadWindow when a window goes away meanwhile (ffplay's SDL creates and
/// destroys windows as it starts and stops): such a screenshot is retried.
pub async fn screenshot(display: &VncDisplay) -> Result<RgbImage> {
    let mut attempts = 0;
    loop {
        match display.screenshot().await {
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

/// Raw `xwd` dumps, retried on BadWindow as [`screenshot`] is.
async fn screenshot_raw(display: &VncDisplay) -> Result<Vec<u8>> {
    let mut attempts = 0;
    loop {
        match display.screenshot_xwd().await {
            Err(e) if attempts < 5 && format!("{e:#}").contains("BadWindow") => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
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

/// Makes `page` the browser's front tab. Headless Chromium hardly renders a
/// background tab, and real input sent to one waits seconds for its ack.
pub async fn bring_to_front(page: &Page) -> Result<()> {
    page.call("Page.bringToFront", json!({})).await.map(drop)
}

// -- errors and spying --------------------------------------------------------------

/// JavaScript exceptions and `console.error` lines of the page, without the
/// browser's own "Failed to load resource" lines.
pub fn js_errors(page: &Page) -> Vec<String> {
    page.console_errors()
        .into_iter()
        .filter(|e| !e.contains("Failed to load resource"))
        .collect()
}

/// Fails when the page logged a JavaScript error.
pub fn assert_no_js_errors(page: &Page) {
    let errors = js_errors(page);
    assert!(errors.is_empty(), "javascript errors: {errors:#?}");
}

/// Records the viewer's WebSocket traffic for the tests: every socket the
/// page opens is kept in `window.__orielSpy.sockets`, the count of
/// messages of each type byte received and sent in `received` and `sent`,
/// and the age of each FRAME on arrival in `frameAgesMs`.
/// The client exposes no hook to its stream (the `StreamSession` is not on
/// `window`), so this is how a test sends a raw protocol message on the
/// viewer's own authenticated stream.
const WS_SPY: &str = r"
(() => {
  const Native = window.WebSocket;
  const spy = { sockets: [], received: {}, sent: {}, frameAgesMs: [] };
  const typeOf = (data) => {
    if (data instanceof ArrayBuffer) return data.byteLength ? new Uint8Array(data)[0] : null;
    if (ArrayBuffer.isView(data)) return data.byteLength ? new Uint8Array(data.buffer, data.byteOffset, 1)[0] : null;
    return null;
  };
  class SpiedWebSocket extends Native {
    constructor(...args) {
      super(...args);
      spy.sockets.push(this);
      this.addEventListener('message', (event) => {
        const t = typeOf(event.data);
        if (t !== null) spy.received[t] = (spy.received[t] || 0) + 1;
        if (t === 0x82 && event.data.byteLength >= 13) {
          // FRAME: how old its oldest change is on arrival (same clock).
          const damageUs = new DataView(event.data).getBigUint64(5);
          spy.frameAgesMs.push(Date.now() - Number(damageUs / 1000n));
          if (spy.frameAgesMs.length > 1000) spy.frameAgesMs.shift();
        }
      });
    }
    send(data) {
      const t = typeOf(data);
      if (t !== null) spy.sent[t] = (spy.sent[t] || 0) + 1;
      return super.send(data);
    }
  }
  window.WebSocket = SpiedWebSocket;
  window.__orielSpy = spy;
})();
";

/// Installs the WebSocket spy in every document this tab loads from now on.
pub async fn install_ws_spy(page: &Page) -> Result<()> {
    page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": WS_SPY }),
    )
    .await
    .map(drop)
}

/// How many gateway → viewer messages of type `msg_type` the page received.
pub async fn received(page: &Page, msg_type: u8) -> Result<u64> {
    let n = page
        .eval(&format!("window.__orielSpy.received[{msg_type}] || 0"))
        .await?;
    n.as_u64().with_context(|| format!("bad count {n}"))
}

/// How many viewer → gateway messages of type `msg_type` the page sent.
pub async fn sent(page: &Page, msg_type: u8) -> Result<u64> {
    let n = page
        .eval(&format!("window.__orielSpy.sent[{msg_type}] || 0"))
        .await?;
    n.as_u64().with_context(|| format!("bad count {n}"))
}

/// The ages (ms from the gateway's first damage to arrival in the page) of
/// the frames received so far, oldest first (at most the last 1000).
pub async fn frame_ages_ms(page: &Page) -> Result<Vec<f64>> {
    let ages = page.eval("window.__orielSpy.frameAgesMs").await?;
    Ok(ages
        .as_array()
        .context("no frame ages")?
        .iter()
        .filter_map(Value::as_f64)
        .collect())
}

/// A suffix unlikely to repeat (for clipboard texts).
pub fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}
