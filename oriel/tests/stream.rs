//! End to end over the stream protocol with a verifying Rust viewer: the real
//! `oriel up`, real Xtigervnc/x11vnc, real X clients.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use oriel_core_wire::ClientMessage;
use oriel_testkit::{StreamViewer, VncDisplay, VncOptions, VncServer, XtermOptions};
use serde_json::json;
use std::time::{Duration, Instant};
use support::{Oriel, blocking};

/// Sends the X server's current pointer position as ours. TigerVNC draws
/// the pointer into the framebuffer while it is somewhere this viewer did
/// not put it (so a viewer sees a pointer moved by others); `xwd` never
/// shows the pointer, so exact comparisons need the viewer to own it, as a
/// user moving the mouse does.
pub async fn sync_pointer(v: &mut StreamViewer, display: &VncDisplay) -> anyhow::Result<()> {
    let (x, y) = display.pointer_location().await?;
    v.send(ClientMessage::Pointer {
        at: oriel_core_model::Point::new(x as u16, y as u16),
        buttons: 0,
    })
    .await
}

/// Pumps the viewer until its framebuffer equals the X server's screenshot.
pub async fn wait_until_exact(
    v: &mut StreamViewer,
    display: &VncDisplay,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    sync_pointer(v, display).await?;
    while Instant::now() < deadline {
        v.pump(Duration::from_millis(400)).await?;
        let shot = display.screenshot().await?;
        let mine = v.image();
        if mine.width == shot.width && mine.height == shot.height {
            let diff = mine.compare(&shot)?;
            if diff.differing_pixels == 0 {
                return Ok(());
            }
            last = Some(diff);
        }
    }
    let dir = display.scratch_dir().path().to_owned();
    let _ = v.image().save_png(dir.join("viewer.png"));
    let _ = display.screenshot().await?.save_png(dir.join("server.png"));
    anyhow::bail!(
        "viewer never matched the X server exactly (last diff {last:?}); images in {}",
        dir.display()
    )
}

/// A viewer of a launched session, offering `caps`, after HELLO.
async fn open_viewer(oriel: &Oriel, launched: &serde_json::Value, caps: u32) -> StreamViewer {
    support::open_viewer(&oriel.cert(), &oriel.origin(), launched, caps).await
}

struct Setup {
    display: VncDisplay,
    oriel: Oriel,
    api: support::Api,
    launched: serde_json::Value,
    _xterm: oriel_testkit::Xterm,
}

async fn setup(server: VncServer, password: Option<&str>, policy: serde_json::Value) -> Setup {
    let mut opts = VncOptions::new(800, 600).server(server);
    if let Some(p) = password {
        opts = opts.password(p);
    }
    let xterm = XtermOptions {
        columns: 60,
        rows: 10,
        x: 20,
        y: 30,
        command: Some("echo oriel stream test; sleep 600".into()),
        ..Default::default()
    };
    setup_with(opts, password, xterm, policy, &[]).await
}

async fn setup_with(
    opts: VncOptions,
    password: Option<&str>,
    xterm: XtermOptions,
    policy: serde_json::Value,
    env: &[(&str, &str)],
) -> Setup {
    let display = VncDisplay::start(opts).await.unwrap();
    let xterm = display.start_xterm(xterm).await.unwrap();
    let oriel = Oriel::up(env).await.unwrap();
    let mut api = oriel.api();
    let port = display.rfb_port();
    let password = password.map(str::to_owned);
    let (api, launched) = blocking(move || {
        api.login_admin().unwrap();
        api.vnc_workspace("desk", port, password.as_deref(), policy)
            .unwrap();
        let launched = api.launch("desk").unwrap();
        (api, launched)
    })
    .await;
    Setup {
        display,
        oriel,
        api,
        launched,
        _xterm: xterm,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tigervnc_desktop_streams_and_settles_to_an_exact_copy() {
    let Setup {
        display,
        oriel,
        launched,
        _xterm,
        api: _api,
    } = setup(VncServer::Tigervnc, None, json!({})).await;
    let mut v = open_viewer(&oriel, &launched, 0).await;
    let hello = v
        .hello
        .clone()
        .unwrap_or_else(|| panic!("no hello: {:?}\n{}", v.end, oriel.log_tail(40)));
    assert_eq!((hello.size.width, hello.size.height), (800, 600));
    assert_eq!(hello.session_id, launched["id"].as_str().unwrap());
    wait_until_exact(&mut v, &display, Duration::from_secs(30))
        .await
        .unwrap();
    let before = display.screenshot().await.unwrap();
    let frames_before = v.frames;
    // Change the screen: a new window must arrive, exactly.
    let _second = display
        .start_xterm(XtermOptions {
            columns: 30,
            rows: 5,
            x: 400,
            y: 300,
            command: Some("echo second window; sleep 600".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while display.screenshot().await.unwrap() == before {
        assert!(Instant::now() < deadline, "the second xterm never appeared");
        v.pump(Duration::from_millis(100)).await.unwrap();
    }
    wait_until_exact(&mut v, &display, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(v.frames > frames_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x11vnc_with_a_password_streams_exactly() {
    let Setup {
        display,
        oriel,
        launched,
        _xterm,
        api: _api,
    } = setup(VncServer::X11vnc, Some("s3cret-vnc"), json!({})).await;
    let mut v = open_viewer(&oriel, &launched, 0).await;
    assert!(v.hello.is_some(), "end {:?}\n{}", v.end, oriel.log_tail(40));
    wait_until_exact(&mut v, &display, Duration::from_secs(30))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repainted_scrolling_arrives_as_copies_and_stays_exact() {
    // x11vnc without its scroll heuristics sends a scrolling xterm as new
    // pixels; the gateway finds the moved rows and sends copies, and the
    // viewer's picture still ends up exactly the server's.
    let opts = VncOptions::new(800, 600)
        .server(VncServer::X11vnc)
        .extra_arg("-noscrollcopyrect")
        .extra_arg("-nowireframe");
    let xterm = XtermOptions {
        columns: 80,
        rows: 36,
        x: 0,
        y: 0,
        command: Some(
            "sleep 2; i=0; while [ $i -lt 300 ]; do i=$((i+1)); \
             echo \"line $i of a scrolling text, with words that differ: $((i*7919))\"; \
             sleep 0.01; done; sleep 600"
                .into(),
        ),
        ..Default::default()
    };
    let Setup {
        display,
        oriel,
        launched,
        _xterm,
        api: _api,
    } = setup_with(opts, None, xterm, json!({}), &[]).await;
    let mut v = open_viewer(&oriel, &launched, 0).await;
    // Through the scrolling (300 lines, ~3 s at most), then the settle.
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until {
        v.pump(Duration::from_millis(200)).await.unwrap();
    }
    eprintln!(
        "{} frames, {} copies, {} bytes",
        v.frames, v.copies, v.bytes
    );
    assert!(
        v.copies > 0,
        "no copies: {} frames, {} bytes",
        v.frames,
        v.bytes
    );
    wait_until_exact(&mut v, &display, Duration::from_secs(30))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webp_goes_only_to_viewers_that_offer_it_and_settles_exactly() {
    let xterm = XtermOptions {
        columns: 40,
        rows: 5,
        // Away from the pointer (the screen's centre), as in the tests above.
        x: 440,
        y: 360,
        command: Some("echo beside the video; sleep 600".into()),
        ..Default::default()
    };
    let Setup {
        display,
        oriel,
        api,
        launched,
        _xterm,
    } = setup_with(
        VncOptions::new(800, 600),
        None,
        xterm,
        json!({}),
        &[("ORIEL_GATEWAY__LOSSY_CODEC", "webp")],
    )
    .await;
    let second = blocking(move || api.launch("desk").unwrap()).await;
    // One viewer at a time: TigerVNC draws the pointer into the picture of
    // a connection whose pointer another one moved.
    for (launched, caps) in [(&launched, oriel_core_wire::caps::WEBP), (&second, 0)] {
        let ffplay = display.start_test_video("320x240").unwrap();
        let mut v = open_viewer(&oriel, launched, caps).await;
        let agreed = v.hello.as_ref().unwrap().capabilities;
        assert_eq!(agreed & oriel_core_wire::caps::WEBP, caps);
        let until = Instant::now() + Duration::from_secs(4);
        while Instant::now() < until {
            v.pump(Duration::from_millis(100)).await.unwrap();
        }
        eprintln!(
            "offered {caps:#x}: {} frames, {} WebP images, {} bytes",
            v.frames, v.webp_images, v.bytes
        );
        if caps == 0 {
            assert_eq!(v.webp_images, 0);
            assert!(v.frames > 0);
        } else {
            assert!(v.webp_images > 0, "no WebP in {} frames", v.frames);
        }
        // When the video stops, the picture settles to exactly the server's.
        drop(ffplay);
        wait_until_exact(&mut v, &display, Duration::from_secs(30))
            .await
            .unwrap();
    }
}

/// A gateway metric's value from `/metrics` (0 when absent).
fn metric(api: &support::Api, name: &str) -> f64 {
    let m = api.call("GET", "/metrics", None, &[]).unwrap();
    m.body
        .as_str()
        .unwrap()
        .lines()
        .find(|l| l.split(' ').next() == Some(name))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_viewers_of_one_session_share_one_upstream() {
    let Setup {
        display,
        oriel,
        api,
        launched,
        _xterm,
    } = setup(VncServer::Tigervnc, None, json!({})).await;
    let _video = display.start_test_video("320x240").unwrap();
    let upstreams = |api: &support::Api| metric(api, "oriel_gateway_upstreams_active");
    let keyframes = |api: &support::Api| metric(api, "oriel_gateway_keyframes_total");
    // A second viewer of the same session (the user's other screen): its
    // own token for the same session.
    let id = launched["id"].as_str().unwrap().to_owned();
    let api2 = api.clone();
    let (first, second) = blocking(move || {
        let r = api2
            .call("POST", &format!("/api/v1/sessions/{id}/token"), None, &[])
            .unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        let mut l = launched.clone();
        l["token"] = r.body["token"].clone();
        (launched, l)
    })
    .await;
    let mut a = open_viewer(&oriel, &first, 0).await;
    a.pump(Duration::from_secs(1)).await.unwrap();
    let api2 = api.clone();
    let (ups, keys) = blocking(move || (upstreams(&api2), keyframes(&api2))).await;
    assert_eq!(ups, 1.0);
    let mut b = open_viewer(&oriel, &second, 0).await;
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        a.pump(Duration::from_millis(50)).await.unwrap();
        b.pump(Duration::from_millis(50)).await.unwrap();
    }
    eprintln!("viewers got {} and {} frames", a.frames, b.frames);
    assert!(a.frames > 0 && b.frames > 0);
    let api2 = api.clone();
    let (ups, keys_after) = blocking(move || (upstreams(&api2), keyframes(&api2))).await;
    assert_eq!(ups, 1.0, "one connection to the target for both viewers");
    assert!(
        keys_after > keys,
        "the second viewer started from a keyframe"
    );
    // Both pictures end up exactly the server's, at the same time: one
    // connection, one pointer (TigerVNC draws the pointer into a
    // connection's picture only where another one moved it).
    drop(_video);
    wait_until_exact(&mut a, &display, Duration::from_secs(30))
        .await
        .unwrap();
    wait_until_exact(&mut b, &display, Duration::from_secs(30))
        .await
        .unwrap();
    let shot = display.screenshot().await.unwrap();
    assert_eq!(a.image().compare(&shot).unwrap().differing_pixels, 0);
    // One viewer leaves; the other streams on; the last one's leaving
    // closes the target connection.
    drop(a);
    let _moving = display.start_test_video("160x120").unwrap();
    let before = b.frames;
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.frames == before && Instant::now() < deadline {
        b.pump(Duration::from_millis(200)).await.unwrap();
    }
    assert!(b.frames > before, "the remaining viewer streams on");
    drop(b);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let api2 = api.clone();
        if blocking(move || upstreams(&api2)).await == 0.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the upstream outlived its viewers"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_the_session_closes_the_stream_within_a_second() {
    let Setup {
        display: _display,
        oriel,
        api,
        launched,
        _xterm,
    } = setup(VncServer::Tigervnc, None, json!({})).await;
    let mut v = StreamViewer::connect(
        launched["stream_url"].as_str().unwrap(),
        &oriel.cert(),
        Some(&oriel.origin()),
    )
    .await
    .unwrap();
    let token = launched["token"].as_str().unwrap().to_owned();
    v.hello(&token, Duration::from_secs(20)).await.unwrap();
    v.pump(Duration::from_millis(500)).await.unwrap();
    let id = launched["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let api2 = api.clone();
    let path = format!("/api/v1/sessions/{id}");
    let status = blocking(move || api2.call("DELETE", &path, None, &[]).unwrap().status).await;
    assert_eq!(status, 204);
    let (end, code) = v.wait_closed(Duration::from_secs(1)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(code, Some(4000));
    assert_eq!(end.unwrap().code, 4000);
    // Its token is refused from now on, and no new token is issued.
    let mut again = StreamViewer::connect(
        launched["stream_url"].as_str().unwrap(),
        &oriel.cert(),
        Some(&oriel.origin()),
    )
    .await
    .unwrap();
    again.hello(&token, Duration::from_secs(10)).await.unwrap();
    // Revoked with its session: refused as ended.
    let (_, code) = again.wait_closed(Duration::from_secs(5)).await.unwrap();
    assert_eq!(code, Some(4000));
    let path = format!("/api/v1/sessions/{id}/token");
    let r = blocking(move || api.call("POST", &path, None, &[]).unwrap()).await;
    assert_eq!(r.status, 409, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_refresh_and_bad_messages() {
    let Setup {
        display,
        oriel,
        launched,
        _xterm,
        api: _api,
    } = setup(VncServer::Tigervnc, None, json!({})).await;
    let mut v = open_viewer(&oriel, &launched, 0).await;
    wait_until_exact(&mut v, &display, Duration::from_secs(30))
        .await
        .unwrap();
    let before = v.frames;
    v.send(ClientMessage::Refresh).await.unwrap();
    v.pump(Duration::from_secs(1)).await.unwrap();
    assert!(v.frames > before, "REFRESH must repaint");
    // A malformed message ends the stream with 4008.
    v.send_raw(vec![0x7f, 1, 2]).await.unwrap();
    let (end, code) = v.wait_closed(Duration::from_secs(5)).await.unwrap();
    assert_eq!(code, Some(4008));
    assert!(end.unwrap().message.contains("does not understand"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resize_request_changes_the_remote_desktop() {
    let Setup {
        display,
        oriel,
        launched,
        _xterm,
        api: _api,
    } = setup(VncServer::Tigervnc, None, json!({})).await;
    let mut v = open_viewer(&oriel, &launched, 0).await;
    wait_until_exact(&mut v, &display, Duration::from_secs(30))
        .await
        .unwrap();
    v.send(ClientMessage::Resize(oriel_core_model::Size::new(
        1024, 768,
    )))
    .await
    .unwrap();
    let event = v
        .wait_for(Duration::from_secs(10), "a new desktop size", |e| {
            matches!(e, oriel_testkit::ViewerEvent::DesktopSize(_))
        })
        .await
        .unwrap();
    assert_eq!(
        event,
        oriel_testkit::ViewerEvent::DesktopSize(oriel_core_model::Size::new(1024, 768))
    );
    let shot = display.screenshot().await.unwrap();
    assert_eq!(
        (shot.width, shot.height),
        (1024, 768),
        "the X server itself resized"
    );
    wait_until_exact(&mut v, &display, Duration::from_secs(30))
        .await
        .unwrap();
}

/// One frame per picture of the source (issue 16): a 30 frames a second
/// video reaches a viewer that keeps up as at most one frame per source
/// picture, each one whole RFB update, not several partial frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_30_fps_video_arrives_as_at_most_one_frame_per_source_picture() {
    let xterm = XtermOptions {
        columns: 20,
        rows: 4,
        x: 400,
        y: 300,
        command: Some("sleep 600".into()),
        ..Default::default()
    };
    let Setup {
        display,
        oriel,
        launched,
        _xterm,
        api: _api,
    } = setup_with(VncOptions::new(640, 480), None, xterm, json!({}), &[]).await;
    let _video = display.start_test_video("320x240").unwrap();
    let mut v = open_viewer(&oriel, &launched, 0).await;
    assert!(v.hello.is_some(), "end {:?}", v.end);
    // Past the start of the video and the first pictures.
    v.pump(Duration::from_secs(2)).await.unwrap();
    let counted = |v: &StreamViewer| {
        v.events
            .iter()
            .filter(|e| matches!(e, oriel_testkit::ViewerEvent::Frame(_)))
            .count()
    };
    let before = counted(&v);
    let started = Instant::now();
    v.pump(Duration::from_secs(4)).await.unwrap();
    let frames = counted(&v) - before;
    let per_second = frames as f64 / started.elapsed().as_secs_f64();
    println!(
        "{frames} frames in {:?}: {per_second:.1} a second",
        started.elapsed()
    );
    assert!(frames > 0, "the video never moved");
    assert!(
        per_second <= 31.0,
        "{per_second:.1} frames a second for a 30 a second source: pictures split into partial frames"
    );
}
