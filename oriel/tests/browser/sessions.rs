//! The session's life in the browser: ended, unreachable, restarted, listed.

use crate::support::web::{
    CONNECT_TIMEOUT, Desk, expect_logged_in, launch_workspace, log_in, own_pointer, viewer_state,
    wait_canvas_exact, wait_connected,
};
use crate::support::{ADMIN_PASSWORD, Oriel, blocking};
use crate::{PARK, SETTLE, text_xterm};
use oriel_testkit::{Page, free_port};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_the_session_shows_ended_and_does_not_reconnect() {
    let desk = Desk::start(1024, 768).await.unwrap();
    let _text = desk
        .display
        .start_xterm(text_xterm(40, 40, "echo 'session to be ended'; sleep 600"))
        .await
        .unwrap();
    desk.workspace("desk", json!({})).await.unwrap();
    let id = desk.open("desk").await.unwrap();
    let page = &desk.page;
    let count = viewer_state(page).await.unwrap()["connectCount"].clone();
    assert_eq!(count, 1);

    let api = desk.api.clone();
    let path = format!("/api/v1/sessions/{id}");
    let started = Instant::now();
    let status = blocking(move || api.call("DELETE", &path, None, &[]).unwrap().status).await;
    assert_eq!(status, 204);
    page.wait_for(
        "orielViewer.state === 'ended' && document.getElementById('status').dataset.state === 'ended'",
        Duration::from_secs(3),
    )
    .await
    .unwrap();
    let took = started.elapsed();
    eprintln!("ended shown {took:?} after DELETE");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let message = page.text("#end-message").await.unwrap();
    assert!(
        message.to_lowercase().contains("session has ended"),
        "end message {message:?}"
    );
    assert!(page.is_shown("#end-overlay").await.unwrap());
    assert_eq!(page.text("#end-title").await.unwrap(), "Session ended");
    let end = viewer_state(page).await.unwrap()["lastEnd"].clone();
    assert_eq!(end["code"], 4000, "{end}");
    assert_eq!(end["retryable"], false, "{end}");

    // No reconnect: the count and the state stay for 5 s.
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        let state = viewer_state(page).await.unwrap();
        assert_eq!(state["connectCount"], count, "{state}");
        assert_eq!(state["state"], "ended", "{state}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    page.assert_no_js_errors();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target_says_it_cannot_be_reached() {
    let desk = Desk::start(640, 480).await.unwrap();
    let port = free_port().unwrap();
    desk.workspace_on("nowhere", port, json!({})).await.unwrap();
    log_in(&desk.page, &desk.oriel, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    expect_logged_in(&desk.page, "admin").await.unwrap();
    launch_workspace(&desk.page, "nowhere").await.unwrap();
    let page = &desk.page;
    page.wait_for(
        "orielViewer.lastEnd !== null && orielViewer.lastEnd.code === 4004",
        Duration::from_secs(15),
    )
    .await
    .unwrap();
    let state = viewer_state(page).await.unwrap();
    eprintln!("viewer after the unreachable target: {state}");
    let end = &state["lastEnd"];
    assert!(
        end["message"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{end}"
    );
    assert_eq!(end["klass"], 1, "a target error: {end}");
    assert_eq!(state["framesDrawn"], 0);
    // 4004 is retryable (protocol §5): the viewer says so and keeps trying
    // with backoff; it gives up ('error') after a minute. Either way the
    // status is not 'connected' and the reason is on the page.
    let status = page
        .eval("document.getElementById('status').dataset.state")
        .await
        .unwrap();
    assert!(
        status == "reconnecting" || status == "error",
        "status {status}"
    );
    page.wait(
        "(!document.getElementById('notice').hidden \
           && document.getElementById('notice').textContent.includes('cannot be reached')) \
         || (!document.getElementById('end-overlay').hidden \
           && document.getElementById('end-message').textContent.includes('cannot be reached'))",
    )
    .await
    .unwrap();
    let title = page
        .eval("document.getElementById('status').title")
        .await
        .unwrap();
    eprintln!(
        "status tooltip: {title}; notice: {:?}",
        page.text("#notice").await.unwrap()
    );
    assert_ne!(viewer_state(page).await.unwrap()["state"], "connected");
    page.assert_no_js_errors();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_reconnects_after_a_restart_with_a_fresh_token() {
    let mut desk = Desk::start(1024, 768).await.unwrap();
    let _text = desk
        .display
        .start_xterm(text_xterm(40, 60, "echo 'survives a restart'; sleep 600"))
        .await
        .unwrap();
    desk.workspace("desk", json!({})).await.unwrap();
    desk.open("desk").await.unwrap();
    own_pointer(&desk.page, &desk.display, PARK).await.unwrap();
    wait_canvas_exact(&desk.page, &desk.display, SETTLE, "before-restart")
        .await
        .unwrap();
    let before = viewer_state(&desk.page).await.unwrap();
    let count = before["connectCount"].as_u64().unwrap();
    assert_eq!(count, 1);
    let tokens = token_requests(&desk.page).await;

    // Stop oriel; the viewer notices and starts reconnecting.
    let port = desk.oriel.port;
    let dir = desk.oriel.dir.clone();
    let data = desk.oriel.data_dir();
    tokio::task::block_in_place(|| desk.oriel.guard.stop()).unwrap();
    desk.page
        .wait("orielViewer.state === 'reconnecting'")
        .await
        .unwrap();
    // A graceful stop says so: END 4011, retryable.
    let down = viewer_state(&desk.page).await.unwrap();
    assert_eq!(down["lastEnd"]["code"], 4011, "{down}");
    assert_eq!(down["lastEnd"]["retryable"], true, "{down}");

    // The same port and data directory: keys, database and login survive.
    desk.oriel = Oriel::start_at("up", &[], &[], dir, data, &format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    let page = &desk.page;
    let reconnected = page
        .wait_for(
            &format!("orielViewer.state === 'connected' && orielViewer.connectCount > {count}"),
            Duration::from_secs(30),
        )
        .await;
    if let Err(e) = reconnected {
        let state = viewer_state(page).await.unwrap_or_default();
        panic!(
            "{e:#}\nviewer: {state}\noriel:\n{}",
            desk.oriel.log_tail(30)
        );
    }
    assert_eq!(
        page.eval("location.pathname").await.unwrap(),
        "/viewer.html"
    );
    // The client fetched a fresh token for the new stream.
    assert!(token_requests(page).await > tokens);
    own_pointer(page, &desk.display, (PARK.0 - 20, PARK.1))
        .await
        .unwrap();
    wait_canvas_exact(page, &desk.display, SETTLE, "after-restart")
        .await
        .unwrap();
    let after = viewer_state(page).await.unwrap();
    assert!(after["framesDrawn"].as_u64() > before["framesDrawn"].as_u64());
    page.assert_no_js_errors();
}

/// How many `POST /api/v1/sessions/{id}/token` requests the page made:
/// the client asks for a fresh token before every (re)connect.
async fn token_requests(page: &Page) -> u64 {
    page.eval(
        "performance.getEntriesByType('resource') \
           .filter(e => /\\/api\\/v1\\/sessions\\/[^/]+\\/token$/.test(e.name)).length",
    )
    .await
    .unwrap()
    .as_u64()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_list_reopens_and_ends_sessions() {
    let desk = Desk::start(1024, 768).await.unwrap();
    let _text = desk
        .display
        .start_xterm(text_xterm(40, 40, "echo 'listed session'; sleep 600"))
        .await
        .unwrap();
    desk.workspace("desk", json!({})).await.unwrap();
    let id = desk.open("desk").await.unwrap();
    let page = &desk.page;
    let item = format!("#sessions > li[data-session-id=\"{id}\"]");
    let listed = format!("document.querySelector('{item}') !== null");

    // Back to the list: the session keeps running and is listed.
    page.click("#back-button").await.unwrap();
    page.wait(&listed).await.unwrap();
    assert_eq!(page.eval("location.pathname").await.unwrap(), "/index.html");

    // Open it again: a new stream to the same session, an exact picture.
    page.click(&format!("{item} button.open")).await.unwrap();
    page.wait(&format!(
        "location.search === '?session={id}' && window.orielViewer !== undefined"
    ))
    .await
    .unwrap();
    wait_connected(page, CONNECT_TIMEOUT).await.unwrap();
    own_pointer(page, &desk.display, PARK).await.unwrap();
    wait_canvas_exact(page, &desk.display, SETTLE, "reopened")
        .await
        .unwrap();

    // End it from the viewer's toolbar.
    page.click("#end-session-button").await.unwrap();
    page.wait_for("orielViewer.state === 'ended'", Duration::from_secs(5))
        .await
        .unwrap();
    let message = page.text("#end-message").await.unwrap();
    assert!(message.contains("ended"), "end message {message:?}");
    let api = desk.api.clone();
    let path = format!("/api/v1/sessions/{id}");
    let session = blocking(move || api.call("GET", &path, None, &[]).unwrap()).await;
    assert_eq!(
        (session.status, session.body["state"].as_str()),
        (200, Some("ended")),
        "{session:?}"
    );

    // Back on the list it is gone; a second session ended with its End button goes too.
    page.click("#end-back").await.unwrap();
    page.wait(
        "location.pathname === '/index.html' \
         && !document.getElementById('home-view').hidden",
    )
    .await
    .unwrap();
    let second = launch_workspace(page, "desk").await.unwrap();
    wait_connected(page, CONNECT_TIMEOUT).await.unwrap();
    page.click("#back-button").await.unwrap();
    let second_item = format!("#sessions > li[data-session-id=\"{second}\"]");
    page.wait(&format!("document.querySelector('{second_item}') !== null"))
        .await
        .unwrap();
    assert_eq!(
        page.eval(&listed).await.unwrap(),
        false,
        "the ended session is listed"
    );
    page.click(&format!("{second_item} button.end"))
        .await
        .unwrap();
    page.wait(&format!("document.querySelector('{second_item}') === null"))
        .await
        .unwrap();
    let api = desk.api.clone();
    let path = format!("/api/v1/sessions/{second}");
    let session = blocking(move || api.call("GET", &path, None, &[]).unwrap()).await;
    assert_eq!(
        (session.status, session.body["state"].as_str()),
        (200, Some("ended")),
        "{session:?}"
    );
    page.assert_no_js_errors();
}
