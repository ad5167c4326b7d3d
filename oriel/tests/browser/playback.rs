//! A recorded session played back in the browser's player shows the same
//! pictures as the live viewer did at marked instants (pixel for pixel),
//! seeking forwards and backwards through keyframes; the event track lists
//! the viewer and the key typed (the workspace records keystrokes); the
//! filters of the Recordings page find it; a recording changed after it
//! was stored plays as tampered.

use crate::support::web::{Desk, SCREEN, expect_logged_in, log_in, open_view, wait_canvas_exact};
use crate::support::{ADMIN_PASSWORD, Oriel, blocking};
use crate::text_xterm;
use oriel_testkit::{Browser, RgbImage, VncDisplay, VncOptions};
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// The live viewer's canvas once it equals the screen, and when (Unix ms).
async fn mark(desk: &Desk, tag: &str) -> (RgbImage, f64) {
    wait_canvas_exact(&desk.page, &desk.display, Duration::from_secs(30), tag)
        .await
        .unwrap();
    let at = now_ms();
    (desk.page.canvas_image(SCREEN).await.unwrap(), at)
}

/// Seeks the player to Unix ms `at` and returns its canvas.
async fn played_at(desk: &Desk, state: &Value, at: f64) -> RgbImage {
    let started_ms = state["startedUs"].as_f64().unwrap() / 1000.0;
    desk.page
        .eval(&format!(
            "orielPlayer.seek({}).then(() => true)",
            at - started_ms
        ))
        .await
        .unwrap();
    desk.page.canvas_image(SCREEN).await.unwrap()
}

fn assert_same(played: &RgbImage, live: &RgbImage, what: &str) {
    let diff = played.compare(live).unwrap();
    assert!(
        diff.is_identical(),
        "{what}: the player differs from the live viewer: {diff:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_plays_back_as_the_live_viewer_saw_it_and_tampering_shows() {
    let display = VncDisplay::start(VncOptions::new(1024, 768)).await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let go = scratch.path().join("go");
    let _text = display
        .start_xterm(text_xterm(
            24,
            40,
            &format!(
                "echo 'first picture: recorded'; while [ ! -e {go} ]; do sleep 0.1; done; \
                 clear; echo 'second picture, later'; for i in 1 2 3 4 5; do echo \"line $i\"; done; sleep 600",
                go = go.display()
            ),
        ))
        .await
        .unwrap();
    let oriel = Oriel::up(&[("ORIEL_GATEWAY__RECORDING_KEYFRAME", "1s")])
        .await
        .unwrap();
    let api = oriel.admin_api().await.unwrap();
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    let desk = Desk {
        page,
        browser,
        api,
        oriel,
        display,
        pg: None,
    };
    desk.workspace(
        "recorded",
        json!({"recording": true, "recording_keystrokes": true}),
    )
    .await
    .unwrap();
    let sid = desk.open("recorded").await.unwrap();
    // A key typed in the live viewer (the terminal echoes it before the
    // first marked instant) goes into the event track.
    desk.page
        .eval("document.getElementById('screen').focus({ preventScroll: true })")
        .await
        .unwrap();
    desk.page
        .wait("document.activeElement && document.activeElement.id === 'screen'")
        .await
        .unwrap();
    desk.page.type_text("k").await.unwrap();

    // Two marked instants of the live viewer, each a still picture.
    let (first, first_at) = mark(&desk, "live-first").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    std::fs::write(&go, b"").unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (second, second_at) = mark(&desk, "live-second").await;
    assert!(first.compare(&second).unwrap().differing_pixels > 0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = desk
        .api
        .request("DELETE", &format!("/api/v1/sessions/{sid}"), None)
        .await
        .unwrap()
        .status;
    assert_eq!(status, 204);

    // The gateway hands the recording over when the session ends.
    let api = desk.api.clone();
    let id = blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = api
                .call(
                    "GET",
                    &format!("/api/v1/recordings?session={sid}"),
                    None,
                    &[],
                )
                .unwrap();
            if let Some(id) = r.body["items"][0]["id"].as_str() {
                return id.to_owned();
            }
            assert!(Instant::now() < deadline, "the recording was not stored");
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .await;

    // The Recordings page lists it, complete, with a Play link.
    log_in(&desk.page, &desk.oriel, "admin", ADMIN_PASSWORD)
        .await
        .ok();
    expect_logged_in(&desk.page, "admin").await.unwrap();
    open_view(&desk.page, "recordings").await.unwrap();
    let row = format!("#recordings-list tr[data-recording-id='{id}']");
    desk.page
        .wait(&format!("document.querySelector(\"{row}\") !== null"))
        .await
        .unwrap();
    assert_eq!(
        desk.page.attrs(&row, "data-verdict").await.unwrap(),
        vec!["complete".to_owned()]
    );
    // A VNC recording has no terminal text to download.
    assert_eq!(desk.page.count(&format!("{row} a.cast")).await.unwrap(), 0);
    // The filters: another kind or a text no SSH session printed find
    // nothing; its own kind and a window around it find it.
    let filter = |kind: &'static str, since: &'static str, text: &'static str| {
        let page = &desk.page;
        async move {
            page.choose("#recordings-filters select[name=kind]", kind)
                .await
                .unwrap();
            // A date-time input takes its value as a user's picker sets it.
            page.eval(&format!(
                "document.querySelector('#recordings-filters input[name=since]').value = '{since}'"
            ))
            .await
            .unwrap();
            page.fill("#recordings-filters input[name=text]", text)
                .await
                .unwrap();
            page.click("#recordings-filters button[type=submit]")
                .await
                .unwrap();
        }
    };
    let listed = format!("document.querySelector(\"{row}\") !== null");
    let empty = "document.querySelector('#recordings-list tr[data-recording-id]') === null";
    filter("ssh", "", "").await;
    desk.page.wait(empty).await.unwrap();
    filter("vnc", "", "").await;
    desk.page.wait(&listed).await.unwrap();
    filter("", "2999-01-01T00:00", "").await;
    desk.page.wait(empty).await.unwrap();
    filter("vnc", "2000-01-01T00:00", "").await;
    desk.page.wait(&listed).await.unwrap();
    filter("", "", "no such text").await;
    desk.page.wait(empty).await.unwrap();
    filter("", "", "").await;
    desk.page.wait(&listed).await.unwrap();
    desk.page.click(&format!("{row} a.play")).await.unwrap();
    desk.page
        .wait("location.pathname === '/player.html' && window.orielPlayer !== undefined")
        .await
        .unwrap();
    let state = desk.page.eval("orielPlayer.ready").await.unwrap();
    assert_eq!(state["verdict"], "complete", "{state}");
    assert!(
        state["keyframesMs"].as_array().unwrap().len() >= 3,
        "{state}"
    );

    // Each marked instant, a second after it (the picture was still), is
    // the live viewer's picture; forwards, then back.
    let played = played_at(&desk, &state, first_at + 1000.0).await;
    assert_same(&played, &first, "first instant");
    let played = played_at(&desk, &state, second_at + 1000.0).await;
    assert_same(&played, &second, "second instant");
    let played = played_at(&desk, &state, first_at + 1000.0).await;
    assert_same(&played, &first, "first instant, seeking back");
    // The event track lists the viewer and the end.
    let track = desk.page.texts("#events li").await.unwrap().join("\n");
    assert!(
        track.contains("admin from ") && track.contains("joined"),
        "{track}"
    );
    assert!(track.contains("session ended: ended"), "{track}");
    assert!(
        track.contains("key 'k' down") && track.contains("key 'k' up"),
        "{track}"
    );
    assert!(!desk.page.is_shown("#banner").await.unwrap());
    // Playing runs to the end.
    desk.page
        .eval("orielPlayer.seek(0).then(() => orielPlayer.play())")
        .await
        .unwrap();
    desk.page.choose("#speed", "8").await.unwrap();
    desk.page
        .wait_for(
            "!orielPlayer.state().playing && orielPlayer.state().positionMs >= orielPlayer.state().durationMs",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    let played = desk.page.canvas_image(SCREEN).await.unwrap();
    assert_same(&played, &second, "the end");

    // One byte of the stored file changed: the player says tampered.
    let stored = desk
        .oriel
        .data_dir()
        .join("recordings-store")
        .join(format!("{id}.orec"));
    let mut bytes = std::fs::read(&stored).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(&stored, &bytes).unwrap();
    desk.page.eval("location.reload()").await.ok();
    desk.page
        .wait("document.body.dataset.verdict === 'tampered'")
        .await
        .unwrap();
    assert!(desk.page.is_shown("#banner").await.unwrap());
    let banner = desk.page.text("#banner").await.unwrap();
    assert!(banner.starts_with("Tampered"), "{banner}");
    // Viewing is audited.
    let api = desk.api.clone();
    let views = blocking(move || {
        api.call(
            "GET",
            &format!("/api/v1/audit?action=recording.view&target_id={id}"),
            None,
            &[],
        )
        .unwrap()
        .body["items"]
            .as_array()
            .map_or(0, Vec::len)
    })
    .await;
    assert!(views >= 2, "{views}");
}
