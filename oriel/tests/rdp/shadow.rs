//! FreeRDP's shadow server mirroring an Xvfb display, with TLS (PAM) and
//! with NLA (CredSSP/NTLM against a SAM file).

use std::time::Instant;

use oriel_testkit::rdp::{ShadowSecurity, ShadowServer};
use oriel_testkit::{
    TEST_PASSWORD, VncDisplay, VncOptions, VncServer, XtermOptions, ensure_test_user,
};
use serde_json::{Value, json};

use crate::support::web::{
    CONNECT_TIMEOUT, CanvasGeometry, assert_no_js_errors, expect_logged_in, launch_workspace,
    log_in, move_mouse_to, wait_canvas_exact, wait_connected,
};
use crate::support::{ADMIN_PASSWORD, Oriel, blocking};
use crate::{
    SETTLE, find_certificate, get_workspace, rdp_workspace, relaunch, spki_fingerprint, type_line,
    wait_file, wait_message_shown, wait_recorded_identity, wait_refused,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freerdp_shadow_tls_and_nla() {
    require_root!();
    let started = Instant::now();
    ensure_test_user().unwrap();
    let display = VncDisplay::start(VncOptions::new(1024, 768).server(VncServer::X11vnc))
        .await
        .unwrap();
    display.set_background([40, 90, 160]).await.unwrap();
    let typed = display.scratch_dir().path().join("typed.txt");
    let _xterm = display
        .start_xterm(XtermOptions {
            columns: 60,
            rows: 12,
            x: 30,
            y: 40,
            font: Some("fixed".into()),
            command: Some(format!(
                "echo 'oriel rdp browser test'; while read l; do printf %s \"$l\" > {t}.tmp; \
                 mv {t}.tmp {t}; done",
                t = typed.display()
            )),
            ..XtermOptions::default()
        })
        .await
        .unwrap();
    let tls = ShadowServer::start(&display, ShadowSecurity::Tls)
        .await
        .unwrap();
    let nla = ShadowServer::start(&display, ShadowSecurity::Nla)
        .await
        .unwrap();
    let oriel = Oriel::up(&[]).await.unwrap();
    let mut api = oriel.api();
    let api = blocking(move || api.login_admin().map(|()| api))
        .await
        .unwrap();
    let browser = oriel_testkit::Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();

    let tls_ws = rdp_workspace(
        &api,
        "shadow-tls",
        tls.port(),
        TEST_PASSWORD,
        None,
        json!({}),
    )
    .await;
    assert_eq!(tls_ws["identity"], Value::Null, "{tls_ws}");
    let tls_id = tls_ws["id"].as_str().unwrap().to_owned();
    rdp_workspace(
        &api,
        "shadow-nla",
        nla.port(),
        TEST_PASSWORD,
        None,
        json!({}),
    )
    .await;
    rdp_workspace(
        &api,
        "shadow-nla-wrong",
        nla.port(),
        "not-the-password",
        None,
        json!({}),
    )
    .await;
    let pin_wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    rdp_workspace(
        &api,
        "shadow-pinned-wrong",
        tls.port(),
        TEST_PASSWORD,
        Some(pin_wrong),
        json!({}),
    )
    .await;

    // TLS, first use: the picture is the X display's, exactly.
    log_in(&page, &oriel, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    expect_logged_in(&page, "admin").await.unwrap();
    launch_workspace(&page, "shadow-tls").await.unwrap();
    let state = wait_connected(&page, CONNECT_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}\n{}", oriel.log_tail(30), tls.log()));
    assert_eq!(
        (state["width"].as_u64(), state["height"].as_u64()),
        (Some(1024), Some(768)),
        "{state}"
    );
    let geometry = CanvasGeometry::of(&page).await.unwrap();
    assert!(geometry.is_one_to_one(), "{geometry:?}");
    move_mouse_to(&page, &display, (1000, 740), 0)
        .await
        .unwrap();
    wait_canvas_exact(&page, &display, SETTLE, "shadow-tls")
        .await
        .unwrap();
    eprintln!("shadow tls: exact picture after {:?}", started.elapsed());
    // Through the graphics pipeline (FreeRDP offers it; without RemoteFX
    // and H.264 it uses its lossless codecs).
    let log = oriel.guard.log();
    let negotiated = log
        .lines()
        .find(|l| l.contains("graphics pipeline negotiated"))
        .unwrap_or_else(|| panic!("no graphics pipeline:\n{}", oriel.log_tail(40)));
    eprintln!("{negotiated}");

    // The certificate's key was recorded on first use, and it is the
    // server's: the same fingerprint openssl computes from its certificate.
    let recorded = wait_recorded_identity(&api, &tls_id).await;
    let cert = find_certificate(tls.scratch_dir().path()).expect("the shadow server's certificate");
    assert_eq!(recorded, spki_fingerprint(&cert).await);
    eprintln!("recorded identity {recorded}");

    // Launched again, the workspace is pinned to what was recorded: it
    // connects, and typing reaches the xterm (focus follows the pointer: no
    // window manager).
    relaunch(&page, &oriel, "shadow-tls").await;
    wait_connected(&page, CONNECT_TIMEOUT).await.unwrap();
    assert_eq!(get_workspace(&api, &tls_id).await["identity"], recorded);
    move_mouse_to(&page, &display, (200, 120), 0).await.unwrap();
    type_line(&page, "Hello, RDP 42!").await;
    wait_file(&typed, "Hello, RDP 42!").await;
    move_mouse_to(&page, &display, (1000, 740), 0)
        .await
        .unwrap();
    wait_canvas_exact(&page, &display, SETTLE, "shadow-tls-typed")
        .await
        .unwrap();
    assert_no_js_errors(&page);

    // NLA with the right password: the same picture.
    relaunch(&page, &oriel, "shadow-nla").await;
    wait_connected(&page, CONNECT_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}\n{}", oriel.log_tail(30), nla.log()));
    move_mouse_to(&page, &display, (1000, 740), 0)
        .await
        .unwrap();
    wait_canvas_exact(&page, &display, SETTLE, "shadow-nla")
        .await
        .unwrap();
    eprintln!("shadow nla: exact picture after {:?}", started.elapsed());

    // NLA with a wrong password: refused, and the user is told why.
    relaunch(&page, &oriel, "shadow-nla-wrong").await;
    let state = wait_refused(&page, &oriel, 4005).await;
    let shown = wait_message_shown(&page, "rejected the credentials").await;
    assert!(shown.contains("user name or password"), "{shown:?}");
    eprintln!("wrong password: {shown:?} ({})", state["lastEnd"]);

    // Pinned to a fingerprint the server does not have: refused before any
    // credentials are sent, and the user is told why.
    relaunch(&page, &oriel, "shadow-pinned-wrong").await;
    let state = wait_refused(&page, &oriel, 4014).await;
    let shown = wait_message_shown(&page, "identity").await;
    assert!(
        shown.contains(pin_wrong) && shown.contains(&recorded),
        "{shown:?}"
    );
    eprintln!("wrong pin: {shown:?} ({})", state["lastEnd"]);
    assert_no_js_errors(&page);
    eprintln!("freerdp_shadow_tls_and_nla: {:?}", started.elapsed());
}
