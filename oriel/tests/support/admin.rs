//! The logged-in-admin fixture: `oriel up` on a temporary data directory
//! (SQLite or a PostgreSQL cluster of its own) with the known admin
//! password [`super::ADMIN_PASSWORD`], an API client logged in as that
//! admin, and a Chromium tab logged in through the web client's form.

use super::web::{expect_logged_in, log_in, log_out, open_view};
use super::{ADMIN_PASSWORD, Api, Backend, Deployment, Reply};
use anyhow::{Context as _, Result};
use oriel_testkit::{Browser, Page};
use serde_json::Value;

/// `oriel up`, its admin's API client, and a browser tab. Fields drop in
/// order: the tab before its browser, both before the server.
pub struct AdminUi {
    pub page: Page,
    pub browser: Browser,
    pub api: Api,
    pub oriel: Deployment,
}

impl AdminUi {
    /// `oriel up` on `backend`, with the tab logged in as the admin.
    pub async fn start(backend: Backend) -> Result<AdminUi> {
        Self::start_with(backend, &[]).await
    }

    /// Like [`AdminUi::start`] with extra environment (`ORIEL_...` overrides).
    pub async fn start_with(backend: Backend, env: &[(&str, &str)]) -> Result<AdminUi> {
        let ui = Self::logged_out(backend, env).await?;
        ui.log_in("admin", ADMIN_PASSWORD).await?;
        Ok(ui)
    }

    /// `oriel up` on `backend` with the tab on `about:blank`, logged in as
    /// nobody (the API client is the admin's).
    pub async fn logged_out(backend: Backend, env: &[(&str, &str)]) -> Result<AdminUi> {
        let oriel = Deployment::start(backend, env).await;
        Self::on(oriel).await
    }

    /// The fixture around a deployment the test started itself.
    pub async fn on(oriel: Deployment) -> Result<AdminUi> {
        let api = oriel.admin_api().await?;
        let browser = Browser::launch().await?;
        let page = browser.new_page().await?;
        Ok(AdminUi {
            page,
            browser,
            api,
            oriel,
        })
    }

    /// Logs the tab in as `username` through the form and waits for the home view.
    pub async fn log_in(&self, username: &str, password: &str) -> Result<()> {
        log_in(&self.page, &self.oriel, username, password).await?;
        expect_logged_in(&self.page, username)
            .await
            .with_context(|| format!("oriel log:\n{}", self.oriel.log_tail(20)))
    }

    /// Logs the tab out with the top bar's button.
    pub async fn log_out(&self) -> Result<()> {
        log_out(&self.page).await
    }

    /// Opens a view of the navigation (`users`, `groups`, `audit`, ...).
    pub async fn open_view(&self, route: &str) -> Result<()> {
        open_view(&self.page, route).await
    }

    /// An API request as the admin; fails on a transport error only.
    pub async fn request(&self, method: &str, path: &str, body: Option<Value>) -> Result<Reply> {
        self.api.request(method, path, body).await
    }

    /// An API request as the admin that must answer `status`; its body.
    pub async fn expect(
        &self,
        status: u16,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let reply = self.request(method, path, body).await?;
        anyhow::ensure!(
            reply.status == status,
            "{method} {path}: {reply:?}, not {status}"
        );
        Ok(reply.body)
    }
}
