//! The admin and user web UI in a real headless Chromium, against the real
//! `oriel up` (temporary data directory, known admin password), one file
//! per view. Every scenario runs twice: on the embedded SQLite and on a
//! PostgreSQL cluster started for it (`view::name::sqlite`,
//! `view::name::postgres`). Each starts from [`AdminUi`] (the browser
//! logged in as the admin, or logged out) and makes what it needs but
//! does not test through the API.
//!
//! - [`layout`]: the admin's navigation has every view; each fits a narrow screen.
//! - [`login`]: the password form alone without a provider; a throttled
//!   login says how long to wait; single sign-on buttons follow the
//!   methods endpoint (same-site providers only, error codes as words).
//! - [`workspaces`]: the form creates workspaces, credentials stay
//!   write-only; upload and download limits apart (the legacy single limit
//!   read as both); the home page's cards page through the API's cursor;
//!   sharing and silent monitoring are the workspace's, a group grants
//!   shadowing.
//! - [`groups`]: the form creates groups (one requiring TOTP) and grants
//!   workspaces; the table pages through the API's cursor.
//! - [`users`]: the form creates a user in a group; a refused form shows
//!   the API's error at the field it names (422, 409); reset a password,
//!   disable, enable, delete.
//! - [`access`]: a user sees their groups' workspaces and nothing of the
//!   admin's (navigation, 403, refused routes); an auditor reads sessions,
//!   audit and everyone's tokens, and changes nothing.
//! - [`account`]: a user of a group requiring TOTP is made to enrol (code
//!   from the key on the page, recovery codes) and logs in again with a
//!   fresh code and with a recovery code; the account page changes the
//!   password (a wrong current one stays in the form; the change ends
//!   every login) and sets up and removes a second factor.
//! - [`tokens`]: an API token is shown once and works as its user;
//!   tokens page through the API and admins see and revoke everyone's; a
//!   user revokes their own and picks no scope.
//! - [`sessions`]: the admin ends a live session.
//! - [`audit`]: the log filtered by actor, action and time; the export
//!   carries the same filters.
//! - [`zones`]: a zone with a dedicated and a connection proxy through the
//!   form (refusals at their fields), fallback by editing, a group's zone;
//!   a zone a group names cannot be deleted, `default` has no Delete button.
//!
//! Everything waits for DOM conditions with a timeout; nothing sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
#[macro_use]
mod support;

mod access;
mod account;
mod audit;
mod groups;
mod layout;
mod login;
mod sessions;
mod tokens;
mod users;
mod workspaces;
mod zones;

use anyhow::{Context as _, Result};
use oriel_testkit::{Page, free_port};
use serde_json::{Value, json};
use support::admin::AdminUi;

/// A user and their password.
const USER: &str = "uma";
const USER_PASSWORD: &str = "correct-horse-battery-7";

/// Workspaces of the scenarios; their targets need not answer (nothing
/// streams from them).
const WS: [&str; 3] = ["ws-one", "ws-two", "ws-three"];

/// Creates a VNC workspace at a port nobody listens on; returns its id.
async fn new_workspace(ui: &AdminUi, name: &str, policy: Value) -> String {
    let body = json!({
        "name": name,
        "kind": "vnc",
        "target": {"host": "127.0.0.1", "port": free_port().unwrap()},
        "policy": policy,
    });
    let created = ui
        .expect(201, "POST", "/api/v1/workspaces", Some(body))
        .await
        .unwrap();
    created["id"].as_str().unwrap().to_owned()
}

/// Creates a group (`{"name", "settings", "workspaces", ...}`); returns its id.
async fn new_group(ui: &AdminUi, body: Value) -> String {
    let created = ui
        .expect(201, "POST", "/api/v1/groups", Some(body))
        .await
        .unwrap();
    created["id"].as_str().unwrap().to_owned()
}

/// Creates a user of `role` in `groups` (ids); returns its id.
async fn new_user(
    ui: &AdminUi,
    username: &str,
    password: &str,
    role: &str,
    groups: &[&str],
) -> String {
    let body = json!({"username": username, "password": password, "role": role, "groups": groups});
    let created = ui
        .expect(201, "POST", "/api/v1/users", Some(body))
        .await
        .unwrap();
    created["id"].as_str().unwrap().to_owned()
}

/// The three workspaces [`WS`]; group A grants the first two, group B the
/// third; [`USER`] is in group A, which requires TOTP when `totp`.
async fn user_in_group_a(ui: &AdminUi, totp: bool) {
    let mut ids = Vec::new();
    for name in WS {
        ids.push(new_workspace(ui, name, json!({})).await);
    }
    let a = new_group(
        ui,
        json!({"name": "Group A", "settings": {"require_totp": totp}, "workspaces": [ids[0], ids[1]]}),
    )
    .await;
    new_group(ui, json!({"name": "Group B", "workspaces": [ids[2]]})).await;
    new_user(ui, USER, USER_PASSWORD, "user", &[&a]).await;
}

/// The status of a same-origin `fetch` from the page (with its cookie).
async fn fetch_status(page: &Page, method: &str, path: &str) -> u16 {
    let body = (method != "GET").then_some("{}");
    page.fetch(method, path, body).await.unwrap().0
}

/// Waits for the enrolment key and returns it (base32, without spaces).
async fn enrolment_secret(page: &Page) -> Result<String> {
    page.wait_shown("#totp-secret").await?;
    let secret = page
        .eval("document.getElementById('totp-secret').dataset.secret")
        .await?;
    let secret = secret.as_str().context("no secret")?.to_owned();
    // What the person reads (grouped for typing) is the same key.
    let shown = page.text("#totp-secret").await?.replace(' ', "");
    assert_eq!(shown, secret);
    Ok(secret)
}

/// A code that is not `code` (nor, but by a one in a million chance, the
/// code of the steps around it).
fn wrong_code(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 500_001) % 1_000_000)
}

/// Clicks a row's two-step button (`button.<action>`, then "confirm").
async fn confirm_row_action(page: &Page, row: &str, action: &str) -> Result<()> {
    page.click(&format!("{row} button.{action}")).await?;
    page.click(&format!("{row} button.confirm-yes")).await
}

/// The names in the home page's workspace list, sorted.
async fn listed_workspaces(page: &Page) -> Result<Vec<String>> {
    page.wait(
        "document.querySelectorAll('#workspaces > li').length > 0 \
         || !document.getElementById('workspaces-empty').hidden",
    )
    .await?;
    let mut names = page
        .attrs("#workspaces > li", "data-workspace-name")
        .await?;
    names.sort();
    Ok(names)
}

/// Whether the admin table in view shows `n` rows `rows` on page `page_no`
/// (and `owners` of them have an owner cell).
fn table_page_is(rows: &str, n: usize, page_no: u32, owners: usize) -> String {
    format!(
        "document.querySelectorAll({rows}).length === {n} \
         && document.querySelectorAll({owner}).length === {owners} \
         && document.querySelector('#app-view .pager-status').textContent === 'Page {page_no}'",
        rows = support::web::js(rows),
        owner = support::web::js(&format!("{rows} td.owner")),
    )
}

/// Whether the pager's `prev` or `next` button is disabled.
async fn pager_disabled(page: &Page, which: &str) -> bool {
    page.property(&format!("#app-view .pager-{which}"), "disabled")
        .await
        .unwrap()
        .as_bool()
        .unwrap()
}
