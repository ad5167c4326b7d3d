//! The workspaces view and the home page's workspace cards.

use crate::support::admin::AdminUi;
use crate::support::web::js;
use crate::support::{Backend, blocking};
use crate::{WS, new_group};
use anyhow::{Context as _, Result};
use oriel_testkit::{Page, free_port};
use serde_json::json;

on_both_databases!(
    the_workspace_form_keeps_credentials_write_only,
    the_policy_forms_set_upload_and_download_limits_apart,
    the_home_page_shows_more_workspaces_through_the_api_cursor,
    the_watermark_and_recording_are_set_with_the_workspace_form,
    sharing_is_set_with_the_workspace_form_and_shadowing_with_a_group,
);

const VNC_SECRET: &str = "vnc-secret-never-shown";

/// Creates a VNC workspace with the form; returns its id from the table.
async fn create_workspace(
    page: &Page,
    name: &str,
    port: u16,
    password: Option<&str>,
    clipboard_up: bool,
) -> Result<String> {
    page.click("#workspace-new").await?;
    let form = "#workspace-create-form";
    page.fill(&format!("{form} [data-field=name] input"), name)
        .await?;
    page.choose(&format!("{form} [data-field=kind] select"), "vnc")
        .await?;
    page.fill(&format!("{form} [data-field=host] input"), "127.0.0.1")
        .await?;
    page.fill(
        &format!("{form} [data-field=port] input"),
        &port.to_string(),
    )
    .await?;
    if let Some(p) = password {
        page.fill(&format!("{form} [data-field='cred.password'] input"), p)
            .await?;
    }
    page.set_checked(
        &format!("{form} [data-field='policy.clipboard_up'] input"),
        clipboard_up,
    )
    .await?;
    page.fill(
        &format!("{form} [data-field='policy.idle_timeout_secs'] input"),
        "900",
    )
    .await?;
    page.click(&format!("{form} button[type=submit]")).await?;
    let row = format!("#workspaces-list tr[data-workspace-name={}]", js(name));
    page.wait(&format!(
        "document.querySelector({}) !== null && document.getElementById('workspace-editor').hidden",
        js(&row)
    ))
    .await
    .with_context(|| format!("workspace {name} not listed"))?;
    let id = page.attrs(&row, "data-workspace-id").await?;
    id.into_iter().next().context("no workspace id")
}

async fn the_workspace_form_keeps_credentials_write_only(backend: Backend) {
    let ui = AdminUi::start(backend).await.unwrap();
    let page = &ui.page;
    ui.open_view("workspaces").await.unwrap();
    for (i, name) in WS.iter().enumerate() {
        let port = free_port().unwrap();
        let password = (i == 1).then_some(VNC_SECRET);
        create_workspace(page, name, port, password, i == 0)
            .await
            .unwrap();
    }
    // Credentials are write-only: the list says they are set, the editor
    // shows empty fields, and no API answer carries them.
    let row = format!("#workspaces-list tr[data-workspace-name={}]", js(WS[1]));
    assert_eq!(
        page.text(&format!("{row} td.credentials")).await.unwrap(),
        "credentials set"
    );
    assert_eq!(
        page.text(&format!(
            "#workspaces-list tr[data-workspace-name={}] td.credentials",
            js(WS[0])
        ))
        .await
        .unwrap(),
        "none"
    );
    page.click(&format!("{row} button.edit")).await.unwrap();
    page.wait_shown("#workspace-edit-form").await.unwrap();
    assert_eq!(
        page.attrs(
            "#workspace-edit-form .credentials-state",
            "data-credentials"
        )
        .await
        .unwrap(),
        ["set"]
    );
    assert_eq!(
        page.value("#workspace-edit-form [data-field='cred.password'] input")
            .await
            .unwrap(),
        ""
    );
    // Saving without typing keeps them.
    page.click("#workspace-edit-form button[type=submit]")
        .await
        .unwrap();
    page.wait("document.getElementById('workspace-editor').hidden")
        .await
        .unwrap();
    let listed = ui.request("GET", "/api/v1/workspaces", None).await.unwrap();
    assert_eq!(listed.status, 200);
    assert!(!listed.body.to_string().contains(VNC_SECRET));
    let items = listed.body["items"].as_array().unwrap();
    let two = items.iter().find(|w| w["name"] == WS[1]).unwrap();
    assert_eq!(two["has_credentials"], true, "{two}");
    let one = items.iter().find(|w| w["name"] == WS[0]).unwrap();
    assert_eq!(one["policy"]["clipboard_up"], true, "{one}");
    assert_eq!(one["policy"]["idle_timeout_secs"], 900, "{one}");
    page.assert_no_js_errors();
}

async fn the_policy_forms_set_upload_and_download_limits_apart(backend: Backend) {
    let ui = AdminUi::start(backend).await.unwrap();
    let port = free_port().unwrap();
    // The legacy single limit is read as both.
    let ws = {
        let api = ui.api.clone();
        blocking(move || {
            api.vnc_workspace("files", port, None, json!({"transfer_max_bytes": 7340032}))
                .unwrap()
        })
        .await
    };
    let ws_id = ws["id"].as_str().unwrap().to_owned();
    let group_id = new_group(&ui, json!({"name": "movers"})).await;
    let page = &ui.page;

    // The workspace's policy: each limit next to its direction's check box.
    ui.open_view("workspaces").await.unwrap();
    page.click("#workspaces-list tr[data-workspace-name=files] button.edit")
        .await
        .unwrap();
    let form = "#workspace-edit-form";
    page.wait_shown(form).await.unwrap();
    let order = page
        .attrs(
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
        assert_eq!(page.value(input).await.unwrap(), "7340032");
    }
    assert!(
        page.text(&format!(
            "{form} [data-field='policy.download_max_bytes'] label"
        ))
        .await
        .unwrap()
        .contains("0 = no limit")
    );
    page.set_checked(&format!("{form} [data-field='policy.upload'] input"), true)
        .await
        .unwrap();
    page.set_checked(
        &format!("{form} [data-field='policy.download'] input"),
        true,
    )
    .await
    .unwrap();
    page.fill(&upload_max, "5242880").await.unwrap();
    page.fill(&download_max, "0").await.unwrap();
    page.click(&format!("{form} button[type=submit]"))
        .await
        .unwrap();
    page.wait("document.getElementById('workspace-editor').hidden")
        .await
        .unwrap();
    page.wait(
        "((document.querySelector('#workspaces-list tr[data-workspace-name=files]') || {}).textContent \
         || '').includes('uploads ≤ 5 MiB, downloads unlimited')",
    )
    .await
    .unwrap();

    // The group's overrides: an upload limit only.
    ui.open_view("groups").await.unwrap();
    page.click("#groups-list tr[data-group-name=movers] button.edit")
        .await
        .unwrap();
    let form = "#group-edit-form";
    page.fill(
        &format!("{form} [data-field='override.upload_max_bytes'] input"),
        "1048576",
    )
    .await
    .unwrap();
    page.click(&format!("{form} button[type=submit]"))
        .await
        .unwrap();
    page.wait("document.getElementById('group-editor').hidden")
        .await
        .unwrap();

    // Both read back through the API as saved, without the legacy field.
    let ws = ui
        .request("GET", &format!("/api/v1/workspaces/{ws_id}"), None)
        .await
        .unwrap();
    let group = ui
        .request("GET", &format!("/api/v1/groups/{group_id}"), None)
        .await
        .unwrap();
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
    page.assert_no_js_errors();
}

async fn the_home_page_shows_more_workspaces_through_the_api_cursor(backend: Backend) {
    let ui = AdminUi::logged_out(backend, &[]).await.unwrap();
    let api = ui.api.clone();
    let port = free_port().unwrap();
    blocking(move || {
        for i in 0..55 {
            api.vnc_workspace(&format!("desk {i:02}"), port, None, json!({}))
                .unwrap();
        }
    })
    .await;
    ui.log_in("admin", crate::support::ADMIN_PASSWORD)
        .await
        .unwrap();
    let page = &ui.page;

    // A first page of cards, then "Show more" appends the rest.
    page.wait("document.querySelectorAll('#workspaces > li').length === 50")
        .await
        .unwrap();
    page.click("#workspaces-more").await.unwrap();
    page.wait(
        "document.querySelectorAll('#workspaces > li').length === 55 \
         && document.getElementById('workspaces-more').hidden",
    )
    .await
    .unwrap();
    let mut cards = page
        .attrs("#workspaces > li", "data-workspace-name")
        .await
        .unwrap();
    cards.sort();
    cards.dedup();
    assert_eq!(cards.len(), 55, "every workspace once");
    page.assert_no_js_errors();
}

async fn the_watermark_and_recording_are_set_with_the_workspace_form(backend: Backend) {
    let ui = AdminUi::start(backend).await.unwrap();
    let port = free_port().unwrap();
    let ws = {
        let api = ui.api.clone();
        blocking(move || api.vnc_workspace("marked", port, None, json!({})).unwrap()).await
    };
    let ws_id = ws["id"].as_str().unwrap().to_owned();
    let page = &ui.page;
    ui.open_view("workspaces").await.unwrap();
    page.click("#workspaces-list tr[data-workspace-name=marked] button.edit")
        .await
        .unwrap();
    let form = "#workspace-edit-form";
    page.wait_shown(form).await.unwrap();
    let input = |key: &str| format!("{form} [data-field='policy.{key}'] input");
    assert_eq!(page.value(&input("watermark_opacity")).await.unwrap(), "25");
    assert_eq!(page.value(&input("watermark_angle")).await.unwrap(), "30");
    assert_eq!(
        page.value(&input("recording_retention_days"))
            .await
            .unwrap(),
        "0"
    );
    page.fill(&input("recording_retention_days"), "90")
        .await
        .unwrap();
    page.set_checked(&input("watermark"), true).await.unwrap();
    page.set_checked(&input("recording"), true).await.unwrap();
    page.fill(&input("watermark_text"), "{user} at {time}")
        .await
        .unwrap();
    page.fill(&input("watermark_angle"), "-15").await.unwrap();
    // Out of range: said in the form, nothing saved.
    page.fill(&input("watermark_opacity"), "150").await.unwrap();
    page.click(&format!("{form} button[type=submit]"))
        .await
        .unwrap();
    page.wait_shown(&format!("{form} .form-error"))
        .await
        .unwrap();
    let error = page.text(&format!("{form} .form-error")).await.unwrap();
    assert!(error.contains("opacity"), "{error}");
    page.fill(&input("watermark_opacity"), "60").await.unwrap();
    page.click(&format!("{form} button[type=submit]"))
        .await
        .unwrap();
    page.wait("document.getElementById('workspace-editor').hidden")
        .await
        .unwrap();
    let ws = ui
        .request("GET", &format!("/api/v1/workspaces/{ws_id}"), None)
        .await
        .unwrap();
    let policy = &ws.body["policy"];
    assert_eq!(policy["watermark"], true, "{policy}");
    assert_eq!(policy["recording"], true, "{policy}");
    assert_eq!(policy["watermark_text"], "{user} at {time}", "{policy}");
    assert_eq!(policy["watermark_opacity"], 60, "{policy}");
    assert_eq!(policy["watermark_angle"], -15, "{policy}");
    assert_eq!(policy["recording_retention_days"], 90, "{policy}");
    // A group does not override the watermark's look.
    new_group(&ui, json!({"name": "watchers"})).await;
    ui.open_view("groups").await.unwrap();
    page.click("#groups-list tr[data-group-name=watchers] button.edit")
        .await
        .unwrap();
    page.wait_shown("#group-edit-form").await.unwrap();
    assert_eq!(
        page.count("#group-edit-form [data-field='override.watermark_text']")
            .await
            .unwrap(),
        0
    );
    page.assert_no_js_errors();
}

/// Share links, their control and silent monitoring are the workspace's
/// (the group form has no override for them); a group grants shadowing.
async fn sharing_is_set_with_the_workspace_form_and_shadowing_with_a_group(backend: Backend) {
    let ui = AdminUi::start(backend).await.unwrap();
    let port = free_port().unwrap();
    let ws = {
        let api = ui.api.clone();
        blocking(move || api.vnc_workspace("shared", port, None, json!({})).unwrap()).await
    };
    let ws_id = ws["id"].as_str().unwrap().to_owned();
    let page = &ui.page;
    ui.open_view("workspaces").await.unwrap();
    page.click("#workspaces-list tr[data-workspace-name=shared] button.edit")
        .await
        .unwrap();
    let form = "#workspace-edit-form";
    page.wait_shown(form).await.unwrap();
    let input = |key: &str| format!("{form} [data-field='policy.{key}'] input");
    for key in ["share_links", "share_links_control", "silent_monitoring"] {
        assert_eq!(
            page.property(&input(key), "checked").await.unwrap(),
            false,
            "{key}"
        );
    }
    page.set_checked(&input("share_links"), true).await.unwrap();
    page.set_checked(&input("silent_monitoring"), true)
        .await
        .unwrap();
    page.click(&format!("{form} button[type=submit]"))
        .await
        .unwrap();
    page.wait("document.getElementById('workspace-editor').hidden")
        .await
        .unwrap();
    let ws = ui
        .request("GET", &format!("/api/v1/workspaces/{ws_id}"), None)
        .await
        .unwrap();
    let policy = &ws.body["policy"];
    assert_eq!(
        (
            &policy["share_links"],
            &policy["share_links_control"],
            &policy["silent_monitoring"]
        ),
        (&json!(true), &json!(false), &json!(true)),
        "{policy}"
    );
    // A group grants shadowing; it cannot override sharing.
    new_group(&ui, json!({"name": "monitors"})).await;
    ui.open_view("groups").await.unwrap();
    page.click("#groups-list tr[data-group-name=monitors] button.edit")
        .await
        .unwrap();
    let gform = "#group-edit-form";
    page.wait_shown(gform).await.unwrap();
    for key in ["share_links", "share_links_control", "silent_monitoring"] {
        let field = format!("{gform} [data-field='override.{key}']");
        assert_eq!(page.count(&field).await.unwrap(), 0, "{key}");
    }
    page.set_checked(&format!("{gform} input[name=shadow_sessions]"), true)
        .await
        .unwrap();
    page.click(&format!("{gform} button[type=submit]"))
        .await
        .unwrap();
    page.wait("document.getElementById('group-editor').hidden")
        .await
        .unwrap();
    let groups = ui.request("GET", "/api/v1/groups", None).await.unwrap();
    let monitors = groups.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "monitors")
        .cloned()
        .unwrap();
    assert_eq!(monitors["settings"]["shadow_sessions"], true, "{monitors}");
    page.assert_no_js_errors();
}
