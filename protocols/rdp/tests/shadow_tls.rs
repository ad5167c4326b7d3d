//! FreeRDP's shadow server with TLS (PAM login) mirroring an Xvfb display:
//! the picture, typing, the pointer and certificate trust (first use, pinned,
//! wrong pin).

mod common;

use std::time::{Duration, Instant};

use common::{Viewer, request};
use oriel_core_model::{InputEvent, Point, SessionErrorKind};
use oriel_protocols_rdp::{RdpConnector, RdpSettings};
use oriel_protocols_session::{Connector, TargetTrust};
use oriel_testkit::rdp::{ShadowSecurity, ShadowServer};
use oriel_testkit::{VncDisplay, VncOptions, VncServer, XtermOptions, ensure_test_user};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_tls_picture_input_and_trust() {
    require_root!();
    let started = Instant::now();
    ensure_test_user().expect("test user");
    let display = VncDisplay::start(VncOptions::new(800, 600).server(VncServer::X11vnc))
        .await
        .expect("xvfb display");
    display
        .set_background([40, 90, 160])
        .await
        .expect("background");
    let out = display.scratch_dir().path().join("typed.txt");
    let _xterm = display
        .start_xterm(XtermOptions {
            columns: 60,
            rows: 12,
            x: 20,
            y: 30,
            font: Some("fixed".into()),
            command: Some(format!(
                "echo oriel rdp shadow test; read l; printf %s \"$l\" > {}; sleep 600",
                out.display()
            )),
            ..XtermOptions::default()
        })
        .await
        .expect("xterm");
    let shadow = ShadowServer::start(&display, ShadowSecurity::Tls)
        .await
        .expect("shadow server");
    let connector = RdpConnector::new(RdpSettings::lossless_bitmaps());

    // Trust on first use: accepted, and the fingerprint reported.
    let session = connector
        .connect(request(shadow.port(), TargetTrust::FirstUse, None))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", shadow.log()));
    let fingerprint = session
        .info
        .identity
        .clone()
        .expect("a certificate fingerprint");
    assert!(fingerprint.starts_with("SHA256:"), "{fingerprint}");
    assert_eq!(session.info.size.width, 800);
    assert_eq!(session.info.size.height, 600);
    let mut viewer = Viewer::new(session);

    // The picture converges to the X server's own (lossless bitmaps: exactly).
    let deadline = Instant::now() + Duration::from_secs(20);
    let diff = loop {
        viewer.pump(Duration::from_millis(300)).await;
        assert!(viewer.ended.is_none(), "session ended: {:?}", viewer.ended);
        let shot = display.screenshot().await.expect("screenshot");
        let diff = viewer.image().compare(&shot).expect("same size");
        if diff.is_identical() || Instant::now() > deadline {
            break diff;
        }
    };
    if !diff.is_identical() {
        let dir = display.scratch_dir();
        dir.keep();
        let _ = viewer.image().save_png(dir.path().join("viewer.png"));
        let _ = display
            .screenshot()
            .await
            .map(|s| s.save_png(dir.path().join("xwd.png")));
        panic!(
            "picture did not converge: {diff:?} (see {})",
            dir.path().display()
        );
    }
    eprintln!(
        "picture identical after {:?}: {} pixel events, {} pixels, largest {:?}",
        started.elapsed(),
        viewer.pixel_events,
        viewer.pixel_area,
        viewer.max_rect
    );

    // Pointer: the X server's pointer follows.
    viewer
        .send(InputEvent::Pointer {
            at: Point::new(123, 234),
            buttons: 0,
        })
        .await;
    let mut at = (0, 0);
    for _ in 0..100 {
        at = display.pointer_location().await.expect("pointer");
        if at == (123, 234) {
            break;
        }
        viewer.pump(Duration::from_millis(50)).await;
    }
    assert_eq!(at, (123, 234));

    // Typing: with no window manager, focus follows the pointer into the xterm.
    viewer
        .send(InputEvent::Pointer {
            at: Point::new(200, 100),
            buttons: 0,
        })
        .await;
    viewer.pump(Duration::from_millis(300)).await;
    viewer.type_line("Hello, RDP 42!").await;
    let mut typed = String::new();
    for _ in 0..100 {
        typed = std::fs::read_to_string(&out).unwrap_or_default();
        if !typed.is_empty() {
            break;
        }
        viewer.pump(Duration::from_millis(100)).await;
    }
    assert_eq!(typed, "Hello, RDP 42!");
    // And the session showed the typing (damage, not only whole frames).
    let before = viewer.pixel_events;
    viewer.pump(Duration::from_millis(500)).await;
    assert!(viewer.ended.is_none(), "session ended: {:?}", viewer.ended);
    // Pointer shapes: FreeRDP's shadow server sends them only now and then
    // (they are checked against xrdp, which sends every change); any that
    // arrived is well-formed.
    if let Some(cursor) = viewer.cursor.clone() {
        assert_eq!(cursor.rgba.len(), cursor.size.area() as usize * 4);
    }
    eprintln!(
        "pixel events after typing: {before}, cursor {:?}",
        viewer.cursor
    );
    drop(viewer);

    // Pinned to what was recorded: accepted.
    let pinned = connector
        .connect(request(
            shadow.port(),
            TargetTrust::Pinned(fingerprint.clone()),
            None,
        ))
        .await
        .expect("pinned connect");
    assert_eq!(pinned.info.identity.as_deref(), Some(fingerprint.as_str()));
    drop(pinned);

    // Pinned to something else: refused as an identity error.
    let err = connector
        .connect(request(
            shadow.port(),
            TargetTrust::Pinned("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()),
            None,
        ))
        .await
        .expect_err("wrong pin must fail");
    assert_eq!(err.kind, SessionErrorKind::TargetIdentity, "{err}");
    assert!(err.detail.contains(&fingerprint), "{err}");
    eprintln!("shadow tls test took {:?}", started.elapsed());
}
