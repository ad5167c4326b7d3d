//! Elements by CSS selector: wait for them, read them, click and fill them
//! as a person would. Every `wait_*`, [`Page::click`] and [`Page::fill`]
//! waits up to the page's [`Page::wait_timeout`] and says on failure what
//! it waited for and what the page showed instead.

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use super::{MouseButton, Page};

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

/// A JavaScript string literal for `s`.
fn js_string(s: &str) -> String {
    // Serialising a string cannot fail.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// JavaScript that is true when `css` matches an element a person can see:
/// not inside anything `hidden`, and laid out (it has a box).
fn shown_js(css: &str) -> String {
    format!(
        "(() => {{ const e = document.querySelector({}); \
         return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0; }})()",
        js_string(css)
    )
}

impl Page {
    /// Waits until `css` matches an element that is shown (not inside
    /// anything `hidden`, and laid out).
    pub async fn wait_shown(&self, css: &str) -> Result<()> {
        self.wait(&shown_js(css))
            .await
            .with_context(|| format!("{css} is not shown"))
    }

    /// Waits until no element matches `css`.
    pub async fn wait_gone(&self, css: &str) -> Result<()> {
        self.wait(&format!(
            "document.querySelector({}) === null",
            js_string(css)
        ))
        .await
        .with_context(|| format!("{css} is still there"))
    }

    /// Waits until the first element matching `css` has exactly the text `want`.
    pub async fn wait_text(&self, css: &str, want: &str) -> Result<()> {
        let waited = self
            .wait(&format!(
                "(document.querySelector({}) || {{}}).textContent === {}",
                js_string(css),
                js_string(want)
            ))
            .await;
        let now = self.text(css).await?;
        waited.with_context(|| format!("{css} shows {now:?}, not {want:?}"))
    }

    /// Whether `css` matches an element that is shown (see [`Page::wait_shown`]).
    pub async fn is_shown(&self, css: &str) -> Result<bool> {
        Ok(self.eval(&shown_js(css)).await? == Value::Bool(true))
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> Result<usize> {
        let n = self
            .eval(&format!(
                "document.querySelectorAll({}).length",
                js_string(css)
            ))
            .await?;
        let n = n.as_u64().with_context(|| format!("bad count {n}"))?;
        Ok(usize::try_from(n)?)
    }

    /// The text content of the first element matching `css` ("" when none does).
    pub async fn text(&self, css: &str) -> Result<String> {
        let text = self
            .eval(&format!(
                "(document.querySelector({}) || {{}}).textContent || ''",
                js_string(css)
            ))
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// The text content of every element matching `css`, in document order.
    pub async fn texts(&self, css: &str) -> Result<Vec<String>> {
        self.strings(&format!(
            "[...document.querySelectorAll({})].map(e => e.textContent)",
            js_string(css)
        ))
        .await
    }

    /// The attribute `attr` of every element matching `css` that has it.
    pub async fn attrs(&self, css: &str, attr: &str) -> Result<Vec<String>> {
        self.strings(&format!(
            "[...document.querySelectorAll({})].map(e => e.getAttribute({}))",
            js_string(css),
            js_string(attr)
        ))
        .await
    }

    /// The `value` of the input, select or text area matching `css`.
    pub async fn value(&self, css: &str) -> Result<String> {
        let value = self
            .eval(&format!("document.querySelector({}).value", js_string(css)))
            .await?;
        value
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("{css} has no value ({value})"))
    }

    /// A JavaScript property of the first element matching `css`, e.g.
    /// `"disabled"`, `"checked"` or `"hidden"`, as JSON.
    pub async fn property(&self, css: &str, name: &str) -> Result<Value> {
        self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); \
             if (!e) throw new Error('no element matches ' + {0}); return e[{}]; }})()",
            js_string(css),
            js_string(name)
        ))
        .await
    }

    /// Clicks the centre of `css` with real mouse events once it is shown.
    pub async fn click(&self, css: &str) -> Result<()> {
        self.wait_shown(css).await?;
        self.click_selector(css).await
    }

    /// Replaces the text of the input `css`, once it is shown, with `text`
    /// typed as real key presses (the field is emptied first: the typing is
    /// what a test is after, not the deleting).
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        self.wait_shown(css).await?;
        self.eval(&format!(
            "document.querySelector({}).value = ''",
            js_string(css)
        ))
        .await?;
        self.click_selector(css).await?;
        self.type_text(text).await
    }

    /// Sets the check box `css` to `on`, clicking it when needed.
    pub async fn set_checked(&self, css: &str, on: bool) -> Result<()> {
        self.wait_shown(css).await?;
        if self.property(css, "checked").await? != Value::Bool(on) {
            self.click_selector(css).await?;
        }
        let after = self.property(css, "checked").await?;
        ensure!(after == Value::Bool(on), "{css} did not become {on}");
        Ok(())
    }

    /// Chooses `value` in the `<select>` `css` as the keyboard would: focus,
    /// the value, then a `change` event.
    pub async fn choose(&self, css: &str, value: &str) -> Result<()> {
        self.wait_shown(css).await?;
        let chosen = self
            .eval(&format!(
                "(() => {{ const s = document.querySelector({}); s.focus(); s.value = {}; \
                 s.dispatchEvent(new Event('change', {{bubbles: true}})); return s.value; }})()",
                js_string(css),
                js_string(value)
            ))
            .await?;
        ensure!(chosen == value, "{css} has no option {value:?}");
        Ok(())
    }

    /// A same-origin `fetch` from the page, with its cookies: the status
    /// and the body as text. `body` is sent as JSON.
    pub async fn fetch(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<(u16, String)> {
        let body = body.map_or_else(|| "undefined".to_owned(), js_string);
        let reply = self
            .eval(&format!(
                "fetch({}, {{method: {}, headers: {{'Content-Type': 'application/json'}}, body: {body}}})\
                 .then(async r => [r.status, await r.text()])",
                js_string(path),
                js_string(method)
            ))
            .await?;
        let status = reply[0]
            .as_u64()
            .with_context(|| format!("bad reply {reply}"))?;
        let text = reply[1]
            .as_str()
            .with_context(|| format!("bad reply {reply}"))?;
        Ok((u16::try_from(status)?, text.to_owned()))
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

    /// Clicks the centre of the first element matching `css` with real mouse
    /// events at once, without waiting for it (see [`Page::click`]).
    pub async fn click_selector(&self, css: &str) -> Result<()> {
        let rect = self.element_rect(css).await?;
        ensure!(
            rect.width > 0.0 && rect.height > 0.0,
            "element {css:?} has an empty box {rect:?}"
        );
        let (x, y) = rect.center();
        self.mouse_click(x, y, MouseButton::Left).await
    }

    async fn strings(&self, js: &str) -> Result<Vec<String>> {
        let list = self.eval(js).await?;
        Ok(list
            .as_array()
            .with_context(|| format!("not a list: {list}"))?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect())
    }
}
