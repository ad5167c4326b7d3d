//! What each role sees: a user their groups' workspaces and nothing of the
//! admin's; an auditor everything, read only.

use crate::support::admin::AdminUi;
use crate::support::web::js;
use crate::support::{Backend, blocking};
use crate::{USER, USER_PASSWORD, WS, fetch_status, listed_workspaces, new_user, user_in_group_a};
use oriel_testkit::free_port;
use serde_json::json;

on_both_databases!(
    a_user_sees_their_groups_workspaces_and_nothing_of_the_admins,
    an_auditor_gets_read_only_sessions_and_audit,
);

async fn a_user_sees_their_groups_workspaces_and_nothing_of_the_admins(backend: Backend) {
    let ui = AdminUi::logged_out(backend, &[]).await.unwrap();
    user_in_group_a(&ui, false).await;
    ui.log_in(USER, USER_PASSWORD).await.unwrap();
    let page = &ui.page;

    // Exactly the workspaces of group A; nothing of the admin's.
    assert_eq!(listed_workspaces(page).await.unwrap(), [WS[0], WS[1]]);
    let routes = page.attrs("#nav-links a", "data-route").await.unwrap();
    assert_eq!(routes, ["home", "tokens", "account"], "user navigation");
    for path in [
        "/api/v1/users",
        "/api/v1/groups",
        "/api/v1/audit",
        "/api/v1/sessions?scope=all",
        "/api/v1/recordings",
    ] {
        assert_eq!(fetch_status(page, "GET", path).await, 403, "{path}");
    }
    assert_eq!(fetch_status(page, "POST", "/api/v1/groups").await, 403);
    page.eval("location.hash = '#/users'").await.unwrap();
    page.wait_shown("#route-refused").await.unwrap();
    page.assert_no_js_errors();
}

async fn an_auditor_gets_read_only_sessions_and_audit(backend: Backend) {
    let ui = AdminUi::logged_out(backend, &[]).await.unwrap();
    let port = free_port().unwrap();
    new_user(&ui, "aude", "reader-long-password-3", "auditor", &[]).await;
    ui.expect(
        201,
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": "admin script", "scopes": ["read"]})),
    )
    .await
    .unwrap();
    let session = {
        let api = ui.api.clone();
        blocking(move || {
            api.vnc_workspace("audited", port, None, json!({})).unwrap();
            api.launch("audited").unwrap()
        })
        .await
    };
    let session_id = session["id"].as_str().unwrap();
    ui.log_in("aude", "reader-long-password-3").await.unwrap();
    let page = &ui.page;
    let routes = page.attrs("#nav-links a", "data-route").await.unwrap();
    assert_eq!(
        routes,
        [
            "home",
            "sessions",
            "recordings",
            "audit",
            "tokens",
            "account"
        ]
    );
    // Auditors see every workspace and launch none.
    assert_eq!(listed_workspaces(page).await.unwrap(), ["audited"]);
    assert_eq!(page.count("#workspaces button.launch").await.unwrap(), 0);
    ui.open_view("sessions").await.unwrap();
    let row = format!("#sessions-list tr[data-session-id={}]", js(session_id));
    page.wait_shown(&row).await.unwrap();
    assert_eq!(
        page.count("#sessions-list button").await.unwrap(),
        0,
        "no End button for auditors"
    );
    ui.open_view("audit").await.unwrap();
    page.wait_shown("#audit-list tr[data-action='session.launch']")
        .await
        .unwrap();
    // Everyone's tokens, with their owners, but only one's own to revoke.
    ui.open_view("tokens").await.unwrap();
    page.choose("#app-view [data-field=scope] select", "all")
        .await
        .unwrap();
    let token_row = "#tokens-list tr[data-token-name='admin script']";
    page.wait_text(&format!("{token_row} td.owner"), "admin")
        .await
        .unwrap();
    assert_eq!(
        page.count(&format!("{token_row} button")).await.unwrap(),
        0,
        "no Revoke button on another's token for auditors"
    );
    page.eval("location.hash = '#/users'").await.unwrap();
    page.wait_shown("#route-refused").await.unwrap();
    assert_eq!(
        fetch_status(page, "DELETE", &format!("/api/v1/sessions/{session_id}")).await,
        403
    );
    page.assert_no_js_errors();
}
