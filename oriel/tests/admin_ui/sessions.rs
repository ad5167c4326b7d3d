//! The sessions view: the admin ends a live session.

use crate::support::admin::AdminUi;
use crate::support::web::js;
use crate::support::{Backend, blocking};
use crate::{WS, confirm_row_action, new_workspace};
use serde_json::json;

on_both_databases!(an_admin_ends_a_live_session);

async fn an_admin_ends_a_live_session(backend: Backend) {
    let ui = AdminUi::start(backend).await.unwrap();
    let page = &ui.page;
    new_workspace(&ui, WS[0], json!({})).await;
    let launched = {
        let api = ui.api.clone();
        blocking(move || api.launch(WS[0]).unwrap()).await
    };
    let session_id = launched["id"].as_str().unwrap().to_owned();
    ui.open_view("sessions").await.unwrap();
    let session_row = format!("#sessions-list tr[data-session-id={}]", js(&session_id));
    page.wait_shown(&session_row).await.unwrap();
    assert_eq!(
        page.text(&format!("{session_row} td.user")).await.unwrap(),
        "admin"
    );
    confirm_row_action(page, &session_row, "end").await.unwrap();
    page.wait_gone(&session_row).await.unwrap();
    let state = ui
        .request("GET", &format!("/api/v1/sessions/{session_id}"), None)
        .await
        .unwrap();
    assert_eq!(state.body["state"], "ended", "{state:?}");
    page.assert_no_js_errors();
}
