//! The groups view: the forms, grants, and paging.

use crate::support::admin::AdminUi;
use crate::support::web::js;
use crate::support::{ADMIN_PASSWORD, Backend};
use crate::{WS, new_workspace, pager_disabled, table_page_is};
use anyhow::{Context as _, Result};
use oriel_testkit::Page;
use serde_json::json;

on_both_databases!(
    groups_are_created_and_granted_with_the_form,
    the_groups_table_pages_through_the_api_cursor,
);

/// Creates a group with the form; returns its id.
async fn create_group(page: &Page, name: &str, require_totp: bool) -> Result<String> {
    page.click("#group-new").await?;
    let form = "#group-create-form";
    page.fill(&format!("{form} [data-field=name] input"), name)
        .await?;
    page.fill(
        &format!("{form} [data-field=description] input"),
        &format!("{name} for the UI test"),
    )
    .await?;
    page.set_checked(
        &format!("{form} [data-field=require_totp] input"),
        require_totp,
    )
    .await?;
    page.click(&format!("{form} button[type=submit]")).await?;
    let row = format!("#groups-list tr[data-group-name={}]", js(name));
    page.wait(&format!(
        "document.querySelector({}) !== null && document.getElementById('group-editor').hidden",
        js(&row)
    ))
    .await
    .with_context(|| format!("group {name} not listed"))?;
    page.attrs(&row, "data-group-id")
        .await?
        .into_iter()
        .next()
        .context("no group id")
}

/// Opens a group's editor, grants exactly `workspace_ids`, sets the
/// clipboard-down override to `clipboard_down` ("" inherits), saves.
async fn grant(
    page: &Page,
    group: &str,
    workspace_ids: &[&str],
    clipboard_down: &str,
) -> Result<()> {
    let row = format!("#groups-list tr[data-group-name={}]", js(group));
    page.click(&format!("{row} button.edit")).await?;
    let form = "#group-edit-form";
    page.wait_shown(form).await?;
    let all = page
        .attrs(
            &format!("{form} [data-field=workspaces] input[type=checkbox]"),
            "data-value",
        )
        .await?;
    for id in &all {
        page.set_checked(
            &format!(
                "{form} [data-field=workspaces] input[data-value={}]",
                js(id)
            ),
            workspace_ids.contains(&id.as_str()),
        )
        .await?;
    }
    page.choose(
        &format!("{form} [data-field='override.clipboard_down'] select"),
        clipboard_down,
    )
    .await?;
    page.click(&format!("{form} button[type=submit]")).await?;
    page.wait("document.getElementById('group-editor').hidden")
        .await
        .context("the group editor did not close")
}

async fn groups_are_created_and_granted_with_the_form(backend: Backend) {
    let ui = AdminUi::start(backend).await.unwrap();
    let page = &ui.page;
    let mut ws_ids = Vec::new();
    for name in WS {
        ws_ids.push(new_workspace(&ui, name, json!({})).await);
    }
    ui.open_view("groups").await.unwrap();
    let group_a = create_group(page, "Group A", true).await.unwrap();
    let group_b = create_group(page, "Group B", false).await.unwrap();
    grant(page, "Group A", &[&ws_ids[0], &ws_ids[1]], "on")
        .await
        .unwrap();
    grant(page, "Group B", &[&ws_ids[2]], "").await.unwrap();
    page.wait_text(
        "#groups-list tr[data-group-name='Group A'] td.grants",
        &format!("{}, {}", WS[0], WS[1]),
    )
    .await
    .unwrap();
    page.wait_text(
        "#groups-list tr[data-group-name='Group B'] td.grants",
        WS[2],
    )
    .await
    .unwrap();
    // The API reads back the settings the forms chose.
    let a = ui
        .expect(200, "GET", &format!("/api/v1/groups/{group_a}"), None)
        .await
        .unwrap();
    assert_eq!(a["settings"]["require_totp"], true, "{a}");
    assert_eq!(a["settings"]["policy"]["clipboard_down"], true, "{a}");
    let b = ui
        .expect(200, "GET", &format!("/api/v1/groups/{group_b}"), None)
        .await
        .unwrap();
    assert_ne!(b["settings"]["require_totp"], true, "{b}");
    assert!(
        b["settings"]["policy"].get("clipboard_down").is_none(),
        "{b}"
    );
    page.assert_no_js_errors();
}

async fn the_groups_table_pages_through_the_api_cursor(backend: Backend) {
    let ui = AdminUi::logged_out(backend, &[]).await.unwrap();
    for i in 0..55 {
        crate::new_group(&ui, json!({ "name": format!("team {i:02}") })).await;
    }
    ui.log_in("admin", ADMIN_PASSWORD).await.unwrap();
    let page = &ui.page;

    // "Next" follows the API's cursor, "Previous" goes back.
    ui.open_view("groups").await.unwrap();
    let rows = "#groups-list tr[data-group-id]";
    page.wait(&table_page_is(rows, 50, 1, 0)).await.unwrap();
    page.wait_shown("#app-view nav.pager").await.unwrap();
    let first = page.attrs(rows, "data-group-name").await.unwrap();
    assert!(pager_disabled(page, "prev").await);
    page.click("#app-view .pager-next").await.unwrap();
    page.wait(&table_page_is(rows, 5, 2, 0)).await.unwrap();
    let second = page.attrs(rows, "data-group-name").await.unwrap();
    assert!(pager_disabled(page, "next").await, "the last page");
    let mut all: Vec<String> = first.iter().chain(&second).cloned().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 55, "every group once: {all:?}");
    page.click("#app-view .pager-prev").await.unwrap();
    page.wait(&table_page_is(rows, 50, 1, 0)).await.unwrap();
    assert_eq!(page.attrs(rows, "data-group-name").await.unwrap(), first);
    page.assert_no_js_errors();
}
