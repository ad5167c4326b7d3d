//! The audit view: filters by actor, action and time, and the export.

use crate::support::admin::AdminUi;
use crate::support::web::js;
use crate::support::{ADMIN_PASSWORD, Api, Backend, blocking};
use crate::{USER, USER_PASSWORD, user_in_group_a, wrong_code};
use anyhow::Result;
use oriel_testkit::{Page, totp};
use serde_json::{Value, json};

on_both_databases!(the_audit_log_filters_by_actor_action_and_time_and_exports_them);

/// What [`USER`] does through the API: a login, a second factor enrolled,
/// a login with a wrong code (a failure), one with the right code, and an
/// API token.
fn user_makes_history(mut api: Api) {
    let ok = |r: crate::support::Reply, status: u16| {
        assert_eq!(r.status, status, "{r:?}");
        r.body
    };
    ok(api.login(USER, USER_PASSWORD).unwrap(), 200);
    let enrolment = ok(
        api.call("POST", "/api/v1/auth/totp/enroll", None, &[])
            .unwrap(),
        200,
    );
    let secret = enrolment["secret"].as_str().unwrap();
    let step = totp::current_step();
    let code = totp::code_for_base32(secret, step).unwrap();
    ok(
        api.call(
            "POST",
            "/api/v1/auth/totp/confirm",
            Some(&json!({ "code": code })),
            &[],
        )
        .unwrap(),
        200,
    );
    let fresh = totp::code_for_base32(secret, totp::current_step().max(step + 1)).unwrap();
    let login = |totp: &str| {
        api.call(
            "POST",
            "/api/v1/auth/login",
            Some(&json!({"username": USER, "password": USER_PASSWORD, "totp": totp})),
            &[],
        )
        .unwrap()
    };
    assert_ne!(login(&wrong_code(&fresh)).status, 200);
    let token = ok(login(&fresh), 200)["token"].as_str().unwrap().to_owned();
    api.token = Some(token);
    ok(
        api.call(
            "POST",
            "/api/v1/tokens",
            Some(&json!({"name": "nightly report", "scopes": ["read"]})),
            &[],
        )
        .unwrap(),
        201,
    );
}

/// Types `value` into the filter `field`, applies the filters and waits
/// until the list shows them.
async fn filter(page: &Page, field: &str, value: &str) -> Result<()> {
    page.fill(&format!("#audit-filters [data-field={field}] input"), value)
        .await?;
    page.click("#audit-filters button[type=submit]").await?;
    page.wait(&format!(
        "JSON.parse(document.getElementById('audit-list').dataset.filters || '{{}}')[{}] === {}",
        js(field),
        js(value)
    ))
    .await
}

async fn the_audit_log_filters_by_actor_action_and_time_and_exports_them(backend: Backend) {
    let ui = AdminUi::logged_out(backend, &[]).await.unwrap();
    user_in_group_a(&ui, false).await;
    let api = ui.oriel.api();
    blocking(move || user_makes_history(api)).await;
    ui.log_in("admin", ADMIN_PASSWORD).await.unwrap();
    let page = &ui.page;

    ui.open_view("audit").await.unwrap();
    page.wait_shown("#audit-list tr[data-action='auth.login']")
        .await
        .unwrap();
    let actors = page
        .attrs("#audit-list tr[data-action='auth.login']", "data-actor")
        .await
        .unwrap();
    assert!(actors.iter().any(|a| a == USER), "{actors:?}");
    assert!(actors.iter().any(|a| a == "admin"), "{actors:?}");
    filter(page, "actor", USER).await.unwrap();
    let actors = page
        .attrs("#audit-list tr[data-entry-id]", "data-actor")
        .await
        .unwrap();
    assert!(!actors.is_empty());
    assert!(actors.iter().all(|a| a == USER), "{actors:?}");
    let outcomes = page
        .attrs("#audit-list tr[data-action='auth.login']", "data-outcome")
        .await
        .unwrap();
    assert!(outcomes.iter().any(|o| o == "success"), "{outcomes:?}");
    assert!(
        outcomes.iter().any(|o| o == "failure"),
        "the wrong code: {outcomes:?}"
    );
    let actions = page
        .attrs("#audit-list tr[data-entry-id]", "data-action")
        .await
        .unwrap();
    assert!(
        actions.iter().any(|a| a == "auth.totp.enable"),
        "{actions:?}"
    );
    // The export link carries the same filters, and exports only those entries.
    let href = page.attrs("#audit-export", "href").await.unwrap().remove(0);
    assert!(
        href.starts_with("/api/v1/audit/export?") && href.contains(&format!("actor={USER}")),
        "{href}"
    );
    let (status, exported) = page.fetch("GET", &href, None).await.unwrap();
    assert_eq!(status, 200, "{exported}");
    let lines: Vec<Value> = exported
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), actors.len(), "{lines:?}");
    assert!(lines.iter().all(|e| e["actor"] == USER));
    // An action prefix narrows it further, and so does a time window.
    filter(page, "action", "token.").await.unwrap();
    let actions = page
        .attrs("#audit-list tr[data-entry-id]", "data-action")
        .await
        .unwrap();
    assert_eq!(actions, ["token.create"], "{actions:?}");
    let href = page.attrs("#audit-export", "href").await.unwrap().remove(0);
    assert!(href.contains("action=token."), "{href}");
    // "Until" an hour ago (typed in the browser's own time zone): nothing.
    page.eval(
        "(() => { const i = document.querySelector('#audit-filters [data-field=until] input'); \
           const d = new Date(Date.now() - 3600e3); d.setMinutes(d.getMinutes() - d.getTimezoneOffset()); \
           i.value = d.toISOString().slice(0, 16); i.dispatchEvent(new Event('input', {bubbles: true})); })()",
    )
    .await
    .unwrap();
    page.click("#audit-filters button[type=submit]")
        .await
        .unwrap();
    page.wait(
        "!!JSON.parse(document.getElementById('audit-list').dataset.filters || '{}').until \
         && document.querySelector('#audit-list .empty') !== null",
    )
    .await
    .unwrap();
    page.click("#audit-filters button.clear").await.unwrap();
    page.wait(
        "document.getElementById('audit-list').dataset.filters === '{}' \
         && document.querySelectorAll('#audit-list tr[data-entry-id]').length > 0",
    )
    .await
    .unwrap();
    page.assert_no_js_errors();
}
