//! The Oriel web client in a real headless Chromium, on top of the page
//! API ([`oriel_testkit::Page`]: wait, click, fill, read by selector):
//!
//! - here: the index page (log in through the form, log out, the admin
//!   views), launching a workspace with its button, the viewer's state;
//!   [`Desk`], one desktop with `oriel up` and a browser tab;
//! - [`desktop`]: desktop ↔ page coordinates through the canvas's CSS
//!   scale, the mouse over the desktop;
//! - [`pictures`]: "the canvas equals the X server" checks that leave PNG
//!   artefacts on failure;
//! - [`spy`]: the viewer's WebSocket traffic.
//!
//! The logged-in-admin fixture of the admin UI tests is
//! [`super::admin::AdminUi`].

use super::{ADMIN_PASSWORD, Api, Oriel, blocking};
use anyhow::{Context as _, Result};
use oriel_testkit::{Browser, Page, VncDisplay, VncOptions};
use serde_json::Value;
use std::time::Duration;

pub mod desktop;
pub mod pictures;
pub mod spy;

// Each test crate uses a part of them.
#[allow(unused_imports)]
pub use {desktop::*, pictures::*, spy::*};

/// The viewer's canvas.
pub const SCREEN: &str = "#screen";

/// How long the viewer may take to connect and draw a first frame.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// One desktop, one `oriel up`, one headless Chromium with one tab (not
/// logged in). Fields drop in order: the tab before its browser.
pub struct Desk {
    pub page: Page,
    pub browser: Browser,
    pub api: Api,
    pub oriel: Oriel,
    pub display: VncDisplay,
    /// The PostgreSQL cluster of a desk on PostgreSQL ([`Desk::start_on`]).
    pub pg: Option<oriel_testkit::Postgres>,
}

impl Desk {
    /// Xtigervnc at `width`×`height`, `oriel up` with an admin API client,
    /// and Chromium with one blank tab at the kit's default 1600×1000 viewport.
    pub async fn start(width: u32, height: u32) -> Result<Desk> {
        let display = VncDisplay::start(VncOptions::new(width, height)).await?;
        let oriel = Oriel::up(&[]).await?;
        let api = oriel.admin_api().await?;
        let browser = Browser::launch().await?;
        let page = browser.new_page().await?;
        Ok(Desk {
            page,
            browser,
            api,
            oriel,
            display,
            pg: None,
        })
    }

    /// Like [`Desk::start`], with `oriel up` on `backend`.
    #[allow(dead_code)] // Each test crate uses a part of them.
    pub async fn start_on(backend: super::Backend, width: u32, height: u32) -> Result<Desk> {
        let display = VncDisplay::start(VncOptions::new(width, height)).await?;
        let deployment = super::Deployment::start(backend, &[]).await;
        let super::Deployment { oriel, pg } = deployment;
        let api = oriel.admin_api().await?;
        let browser = Browser::launch().await?;
        let page = browser.new_page().await?;
        Ok(Desk {
            page,
            browser,
            api,
            oriel,
            display,
            pg,
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
        self.launch(workspace).await
    }

    /// Launches `workspace` with its button from the list of a page that is
    /// logged in, and waits for the first frame; returns the session id.
    pub async fn launch(&self, workspace: &str) -> Result<String> {
        let id = launch_workspace(&self.page, workspace).await?;
        wait_connected(&self.page, CONNECT_TIMEOUT)
            .await
            .with_context(|| format!("oriel log:\n{}", self.oriel.log_tail(30)))?;
        Ok(id)
    }
}

/// A JavaScript string literal for `s` (for selectors and expressions).
pub fn js(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
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

/// Opens the index page, types the credentials into the form and clicks
/// "Log in". Does not wait for the outcome.
pub async fn log_in(page: &Page, oriel: &Oriel, username: &str, password: &str) -> Result<()> {
    goto_index(page, oriel).await?;
    page.wait_shown("#login-view")
        .await
        .context("the login form is not shown")?;
    page.fill("#username", username).await?;
    page.fill("#password", password).await?;
    page.click("#login-button").await
}

/// Waits until the page shows `username` as the signed-in user and the home view.
pub async fn expect_logged_in(page: &Page, username: &str) -> Result<()> {
    page.wait(&format!(
        "document.getElementById('current-user').textContent === {} \
         && !document.getElementById('user-area').hidden \
         && !document.getElementById('home-view').hidden",
        js(username)
    ))
    .await
    .context("the page never showed the signed-in user")
}

/// Logs out with the top bar's button and waits for the login form.
pub async fn log_out(page: &Page) -> Result<()> {
    page.click("#logout-button").await?;
    page.wait("!document.getElementById('login-view').hidden && location.hash === ''")
        .await
        .context("logging out did not show the login form")
}

/// Goes to an admin or account view (`users`, `groups`, `tokens`, ...)
/// with its navigation link and waits for it.
pub async fn open_view(page: &Page, route: &str) -> Result<()> {
    page.click(&format!("#nav-links a[data-route={route}]"))
        .await?;
    page.wait(&format!(
        "location.hash === '#/{route}' && !document.getElementById('app-view').hidden \
         && document.getElementById('app-view').dataset.view === '{route}'"
    ))
    .await
    .with_context(|| format!("the {route} view did not open"))
}

/// Clicks the Launch button of `workspace` in the list and waits for the
/// viewer page; returns the session id from its URL.
pub async fn launch_workspace(page: &Page, workspace: &str) -> Result<String> {
    let button = format!(
        "#workspaces > li[data-workspace-name={}][data-workspace-id] button.launch",
        js(workspace)
    );
    page.click(&button)
        .await
        .with_context(|| format!("workspace {workspace:?} is not listed"))?;
    page.wait(
        "location.pathname === '/viewer.html' && document.readyState === 'complete' \
         && window.orielViewer !== undefined",
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

// -- the page API by its former names -----------------------------------------------
// For the tests that are not on the page API yet (`rdp*`, `ssh.rs`,
// `containers.rs`, `reconcile.rs`): each is one call of it.

/// [`Page::fill`].
pub async fn type_into(page: &Page, selector: &str, text: &str) -> Result<()> {
    page.fill(selector, text).await
}

/// [`Page::text`].
pub async fn text_of(page: &Page, selector: &str) -> Result<String> {
    page.text(selector).await
}

/// [`Page::is_shown`].
pub async fn is_shown(page: &Page, selector: &str) -> Result<bool> {
    page.is_shown(selector).await
}

/// [`Page::bring_to_front`].
pub async fn bring_to_front(page: &Page) -> Result<()> {
    page.bring_to_front().await
}

/// [`Page::js_errors`].
pub fn js_errors(page: &Page) -> Vec<String> {
    page.js_errors()
}

/// [`Page::assert_no_js_errors`].
pub fn assert_no_js_errors(page: &Page) {
    page.assert_no_js_errors();
}

/// A suffix unlikely to repeat (for clipboard texts).
pub fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}
