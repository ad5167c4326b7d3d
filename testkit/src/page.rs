//! One browser tab, driven as a person would: the one page API of the
//! browser tests.
//!
//! - Navigation and JavaScript: [`Page::goto`], [`Page::eval`],
//!   [`Page::wait`] and [`Page::wait_for`] (a JavaScript condition),
//!   [`Page::add_init_script`], and [`Page::call`] for any DevTools call.
//! - Elements by CSS selector (`page/dom.rs`): [`Page::wait_shown`],
//!   [`Page::wait_gone`], [`Page::wait_text`], [`Page::click`],
//!   [`Page::fill`], [`Page::set_checked`], [`Page::choose`],
//!   [`Page::text`], [`Page::attrs`], [`Page::is_shown`], [`Page::fetch`].
//! - Real input events (`page/input.rs`): keys, chords and text, the mouse.
//! - Pixels (`page/canvas.rs`): a canvas read back exactly, screenshots.
//! - Errors: JavaScript exceptions and `console.error` lines collected
//!   since the tab opened ([`Page::js_errors`]).
//!
//! Every wait ends after the page's wait timeout ([`Page::wait_timeout`],
//! 10 s unless [`crate::BrowserOptions`] says otherwise). When a test fails
//! while a page is open, the page's screenshot is saved as
//! `failure-page.png` in the browser's scratch directory (kept, with its
//! path printed) as the tab closes.

mod canvas;
mod dom;
mod input;

pub use dom::CssRect;
pub use input::MouseButton;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::ScratchDir;
use crate::browser::exception_text;
use crate::cdp::CdpConnection;

/// One tab. Closed when dropped.
#[derive(Debug)]
pub struct Page {
    pub(crate) cdp: Arc<CdpConnection>,
    pub(crate) session_id: String,
    pub(crate) target_id: String,
    pub(crate) console_errors: Arc<Mutex<Vec<String>>>,
    pub(crate) collector: JoinHandle<()>,
    /// How long waits wait.
    pub(crate) wait_timeout: Duration,
    /// Where a failing test's screenshot goes (the browser's scratch directory).
    pub(crate) artefacts: ScratchDir,
}

impl Drop for Page {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.save_failure_screenshot();
        }
        self.collector.abort();
        self.cdp.send_and_forget(
            None,
            "Target.closeTarget",
            json!({ "targetId": self.target_id }),
        );
    }
}

impl Page {
    /// A protocol call in this page's session.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.cdp.call(Some(&self.session_id), method, params).await
    }

    /// The session id (for [`crate::CdpConnection`] events).
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// How long [`Page::wait`] and the element waits wait.
    pub fn wait_timeout(&self) -> Duration {
        self.wait_timeout
    }

    /// Changes how long [`Page::wait`] and the element waits wait.
    pub fn set_wait_timeout(&mut self, timeout: Duration) {
        self.wait_timeout = timeout;
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

    /// Runs `js` in every document this tab loads from now on, before the
    /// document's own scripts (`Page.addScriptToEvaluateOnNewDocument`).
    pub async fn add_init_script(&self, js: &str) -> Result<()> {
        self.call(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": js }),
        )
        .await
        .map(drop)
    }

    /// Makes this tab the browser's front tab. Headless Chromium hardly
    /// renders a background tab, and real input sent to one waits seconds
    /// for its ack.
    pub async fn bring_to_front(&self) -> Result<()> {
        self.call("Page.bringToFront", json!({})).await.map(drop)
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

    /// Waits until the JavaScript expression is truthy, for the page's wait
    /// timeout.
    pub async fn wait(&self, js_bool_expr: &str) -> Result<()> {
        self.wait_for(js_bool_expr, self.wait_timeout).await
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

    /// Uncaught exceptions and `console.error` messages since the page opened.
    pub fn console_errors(&self) -> Vec<String> {
        self.console_errors
            .lock()
            .map(|errors| errors.clone())
            .unwrap_or_default()
    }

    /// [`Page::console_errors`] without the browser's own "Failed to load
    /// resource" lines (a refused request the test provoked is not a bug).
    pub fn js_errors(&self) -> Vec<String> {
        self.console_errors()
            .into_iter()
            .filter(|e| !e.contains("Failed to load resource"))
            .collect()
    }

    /// Panics when the page logged a JavaScript error.
    pub fn assert_no_js_errors(&self) {
        let errors = self.js_errors();
        assert!(errors.is_empty(), "javascript errors: {errors:#?}");
    }

    /// Saves the page's screenshot for a failing test. The test's runtime
    /// is unwinding and cannot be awaited on, so another thread asks for
    /// the picture; the browser's answer is read by the connection's
    /// reader task, which runs on a worker of a multi-threaded runtime (on
    /// a current-thread runtime nothing could read it: no screenshot).
    fn save_failure_screenshot(&self) {
        let multi_thread = tokio::runtime::Handle::try_current().is_ok_and(|handle| {
            handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        });
        if !multi_thread {
            return;
        }
        let cdp = self.cdp.clone();
        let session = self.session_id.clone();
        let path = self.artefacts.unique_path("failure-page", "png");
        let saved = std::thread::spawn(move || capture_to(&cdp, &session, path)).join();
        match saved {
            Ok(Ok(path)) => {
                self.artefacts.keep();
                eprintln!("the page at the failure: {}", path.display());
            }
            Ok(Err(error)) => eprintln!("no screenshot of the failing page: {error:#}"),
            Err(_) => eprintln!("no screenshot of the failing page"),
        }
    }
}

/// Captures `session`'s viewport into the PNG file `path` from a runtime of
/// its own (see [`Page::save_failure_screenshot`]).
fn capture_to(cdp: &CdpConnection, session: &str, path: PathBuf) -> Result<PathBuf> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let shot = runtime.block_on(cdp.call_with_timeout(
        Some(session),
        "Page.captureScreenshot",
        json!({ "format": "png" }),
        Duration::from_secs(5),
    ))?;
    let png = canvas::screenshot_bytes(&shot)?;
    std::fs::write(&path, png).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
