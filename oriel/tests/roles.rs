//! The roles apart: `oriel control` and `oriel gateway` as separate
//! processes with separate data directories, exchanging only public keys.
//! The gateway has no database; ending a session on the control plane
//! reaches it as a signed command over HTTPS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use oriel_testkit::{ScratchDir, StreamViewer, VncDisplay, VncOptions, free_port};
use serde_json::json;
use std::time::{Duration, Instant};
use support::{Api, Oriel, blocking};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_plane_and_gateway_run_apart() {
    let display = VncDisplay::start(VncOptions::new(640, 480)).await.unwrap();
    // Something on screen: a black desktop needs no frame at all.
    let _xterm = display
        .start_xterm(oriel_testkit::XtermOptions::default())
        .await
        .unwrap();
    let gdir = ScratchDir::new("gateway").unwrap();
    let cdir = ScratchDir::new("control").unwrap();
    let gdata = gdir.path().join("data");
    let cdata = cdir.path().join("data");

    // First runs stop with a clear message, leaving their own public key.
    let err = Oriel::start_in("gateway", &[], &[], gdir.clone(), gdata.clone())
        .await
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("signing.pub"), "{err:#}");
    let err = Oriel::start_in("control", &[], &[], cdir.clone(), cdata.clone())
        .await
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("gateway-sealing.pub"),
        "{err:#}"
    );
    // The operator copies the public keys across.
    std::fs::copy(
        gdata.join("keys/gateway-sealing.pub"),
        cdata.join("keys/gateway-sealing.pub"),
    )
    .unwrap();
    std::fs::copy(
        cdata.join("keys/signing.pub"),
        gdata.join("keys/signing.pub"),
    )
    .unwrap();

    let control_port = free_port().unwrap();
    let control_origin = format!("https://localhost:{control_port}");
    let allowed = format!("[\"{control_origin}\"]");
    let gateway = Oriel::start_in(
        "gateway",
        &[],
        &[("ORIEL_GATEWAY__ALLOWED_ORIGINS", &allowed)],
        gdir.clone(),
        gdata.clone(),
    )
    .await
    .unwrap();
    let gw_url = format!("https://localhost:{}", gateway.port);
    let gw_ca = gdata.join("tls/tls.crt").display().to_string();
    let urls = format!("[\"{gw_url}\"]");
    let control = Oriel::start_at(
        "control",
        &[],
        &[
            ("ORIEL_CONTROL__GATEWAY_PUBLIC_URL", &gw_url),
            ("ORIEL_CONTROL__GATEWAY_URLS", &urls),
            ("ORIEL_CONTROL__GATEWAY_CA", &gw_ca),
        ],
        cdir.clone(),
        cdata.clone(),
        &format!("127.0.0.1:{control_port}"),
    )
    .await
    .unwrap();

    // The gateway serves streams and nothing of the control plane.
    let gw_api = Api::new(&gw_url, &gdata.join("tls/tls.crt"));
    let probe = blocking(move || {
        gw_api
            .call("GET", "/api/v1/openapi.json", None, &[])
            .unwrap()
    })
    .await;
    assert_eq!(probe.status, 404);
    assert!(
        !gdata.join("oriel.db").exists(),
        "the gateway must not have a database"
    );

    let mut api = control.api();
    let port = display.rfb_port();
    let (api, launched) = blocking(move || {
        api.login_admin().unwrap();
        api.vnc_workspace("desk", port, None, json!({})).unwrap();
        let launched = api.launch("desk").unwrap();
        (api, launched)
    })
    .await;
    let stream_url = launched["stream_url"].as_str().unwrap();
    assert_eq!(
        stream_url,
        format!("wss://localhost:{}/stream", gateway.port)
    );

    let mut v = StreamViewer::connect(
        stream_url,
        &gdata.join("tls/tls.crt"),
        Some(&control_origin),
    )
    .await
    .unwrap();
    v.hello(launched["token"].as_str().unwrap(), Duration::from_secs(20))
        .await
        .unwrap();
    assert!(v.hello.is_some(), "{:?}\n{}", v.end, gateway.log_tail(30));
    v.wait_for(Duration::from_secs(20), "a frame", |e| {
        matches!(e, oriel_testkit::ViewerEvent::Frame(_))
    })
    .await
    .unwrap();

    let id = launched["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let status = blocking(move || {
        api.call("DELETE", &format!("/api/v1/sessions/{id}"), None, &[])
            .unwrap()
    })
    .await;
    assert_eq!(status.status, 204, "{status:?}\n{}", control.log_tail(30));
    let (end, code) = v.wait_closed(Duration::from_secs(2)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!((code, end.map(|e| e.code)), (Some(4000), Some(4000)));
}
