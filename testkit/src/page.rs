//! One browser tab: navigation, JavaScript, real input events and pixels.
//!
//! Input goes through `Input.dispatchKeyEvent` and `Input.dispatchMouseEvent`,
//! so a canvas-based client sees the same `KeyboardEvent`s and `MouseEvent`s
//! as from a person (keys with `key`, `code` and `keyCode`; mouse in CSS
//! pixels of the viewport).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::browser::exception_text;
use crate::cdp::CdpConnection;
use crate::keys::{self, KeyDef, MOD_ALT, MOD_CTRL, MOD_META, MOD_SHIFT};
use crate::{Rect, RgbImage};

/// A mouse button for [`Page::mouse_click`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseButton {
    Left,
    Middle,
    Right,
}

impl MouseButton {
    fn name(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Middle => "middle",
            Self::Right => "right",
        }
    }

    /// The `buttons` bit mask while pressed.
    fn mask(self) -> u32 {
        match self {
            Self::Left => 1,
            Self::Right => 2,
            Self::Middle => 4,
        }
    }
}

/// An element's box in CSS pixels, relative to the viewport.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CssRect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl CssRect {
    /// The centre point.
    pub fn center(&self) -> (f64, f64) {
        (self.x + self.width / 2.0, self.y + self.height / 2.0)
    }
}

/// One tab. Closed when dropped.
#[derive(Debug)]
pub struct Page {
    pub(crate) cdp: Arc<CdpConnection>,
    pub(crate) session_id: String,
    pub(crate) target_id: String,
    pub(crate) console_errors: Arc<Mutex<Vec<String>>>,
    pub(crate) collector: JoinHandle<()>,
}

impl Drop for Page {
    fn drop(&mut self) {
        self.collector.abort();
        self.cdp.send_and_forget(
            None,
            "Target.closeTarget",
            json!({ "targetId": self.target_id }),
        );
    }
}

/// Bytes of canvas pixels per round trip (base64 makes it a third larger).
const CANVAS_CHUNK: usize = 2 * 1024 * 1024;

impl Page {
    /// A protocol call in this page's session.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.cdp.call(Some(&self.session_id), method, params).await
    }

    /// The session id (for [`crate::CdpConnection`] events).
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Sets the viewport to `width`×`height` CSS pixels at device scale factor 1.
    pub async fn set_viewport(&self, width: u32, height: u32) -> Result<()> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await
        .map(drop)
    }

    /// Navigates and waits for this navigation's load event (or returns at
    /// once for a same-document navigation). Fails on network errors.
    pub async fn goto(&self, url: &str) -> Result<()> {
        let mut events = self.cdp.subscribe();
        let nav = self.call("Page.navigate", json!({ "url": url })).await?;
        if let Some(error) = nav["errorText"].as_str().filter(|e| !e.is_empty()) {
            bail!("navigation to {url} failed: {error}");
        }
        if nav["loaderId"].as_str().is_none() {
            return Ok(());
        }
        let loader_id = nav["loaderId"].as_str().unwrap_or_default().to_owned();
        let timeout = self.cdp.timeout();
        let wait = async {
            loop {
                match events.recv().await {
                    Ok(event)
                        if event.method == "Page.lifecycleEvent"
                            && event.session_id.as_deref() == Some(self.session_id.as_str())
                            && event.params["name"] == "load"
                            && event.params["loaderId"] == loader_id.as_str() =>
                    {
                        return Ok(());
                    }
                    Ok(_) => {}
                    // Missed events: fall back to asking the document.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        return self
                            .wait_for("document.readyState === 'complete'", timeout)
                            .await;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        bail!("browser connection closed")
                    }
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| anyhow!("{url} did not finish loading within {timeout:?}"))?
    }

    /// Evaluates `js` (awaiting a returned promise) and returns its value as
    /// JSON (`null` for `undefined`). A thrown exception is an error with its text.
    pub async fn eval(&self, js: &str) -> Result<Value> {
        let reply = self
            .call(
                "Runtime.evaluate",
                json!({
                    "expression": js,
                    "awaitPromise": true,
                    "returnByValue": true,
                    "userGesture": true,
                }),
            )
            .await?;
        if reply.get("exceptionDetails").is_some() {
            let snippet: String = js.chars().take(120).collect();
            bail!(
                "javascript threw: {} (in `{snippet}`)",
                exception_text(&reply["exceptionDetails"])
            );
        }
        Ok(reply["result"]["value"].clone())
    }

    /// Waits until the JavaScript expression is truthy; fails after `timeout`
    /// with the last exception if it kept throwing.
    pub async fn wait_for(&self, js_bool_expr: &str, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        let expr = format!("!!({js_bool_expr})");
        let mut last_error = None;
        loop {
            match self.eval(&expr).await {
                Ok(Value::Bool(true)) => return Ok(()),
                Ok(_) => {}
                Err(error) => last_error = Some(error),
            }
            if tokio::time::Instant::now() >= deadline {
                let why = last_error
                    .map(|e| format!(" (last error: {e:#})"))
                    .unwrap_or_default();
                bail!("timed out after {timeout:?} waiting for `{js_bool_expr}`{why}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The box of the first element matching `css`, scrolled into view.
    pub async fn element_rect(&self, css: &str) -> Result<CssRect> {
        let selector = serde_json::to_string(css)?;
        let rect = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({selector}); if (!e) return null; \
                 e.scrollIntoView({{block: 'center', inline: 'center'}}); \
                 const r = e.getBoundingClientRect(); \
                 return {{x: r.x, y: r.y, width: r.width, height: r.height}}; }})()"
            ))
            .await?;
        ensure!(!rect.is_null(), "no element matches {css:?}");
        let field = |name: &str| {
            rect[name]
                .as_f64()
                .with_context(|| format!("bad rect {rect}"))
        };
        Ok(CssRect {
            x: field("x")?,
            y: field("y")?,
            width: field("width")?,
            height: field("height")?,
        })
    }

    /// Clicks the centre of the first element matching `css` with real mouse events.
    pub async fn click_selector(&self, css: &str) -> Result<()> {
        let rect = self.element_rect(css).await?;
        ensure!(
            rect.width > 0.0 && rect.height > 0.0,
            "element {css:?} has an empty box {rect:?}"
        );
        let (x, y) = rect.center();
        self.mouse_click(x, y, MouseButton::Left).await
    }

    /// Moves the mouse to (`x`, `y`) in CSS pixels.
    pub async fn mouse_move(&self, x: f64, y: f64) -> Result<()> {
        self.mouse_event("mouseMoved", x, y, None, 0, 0).await
    }

    /// Presses `button` at (`x`, `y`).
    pub async fn mouse_down(&self, x: f64, y: f64, button: MouseButton) -> Result<()> {
        self.mouse_event("mousePressed", x, y, Some(button), button.mask(), 1)
            .await
    }

    /// Releases `button` at (`x`, `y`).
    pub async fn mouse_up(&self, x: f64, y: f64, button: MouseButton) -> Result<()> {
        self.mouse_event("mouseReleased", x, y, Some(button), 0, 1)
            .await
    }

    /// Moves to (`x`, `y`), presses and releases `button`.
    pub async fn mouse_click(&self, x: f64, y: f64, button: MouseButton) -> Result<()> {
        self.mouse_move(x, y).await?;
        self.mouse_down(x, y, button).await?;
        self.mouse_up(x, y, button).await
    }

    /// Turns the wheel at (`x`, `y`) by (`delta_x`, `delta_y`) CSS pixels.
    pub async fn mouse_wheel(&self, x: f64, y: f64, delta_x: f64, delta_y: f64) -> Result<()> {
        self.call(
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseWheel", "x": x, "y": y, "deltaX": delta_x, "deltaY": delta_y }),
        )
        .await
        .map(drop)
    }

    async fn mouse_event(
        &self,
        kind: &str,
        x: f64,
        y: f64,
        button: Option<MouseButton>,
        buttons: u32,
        click_count: u32,
    ) -> Result<()> {
        self.call(
            "Input.dispatchMouseEvent",
            json!({
                "type": kind,
                "x": x,
                "y": y,
                "button": button.map_or("none", MouseButton::name),
                "buttons": buttons,
                "clickCount": click_count,
            }),
        )
        .await
        .map(drop)
    }

    /// Types `text` one key press at a time (keyDown/keyUp with `key`, `code`
    /// and `keyCode`; Shift held around shifted characters), into whatever
    /// has focus — an `<input>` or a canvas listening for key events.
    pub async fn type_text(&self, text: &str) -> Result<()> {
        for c in text.chars() {
            let key = keys::key_for_char(c);
            if key.shift {
                self.press_with_modifiers(MOD_SHIFT, &key).await?;
            } else {
                self.key_down(&key, 0).await?;
                self.key_up(&key, 0).await?;
            }
        }
        Ok(())
    }

    /// Presses and releases a named key (`"Enter"`, `"Backspace"`, `"Tab"`,
    /// `"Escape"`, `"ArrowLeft"`, `"F5"`, a single character) or a chord such
    /// as `"Control+KeyC"` or `"Control+Shift+v"`.
    pub async fn press_key(&self, name: &str) -> Result<()> {
        let (modifiers, key) = match keys::named_key(name) {
            Some(key) => (0, key),
            None => keys::parse_chord(name).with_context(|| format!("unknown key {name:?}"))?,
        };
        if modifiers == 0 && key.shift {
            return self.press_with_modifiers(MOD_SHIFT, &key).await;
        }
        self.press_with_modifiers(modifiers, &key).await
    }

    async fn press_with_modifiers(&self, modifiers: u32, key: &KeyDef) -> Result<()> {
        let order = [MOD_CTRL, MOD_ALT, MOD_META, MOD_SHIFT];
        let mut held = 0;
        for bit in order.into_iter().filter(|b| modifiers & b != 0) {
            if let Some(modifier) = keys::modifier_key(bit) {
                held |= bit;
                self.key_down(&modifier, held).await?;
            }
        }
        self.key_down(key, held).await?;
        self.key_up(key, held).await?;
        for bit in order.into_iter().rev().filter(|b| modifiers & b != 0) {
            if let Some(modifier) = keys::modifier_key(bit) {
                held &= !bit;
                self.key_up(&modifier, held).await?;
            }
        }
        Ok(())
    }

    async fn key_down(&self, key: &KeyDef, modifiers: u32) -> Result<()> {
        // Chords with Control, Alt or Meta insert no text, as on a real keyboard.
        let text = key
            .text
            .as_deref()
            .filter(|_| modifiers & (MOD_CTRL | MOD_ALT | MOD_META) == 0);
        let mut params = json!({
            "type": if text.is_some() { "keyDown" } else { "rawKeyDown" },
            "key": key.key,
            "code": key.code,
            "windowsVirtualKeyCode": key.key_code,
            "nativeVirtualKeyCode": key.key_code,
            "modifiers": modifiers,
        });
        if let Some(text) = text {
            params["text"] = json!(text);
            params["unmodifiedText"] = json!(text);
        }
        self.call("Input.dispatchKeyEvent", params).await.map(drop)
    }

    async fn key_up(&self, key: &KeyDef, modifiers: u32) -> Result<()> {
        self.call(
            "Input.dispatchKeyEvent",
            json!({
                "type": "keyUp",
                "key": key.key,
                "code": key.code,
                "windowsVirtualKeyCode": key.key_code,
                "nativeVirtualKeyCode": key.key_code,
                "modifiers": modifiers,
            }),
        )
        .await
        .map(drop)
    }

    /// The pixels of the `<canvas>` matching `css` (a 2D canvas directly; any
    /// other canvas through a 2D copy), read in chunks. Alpha is dropped.
    pub async fn canvas_image(&self, css: &str) -> Result<RgbImage> {
        self.read_canvas(css, None).await
    }

    /// Like [`Page::canvas_image`] for one rectangle of the canvas (cheaper
    /// when polling a large canvas for a change).
    pub async fn canvas_region(&self, css: &str, rect: Rect) -> Result<RgbImage> {
        self.read_canvas(css, Some(rect)).await
    }

    async fn read_canvas(&self, css: &str, rect: Option<Rect>) -> Result<RgbImage> {
        let selector = serde_json::to_string(css)?;
        let key = format!(
            "__orielTestkitCanvas{}",
            crate::process::random_u64() % 1_000_000_000
        );
        let region = match rect {
            Some(r) => format!("[{}, {}, {}, {}]", r.x, r.y, r.width, r.height),
            None => "[0, 0, c.width, c.height]".to_owned(),
        };
        // Copies the pixels as packed RGB into window[key]; returns the size.
        let size = self
            .eval(&format!(
                "(() => {{ const c = document.querySelector({selector}); \
                 if (!c) throw new Error('no element matches ' + {selector}); \
                 if (!(c instanceof HTMLCanvasElement)) throw new Error({selector} + ' is not a canvas'); \
                 let ctx = c.getContext('2d', {{willReadFrequently: true}}); \
                 if (!ctx) {{ const copy = document.createElement('canvas'); \
                   copy.width = c.width; copy.height = c.height; \
                   ctx = copy.getContext('2d'); ctx.drawImage(c, 0, 0); }} \
                 const [x, y, w, h] = {region}; \
                 if (x + w > c.width || y + h > c.height) \
                   throw new Error(`region ${{[x, y, w, h]}} is outside the ${{c.width}}x${{c.height}} canvas`); \
                 const rgba = w && h ? ctx.getImageData(x, y, w, h).data : new Uint8ClampedArray(0); \
                 const rgb = new Uint8Array(w * h * 3); \
                 for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {{ \
                   rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2]; }} \
                 window[{key:?}] = rgb; \
                 return {{width: w, height: h}}; }})()"
            ))
            .await?;
        let width = u32::try_from(size["width"].as_u64().context("canvas width")?)?;
        let height = u32::try_from(size["height"].as_u64().context("canvas height")?)?;
        let total = width as usize * height as usize * 3;
        let mut rgb = Vec::with_capacity(total);
        let result = async {
            while rgb.len() < total {
                let end = (rgb.len() + CANVAS_CHUNK).min(total);
                let chunk = self
                    .eval(&format!(
                        "(() => {{ const d = window[{key:?}].subarray({start}, {end}); \
                         let s = ''; \
                         for (let i = 0; i < d.length; i += 0x8000) \
                           s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000)); \
                         return btoa(s); }})()",
                        start = rgb.len()
                    ))
                    .await?;
                let chunk = chunk.as_str().context("canvas chunk is not a string")?;
                let bytes = BASE64.decode(chunk).context("canvas chunk is not base64")?;
                ensure!(!bytes.is_empty(), "empty canvas chunk");
                rgb.extend_from_slice(&bytes);
            }
            Ok(())
        }
        .await;
        // Free the copy whatever happened.
        let _ = self.eval(&format!("delete window[{key:?}]")).await;
        result?;
        RgbImage::new(width, height, rgb)
    }

    /// A PNG screenshot of the viewport (`Page.captureScreenshot`).
    pub async fn screenshot_png(&self) -> Result<Vec<u8>> {
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await?;
        let data = shot["data"].as_str().context("no screenshot data")?;
        BASE64.decode(data).context("screenshot is not base64")
    }

    /// The viewport as an image.
    pub async fn screenshot(&self) -> Result<RgbImage> {
        RgbImage::from_png(&self.screenshot_png().await?)
    }

    /// Uncaught exceptions and `console.error` messages since the page opened.
    pub fn console_errors(&self) -> Vec<String> {
        self.console_errors
            .lock()
            .map(|errors| errors.clone())
            .unwrap_or_default()
    }
}
