//! Pixels: a `<canvas>` read back exactly (in chunks, over `Runtime.evaluate`)
//! and screenshots of the viewport.

use anyhow::{Context, Result, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;

use super::Page;
use crate::{Rect, RgbImage};

/// Bytes of canvas pixels per round trip (base64 makes it a third larger).
const CANVAS_CHUNK: usize = 2 * 1024 * 1024;

impl Page {
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
        screenshot_bytes(&shot)
    }

    /// The viewport as an image.
    pub async fn screenshot(&self) -> Result<RgbImage> {
        RgbImage::from_png(&self.screenshot_png().await?)
    }
}

/// The PNG bytes of a `Page.captureScreenshot` result.
pub(super) fn screenshot_bytes(shot: &serde_json::Value) -> Result<Vec<u8>> {
    let data = shot["data"].as_str().context("no screenshot data")?;
    BASE64.decode(data).context("screenshot is not base64")
}
