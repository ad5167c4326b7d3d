//! The control plane goes away mid-session and comes back: `oriel control`
//! and a stand-alone `oriel gateway` (no database), real VNC desktops.
//!
//! While the control plane is down (killed), streams go on; a session whose
//! desktop ends meanwhile ends on the gateway, whose report waits. When the
//! control plane is back (same data, same address), the report arrives: the
//! ended session is recorded ended, the other is still running and still
//! streaming — nothing was lost and nothing is left open.
//!
//! And in a real Chromium: when the gateway restarts while the control
//! plane is away, the web viewer reconnects with the token it holds (the
//! gateway admits it from the same address within its window).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use oriel_testkit::Browser;
use oriel_testkit::{
    ScratchDir, StreamViewer, ViewerEvent, VncDisplay, VncOptions, free_port, wait_for_value,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::web::{assert_no_js_errors, launch_workspace, log_in, viewer_state, wait_connected};
use support::{ADMIN_PASSWORD, Api, Oriel, blocking};

struct Control {
    dir: ScratchDir,
    data: PathBuf,
    port: u16,
    env: Vec<(String, String)>,
}

impl Control {
    async fn start(&self) -> Oriel {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Oriel::start_at(
            "control",
            &[],
            &env,
            self.dir.clone(),
            self.data.clone(),
            &format!("127.0.0.1:{}", self.port),
        )
        .await
        .unwrap()
    }
}

async fn session(api: &Api, id: &str) -> Value {
    let api = api.clone();
    let path = format!("/api/v1/sessions/{id}");
    blocking(move || api.call("GET", &path, None, &[]).unwrap().body).await
}

async fn streaming(v: &mut StreamViewer, frames: u64) {
    let before = v.frames;
    let deadline = Instant::now() + Duration::from_secs(15);
    while v.frames < before + frames {
        assert!(Instant::now() < deadline, "the stream stopped");
        assert!(
            !v.pump(Duration::from_millis(200)).await.unwrap(),
            "the stream closed: {:?}",
            v.end
        );
    }
}

/// The roles apart: a control plane and a stand-alone gateway that fetches
/// its keys, as an operator sets them up (docs/configuration.md).
struct Apart {
    control: Control,
    cp: Oriel,
    gateway: Oriel,
    gdir: ScratchDir,
    gdata: PathBuf,
    gateway_port: u16,
    control_url: String,
}

async fn apart() -> Apart {
    let gdir = ScratchDir::new("gateway").unwrap();
    let cdir = ScratchDir::new("control").unwrap();
    let gdata = gdir.path().join("data");
    let cdata = cdir.path().join("data");
    // The gateway's first start makes its keys; the operator copies its
    // public sealing key to the control plane (docs/configuration.md).
    let _ = Oriel::start_in("gateway", &[], &[], gdir.clone(), gdata.clone()).await;
    std::fs::create_dir_all(cdata.join("keys")).unwrap();
    std::fs::copy(
        gdata.join("keys/gateway-sealing.pub"),
        cdata.join("keys/gateway-sealing.pub"),
    )
    .unwrap();

    let control_port = free_port().unwrap();
    let gateway_port = free_port().unwrap();
    let control_url = format!("https://localhost:{control_port}");
    let gw_url = format!("https://localhost:{gateway_port}");
    let control = Control {
        dir: cdir.clone(),
        data: cdata.clone(),
        port: control_port,
        env: vec![
            ("ORIEL_CONTROL__GATEWAY_PUBLIC_URL".into(), gw_url.clone()),
            (
                "ORIEL_CONTROL__GATEWAY_URLS".into(),
                format!("[\"{gw_url}\"]"),
            ),
            (
                "ORIEL_CONTROL__GATEWAY_CA".into(),
                gdata.join("tls/tls.crt").display().to_string(),
            ),
            (
                "ORIEL_CONTROL__GATEWAY_REPORT_KEYS".into(),
                format!("[\"{}\"]", gdata.join("keys/gateway-signing.pub").display()),
            ),
        ],
    };
    // A first start with no gateway configured makes the control plane's
    // keys and certificate; the gateway's certificate comes with its start.
    drop(
        Oriel::start_at(
            "control",
            &[],
            &[],
            cdir.clone(),
            cdata.clone(),
            &format!("127.0.0.1:{control_port}"),
        )
        .await
        .unwrap(),
    );
    // The gateway fetches the keys from the control plane: no key file copied.
    let gateway = start_gateway(&control_url, &cdata, &gdir, gateway_port)
        .await
        .unwrap();
    let cp = control.start().await;
    let keys = gdata.join("keys/control-keys.json");
    oriel_testkit::wait_until(
        Duration::from_secs(20),
        "the gateway to fetch the keys",
        || {
            let ok = keys.exists();
            async move { ok }
        },
    )
    .await
    .unwrap();

    Apart {
        control,
        cp,
        gateway,
        gdir,
        gdata,
        gateway_port,
        control_url,
    }
}

/// The stand-alone gateway, on `port`, with its data in `gdir`.
async fn start_gateway(
    control_url: &str,
    cdata: &Path,
    gdir: &ScratchDir,
    port: u16,
) -> anyhow::Result<Oriel> {
    Oriel::start_at(
        "gateway",
        &[
            "--control",
            control_url,
            "--control-ca",
            cdata.join("tls/tls.crt").to_str().unwrap(),
        ],
        &[
            (
                "ORIEL_GATEWAY__ALLOWED_ORIGINS",
                &format!("[\"{control_url}\"]"),
            ),
            ("ORIEL_GATEWAY__SESSIONS_REPORT", "2s"),
            ("ORIEL_GATEWAY__REVOCATIONS_REFRESH", "500ms"),
        ],
        gdir.clone(),
        gdir.path().join("data"),
        &format!("127.0.0.1:{port}"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_outlive_the_control_plane_and_their_ends_are_recorded_after() {
    let mut desks = Vec::new();
    for _ in 0..2 {
        let d = VncDisplay::start(VncOptions::new(480, 320)).await.unwrap();
        let x = d
            .start_xterm(oriel_testkit::XtermOptions {
                command: Some("while :; do date +%N; sleep 0.05; done".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        desks.push((d, x));
    }
    let Apart {
        control,
        cp,
        gateway,
        gdata,
        control_url,
        ..
    } = apart().await;

    let mut api = cp.api();
    let ports: Vec<u16> = desks.iter().map(|(d, _)| d.rfb_port()).collect();
    let (api, launched) = blocking(move || {
        api.login_admin().unwrap();
        let mut launched = Vec::new();
        for (i, port) in ports.into_iter().enumerate() {
            api.vnc_workspace(&format!("desk{i}"), port, None, json!({}))
                .unwrap();
            launched.push(api.launch(&format!("desk{i}")).unwrap());
        }
        (api, launched)
    })
    .await;
    let mut viewers = Vec::new();
    for l in &launched {
        let mut v = StreamViewer::connect(
            l["stream_url"].as_str().unwrap(),
            &gdata.join("tls/tls.crt"),
            Some(&control_url),
        )
        .await
        .unwrap();
        v.hello(l["token"].as_str().unwrap(), Duration::from_secs(20))
            .await
            .unwrap();
        assert!(v.hello.is_some(), "{:?}\n{}", v.end, gateway.log_tail(20));
        streaming(&mut v, 2).await;
        viewers.push(v);
    }
    let ids: Vec<String> = launched
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    for id in &ids {
        let running = wait_for_value(Duration::from_secs(15), "running", || async {
            (session(&api, id).await["state"] == "running").then_some(())
        })
        .await;
        assert!(running.is_ok(), "{}", session(&api, id).await);
    }

    // The control plane dies.
    let Oriel { guard, .. } = cp;
    std::process::Command::new("kill")
        .args(["-9", &guard.id().to_string()])
        .status()
        .unwrap();
    drop(guard);
    // Both streams go on without it.
    for v in &mut viewers {
        streaming(v, 5).await;
    }
    // The second desktop goes away: its stream ends on the gateway, whose
    // report cannot be delivered now.
    let (second, _x) = desks.pop().unwrap();
    drop(_x);
    drop(second);
    let mut second_viewer = viewers.pop().unwrap();
    let (_, code) = second_viewer
        .wait_closed(Duration::from_secs(20))
        .await
        .unwrap();
    assert!(code.is_some(), "the gateway ends the stream itself");
    streaming(&mut viewers[0], 5).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    streaming(&mut viewers[0], 5).await;

    // It comes back: the waiting report is delivered, the first session
    // was never lost.
    let cp = control.start().await;
    let mut api = cp.api();
    let api = blocking(move || {
        api.login_admin().unwrap();
        api
    })
    .await;
    let ended = wait_for_value(
        Duration::from_secs(30),
        "the ended session recorded",
        || async {
            let s = session(&api, &ids[1]).await;
            matches!(s["state"].as_str(), Some("ended" | "failed")).then_some(s)
        },
    )
    .await;
    assert!(
        ended.is_ok(),
        "{}\n{}",
        session(&api, &ids[1]).await,
        gateway.log_tail(30)
    );
    assert_eq!(session(&api, &ids[0]).await["state"], "running");
    streaming(&mut viewers[0], 3).await;
    // And it can still end the first: the stream closes as ended.
    let path = format!("/api/v1/sessions/{}", ids[0]);
    let api2 = api.clone();
    let status = blocking(move || api2.call("DELETE", &path, None, &[]).unwrap().status).await;
    assert_eq!(status, 204);
    let first = &mut viewers[0];
    let closed = first
        .wait_for(Duration::from_secs(10), "the end", |e| {
            matches!(e, ViewerEvent::Closed(..))
        })
        .await;
    assert!(closed.is_ok());
    assert_eq!(first.close_code, Some(4000));
}

/// The gateway a viewer streams from restarts while the control plane is
/// away: the browser's viewer cannot get a fresh token, presents the one it
/// holds, and the gateway admits the reconnection (same address, within
/// the window): the user is back on the desktop without the control plane.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_reconnects_with_its_token_while_the_control_plane_is_away() {
    let desk = VncDisplay::start(VncOptions::new(640, 400)).await.unwrap();
    let _xterm = desk
        .start_xterm(oriel_testkit::XtermOptions::default())
        .await
        .unwrap();
    let Apart {
        control,
        cp,
        gateway,
        gdir,
        gateway_port,
        control_url,
        ..
    } = apart().await;
    let mut api = cp.api();
    let port = desk.rfb_port();
    blocking(move || {
        api.login_admin().unwrap();
        api.vnc_workspace("desk", port, None, json!({})).unwrap();
    })
    .await;
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    log_in(&page, &cp, "admin", ADMIN_PASSWORD).await.unwrap();
    launch_workspace(&page, "desk").await.unwrap();
    let first = wait_connected(&page, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(first["connectCount"], 1, "{first}");

    // The control plane dies; then the gateway restarts (the stream drops).
    let Oriel { guard, .. } = cp;
    std::process::Command::new("kill")
        .args(["-9", &guard.id().to_string()])
        .status()
        .unwrap();
    drop(guard);
    drop(gateway);
    // It starts on its cached keys (the control plane is away).
    let _gateway = start_gateway(&control_url, &control.data, &gdir, gateway_port)
        .await
        .unwrap();
    let back = page
        .wait_for(
            "window.orielViewer && orielViewer.state === 'connected' && orielViewer.connectCount >= 2",
            Duration::from_secs(60),
        )
        .await;
    let state = viewer_state(&page).await.unwrap();
    assert!(back.is_ok(), "the viewer did not come back: {state}");
    assert_no_js_errors(&page);
}
