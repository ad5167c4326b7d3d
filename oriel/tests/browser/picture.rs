//! What the canvas shows: an exact copy of a still screen, and close to
//! the screen while a video plays.

use crate::support::web::{
    CONNECT_TIMEOUT, CanvasGeometry, Desk, compare_while_moving, expect_logged_in, frame_ages_ms,
    install_ws_spy, launch_workspace, log_in, own_pointer, viewer_state, wait_canvas_exact,
    wait_connected, wait_screen_changes,
};
use crate::support::{ADMIN_PASSWORD, blocking};
use crate::{PARK, SETTLE, text_xterm};
use oriel_testkit::{Rect, XtermOptions};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_launch_and_the_canvas_is_an_exact_copy() {
    let started = Instant::now();
    let desk = Desk::start(1024, 768).await.unwrap();
    let _text = desk
        .display
        .start_xterm(text_xterm(
            24,
            40,
            "echo 'Oriel browser test: exact picture'; \
             for i in 1 2 3 4 5 6 7 8; do echo \"line $i: the quick brown fox jumps over 0123456789\"; done; \
             sleep 600",
        ))
        .await
        .unwrap();
    let _second = desk
        .display
        .start_xterm(XtermOptions {
            columns: 30,
            rows: 6,
            x: 560,
            y: 420,
            background: Some("navy".into()),
            foreground: Some("yellow".into()),
            command: Some("echo second window; sleep 600".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    desk.workspace("desk", json!({})).await.unwrap();
    let page = &desk.page;

    // A wrong password: a message, no navigation, not logged in.
    log_in(page, &desk.oriel, "admin", "not-the-password")
        .await
        .unwrap();
    page.wait(
        "!document.getElementById('login-error').hidden \
         && document.getElementById('login-error').textContent.trim() !== ''",
    )
    .await
    .unwrap();
    let error = page.text("#login-error").await.unwrap();
    assert_eq!(error, "Wrong username or password.");
    assert_eq!(page.eval("location.pathname").await.unwrap(), "/index.html");
    assert!(page.is_shown("#login-view").await.unwrap());
    assert!(!page.is_shown("#home-view").await.unwrap());
    assert!(!page.is_shown("#user-area").await.unwrap());
    let me = page
        .eval("fetch('/api/v1/auth/me', {credentials: 'same-origin'}).then(r => r.status)")
        .await
        .unwrap();
    assert_eq!(me, 401, "a failed login must not log the browser in");

    // The right password in the same form.
    page.fill("#password", ADMIN_PASSWORD).await.unwrap();
    page.click("#login-button").await.unwrap();
    expect_logged_in(page, "admin").await.unwrap();
    assert!(!page.is_shown("#login-error").await.unwrap());
    // The list loads after the home view shows.
    page.wait_for(
        "document.querySelector('#workspaces > li[data-workspace-name=\"desk\"]') !== null",
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let listed = page
        .text("#workspaces > li[data-workspace-name=\"desk\"]")
        .await
        .unwrap();
    assert!(
        listed.contains("desk") && listed.contains("Launch"),
        "{listed:?}"
    );

    // Launch, connect, draw.
    let session = launch_workspace(page, "desk").await.unwrap();
    let state = wait_connected(page, CONNECT_TIMEOUT).await.unwrap();
    assert_eq!(
        (state["width"].as_u64(), state["height"].as_u64()),
        (Some(1024), Some(768))
    );
    assert_eq!(state["connectCount"], 1);
    assert_eq!(state["lastEnd"], serde_json::Value::Null);
    assert_eq!(
        page.eval("document.getElementById('status').dataset.state")
            .await
            .unwrap(),
        "connected"
    );
    let listed_sessions = desk.api.clone();
    let sessions = blocking(move || listed_sessions.call("GET", "/api/v1/sessions", None, &[]))
        .await
        .unwrap();
    assert!(
        sessions.body.to_string().contains(&session),
        "session {session} not in {}",
        sessions.body
    );
    let geometry = CanvasGeometry::of(page).await.unwrap();
    assert_eq!((geometry.width, geometry.height), (1024, 768));
    assert!(geometry.is_one_to_one(), "{geometry:?}");

    own_pointer(page, &desk.display, PARK).await.unwrap();
    wait_canvas_exact(page, &desk.display, SETTLE, "exact")
        .await
        .unwrap();
    page.assert_no_js_errors();
    eprintln!(
        "login_launch_and_the_canvas_is_an_exact_copy: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn animation_stays_close_and_settles_exactly() {
    let desk = Desk::start(1024, 768).await.unwrap();
    let _text = desk
        .display
        .start_xterm(text_xterm(
            420,
            320,
            "echo 'static text beside the video'; sleep 600",
        ))
        .await
        .unwrap();
    desk.workspace("anim", json!({})).await.unwrap();
    install_ws_spy(&desk.page).await.unwrap();
    desk.open("anim").await.unwrap();
    let page = &desk.page;
    let display = &desk.display;
    own_pointer(page, display, PARK).await.unwrap();
    wait_canvas_exact(page, display, SETTLE, "before-animation")
        .await
        .unwrap();

    let still = display.screenshot().await.unwrap();
    let mut ffplay = display.start_test_video("320x240").unwrap();
    let first = wait_screen_changes(display, &still).await.unwrap();
    wait_screen_changes(display, &first)
        .await
        .unwrap_or_else(|e| panic!("ffplay does not animate: {e:#}\n{}", ffplay.log_tail(20)));
    let frames = viewer_state(page).await.unwrap()["framesDrawn"]
        .as_u64()
        .unwrap();
    page.wait(&format!("orielViewer.framesDrawn >= {}", frames + 10))
        .await
        .unwrap();

    // Tolerance while it plays: PSNR ≥ 20 dB over the whole screen against
    // the X screen as it was up to 200 ms (six video frames) before the
    // canvas was read. The two captures can never be of the same instant:
    // the canvas shows the screen as it was one pipeline latency ago (RFB
    // polling at up to 60 updates/s, the gateway, the browser's decoding:
    // 50-130 ms measured alone, up to ~270 ms with two such tests sharing
    // two cores), so the test takes screenshots back to back (10-30 ms
    // each) for 200 ms before reading the canvas and one while reading it,
    // and the closest counts (the output says how far back it was). testsrc2 changes much of its picture from one frame
    // to the next, and the moving region is sent lossily (JPEG) while it
    // moves, so exact equality cannot be asked for; 20 dB still fails a
    // missing, misplaced or stale video region (and the viewer must keep
    // drawing new frames). Outside the tiles the video touches (64-pixel
    // tiles: x < 320, y < 256) nothing moves: there the canvas must be
    // exact in every sample.
    const MIN_PSNR_DB: f64 = 20.0;
    let video_tiles = Rect::new(0, 0, 320, 256);
    let frames_before = frame_ages_ms(page).await.unwrap().len();
    let sampling = Instant::now();
    let mut samples = Vec::new();
    let mut previous = None;
    let mut screens_changed = 0;
    for i in 0..8 {
        let sample = compare_while_moving(
            page,
            display,
            MIN_PSNR_DB,
            Duration::from_millis(200),
            Some(video_tiles),
            &format!("animation-{i}"),
        )
        .await
        .unwrap();
        samples.push(sample);
        let frame = viewer_state(page).await.unwrap()["lastFrameId"].clone();
        if previous.as_ref().is_some_and(|p| *p != frame) {
            screens_changed += 1;
        }
        previous = Some(frame);
        // Pacing between samples, so that they spread over the animation.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    ffplay.ensure_running().unwrap();
    assert!(
        screens_changed >= 5,
        "the viewer did not keep drawing new frames during the animation"
    );
    let mut ages = frame_ages_ms(page).await.unwrap();
    let sampled = sampling.elapsed().as_secs_f64();
    let frames_during = ages.len() - frames_before;
    let mut ages = ages.split_off(frames_before);
    ages.sort_by(f64::total_cmp);
    eprintln!(
        "FRAMEs while sampling the 30 fps video: {frames_during} in {sampled:.1} s \
         ({:.0}/s); their age on arrival (gateway damage to page): median {:.0} ms, max {:.0} ms",
        frames_during as f64 / sampled,
        ages.get(ages.len() / 2).copied().unwrap_or(f64::NAN),
        ages.last().copied().unwrap_or(f64::NAN)
    );
    let psnrs: Vec<f64> = samples.iter().map(|s| s.best.psnr_db).collect();
    let finite: Vec<f64> = psnrs.iter().copied().filter(|p| p.is_finite()).collect();
    let min = psnrs.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
    let leads: Vec<u128> = samples.iter().map(|s| s.best_lead.as_millis()).collect();
    let during: Vec<f64> = samples.iter().map(|s| s.during.psnr_db).collect();
    eprintln!(
        "animation PSNR over the whole screen: min {min:.2} dB, mean {mean:.2} dB \
         (of {} finite samples; {} identical); per sample {psnrs:.2?}, with the \
         screenshot started {leads:?} ms before the canvas read; against the \
         screenshot taken with the canvas alone {during:.2?}",
        finite.len(),
        psnrs.len() - finite.len()
    );

    drop(ffplay);
    wait_canvas_exact(page, display, SETTLE, "after-animation")
        .await
        .unwrap();
    page.assert_no_js_errors();
}
