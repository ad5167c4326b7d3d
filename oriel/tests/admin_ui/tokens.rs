//! The tokens view: a token shown once, paging, everyone's, revoking.

use crate::support::admin::AdminUi;
use crate::support::web::js;
use crate::support::{ADMIN_PASSWORD, Backend, blocking};
use crate::{
    USER, USER_PASSWORD, WS, confirm_row_action, new_user, pager_disabled, table_page_is,
    user_in_group_a,
};
use serde_json::json;

on_both_databases!(
    an_api_token_is_shown_once_and_works_as_its_user,
    tokens_page_through_the_api_and_admins_see_everyones,
    a_user_revokes_their_own_token_and_picks_no_scope,
);

async fn an_api_token_is_shown_once_and_works_as_its_user(backend: Backend) {
    let ui = AdminUi::logged_out(backend, &[]).await.unwrap();
    user_in_group_a(&ui, false).await;
    ui.log_in(USER, USER_PASSWORD).await.unwrap();
    let page = &ui.page;

    ui.open_view("tokens").await.unwrap();
    page.click("#token-new").await.unwrap();
    page.fill(
        "#token-create-form [data-field=name] input",
        "nightly report",
    )
    .await
    .unwrap();
    page.click("#token-create-form button[type=submit]")
        .await
        .unwrap();
    page.wait_shown("#token-secret").await.unwrap();
    let secret_token = page.value("#token-secret").await.unwrap();
    assert!(secret_token.starts_with("oriel_pat_"), "{secret_token}");
    page.wait_shown("#tokens-list tr[data-token-name='nightly report']")
        .await
        .unwrap();
    page.click("#token-done").await.unwrap();
    page.wait(&format!(
        "document.getElementById('token-secret') === null \
         && !document.documentElement.outerHTML.includes({})",
        js(&secret_token)
    ))
    .await
    .unwrap();
    let (status, listed_tokens) = page.fetch("GET", "/api/v1/tokens", None).await.unwrap();
    assert_eq!(status, 200, "{listed_tokens}");
    assert!(
        !listed_tokens.contains(&secret_token),
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
    page.assert_no_js_errors();
}

async fn tokens_page_through_the_api_and_admins_see_everyones(backend: Backend) {
    const TESS: &str = "tess";
    const TESS_PASSWORD: &str = "owner-long-password-4";
    let ui = AdminUi::logged_out(backend, &[]).await.unwrap();
    new_user(&ui, TESS, TESS_PASSWORD, "user", &[]).await;
    let admin = ui.api.clone();
    let mut tess = ui.oriel.api();
    blocking(move || {
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
    ui.log_in("admin", ADMIN_PASSWORD).await.unwrap();
    let page = &ui.page;
    ui.open_view("tokens").await.unwrap();
    let rows = "#tokens-list tr[data-token-id]";
    let scope = "#app-view [data-field=scope] select";

    // Own tokens by default: 25 a page, newest first, through the API's cursor.
    page.wait(&table_page_is(rows, 25, 1, 0)).await.unwrap();
    page.wait_shown("#app-view nav.pager").await.unwrap();
    assert!(pager_disabled(page, "prev").await);
    let first = page.attrs(rows, "data-token-name").await.unwrap();
    assert_eq!(first[0], "admin token 29", "newest first: {first:?}");
    page.click("#app-view .pager-next").await.unwrap();
    page.wait(&table_page_is(rows, 5, 2, 0)).await.unwrap();
    assert!(pager_disabled(page, "next").await, "the last page");
    let second = page.attrs(rows, "data-token-name").await.unwrap();
    let mut own: Vec<String> = first.iter().chain(&second).cloned().collect();
    own.sort();
    own.dedup();
    let want: Vec<String> = (0..30).map(|i| format!("admin token {i:02}")).collect();
    assert_eq!(own, want, "each of the admin's tokens once, nobody else's");
    page.click("#app-view .pager-prev").await.unwrap();
    page.wait(&table_page_is(rows, 25, 1, 0)).await.unwrap();
    assert_eq!(page.attrs(rows, "data-token-name").await.unwrap(), first);

    // Everyone's: back to the first page, with the owners.
    page.choose(scope, "all").await.unwrap();
    page.wait(&table_page_is(rows, 25, 1, 25)).await.unwrap();
    let names = page.attrs(rows, "data-token-name").await.unwrap();
    assert_eq!(
        names[..4],
        [
            "tess token 02",
            "tess token 01",
            "tess token 00",
            "admin token 29"
        ]
    );
    let owners = page.texts(&format!("{rows} td.owner")).await.unwrap();
    assert_eq!(owners[..4], [TESS, TESS, TESS, "admin (you)"]);
    page.click("#app-view .pager-next").await.unwrap();
    page.wait(&table_page_is(rows, 8, 2, 8)).await.unwrap();
    assert!(pager_disabled(page, "next").await, "the last page");
    let mut everyone: Vec<String> = names
        .iter()
        .cloned()
        .chain(page.attrs(rows, "data-token-name").await.unwrap())
        .collect();
    everyone.sort();
    everyone.dedup();
    assert_eq!(everyone.len(), 33, "every token once: {everyone:?}");

    // An admin revokes someone else's token.
    page.click("#app-view .pager-prev").await.unwrap();
    page.wait(&table_page_is(rows, 25, 1, 25)).await.unwrap();
    let tess_row = "#tokens-list tr[data-token-name='tess token 01']";
    confirm_row_action(page, tess_row, "revoke").await.unwrap();
    page.wait_text(&format!("{tess_row} td.state"), "revoked")
        .await
        .unwrap();

    // And back to their own.
    page.choose(scope, "own").await.unwrap();
    page.wait(&table_page_is(rows, 25, 1, 0)).await.unwrap();
    assert_eq!(page.attrs(rows, "data-token-name").await.unwrap(), first);
    page.assert_no_js_errors();
}

async fn a_user_revokes_their_own_token_and_picks_no_scope(backend: Backend) {
    const ROB: &str = "rob";
    const PASSWORD: &str = "first-long-secret-1";
    let ui = AdminUi::logged_out(backend, &[]).await.unwrap();
    new_user(&ui, ROB, PASSWORD, "user", &[]).await;
    ui.log_in(ROB, PASSWORD).await.unwrap();
    let page = &ui.page;
    ui.open_view("tokens").await.unwrap();
    page.click("#token-new").await.unwrap();
    assert_eq!(
        page.count("#app-view [data-field=scope]").await.unwrap(),
        0,
        "users see only their own tokens"
    );
    page.fill("#token-create-form [data-field=name] input", "short lived")
        .await
        .unwrap();
    page.click("#token-create-form button[type=submit]")
        .await
        .unwrap();
    page.click("#token-done").await.unwrap();
    let token_row = "#tokens-list tr[data-token-name='short lived']";
    confirm_row_action(page, token_row, "revoke").await.unwrap();
    page.wait_text(&format!("{token_row} td.state"), "revoked")
        .await
        .unwrap();
    page.assert_no_js_errors();
}
