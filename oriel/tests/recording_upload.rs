//! A stand-alone gateway hands its recordings to the control plane over
//! HTTPS (`POST /api/v1/gateway/recordings`, signed with the gateway's
//! report key): a recorded session on `oriel gateway`, a moving picture so
//! that the file is larger than the API's usual body limit, the session
//! ended from the control plane — the recording is listed there, complete,
//! with the bytes the gateway wrote, and the gateway's copy is gone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use oriel_testkit::{ScratchDir, StreamViewer, VncDisplay, VncOptions, free_port};
use serde_json::json;
use std::time::{Duration, Instant};
use support::{Oriel, blocking};

/// The `.orec` files under `dir`.
fn recordings_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(sessions) = std::fs::read_dir(dir) else {
        return found;
    };
    for s in sessions.flatten() {
        if let Ok(files) = std::fs::read_dir(s.path()) {
            found.extend(
                files
                    .flatten()
                    .map(|f| f.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "orec")),
            );
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stand_alone_gateway_uploads_a_large_recording_to_the_control_plane() {
    let display = VncDisplay::start(VncOptions::new(640, 480)).await.unwrap();
    let gdir = ScratchDir::new("gateway").unwrap();
    let cdir = ScratchDir::new("control").unwrap();
    let gdata = gdir.path().join("data");
    let cdata = cdir.path().join("data");
    // First runs make each side's keys (and stop for want of the other's).
    let _ = Oriel::start_in("gateway", &[], &[], gdir.clone(), gdata.clone()).await;
    let _ = Oriel::start_in("control", &[], &[], cdir.clone(), cdata.clone()).await;
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
    let control_url = format!("https://localhost:{control_port}");
    let allowed = format!("[\"{control_url}\"]");
    let control_ca = cdata.join("tls/tls.crt").display().to_string();
    let gateway = Oriel::start_in(
        "gateway",
        &["--control", &control_url, "--control-ca", &control_ca],
        &[("ORIEL_GATEWAY__ALLOWED_ORIGINS", &allowed)],
        gdir.clone(),
        gdata.clone(),
    )
    .await
    .unwrap();
    let gw_url = format!("https://localhost:{}", gateway.port);
    let gw_ca = gdata.join("tls/tls.crt").display().to_string();
    let urls = format!("[\"{gw_url}\"]");
    let report_keys = format!("[\"{}\"]", gdata.join("keys/gateway-signing.pub").display());
    let control = Oriel::start_at(
        "control",
        &[],
        &[
            ("ORIEL_CONTROL__GATEWAY_PUBLIC_URL", &gw_url),
            ("ORIEL_CONTROL__GATEWAY_URLS", &urls),
            ("ORIEL_CONTROL__GATEWAY_CA", &gw_ca),
            ("ORIEL_CONTROL__GATEWAY_REPORT_KEYS", &report_keys),
        ],
        cdir.clone(),
        cdata.clone(),
        &format!("127.0.0.1:{control_port}"),
    )
    .await
    .unwrap();

    let mut api = control.api();
    let port = display.rfb_port();
    let (api, launched) = blocking(move || {
        api.login_admin().unwrap();
        api.vnc_workspace("recorded", port, None, json!({"recording": true}))
            .unwrap();
        let launched = api.launch("recorded").unwrap();
        (api, launched)
    })
    .await;
    let sid = launched["id"].as_str().unwrap().to_owned();
    let mut v = StreamViewer::connect(
        launched["stream_url"].as_str().unwrap(),
        &gdata.join("tls/tls.crt"),
        Some(&control_url),
    )
    .await
    .unwrap();
    v.hello(launched["token"].as_str().unwrap(), Duration::from_secs(20))
        .await
        .unwrap();
    assert!(v.hello.is_some(), "{:?}\n{}", v.end, gateway.log_tail(30));
    // Moving pictures until the recording is well past 1 MiB (the API's
    // default body limit).
    let video = display.start_test_video("640x480").unwrap();
    let recordings = gdata.join("recordings");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let written: u64 = recordings_in(&recordings)
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        if written > 3 << 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the recording did not grow ({written} bytes)"
        );
        assert!(!v.pump(Duration::from_millis(250)).await.unwrap());
    }
    drop(video);
    let id = sid.clone();
    let api2 = api.clone();
    let ended = blocking(move || {
        api2.call("DELETE", &format!("/api/v1/sessions/{id}"), None, &[])
            .unwrap()
    })
    .await;
    assert_eq!(ended.status, 204);
    let _ = v.wait_closed(Duration::from_secs(10)).await;

    // The control plane lists it, complete, and the gateway let go of it.
    let id = sid.clone();
    let listed = blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = api
                .call(
                    "GET",
                    &format!("/api/v1/recordings?session={id}"),
                    None,
                    &[],
                )
                .unwrap();
            if let Some(rec) = r.body["items"].as_array().and_then(|a| a.first()) {
                return rec.clone();
            }
            assert!(Instant::now() < deadline, "never uploaded: {r:?}");
            std::thread::sleep(Duration::from_millis(300));
        }
    })
    .await;
    assert_eq!(listed["verdict"], "complete", "{listed}");
    assert!(listed["bytes"].as_i64().unwrap() > 3 << 20, "{listed}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !recordings_in(&recordings).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the gateway kept its copy after the upload\n{}",
            gateway.log_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
