//! FreeRDP's shadow server with NLA (CredSSP/NTLM against a SAM file): the
//! right password opens a session, a wrong one is an authentication failure.

mod common;

use std::time::{Duration, Instant};

use common::{Viewer, request};
use oriel_core_model::SessionErrorKind;
use oriel_protocols_rdp::{RdpConnector, RdpSettings};
use oriel_protocols_session::{Connector, TargetTrust};
use oriel_testkit::rdp::{ShadowSecurity, ShadowServer};
use oriel_testkit::{VncDisplay, VncOptions, VncServer, ensure_test_user};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_nla_accepts_the_right_password_only() {
    require_root!();
    let started = Instant::now();
    ensure_test_user().expect("test user");
    let display = VncDisplay::start(VncOptions::new(640, 480).server(VncServer::X11vnc))
        .await
        .expect("xvfb display");
    display
        .set_background([200, 60, 30])
        .await
        .expect("background");
    let shadow = ShadowServer::start(&display, ShadowSecurity::Nla)
        .await
        .expect("shadow server");
    let connector = RdpConnector::new(RdpSettings::lossless_bitmaps());

    let session = connector
        .connect(request(shadow.port(), TargetTrust::FirstUse, None))
        .await
        .unwrap_or_else(|e| panic!("nla connect: {e}\n{}", shadow.log()));
    let mut viewer = Viewer::new(session);
    viewer
        .pump_until(Duration::from_secs(15), "the desktop's colour", |v| {
            v.fb.pixel(oriel_core_model::Point::new(320, 240)) == Some([200, 60, 30])
        })
        .await;
    drop(viewer);

    let err = connector
        .connect(request(
            shadow.port(),
            TargetTrust::FirstUse,
            Some("not-the-password"),
        ))
        .await
        .expect_err("a wrong password must fail");
    assert_eq!(err.kind, SessionErrorKind::TargetAuthFailed, "{err}");
    eprintln!("wrong password: {err}");
    eprintln!("shadow nla test took {:?}", started.elapsed());
}
