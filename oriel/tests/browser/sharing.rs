//! Watching a session in the browser (issue 17): an admin, then a user
//! granted `shadow_sessions` by a group, shadow a user's session from Live
//! sessions, and a share link is joined by
//! another browser, view only, until the owner revokes it; an expired
//! link is refused. Each browser has its own profile (its own login). On
//! both databases (links and the audit are stored).

use crate::support::web::{
    CONNECT_TIMEOUT, Desk, expect_logged_in, goto_index, js, launch_workspace, log_in, log_out,
    open_view, viewer_state, wait_canvas_exact, wait_connected,
};
use crate::support::{ADMIN_PASSWORD, Backend, blocking};
use crate::{SETTLE, text_xterm};
use oriel_testkit::Browser;
use serde_json::json;
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";

on_both_databases!(an_admin_shadows_and_a_share_link_is_watched_then_revoked);

async fn an_admin_shadows_and_a_share_link_is_watched_then_revoked(backend: Backend) {
    let desk = Desk::start_on(backend, 640, 480).await.unwrap();
    let _text = desk
        .display
        .start_xterm(text_xterm(20, 20, "echo 'watched desktop'; sleep 600"))
        .await
        .unwrap();
    let ws = desk
        .workspace("shared", json!({"share_links": true}))
        .await
        .unwrap();
    let api = desk.api.clone();
    let ws_id = ws["id"].as_str().unwrap().to_owned();
    blocking(move || {
        let r = api
            .call(
                "POST",
                "/api/v1/users",
                Some(&json!({"username": "una", "password": PASSWORD})),
                &[],
            )
            .unwrap();
        assert_eq!(r.status, 201, "{r:?}");
        let una = r.body["id"].as_str().unwrap().to_owned();
        let r = api
            .call(
                "POST",
                "/api/v1/groups",
                Some(&json!({"name": "desk", "members": [una], "workspaces": [ws_id]})),
                &[],
            )
            .unwrap();
        assert_eq!(r.status, 201, "{r:?}");
    })
    .await;

    // The user streams her session.
    let owner = &desk.page;
    log_in(owner, &desk.oriel, "una", PASSWORD).await.unwrap();
    expect_logged_in(owner, "una").await.unwrap();
    let sid = launch_workspace(owner, "shared").await.unwrap();
    wait_connected(owner, CONNECT_TIMEOUT).await.unwrap();

    // An admin, in another browser, watches it from Live sessions.
    let admin_browser = Browser::launch().await.unwrap();
    let admin = admin_browser.new_page().await.unwrap();
    log_in(&admin, &desk.oriel, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    expect_logged_in(&admin, "admin").await.unwrap();
    open_view(&admin, "sessions").await.unwrap();
    let row = format!("#sessions-list tr[data-session-id={}]", js(&sid));
    admin.wait_shown(&format!("{row} a.watch")).await.unwrap();
    let href = admin
        .attrs(&format!("{row} a.watch"), "href")
        .await
        .unwrap();
    let take = admin
        .attrs(&format!("{row} a.take-control"), "href")
        .await
        .unwrap();
    assert!(take[0].ends_with("&watch=control"), "{take:?}");
    admin
        .goto(&format!("{}{}", desk.oriel.origin(), href[0]))
        .await
        .unwrap();
    let state = wait_connected(&admin, CONNECT_TIMEOUT).await.unwrap();
    assert_eq!(
        (state["mode"].as_str(), state["viewOnly"].as_bool()),
        (Some("shadow"), Some(true)),
        "{state}"
    );
    assert!(!admin.is_shown("#end-session-button").await.unwrap());
    // The admin's canvas is the user's desktop.
    wait_canvas_exact(&admin, &desk.display, SETTLE, "shadow")
        .await
        .unwrap();
    // The user is told who watches.
    owner
        .wait_for(
            "orielViewer.watchers.includes('admin') && !document.getElementById('watchers').hidden",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert!(owner.text("#watchers").await.unwrap().contains("admin"));

    // The admin leaves: the audit has the start and the end with its length.
    admin.goto("about:blank").await.unwrap();
    let api = desk.api.clone();
    let audit = blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let r = api
                .call("GET", "/api/v1/audit?action=session.", None, &[])
                .unwrap();
            let items: Vec<serde_json::Value> = r.body["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|e| {
                    e["action"]
                        .as_str()
                        .is_some_and(|a| a.starts_with("session.shadow_"))
                })
                .collect();
            if items.len() >= 2 || std::time::Instant::now() > deadline {
                return items;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["session.shadow_ended", "session.shadow_started"],
        "{audit:?}"
    );
    for e in &audit {
        assert_eq!(
            (e["actor"].as_str(), e["target_id"].as_str()),
            (Some("admin"), Some(sid.as_str())),
            "{e}"
        );
    }
    assert!(audit[0]["details"]["duration_secs"].is_u64(), "{audit:?}");

    // A user who is no admin, in a group granting shadow_sessions, has Live
    // sessions too (active ones only) and watches from there.
    let api = desk.api.clone();
    blocking(move || {
        let r = api
            .call(
                "POST",
                "/api/v1/users",
                Some(&json!({"username": "sam", "password": PASSWORD})),
                &[],
            )
            .unwrap();
        assert_eq!(r.status, 201, "{r:?}");
        let sam = r.body["id"].as_str().unwrap().to_owned();
        let r = api
            .call(
                "POST",
                "/api/v1/groups",
                Some(&json!({"name": "watchers", "members": [sam], "settings": {"shadow_sessions": true}})),
                &[],
            )
            .unwrap();
        assert_eq!(r.status, 201, "{r:?}");
    })
    .await;
    goto_index(&admin, &desk.oriel).await.unwrap();
    log_out(&admin).await.unwrap();
    log_in(&admin, &desk.oriel, "sam", PASSWORD).await.unwrap();
    expect_logged_in(&admin, "sam").await.unwrap();
    open_view(&admin, "sessions").await.unwrap();
    admin.wait_shown(&format!("{row} a.watch")).await.unwrap();
    assert_eq!(
        admin
            .count("#sessions-list tr[data-session-id]")
            .await
            .unwrap(),
        1,
        "sam sees the live session"
    );
    assert_eq!(admin.count("[data-field=state] option").await.unwrap(), 1);
    assert_eq!(admin.count("a[data-route=users]").await.unwrap(), 0);
    let href = admin
        .attrs(&format!("{row} a.watch"), "href")
        .await
        .unwrap();
    admin
        .goto(&format!("{}{}", desk.oriel.origin(), href[0]))
        .await
        .unwrap();
    let state = wait_connected(&admin, CONNECT_TIMEOUT).await.unwrap();
    assert_eq!(
        (state["mode"].as_str(), state["viewOnly"].as_bool()),
        (Some("shadow"), Some(true)),
        "{state}"
    );
    owner
        .wait_for(
            "orielViewer.watchers.includes('sam')",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    admin.goto("about:blank").await.unwrap();

    // The owner shares a view-only link from the viewer's Share panel.
    owner.click("#share-toggle").await.unwrap();
    owner.click("#share-create").await.unwrap();
    owner
        .wait_shown("#share-links li[data-state=active] .share-revoke")
        .await
        .unwrap();
    let url = owner
        .value("#share-links li[data-state=active] .share-url")
        .await
        .unwrap();
    assert!(url.contains("/share.html#"), "{url}");

    // Someone not signed in, in a third browser, opens it: view only.
    let guest_browser = Browser::launch().await.unwrap();
    let guest = guest_browser.new_page().await.unwrap();
    guest.goto(&url).await.unwrap();
    guest
        .wait("location.pathname === '/viewer.html' && window.orielViewer !== undefined")
        .await
        .unwrap();
    let state = wait_connected(&guest, CONNECT_TIMEOUT).await.unwrap();
    assert_eq!(
        (state["mode"].as_str(), state["viewOnly"].as_bool()),
        (Some("share"), Some(true)),
        "{state}"
    );
    assert!(guest.is_shown("#view-only").await.unwrap());
    owner
        .wait_for(
            "orielViewer.watchers.includes('guest')",
            Duration::from_secs(10),
        )
        .await
        .unwrap();

    // Revoked: the guest's viewer ends; the owner streams on.
    owner
        .click("#share-links li[data-state=active] .share-revoke")
        .await
        .unwrap();
    guest
        .wait_for(
            "orielViewer.state === 'ended' && orielViewer.lastEnd && orielViewer.lastEnd.code === 4003",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert!(
        guest
            .text("#end-message")
            .await
            .unwrap()
            .contains("revoked")
    );
    owner
        .wait("document.querySelector('#share-links li[data-state=revoked]') !== null")
        .await
        .unwrap();
    assert_eq!(viewer_state(owner).await.unwrap()["state"], "connected");

    // An expired link is refused with a clear message.
    let api = desk.api.clone();
    let id = sid.clone();
    let expired = blocking(move || {
        let r = api
            .call(
                "POST",
                &format!("/api/v1/sessions/{id}/shares"),
                Some(&json!({"expires_in_secs": 1})),
                &[],
            )
            .unwrap();
        assert_eq!(r.status, 201, "{r:?}");
        std::thread::sleep(Duration::from_millis(2100));
        r.body["url"].as_str().unwrap().to_owned()
    })
    .await;
    let late = guest_browser.new_page().await.unwrap();
    late.goto(&expired).await.unwrap();
    late.wait_for(
        "window.orielViewer && orielViewer.state === 'ended'",
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let message = late.text("#end-message").await.unwrap();
    assert!(message.contains("expired"), "{message:?}");
    owner.assert_no_js_errors();
    guest.assert_no_js_errors();
}
