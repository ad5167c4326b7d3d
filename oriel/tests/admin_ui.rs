//! The admin and user web UI in a real headless Chromium, against the real
//! `oriel up` (temporary data directory, generated admin password). Every
//! scenario runs twice: on the embedded SQLite and on a PostgreSQL cluster
//! started for it (`name::sqlite`, `name::postgres`).
//!
//! - `an_admin_sets_up_access_and_a_user_enrols_a_second_factor`: the
//!   admin creates workspaces, groups (one requiring TOTP), grants and a user
//!   through the forms (a refused form shows the API's error at the field it
//!   names); the user is forced through TOTP enrolment (the code computed
//!   from the key shown on the page), sees exactly the workspaces of their
//!   group, no admin navigation, 403 from admin endpoints, creates an API
//!   token shown once, and logs in again with a fresh code and with a
//!   recovery code; a throttled login says how long to wait; the admin ends
//!   a live session and filters the audit log by actor, action and time;
//!   the pages fit a narrow screen.
//! - `single_sign_on_buttons_follow_the_methods_endpoint`: a provider
//!   configured (at an issuer nobody answers) gets one button that starts
//!   the login; the server's `#/login?error=<code>` comes back as words;
//!   off-site providers get no button.
//! - `lists_page_through_the_api_cursors`: 55 groups in two pages of the
//!   groups table, 55 workspaces in two pages of the home page's cards.
//! - `tokens_page_through_the_api_and_admins_see_everyones`: 30 own
//!   tokens in two pages, then everyone's (with their owners) in two pages;
//!   the admin revokes another user's token.
//! - `the_policy_forms_set_upload_and_download_limits_apart`: a workspace's
//!   upload and download limits (the legacy single limit read as both) and
//!   a group's upload override read back through the API as saved.
//! - `row_actions_and_the_account_page_work`: reset a password, disable,
//!   delete; change one's own password (a wrong current one stays in the
//!   form), set up and remove a second factor, revoke a token.
//! - `an_auditor_gets_read_only_sessions_and_audit`: and everyone's API
//!   tokens, none of others' to revoke.
//! - `an_admin_sets_up_zones_and_a_groups_zone`: a zone with a dedicated
//!   proxy and a connection proxy through the form (a bad URL and a half
//!   filled connection proxy are refused at their fields), fallback turned
//!   on by editing, a group's zone chosen in the group form, the API reads
//!   back what was saved; a zone a group names cannot be deleted, `default`
//!   has no Delete button.
//!
//! Everything waits for DOM conditions with a timeout; nothing sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use anyhow::{Context as _, Result};
use oriel_testkit::{Browser, Page, ScratchDir, free_port, totp};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;
use support::web::{assert_no_js_errors, expect_logged_in, log_in, type_into};
use support::{ADMIN_PASSWORD, Api, Backend, Deployment, Oriel, blocking};

on_both_databases!(
    an_admin_sets_up_access_and_a_user_enrols_a_second_factor,
    single_sign_on_buttons_follow_the_methods_endpoint,
    lists_page_through_the_api_cursors,
    tokens_page_through_the_api_and_admins_see_everyones,
    the_policy_forms_set_upload_and_download_limits_apart,
    row_actions_and_the_account_page_work,
    an_auditor_gets_read_only_sessions_and_audit,
    an_admin_sets_up_zones_and_a_groups_zone,
);

/// How long a page may take to show what an action changes.
const UI: Duration = Duration::from_secs(10);

const USER: &str = "uma";
const USER_PASSWORD: &str = "correct-horse-battery-7";
const WS: [&str; 3] = ["ws-one", "ws-two", "ws-three"];
const VNC_SECRET: &str = "vnc-secret-never-shown";

// -- small page helpers -------------------------------------------------------------

fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Waits until `css` matches a shown element.
async fn wait_shown(page: &Page, css: &str) -> Result<()> {
    page.wait_for(
        &format!(
            "(() => {{ const e = document.querySelector({}); \
             return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0; }})()",
            js(css)
        ),
        UI,
    )
    .await
    .with_context(|| format!("{css} is not shown"))
}

/// Waits for `css` to be shown, then clicks it with real mouse events.
async fn click(page: &Page, css: &str) -> Result<()> {
    wait_shown(page, css).await?;
    page.click_selector(css).await
}

/// Waits for the input `css`, then types `text` into it key by key.
async fn fill(page: &Page, css: &str, text: &str) -> Result<()> {
    wait_shown(page, css).await?;
    type_into(page, css, text).await
}

/// Sets a check box to `on` by clicking it when needed.
async fn set_checked(page: &Page, css: &str, on: bool) -> Result<()> {
    wait_shown(page, css).await?;
    let now = page
        .eval(&format!("document.querySelector({}).checked", js(css)))
        .await?;
    if now != Value::Bool(on) {
        page.click_selector(css).await?;
    }
    let after = page
        .eval(&format!("document.querySelector({}).checked", js(css)))
        .await?;
    anyhow::ensure!(after == Value::Bool(on), "{css} did not become {on}");
    Ok(())
}

/// Chooses `value` in a `<select>` (as the keyboard would: value, then `change`).
async fn choose(page: &Page, css: &str, value: &str) -> Result<()> {
    wait_shown(page, css).await?;
    page.eval(&format!(
        "(() => {{ const s = document.querySelector({}); s.focus(); s.value = {}; \
         s.dispatchEvent(new Event('change', {{bubbles: true}})); return s.value; }})()",
        js(css),
        js(value)
    ))
    .await
    .map(drop)
}

/// Text of the first element matching `css`.
async fn text(page: &Page, css: &str) -> Result<String> {
    let v = page
        .eval(&format!(
            "(document.querySelector({}) || {{}}).textContent || ''",
            js(css)
        ))
        .await?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

/// Waits until the first element matching `css` has exactly the text `want`.
async fn wait_text(page: &Page, css: &str, want: &str) -> Result<()> {
    let waited = page
        .wait_for(
            &format!(
                "(document.querySelector({}) || {{}}).textContent === {}",
                js(css),
                js(want)
            ),
            UI,
        )
        .await;
    let now = text(page, css).await?;
    waited.with_context(|| format!("{css} shows {now:?}, not {want:?}"))
}

/// An attribute of every element matching `css`.
async fn attrs(page: &Page, css: &str, attr: &str) -> Result<Vec<String>> {
    let v = page
        .eval(&format!(
            "[...document.querySelectorAll({})].map(e => e.getAttribute({}))",
            js(css),
            js(attr)
        ))
        .await?;
    Ok(v.as_array()
        .context("not an array")?
        .iter()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect())
}

/// Goes to a view with its navigation link and waits for it.
async fn open_view(page: &Page, route: &str) -> Result<()> {
    click(page, &format!("#nav-links a[data-route={route}]")).await?;
    page.wait_for(
        &format!(
            "location.hash === '#/{route}' && !document.getElementById('app-view').hidden \
             && document.getElementById('app-view').dataset.view === '{route}'"
        ),
        UI,
    )
    .await
}

/// The status of a same-origin `fetch` from the page (with its cookie).
async fn fetch_status(page: &Page, method: &str, path: &str) -> Result<u64> {
    let v = page
        .eval(&format!(
            "fetch({}, {{method: {}, headers: {{'Content-Type': 'application/json'}}, \
              body: {} }}).then(r => r.status)",
            js(path),
            js(method),
            if method == "GET" { "undefined" } else { "'{}'" }
        ))
        .await?;
    v.as_u64().context("no status")
}

/// Logs out with the top bar's button and waits for the login form.
async fn log_out(page: &Page) -> Result<()> {
    click(page, "#logout-button").await?;
    page.wait_for(
        "!document.getElementById('login-view').hidden && location.hash === ''",
        UI,
    )
    .await
}

/// Waits for the enrolment key and returns it (base32, without spaces).
async fn enrolment_secret(page: &Page) -> Result<String> {
    wait_shown(page, "#totp-secret").await?;
    let secret = page
        .eval("document.getElementById('totp-secret').dataset.secret")
        .await?;
    let secret = secret.as_str().context("no secret")?.to_owned();
    // What the person reads (grouped for typing) is the same key.
    let shown = text(page, "#totp-secret").await?.replace(' ', "");
    assert_eq!(shown, secret);
    Ok(secret)
}

/// A code that is not the one for `step` (nor, but by a one in a million
/// chance, for the steps around it).
fn wrong_code(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 500_001) % 1_000_000)
}

// -- the admin's forms --------------------------------------------------------------

/// Creates a VNC workspace with the form; returns its id from the table.
async fn create_workspace(
    page: &Page,
    name: &str,
    port: u16,
    password: Option<&str>,
    clipboard_up: bool,
) -> Result<String> {
    click(page, "#workspace-new").await?;
    let form = "#workspace-create-form";
    fill(page, &format!("{form} [data-field=name] input"), name).await?;
    choose(page, &format!("{form} [data-field=kind] select"), "vnc").await?;
    fill(
        page,
        &format!("{form} [data-field=host] input"),
        "127.0.0.1",
    )
    .await?;
    fill(
        page,
        &format!("{form} [data-field=port] input"),
        &port.to_string(),
    )
    .await?;
    if let Some(p) = password {
        fill(
            page,
            &format!("{form} [data-field='cred.password'] input"),
            p,
        )
        .await?;
    }
    set_checked(
        page,
        &format!("{form} [data-field='policy.clipboard_up'] input"),
        clipboard_up,
    )
    .await?;
    fill(
        page,
        &format!("{form} [data-field='policy.idle_timeout_secs'] input"),
        "900",
    )
    .await?;
    click(page, &format!("{form} button[type=submit]")).await?;
    let row = format!("#workspaces-list tr[data-workspace-name={}]", js(name));
    page.wait_for(
        &format!(
            "document.querySelector({}) !== null && document.getElementById('workspace-editor').hidden",
            js(&row)
        ),
        UI,
    )
    .await
    .with_context(|| format!("workspace {name} not listed"))?;
    let id = attrs(page, &row, "data-workspace-id").await?;
    id.into_iter().next().context("no workspace id")
}

/// Creates a group with the form; returns its id.
async fn create_group(page: &Page, name: &str, require_totp: bool) -> Result<String> {
    click(page, "#group-new").await?;
    let form = "#group-create-form";
    fill(page, &format!("{form} [data-field=name] input"), name).await?;
    fill(
        page,
        &format!("{form} [data-field=description] input"),
        &format!("{name} for the UI test"),
    )
    .await?;
    set_checked(
        page,
        &format!("{form} [data-field=require_totp] input"),
        require_totp,
    )
    .await?;
    click(page, &format!("{form} button[type=submit]")).await?;
    let row = format!("#groups-list tr[data-group-name={}]", js(name));
    page.wait_for(
        &format!(
            "document.querySelector({}) !== null && document.getElementById('group-editor').hidden",
            js(&row)
        ),
        UI,
    )
    .await
    .with_context(|| format!("group {name} not listed"))?;
    attrs(page, &row, "data-group-id")
        .await?
        .into_iter()
        .next()
        .context("no group id")
}

/// Opens a group's editor, grants exactly `workspace_ids`, saves.
async fn grant(
    page: &Page,
    group: &str,
    workspace_ids: &[&str],
    clipboard_down: &str,
) -> Result<()> {
    let row = format!("#groups-list tr[data-group-name={}]", js(group));
    click(page, &format!("{row} button.edit")).await?;
    let form = "#group-edit-form";
    wait_shown(page, form).await?;
    let all = attrs(
        page,
        &format!("{form} [data-field=workspaces] input[type=checkbox]"),
        "data-value",
    )
    .await?;
    for id in &all {
        set_checked(
            page,
            &format!(
                "{form} [data-field=workspaces] input[data-value={}]",
                js(id)
            ),
            workspace_ids.contains(&id.as_str()),
        )
        .await?;
    }
    choose(
        page,
        &format!("{form} [data-field='override.clipboard_down'] select"),
        clipboard_down,
    )
    .await?;
    click(page, &format!("{form} button[type=submit]")).await?;
    page.wait_for("document.getElementById('group-editor').hidden", UI)
        .await
        .context("the group editor did not close")
}

/// The names in the user's workspace list, sorted.
async fn listed_workspaces(page: &Page) -> Result<Vec<String>> {
    page.wait_for(
        "document.querySelectorAll('#workspaces > li').length > 0 \
         || !document.getElementById('workspaces-empty').hidden",
        UI,
    )
    .await?;
    let mut names = attrs(page, "#workspaces > li", "data-workspace-name").await?;
    names.sort();
    Ok(names)
}

async fn admin_api(oriel: &Oriel) -> Api {
    let mut api = oriel.api();
    blocking(move || api.login_admin().map(|()| api))
        .await
        .unwrap()
}

// -- the tests -------------------------------------------------------------------------

async fn an_admin_sets_up_access_and_a_user_enrols_a_second_factor(backend: Backend) {
    let oriel = Deployment::start(backend, &[]).await;
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    page.set_viewport(1280, 800).await.unwrap();
    let page = &page;

    // -- the admin logs in; the navigation has every view -------------------------
    log_in(page, &oriel, "admin", ADMIN_PASSWORD).await.unwrap();
    expect_logged_in(page, "admin").await.unwrap();
    let routes = attrs(page, "#nav-links a", "data-route").await.unwrap();
    for route in [
        "home",
        "users",
        "groups",
        "workspaces",
        "sessions",
        "audit",
        "tokens",
        "account",
    ] {
        assert!(routes.iter().any(|r| r == route), "{route} in {routes:?}");
    }

    // -- three workspaces (targets need not answer: nothing is launched) ----------
    open_view(page, "workspaces").await.unwrap();
    let mut ws_ids = Vec::new();
    for (i, name) in WS.iter().enumerate() {
        let port = free_port().unwrap();
        let password = (i == 1).then_some(VNC_SECRET);
        ws_ids.push(
            create_workspace(page, name, port, password, i == 0)
                .await
                .unwrap(),
        );
    }
    // Credentials are write-only: the list says they are set, the editor
    // shows empty fields, and no API answer carries them.
    let row = format!("#workspaces-list tr[data-workspace-name={}]", js(WS[1]));
    assert_eq!(
        text(page, &format!("{row} td.credentials")).await.unwrap(),
        "credentials set"
    );
    assert_eq!(
        text(
            page,
            &format!(
                "#workspaces-list tr[data-workspace-name={}] td.credentials",
                js(WS[0])
            )
        )
        .await
        .unwrap(),
        "none"
    );
    click(page, &format!("{row} button.edit")).await.unwrap();
    wait_shown(page, "#workspace-edit-form").await.unwrap();
    assert_eq!(
        attrs(
            page,
            "#workspace-edit-form .credentials-state",
            "data-credentials"
        )
        .await
        .unwrap(),
        ["set"]
    );
    assert_eq!(
        page.eval("document.querySelector(\"#workspace-edit-form [data-field='cred.password'] input\").value")
            .await
            .unwrap(),
        ""
    );
    // Saving without typing keeps them.
    click(page, "#workspace-edit-form button[type=submit]")
        .await
        .unwrap();
    page.wait_for("document.getElementById('workspace-editor').hidden", UI)
        .await
        .unwrap();
    let api = admin_api(&oriel).await;
    let listed = {
        let api = api.clone();
        blocking(move || api.call("GET", "/api/v1/workspaces", None, &[]).unwrap()).await
    };
    assert_eq!(listed.status, 200);
    assert!(!listed.body.to_string().contains(VNC_SECRET));
    let items = listed.body["items"].as_array().unwrap();
    let two = items.iter().find(|w| w["name"] == WS[1]).unwrap();
    assert_eq!(two["has_credentials"], true, "{two}");
    let one = items.iter().find(|w| w["name"] == WS[0]).unwrap();
    assert_eq!(one["policy"]["clipboard_up"], true, "{one}");
    assert_eq!(one["policy"]["idle_timeout_secs"], 900, "{one}");

    // -- two groups, then their grants --------------------------------------------
    open_view(page, "groups").await.unwrap();
    let group_a = create_group(page, "Group A", true).await.unwrap();
    let _group_b = create_group(page, "Group B", false).await.unwrap();
    grant(page, "Group A", &[&ws_ids[0], &ws_ids[1]], "on")
        .await
        .unwrap();
    grant(page, "Group B", &[&ws_ids[2]], "").await.unwrap();
    wait_text(
        page,
        "#groups-list tr[data-group-name='Group A'] td.grants",
        &format!("{}, {}", WS[0], WS[1]),
    )
    .await
    .unwrap();
    wait_text(
        page,
        "#groups-list tr[data-group-name='Group B'] td.grants",
        WS[2],
    )
    .await
    .unwrap();

    // -- the user, in group A ---------------------------------------------------------
    open_view(page, "users").await.unwrap();
    click(page, "#user-new").await.unwrap();
    let form = "#user-create-form";
    wait_shown(page, form).await.unwrap();
    fill(page, &format!("{form} [data-field=username] input"), USER)
        .await
        .unwrap();
    fill(
        page,
        &format!("{form} [data-field=password] input"),
        USER_PASSWORD,
    )
    .await
    .unwrap();
    choose(page, &format!("{form} [data-field=role] select"), "user")
        .await
        .unwrap();
    set_checked(
        page,
        &format!(
            "{form} [data-field=groups] input[data-value={}]",
            js(&group_a)
        ),
        true,
    )
    .await
    .unwrap();
    click(page, &format!("{form} button[type=submit]"))
        .await
        .unwrap();
    let user_row = format!("#users-list tr[data-username={}]", js(USER));
    wait_shown(page, &user_row).await.unwrap();
    assert!(
        text(page, &user_row).await.unwrap().contains("Group A"),
        "{}",
        text(page, &user_row).await.unwrap()
    );
    // A refused form keeps what was typed and says why.
    click(page, "#user-new").await.unwrap();
    wait_shown(page, form).await.unwrap();
    fill(page, &format!("{form} [data-field=username] input"), USER)
        .await
        .unwrap();
    fill(
        page,
        &format!("{form} [data-field=password] input"),
        "short",
    )
    .await
    .unwrap();
    click(page, &format!("{form} button[type=submit]"))
        .await
        .unwrap();
    wait_shown(page, &format!("{form} .form-error"))
        .await
        .unwrap();
    let error = text(page, &format!("{form} .form-error")).await.unwrap();
    assert!(error.contains("at least"), "{error}");
    assert_eq!(
        page.eval(&format!(
            "document.querySelector({}).value",
            js(&format!("{form} [data-field=username] input"))
        ))
        .await
        .unwrap(),
        USER
    );
    // The API's 422 is shown at the field it names, which takes the focus.
    let field_error = "#user-create-form [data-field=password] .field-error";
    wait_shown(page, field_error).await.unwrap();
    assert!(
        text(page, field_error).await.unwrap().contains("at least"),
        "{}",
        text(page, field_error).await.unwrap()
    );
    page.wait_for(
        "(() => { const i = document.querySelector('#user-create-form [data-field=password] input'); \
         return i === document.activeElement && i.getAttribute('aria-invalid') === 'true' \
         && i.getAttribute('aria-describedby').split(' ').some(id => \
              document.getElementById(id)?.classList.contains('field-error')); })()",
        UI,
    )
    .await
    .unwrap();
    // A name already taken (409) is the username's error; the old mark goes.
    fill(
        page,
        &format!("{form} [data-field=password] input"),
        "another-long-password-5",
    )
    .await
    .unwrap();
    click(page, &format!("{form} button[type=submit]"))
        .await
        .unwrap();
    let taken = "#user-create-form [data-field=username] .field-error";
    wait_shown(page, taken).await.unwrap();
    assert!(
        text(page, taken).await.unwrap().contains("already exists"),
        "{}",
        text(page, taken).await.unwrap()
    );
    assert_eq!(
        page.eval("document.querySelectorAll('#user-create-form .field-error').length")
            .await
            .unwrap(),
        1
    );
    page.press_key("Escape").await.unwrap();
    page.wait_for("document.getElementById('user-editor').hidden", UI)
        .await
        .unwrap();
    log_out(page).await.unwrap();
    // No identity provider is configured: the password form only.
    page.wait_for(
        "performance.getEntriesByType('resource').some(e => e.name.endsWith('/api/v1/auth/methods'))",
        UI,
    )
    .await
    .unwrap();
    assert_eq!(
        page.eval("[document.getElementById('sso-area').hidden, document.getElementById('sso-buttons').childElementCount]")
            .await
            .unwrap(),
        json!([true, 0])
    );

    // -- the user logs in and is made to set up TOTP ------------------------------------
    log_in(page, &oriel, USER, USER_PASSWORD).await.unwrap();
    wait_shown(page, "#enroll-view").await.unwrap();
    assert!(
        page.eval("document.getElementById('main-nav').hidden")
            .await
            .unwrap()
            .as_bool()
            .unwrap(),
        "no navigation before the second factor is set up"
    );
    let secret = enrolment_secret(page).await.unwrap();
    let qr = page
        .eval("document.getElementById('totp-qr').getAttribute('src')")
        .await
        .unwrap();
    assert!(
        qr.as_str().unwrap().starts_with("data:image/svg+xml"),
        "{qr}"
    );
    let decoded = page
        .eval("document.getElementById('totp-qr').decode().then(() => true)")
        .await;
    assert!(
        matches!(decoded, Ok(Value::Bool(true))),
        "the QR code is a valid image: {decoded:?}"
    );
    // Until then, the API refuses everything else.
    assert_eq!(
        fetch_status(page, "GET", "/api/v1/workspaces")
            .await
            .unwrap(),
        403
    );
    let code_input = "#enroll-container form input[name=code]";
    let step = totp::current_step();
    let code = totp::code_for_base32(&secret, step).unwrap();
    fill(page, code_input, &wrong_code(&code)).await.unwrap();
    click(page, "#totp-confirm").await.unwrap();
    wait_shown(page, "#enroll-container .form-error")
        .await
        .unwrap();
    fill(page, code_input, &code).await.unwrap();
    click(page, "#totp-confirm").await.unwrap();
    wait_shown(page, "#recovery-codes").await.unwrap();
    let recovery: Vec<String> = page
        .eval("[...document.querySelectorAll('#recovery-codes li')].map(li => li.textContent)")
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10, "{recovery:?}");
    click(page, "#recovery-saved").await.unwrap();
    expect_logged_in(page, USER).await.unwrap();

    // -- exactly the workspaces of group A; nothing of the admin's ----------------------
    assert_eq!(listed_workspaces(page).await.unwrap(), [WS[0], WS[1]]);
    let routes = attrs(page, "#nav-links a", "data-route").await.unwrap();
    assert_eq!(routes, ["home", "tokens", "account"], "user navigation");
    for path in [
        "/api/v1/users",
        "/api/v1/groups",
        "/api/v1/audit",
        "/api/v1/sessions?scope=all",
    ] {
        assert_eq!(
            fetch_status(page, "GET", path).await.unwrap(),
            403,
            "{path}"
        );
    }
    assert_eq!(
        fetch_status(page, "POST", "/api/v1/groups").await.unwrap(),
        403
    );
    page.eval("location.hash = '#/users'").await.unwrap();
    wait_shown(page, "#route-refused").await.unwrap();
    page.eval("location.hash = '#/account'").await.unwrap();
    wait_shown(page, "#totp-panel [data-totp-state=on]")
        .await
        .unwrap();

    // -- an API token, shown once, that works as the user -----------------------------
    open_view(page, "tokens").await.unwrap();
    click(page, "#token-new").await.unwrap();
    fill(
        page,
        "#token-create-form [data-field=name] input",
        "nightly report",
    )
    .await
    .unwrap();
    click(page, "#token-create-form button[type=submit]")
        .await
        .unwrap();
    wait_shown(page, "#token-secret").await.unwrap();
    let secret_token = page
        .eval("document.getElementById('token-secret').value")
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    assert!(secret_token.starts_with("oriel_pat_"), "{secret_token}");
    wait_shown(page, "#tokens-list tr[data-token-name='nightly report']")
        .await
        .unwrap();
    click(page, "#token-done").await.unwrap();
    page.wait_for(
        &format!(
            "document.getElementById('token-secret') === null \
             && !document.documentElement.outerHTML.includes({})",
            js(&secret_token)
        ),
        UI,
    )
    .await
    .unwrap();
    let listed_tokens = page
        .eval("fetch('/api/v1/tokens').then(r => r.text())")
        .await
        .unwrap();
    assert!(
        !listed_tokens.as_str().unwrap().contains(&secret_token),
        "the list never carries the secret"
    );
    // Without the cookie, the token alone reads what the user may read.
    let with_token = page
        .eval(&format!(
            "fetch('/api/v1/workspaces', {{credentials: 'omit', headers: {{Authorization: 'Bearer ' + {}}}}}) \
             .then(r => r.json()).then(b => b.items.map(w => w.name).sort())",
            js(&secret_token)
        ))
        .await
        .unwrap();
    assert_eq!(with_token, json!([WS[0], WS[1]]));
    log_out(page).await.unwrap();

    // -- again: password, then a fresh code (the used step is refused) ------------------
    log_in(page, &oriel, USER, USER_PASSWORD).await.unwrap();
    wait_shown(page, "#totp").await.unwrap();
    // The confirmed code's step is used up; the next step's code is within
    // the server's one-step tolerance, or the clock has moved on.
    let fresh = totp::current_step().max(step + 1);
    let code = totp::code_for_base32(&secret, fresh).unwrap();
    fill(page, "#totp", &wrong_code(&code)).await.unwrap();
    click(page, "#login-button").await.unwrap();
    page.wait_for(
        "document.getElementById('login-error').textContent.includes('code was not accepted')",
        UI,
    )
    .await
    .unwrap();
    fill(page, "#totp", &code).await.unwrap();
    // The keyboard submits the form.
    page.press_key("Enter").await.unwrap();
    expect_logged_in(page, USER).await.unwrap();
    assert_eq!(listed_workspaces(page).await.unwrap(), [WS[0], WS[1]]);
    log_out(page).await.unwrap();

    // -- and with a recovery code, in the same field --------------------------------------
    log_in(page, &oriel, USER, USER_PASSWORD).await.unwrap();
    fill(page, "#totp", &recovery[0]).await.unwrap();
    click(page, "#login-button").await.unwrap();
    expect_logged_in(page, USER).await.unwrap();
    log_out(page).await.unwrap();

    // -- a throttled login says how long to wait ------------------------------------------
    let mut throttled = false;
    for _ in 0..8 {
        page.eval("document.getElementById('login-error').textContent = ''")
            .await
            .unwrap();
        fill(page, "#username", "nobody-here").await.unwrap();
        fill(page, "#password", "not-the-password").await.unwrap();
        click(page, "#login-button").await.unwrap();
        page.wait_for(
            "document.getElementById('login-error').textContent !== ''",
            UI,
        )
        .await
        .unwrap();
        let message = text(page, "#login-error").await.unwrap();
        if message.contains("Try again in") {
            assert!(
                page.eval("document.getElementById('login-button').disabled")
                    .await
                    .unwrap()
                    .as_bool()
                    .unwrap(),
                "the button waits too"
            );
            let wait: u64 = page
                .eval("document.getElementById('login-error').dataset.retryAfter")
                .await
                .unwrap()
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=900).contains(&wait), "{wait}");
            assert!(message.contains(&format!("{wait} s")), "{message}");
            throttled = true;
            break;
        }
        assert_eq!(message, "Wrong username or password.");
    }
    assert!(throttled, "never throttled");

    // -- the admin ends a live session and reads the audit log ------------------------------
    let launched = {
        let api = api.clone();
        blocking(move || api.launch(WS[0]).unwrap()).await
    };
    let session_id = launched["id"].as_str().unwrap().to_owned();
    log_in(page, &oriel, "admin", ADMIN_PASSWORD).await.unwrap();
    expect_logged_in(page, "admin").await.unwrap();
    open_view(page, "sessions").await.unwrap();
    let session_row = format!("#sessions-list tr[data-session-id={}]", js(&session_id));
    wait_shown(page, &session_row).await.unwrap();
    assert_eq!(
        text(page, &format!("{session_row} td.user")).await.unwrap(),
        "admin"
    );
    click(page, &format!("{session_row} button.end"))
        .await
        .unwrap();
    click(page, &format!("{session_row} button.confirm-yes"))
        .await
        .unwrap();
    page.wait_for(
        &format!("document.querySelector({}) === null", js(&session_row)),
        UI,
    )
    .await
    .unwrap();
    let state = {
        let api = api.clone();
        let path = format!("/api/v1/sessions/{session_id}");
        blocking(move || api.call("GET", &path, None, &[]).unwrap()).await
    };
    assert_eq!(state.body["state"], "ended", "{state:?}");

    open_view(page, "audit").await.unwrap();
    wait_shown(page, "#audit-list tr[data-action='auth.login']")
        .await
        .unwrap();
    let actors = attrs(
        page,
        "#audit-list tr[data-action='auth.login']",
        "data-actor",
    )
    .await
    .unwrap();
    assert!(actors.iter().any(|a| a == USER), "{actors:?}");
    assert!(actors.iter().any(|a| a == "admin"), "{actors:?}");
    fill(page, "#audit-filters [data-field=actor] input", USER)
        .await
        .unwrap();
    click(page, "#audit-filters button[type=submit]")
        .await
        .unwrap();
    page.wait_for(
        &format!(
            "JSON.parse(document.getElementById('audit-list').dataset.filters || '{{}}').actor === {}",
            js(USER)
        ),
        UI,
    )
    .await
    .unwrap();
    let actors = attrs(page, "#audit-list tr[data-entry-id]", "data-actor")
        .await
        .unwrap();
    assert!(!actors.is_empty());
    assert!(actors.iter().all(|a| a == USER), "{actors:?}");
    let outcomes = attrs(
        page,
        "#audit-list tr[data-action='auth.login']",
        "data-outcome",
    )
    .await
    .unwrap();
    assert!(outcomes.iter().any(|o| o == "success"), "{outcomes:?}");
    assert!(
        outcomes.iter().any(|o| o == "failure"),
        "the wrong code: {outcomes:?}"
    );
    let actions = attrs(page, "#audit-list tr[data-entry-id]", "data-action")
        .await
        .unwrap();
    assert!(
        actions.iter().any(|a| a == "auth.totp.enable"),
        "{actions:?}"
    );
    // The export link carries the same filters, and exports only those entries.
    let href = page
        .eval("document.getElementById('audit-export').getAttribute('href')")
        .await
        .unwrap();
    let href = href.as_str().unwrap().to_owned();
    assert!(
        href.starts_with("/api/v1/audit/export?") && href.contains(&format!("actor={USER}")),
        "{href}"
    );
    let exported = page
        .eval(&format!("fetch({}).then(r => r.text())", js(&href)))
        .await
        .unwrap();
    let lines: Vec<Value> = exported
        .as_str()
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), actors.len(), "{lines:?}");
    assert!(lines.iter().all(|e| e["actor"] == USER));
    // An action prefix narrows it further, and so does a time window.
    fill(page, "#audit-filters [data-field=action] input", "token.")
        .await
        .unwrap();
    click(page, "#audit-filters button[type=submit]")
        .await
        .unwrap();
    page.wait_for(
        "JSON.parse(document.getElementById('audit-list').dataset.filters || '{}').action === 'token.'",
        UI,
    )
    .await
    .unwrap();
    let actions = attrs(page, "#audit-list tr[data-entry-id]", "data-action")
        .await
        .unwrap();
    assert_eq!(actions, ["token.create"], "{actions:?}");
    let href = page
        .eval("document.getElementById('audit-export').getAttribute('href')")
        .await
        .unwrap();
    assert!(href.as_str().unwrap().contains("action=token."), "{href}");
    // "Until" an hour ago (typed in the browser's own time zone): nothing.
    page.eval(
        "(() => { const i = document.querySelector('#audit-filters [data-field=until] input'); \
           const d = new Date(Date.now() - 3600e3); d.setMinutes(d.getMinutes() - d.getTimezoneOffset()); \
           i.value = d.toISOString().slice(0, 16); i.dispatchEvent(new Event('input', {bubbles: true})); })()",
    )
    .await
    .unwrap();
    click(page, "#audit-filters button[type=submit]")
        .await
        .unwrap();
    page.wait_for(
        "!!JSON.parse(document.getElementById('audit-list').dataset.filters || '{}').until \
         && document.querySelector('#audit-list .empty') !== null",
        UI,
    )
    .await
    .unwrap();
    click(page, "#audit-filters button.clear").await.unwrap();
    page.wait_for(
        "document.getElementById('audit-list').dataset.filters === '{}' \
         && document.querySelectorAll('#audit-list tr[data-entry-id]').length > 0",
        UI,
    )
    .await
    .unwrap();

    // -- a narrow screen: nothing wider than the viewport -------------------------------
    page.set_viewport(390, 844).await.unwrap();
    for route in ["audit", "users", "groups", "workspaces"] {
        open_view(page, route).await.unwrap();
        page.wait_for(
            "document.querySelector('#app-view table, #app-view .empty') !== null",
            UI,
        )
        .await
        .unwrap();
        let overflow = page
            .eval("document.documentElement.scrollWidth - window.innerWidth")
            .await
            .unwrap();
        assert!(
            overflow.as_f64().unwrap() <= 0.0,
            "{route} overflows by {overflow} px"
        );
    }
    assert_no_js_errors(page);
}

/// Replaces `GET /api/v1/auth/methods` in every document of the tab: three
/// providers, two of which point off-site and must get no button (the page
/// navigates only to paths of its own site, whatever the server says).
const METHODS_STUB: &str = r#"
(() => {
  const native = window.fetch.bind(window);
  window.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input.url;
    if (new URL(url, location.href).pathname === '/api/v1/auth/methods') {
      return Promise.resolve(new Response(JSON.stringify({
        password: true,
        oidc: [
          { id: 'default', name: 'Company SSO', start: '/api/v1/auth/oidc/start' },
          { id: 'evil', name: 'Elsewhere', start: 'https://evil.example/start' },
          { id: 'script', name: 'Script', start: 'javascript:alert(1)' },
        ],
      }), { status: 200, headers: { 'Content-Type': 'application/json' } }));
    }
    return native(input, init);
  };
})();
"#;

async fn single_sign_on_buttons_follow_the_methods_endpoint(backend: Backend) {
    // A provider is configured but nothing answers at its issuer: the login
    // page offers it, and starting a login comes back with an error code.
    let secret_dir = ScratchDir::new("oidc-secret").unwrap();
    let secret_file = secret_dir.path().join("client_secret");
    std::fs::write(&secret_file, "client-secret-for-the-ui-test\n").unwrap();
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let issuer = format!("http://127.0.0.1:{}", free_port().unwrap());
    let oriel = Deployment::start(
        backend,
        &[
            ("ORIEL_CONTROL__OIDC__ISSUER", issuer.as_str()),
            ("ORIEL_CONTROL__OIDC__CLIENT_ID", "oriel-ui-test"),
            (
                "ORIEL_CONTROL__OIDC__CLIENT_SECRET_FILE",
                secret_file.to_str().unwrap(),
            ),
            ("ORIEL_CONTROL__OIDC__DISPLAY_NAME", "Company SSO"),
        ],
    )
    .await;
    let browser = Browser::launch().await.unwrap();

    // The real endpoint: one button, beside the password form.
    let page = browser.new_page().await.unwrap();
    page.goto(&format!("{}/index.html#/audit", oriel.origin()))
        .await
        .unwrap();
    wait_shown(&page, "#sso-buttons button[data-sso=default]")
        .await
        .unwrap();
    let buttons = page
        .eval("[...document.querySelectorAll('#sso-buttons button')].map(b => b.textContent)")
        .await
        .unwrap();
    assert_eq!(buttons, json!(["Sign in with Company SSO"]));
    assert!(
        !page
            .eval("document.getElementById('login-form').hidden")
            .await
            .unwrap()
            .as_bool()
            .unwrap(),
        "the password form stays"
    );
    // The login would come back to the route the page was on.
    assert_eq!(
        page.eval(
            "import('/js/login.js').then(m => m.ssoStartUrl('/api/v1/auth/oidc/start', location.hash))"
        )
        .await
        .unwrap(),
        "/api/v1/auth/oidc/start?return_to=%2F%23%2Faudit"
    );
    // The button navigates to the start address; the server cannot reach
    // the provider and sends the browser back with a code, which the page
    // turns into words.
    click(&page, "#sso-buttons button[data-sso=default]")
        .await
        .unwrap();
    page.wait_for(
        "location.pathname === '/' && location.hash === '#/login?error=oidc_provider_unavailable' \
         && document.getElementById('login-error').textContent.includes('cannot be reached')",
        UI,
    )
    .await
    .unwrap();
    assert_eq!(
        page.eval("document.getElementById('login-error').getAttribute('role')")
            .await
            .unwrap(),
        "alert",
        "the message is announced"
    );
    // Other codes, known or not; anything but a plain code is not shown.
    page.eval("location.hash = '#/login?error=oidc_user_disabled'")
        .await
        .unwrap();
    page.wait_for(
        "document.getElementById('login-error').textContent.includes('account is disabled')",
        UI,
    )
    .await
    .unwrap();
    page.eval("location.hash = '#/login?error=brand_new_code'")
        .await
        .unwrap();
    page.wait_for(
        "document.getElementById('login-error').textContent.includes('(brand_new_code)')",
        UI,
    )
    .await
    .unwrap();
    // A password login from there lands on the home page, not on "#/login".
    type_into(&page, "#username", "admin").await.unwrap();
    type_into(&page, "#password", ADMIN_PASSWORD).await.unwrap();
    click(&page, "#login-button").await.unwrap();
    expect_logged_in(&page, "admin").await.unwrap();
    assert_eq!(page.eval("location.hash").await.unwrap(), "#/");
    assert_no_js_errors(&page);
    drop(page);

    // Whatever the server says, only same-site providers get a button.
    let page = browser.new_page().await.unwrap();
    page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": METHODS_STUB }),
    )
    .await
    .unwrap();
    page.goto(&format!("{}/index.html", oriel.origin()))
        .await
        .unwrap();
    page.wait_for(
        "!document.getElementById('login-view').hidden || !document.getElementById('home-view').hidden",
        UI,
    )
    .await
    .unwrap();
    // This tab shares the admin's cookie: log out to see the login page.
    let logged_in = page
        .eval("document.getElementById('login-view').hidden")
        .await
        .unwrap();
    if logged_in == true {
        log_out(&page).await.unwrap();
    }
    wait_shown(&page, "#sso-buttons button").await.unwrap();
    let buttons = page
        .eval("[...document.querySelectorAll('#sso-buttons button')].map(b => b.dataset.sso)")
        .await
        .unwrap();
    assert_eq!(buttons, json!(["default"]));
    drop(page);
}

async fn lists_page_through_the_api_cursors(backend: Backend) {
    let oriel = Deployment::start(backend, &[]).await;
    let api = admin_api(&oriel).await;
    let port = free_port().unwrap();
    blocking(move || {
        for i in 0..55 {
            let r = api
                .call(
                    "POST",
                    "/api/v1/groups",
                    Some(&json!({ "name": format!("team {i:02}") })),
                    &[],
                )
                .unwrap();
            assert_eq!(r.status, 201, "{r:?}");
            api.vnc_workspace(&format!("desk {i:02}"), port, None, json!({}))
                .unwrap();
        }
    })
    .await;
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    let page = &page;
    log_in(page, &oriel, "admin", ADMIN_PASSWORD).await.unwrap();
    expect_logged_in(page, "admin").await.unwrap();

    // The home page's cards: a first page, then "Show more" appends the rest.
    page.wait_for(
        "document.querySelectorAll('#workspaces > li').length === 50",
        UI,
    )
    .await
    .unwrap();
    click(page, "#workspaces-more").await.unwrap();
    page.wait_for(
        "document.querySelectorAll('#workspaces > li').length === 55 \
         && document.getElementById('workspaces-more').hidden",
        UI,
    )
    .await
    .unwrap();
    let mut cards = attrs(page, "#workspaces > li", "data-workspace-name")
        .await
        .unwrap();
    cards.sort();
    cards.dedup();
    assert_eq!(cards.len(), 55, "every workspace once");

    // The admin tables: "Next" follows the API's cursor, "Previous" goes back.
    open_view(page, "groups").await.unwrap();
    let rows = "#groups-list tr[data-group-id]";
    let page_is = |n: usize, page_no: u32| {
        format!(
            "document.querySelectorAll({}).length === {n} \
             && document.querySelector('#app-view .pager-status').textContent === 'Page {page_no}'",
            js(rows)
        )
    };
    page.wait_for(&page_is(50, 1), UI).await.unwrap();
    wait_shown(page, "#app-view nav.pager").await.unwrap();
    let first = attrs(page, rows, "data-group-name").await.unwrap();
    assert_eq!(
        page.eval("document.querySelector('#app-view .pager-prev').disabled")
            .await
            .unwrap(),
        true
    );
    click(page, "#app-view .pager-next").await.unwrap();
    page.wait_for(&page_is(5, 2), UI).await.unwrap();
    let second = attrs(page, rows, "data-group-name").await.unwrap();
    assert_eq!(
        page.eval("document.querySelector('#app-view .pager-next').disabled")
            .await
            .unwrap(),
        true,
        "the last page"
    );
    let mut all: Vec<String> = first.iter().chain(&second).cloned().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 55, "every group once: {all:?}");
    click(page, "#app-view .pager-prev").await.unwrap();
    page.wait_for(&page_is(50, 1), UI).await.unwrap();
    assert_eq!(attrs(page, rows, "data-group-name").await.unwrap(), first);
    assert_no_js_errors(page);
}

/// Clicks a row's two-step button (`button.<action>`, then "confirm").
async fn confirm_row_action(page: &Page, row: &str, action: &str) -> Result<()> {
    click(page, &format!("{row} button.{action}")).await?;
    click(page, &format!("{row} button.confirm-yes")).await
}

/// Whether the admin table in view shows `rows` rows on page `page_no` (and
/// `owners` of them have an owner cell).
fn table_page_is(rows: &str, n: usize, page_no: u32, owners: usize) -> String {
    format!(
        "document.querySelectorAll({rows}).length === {n} \
         && document.querySelectorAll({owner}).length === {owners} \
         && document.querySelector('#app-view .pager-status').textContent === 'Page {page_no}'",
        rows = js(rows),
        owner = js(&format!("{rows} td.owner")),
    )
}

async fn pager_disabled(page: &Page, which: &str) -> bool {
    page.eval(&format!(
        "document.querySelector('#app-view .pager-{which}').disabled"
    ))
    .await
    .unwrap()
    .as_bool()
    .unwrap()
}

async fn tokens_page_through_the_api_and_admins_see_everyones(backend: Backend) {
    const TESS: &str = "tess";
    const TESS_PASSWORD: &str = "owner-long-password-4";
    let oriel = Deployment::start(backend, &[]).await;
    let admin = admin_api(&oriel).await;
    let mut tess = oriel.api();
    blocking(move || {
        let r = admin
            .call(
                "POST",
                "/api/v1/users",
                Some(&json!({"username": TESS, "password": TESS_PASSWORD, "role": "user"})),
                &[],
            )
            .unwrap();
        assert_eq!(r.status, 201, "{r:?}");
        let r = tess.login(TESS, TESS_PASSWORD).unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        // The admin's first, tess's last: newest first, tess's lead everyone's.
        for (api, name, count) in [(&admin, "admin token", 30), (&tess, "tess token", 3)] {
            for i in 0..count {
                let r = api
                    .call(
                        "POST",
                        "/api/v1/tokens",
                        Some(&json!({ "name": format!("{name} {i:02}"), "scopes": ["read"] })),
                        &[],
                    )
                    .unwrap();
                assert_eq!(r.status, 201, "{r:?}");
            }
        }
    })
    .await;
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    let page = &page;
    log_in(page, &oriel, "admin", ADMIN_PASSWORD).await.unwrap();
    expect_logged_in(page, "admin").await.unwrap();
    open_view(page, "tokens").await.unwrap();
    let rows = "#tokens-list tr[data-token-id]";
    let scope = "#app-view [data-field=scope] select";

    // Own tokens by default: 25 a page, newest first, through the API's cursor.
    page.wait_for(&table_page_is(rows, 25, 1, 0), UI)
        .await
        .unwrap();
    wait_shown(page, "#app-view nav.pager").await.unwrap();
    assert!(pager_disabled(page, "prev").await);
    let first = attrs(page, rows, "data-token-name").await.unwrap();
    assert_eq!(first[0], "admin token 29", "newest first: {first:?}");
    click(page, "#app-view .pager-next").await.unwrap();
    page.wait_for(&table_page_is(rows, 5, 2, 0), UI)
        .await
        .unwrap();
    assert!(pager_disabled(page, "next").await, "the last page");
    let second = attrs(page, rows, "data-token-name").await.unwrap();
    let mut own: Vec<String> = first.iter().chain(&second).cloned().collect();
    own.sort();
    own.dedup();
    let want: Vec<String> = (0..30).map(|i| format!("admin token {i:02}")).collect();
    assert_eq!(own, want, "each of the admin's tokens once, nobody else's");
    click(page, "#app-view .pager-prev").await.unwrap();
    page.wait_for(&table_page_is(rows, 25, 1, 0), UI)
        .await
        .unwrap();
    assert_eq!(attrs(page, rows, "data-token-name").await.unwrap(), first);

    // Everyone's: back to the first page, with the owners.
    choose(page, scope, "all").await.unwrap();
    page.wait_for(&table_page_is(rows, 25, 1, 25), UI)
        .await
        .unwrap();
    let names = attrs(page, rows, "data-token-name").await.unwrap();
    assert_eq!(
        names[..4],
        [
            "tess token 02",
            "tess token 01",
            "tess token 00",
            "admin token 29"
        ]
    );
    let owners = page
        .eval(&format!(
            "[...document.querySelectorAll({})].slice(0, 4).map(td => td.textContent)",
            js(&format!("{rows} td.owner"))
        ))
        .await
        .unwrap();
    assert_eq!(owners, json!([TESS, TESS, TESS, "admin (you)"]));
    click(page, "#app-view .pager-next").await.unwrap();
    page.wait_for(&table_page_is(rows, 8, 2, 8), UI)
        .await
        .unwrap();
    assert!(pager_disabled(page, "next").await, "the last page");
    let mut everyone: Vec<String> = names
        .iter()
        .cloned()
        .chain(attrs(page, rows, "data-token-name").await.unwrap())
        .collect();
    everyone.sort();
    everyone.dedup();
    assert_eq!(everyone.len(), 33, "every token once: {everyone:?}");

    // An admin revokes someone else's token.
    click(page, "#app-view .pager-prev").await.unwrap();
    page.wait_for(&table_page_is(rows, 25, 1, 25), UI)
        .await
        .unwrap();
    let tess_row = "#tokens-list tr[data-token-name='tess token 01']";
    confirm_row_action(page, tess_row, "revoke").await.unwrap();
    wait_text(page, &format!("{tess_row} td.state"), "revoked")
        .await
        .unwrap();

    // And back to their own.
    choose(page, scope, "own").await.unwrap();
    page.wait_for(&table_page_is(rows, 25, 1, 0), UI)
        .await
        .unwrap();
    assert_eq!(attrs(page, rows, "data-token-name").await.unwrap(), first);
    assert_no_js_errors(page);
}

async fn the_policy_forms_set_upload_and_download_limits_apart(backend: Backend) {
    let oriel = Deployment::start(backend, &[]).await;
    let api = admin_api(&oriel).await;
    let port = free_port().unwrap();
    let (ws_id, group_id) = {
        let api = api.clone();
        blocking(move || {
            // The legacy single limit is read as both.
            let w = api
                .vnc_workspace("files", port, None, json!({"transfer_max_bytes": 7340032}))
                .unwrap();
            let r = api
                .call(
                    "POST",
                    "/api/v1/groups",
                    Some(&json!({"name": "movers"})),
                    &[],
                )
                .unwrap();
            assert_eq!(r.status, 201, "{r:?}");
            (
                w["id"].as_str().unwrap().to_owned(),
                r.body["id"].as_str().unwrap().to_owned(),
            )
        })
        .await
    };
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    let page = &page;
    log_in(page, &oriel, "admin", ADMIN_PASSWORD).await.unwrap();
    expect_logged_in(page, "admin").await.unwrap();

    // The workspace's policy: each limit next to its direction's check box.
    open_view(page, "workspaces").await.unwrap();
    click(
        page,
        "#workspaces-list tr[data-workspace-name=files] button.edit",
    )
    .await
    .unwrap();
    let form = "#workspace-edit-form";
    wait_shown(page, form).await.unwrap();
    let order = attrs(
        page,
        &format!("{form} [data-field=policy] .field-grid > .field"),
        "data-field",
    )
    .await
    .unwrap();
    for pair in [
        ["policy.upload", "policy.upload_max_bytes"],
        ["policy.download", "policy.download_max_bytes"],
    ] {
        assert!(order.windows(2).any(|w| w == pair), "{pair:?} in {order:?}");
    }
    assert!(!order.iter().any(|f| f.contains("transfer")), "{order:?}");
    let upload_max = format!("{form} [data-field='policy.upload_max_bytes'] input");
    let download_max = format!("{form} [data-field='policy.download_max_bytes'] input");
    for input in [&upload_max, &download_max] {
        assert_eq!(
            page.eval(&format!("document.querySelector({}).value", js(input)))
                .await
                .unwrap(),
            "7340032"
        );
    }
    assert!(
        text(
            page,
            &format!("{form} [data-field='policy.download_max_bytes'] label")
        )
        .await
        .unwrap()
        .contains("0 = no limit")
    );
    set_checked(
        page,
        &format!("{form} [data-field='policy.upload'] input"),
        true,
    )
    .await
    .unwrap();
    set_checked(
        page,
        &format!("{form} [data-field='policy.download'] input"),
        true,
    )
    .await
    .unwrap();
    fill(page, &upload_max, "5242880").await.unwrap();
    fill(page, &download_max, "0").await.unwrap();
    click(page, &format!("{form} button[type=submit]"))
        .await
        .unwrap();
    page.wait_for("document.getElementById('workspace-editor').hidden", UI)
        .await
        .unwrap();
    page.wait_for(
        "((document.querySelector('#workspaces-list tr[data-workspace-name=files]') || {}).textContent \
         || '').includes('uploads ≤ 5 MiB, downloads unlimited')",
        UI,
    )
    .await
    .unwrap();

    // The group's overrides: an upload limit only.
    open_view(page, "groups").await.unwrap();
    click(page, "#groups-list tr[data-group-name=movers] button.edit")
        .await
        .unwrap();
    let form = "#group-edit-form";
    fill(
        page,
        &format!("{form} [data-field='override.upload_max_bytes'] input"),
        "1048576",
    )
    .await
    .unwrap();
    click(page, &format!("{form} button[type=submit]"))
        .await
        .unwrap();
    page.wait_for("document.getElementById('group-editor').hidden", UI)
        .await
        .unwrap();

    // Both read back through the API as saved, without the legacy field.
    let (ws, group) = blocking(move || {
        let w = api
            .call("GET", &format!("/api/v1/workspaces/{ws_id}"), None, &[])
            .unwrap();
        let g = api
            .call("GET", &format!("/api/v1/groups/{group_id}"), None, &[])
            .unwrap();
        (w, g)
    })
    .await;
    assert_eq!(ws.status, 200, "{ws:?}");
    let policy = &ws.body["policy"];
    assert_eq!(policy["upload"], true, "{policy}");
    assert_eq!(policy["download"], true, "{policy}");
    assert_eq!(policy["upload_max_bytes"], 5242880, "{policy}");
    assert_eq!(policy["download_max_bytes"], 0, "{policy}");
    assert!(policy.get("transfer_max_bytes").is_none(), "{policy}");
    assert_eq!(group.status, 200, "{group:?}");
    assert_eq!(
        group.body["settings"]["policy"],
        json!({"upload_max_bytes": 1048576}),
        "{group:?}"
    );
    assert_no_js_errors(page);
}

async fn row_actions_and_the_account_page_work(backend: Backend) {
    const ROB: &str = "rob";
    const FIRST: &str = "first-long-secret-1";
    const SECOND: &str = "second-long-secret-2";
    const THIRD: &str = "third-long-secret-3";
    let oriel = Deployment::start(backend, &[]).await;
    let api = admin_api(&oriel).await;
    blocking(move || {
        let r = api
            .call(
                "POST",
                "/api/v1/users",
                Some(&json!({"username": ROB, "password": FIRST, "role": "user"})),
                &[],
            )
            .unwrap();
        assert_eq!(r.status, 201, "{r:?}");
    })
    .await;
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    let page = &page;

    // -- the admin resets rob's password, disables and enables him --------------------
    log_in(page, &oriel, "admin", ADMIN_PASSWORD).await.unwrap();
    expect_logged_in(page, "admin").await.unwrap();
    open_view(page, "users").await.unwrap();
    let row = format!("#users-list tr[data-username={}]", js(ROB));
    click(page, &format!("{row} button.reset-password"))
        .await
        .unwrap();
    let form = "#user-password-form";
    fill(page, &format!("{form} [data-field=password] input"), SECOND)
        .await
        .unwrap();
    fill(page, &format!("{form} [data-field=again] input"), "typo")
        .await
        .unwrap();
    click(page, &format!("{form} button[type=submit]"))
        .await
        .unwrap();
    wait_shown(page, &format!("{form} [data-field=again] .field-error"))
        .await
        .unwrap();
    fill(page, &format!("{form} [data-field=again] input"), SECOND)
        .await
        .unwrap();
    click(page, &format!("{form} button[type=submit]"))
        .await
        .unwrap();
    page.wait_for("document.getElementById('user-editor').hidden", UI)
        .await
        .unwrap();
    click(page, &format!("{row} button.toggle-disabled"))
        .await
        .unwrap();
    wait_text(page, &format!("{row} td.state"), "disabled")
        .await
        .unwrap();
    click(page, &format!("{row} button.toggle-disabled"))
        .await
        .unwrap();
    wait_text(page, &format!("{row} td.state"), "active")
        .await
        .unwrap();
    log_out(page).await.unwrap();

    // -- rob: the new password works; a wrong current one is the form's error ---------
    log_in(page, &oriel, ROB, SECOND).await.unwrap();
    expect_logged_in(page, ROB).await.unwrap();
    open_view(page, "account").await.unwrap();
    let form = "#password-form";
    fill(page, &format!("{form} [data-field=current] input"), FIRST)
        .await
        .unwrap();
    fill(page, &format!("{form} [data-field=new] input"), THIRD)
        .await
        .unwrap();
    fill(page, &format!("{form} [data-field=again] input"), THIRD)
        .await
        .unwrap();
    click(page, &format!("{form} button[type=submit]"))
        .await
        .unwrap();
    wait_shown(page, &format!("{form} [data-field=current] .field-error"))
        .await
        .unwrap();
    assert!(
        !page
            .eval("document.getElementById('user-area').hidden")
            .await
            .unwrap()
            .as_bool()
            .unwrap(),
        "a wrong current password is not a lost login"
    );

    // -- a second factor rob chose himself, then turned off ------------------------------
    click(page, "#totp-setup").await.unwrap();
    let secret = enrolment_secret(page).await.unwrap();
    let step = totp::current_step();
    fill(
        page,
        "#totp-panel form input[name=code]",
        &totp::code_for_base32(&secret, step).unwrap(),
    )
    .await
    .unwrap();
    click(page, "#totp-confirm").await.unwrap();
    click(page, "#recovery-saved").await.unwrap();
    wait_shown(page, "#totp-panel [data-totp-state=on]")
        .await
        .unwrap();
    let fresh = totp::current_step().max(step + 1);
    fill(
        page,
        "#totp-disable-form [data-field=code] input",
        &totp::code_for_base32(&secret, fresh).unwrap(),
    )
    .await
    .unwrap();
    click(page, "#totp-disable-form button[type=submit]")
        .await
        .unwrap();
    wait_shown(page, "#totp-panel [data-totp-state=off]")
        .await
        .unwrap();

    // -- a token, revoked -------------------------------------------------------------------
    open_view(page, "tokens").await.unwrap();
    click(page, "#token-new").await.unwrap();
    assert_eq!(
        page.eval("document.querySelector('#app-view [data-field=scope]') === null")
            .await
            .unwrap(),
        true,
        "users see only their own tokens"
    );
    fill(
        page,
        "#token-create-form [data-field=name] input",
        "short lived",
    )
    .await
    .unwrap();
    click(page, "#token-create-form button[type=submit]")
        .await
        .unwrap();
    click(page, "#token-done").await.unwrap();
    let token_row = "#tokens-list tr[data-token-name='short lived']";
    confirm_row_action(page, token_row, "revoke").await.unwrap();
    wait_text(page, &format!("{token_row} td.state"), "revoked")
        .await
        .unwrap();

    // -- the password change ends every login, this one too ----------------------------
    open_view(page, "account").await.unwrap();
    let form = "#password-form";
    fill(page, &format!("{form} [data-field=current] input"), SECOND)
        .await
        .unwrap();
    fill(page, &format!("{form} [data-field=new] input"), THIRD)
        .await
        .unwrap();
    fill(page, &format!("{form} [data-field=again] input"), THIRD)
        .await
        .unwrap();
    click(page, &format!("{form} button[type=submit]"))
        .await
        .unwrap();
    page.wait_for(
        "!document.getElementById('login-view').hidden \
         && document.getElementById('login-error').textContent.includes('password was changed')",
        UI,
    )
    .await
    .unwrap();
    log_in(page, &oriel, ROB, THIRD).await.unwrap();
    expect_logged_in(page, ROB).await.unwrap();
    log_out(page).await.unwrap();

    // -- the admin deletes rob -------------------------------------------------------------
    log_in(page, &oriel, "admin", ADMIN_PASSWORD).await.unwrap();
    expect_logged_in(page, "admin").await.unwrap();
    open_view(page, "users").await.unwrap();
    confirm_row_action(page, &row, "delete").await.unwrap();
    page.wait_for(
        &format!("document.querySelector({}) === null", js(&row)),
        UI,
    )
    .await
    .unwrap();
    assert_no_js_errors(page);
}

async fn an_auditor_gets_read_only_sessions_and_audit(backend: Backend) {
    let oriel = Deployment::start(backend, &[]).await;
    let api = admin_api(&oriel).await;
    let port = free_port().unwrap();
    let session = {
        let api = api.clone();
        blocking(move || {
            api.vnc_workspace("audited", port, None, json!({})).unwrap();
            let r = api
                .call(
                    "POST",
                    "/api/v1/users",
                    Some(&json!({"username": "aude", "password": "reader-long-password-3", "role": "auditor"})),
                    &[],
                )
                .unwrap();
            assert_eq!(r.status, 201, "{r:?}");
            let r = api
                .call(
                    "POST",
                    "/api/v1/tokens",
                    Some(&json!({"name": "admin script", "scopes": ["read"]})),
                    &[],
                )
                .unwrap();
            assert_eq!(r.status, 201, "{r:?}");
            api.launch("audited").unwrap()
        })
        .await
    };
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    let page = &page;
    log_in(page, &oriel, "aude", "reader-long-password-3")
        .await
        .unwrap();
    expect_logged_in(page, "aude").await.unwrap();
    let routes = attrs(page, "#nav-links a", "data-route").await.unwrap();
    assert_eq!(routes, ["home", "sessions", "audit", "tokens", "account"]);
    // Auditors see every workspace and launch none.
    assert_eq!(listed_workspaces(page).await.unwrap(), ["audited"]);
    assert_eq!(
        page.eval("document.querySelectorAll('#workspaces button.launch').length")
            .await
            .unwrap(),
        0
    );
    open_view(page, "sessions").await.unwrap();
    let row = format!(
        "#sessions-list tr[data-session-id={}]",
        js(session["id"].as_str().unwrap())
    );
    wait_shown(page, &row).await.unwrap();
    assert_eq!(
        page.eval("document.querySelectorAll('#sessions-list button').length")
            .await
            .unwrap(),
        0,
        "no End button for auditors"
    );
    open_view(page, "audit").await.unwrap();
    wait_shown(page, "#audit-list tr[data-action='session.launch']")
        .await
        .unwrap();
    // Everyone's tokens, with their owners, but only one's own to revoke.
    open_view(page, "tokens").await.unwrap();
    choose(page, "#app-view [data-field=scope] select", "all")
        .await
        .unwrap();
    let token_row = "#tokens-list tr[data-token-name='admin script']";
    wait_text(page, &format!("{token_row} td.owner"), "admin")
        .await
        .unwrap();
    assert_eq!(
        page.eval(&format!(
            "document.querySelectorAll({}).length",
            js(&format!("{token_row} button"))
        ))
        .await
        .unwrap(),
        0,
        "no Revoke button on another's token for auditors"
    );
    page.eval("location.hash = '#/users'").await.unwrap();
    wait_shown(page, "#route-refused").await.unwrap();
    assert_eq!(
        fetch_status(
            page,
            "DELETE",
            &format!("/api/v1/sessions/{}", session["id"].as_str().unwrap())
        )
        .await
        .unwrap(),
        403
    );
    assert_no_js_errors(page);
}

async fn an_admin_sets_up_zones_and_a_groups_zone(backend: Backend) {
    let oriel = Deployment::start(backend, &[]).await;
    let api = admin_api(&oriel).await;
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    let page = &page;
    log_in(page, &oriel, "admin", ADMIN_PASSWORD).await.unwrap();
    expect_logged_in(page, "admin").await.unwrap();

    open_view(page, "zones").await.unwrap();
    wait_shown(page, "#zones-list tr[data-zone-name=default]")
        .await
        .unwrap();
    assert_eq!(
        page.eval("document.querySelectorAll('#zones-list tr[data-zone-name=default] button.delete').length")
            .await
            .unwrap(),
        0,
        "the default zone cannot be deleted"
    );
    click(page, "#zone-new").await.unwrap();
    let form = "#zone-create-form";
    fill(page, &format!("{form} [data-field=name] input"), "eu")
        .await
        .unwrap();
    fill(
        page,
        &format!("{form} [data-field=proxy_url] input"),
        "http://proxy.eu.example.com",
    )
    .await
    .unwrap();
    fill(
        page,
        &format!("{form} [data-field='connection_proxy.id'] input"),
        "site-gw",
    )
    .await
    .unwrap();
    // Half a connection proxy: refused in the page, at the first missing field.
    click(page, &format!("{form} button[type=submit]"))
        .await
        .unwrap();
    wait_shown(
        page,
        &format!("{form} [data-field='connection_proxy.url'] .field-error"),
    )
    .await
    .unwrap();
    for (field, value) in [
        ("connection_proxy.url", "https://gw.site.example.com"),
        ("connection_proxy.cert_sha256", &"ab".repeat(32)),
        (
            "connection_proxy.sealing_key",
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        ),
    ] {
        fill(page, &format!("{form} [data-field='{field}'] input"), value)
            .await
            .unwrap();
    }
    // An http:// proxy: refused by the API, shown at its field.
    click(page, &format!("{form} button[type=submit]"))
        .await
        .unwrap();
    wait_shown(page, &format!("{form} [data-field=proxy_url] .field-error"))
        .await
        .unwrap();
    page.eval(&format!(
        "document.querySelector({}).value = ''",
        js(&format!("{form} [data-field=proxy_url] input"))
    ))
    .await
    .unwrap();
    fill(
        page,
        &format!("{form} [data-field=proxy_url] input"),
        "https://proxy.eu.example.com",
    )
    .await
    .unwrap();
    click(page, &format!("{form} button[type=submit]"))
        .await
        .unwrap();
    let row = "#zones-list tr[data-zone-name=eu]";
    wait_text(
        page,
        &format!("{row} td.proxy"),
        "https://proxy.eu.example.com",
    )
    .await
    .unwrap();
    wait_text(
        page,
        &format!("{row} td.connection-proxy"),
        "site-gw https://gw.site.example.com",
    )
    .await
    .unwrap();
    // Edit: fallback on.
    click(page, &format!("{row} button.edit")).await.unwrap();
    set_checked(page, "#zone-edit-form [data-field=fallback] input", true)
        .await
        .unwrap();
    click(page, "#zone-edit-form button[type=submit]")
        .await
        .unwrap();
    wait_text(page, &format!("{row} td.fallback"), "to other zones")
        .await
        .unwrap();

    // A group of zone eu.
    open_view(page, "groups").await.unwrap();
    click(page, "#group-new").await.unwrap();
    let gform = "#group-create-form";
    fill(
        page,
        &format!("{gform} [data-field=name] input"),
        "europeans",
    )
    .await
    .unwrap();
    choose(page, &format!("{gform} [data-field=zone] select"), "eu")
        .await
        .unwrap();
    click(page, &format!("{gform} button[type=submit]"))
        .await
        .unwrap();
    wait_text(
        page,
        "#groups-list tr[data-group-name=europeans] td.zone",
        "eu",
    )
    .await
    .unwrap();

    let (zone, groups) = {
        let api = api.clone();
        blocking(move || {
            (
                api.call("GET", "/api/v1/zones/eu", None, &[]).unwrap().body,
                api.call("GET", "/api/v1/groups", None, &[]).unwrap().body,
            )
        })
        .await
    };
    assert_eq!(zone["fallback"], true);
    assert_eq!(zone["proxy_url"], "https://proxy.eu.example.com");
    assert_eq!(zone["connection_proxy"]["id"], "site-gw");
    let g = groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "europeans")
        .unwrap();
    assert_eq!(g["settings"]["zone"], "eu");

    // A zone a group names cannot be deleted.
    open_view(page, "zones").await.unwrap();
    confirm_row_action(page, row, "delete").await.unwrap();
    wait_shown(page, "#app-view .form-error:not(:empty)")
        .await
        .unwrap();
    wait_shown(page, row).await.unwrap();
    assert_no_js_errors(page);
}
