//! Zones end to end, as an admin sets them up and a user launches: a
//! central `oriel up`; a connection proxy (`oriel gateway --role
//! connection-proxy`) for the targets of a remote site, zone `site`; a
//! dedicated proxy (`--role dedicated-proxy`) for the users of zone `eu`;
//! a VNC desktop with a password at the site. Every gateway fetches the
//! control plane's keys; none has a database.
//!
//! - A user of zone `eu` (by their group) launches the site's workspace:
//!   the stream URL is the `eu` proxy, which passes the stream on to the
//!   connection proxy; the password is sealed to the connection proxy (only
//!   it can read it) and the desktop streams; the connection proxy reports
//!   the session running.
//! - The admin (zone `default`, no proxy) launches it: the stream goes to
//!   the connection proxy directly.
//! - Tokens are taken only where they are meant: the user's token at the
//!   central gateway (another zone) and a central session's token at the
//!   connection proxy (not named) are refused with 4003.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use oriel_testkit::{ScratchDir, StreamViewer, VncDisplay, VncOptions, free_port, wait_until};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use support::{Api, Oriel, blocking};

/// A stand-alone gateway of `role` on `port`, trusting the central
/// control plane (keys fetched), allowing browsers of its web UI.
async fn gateway(
    central_url: &str,
    central_cert: &Path,
    role: &str,
    id: &str,
    zone: &str,
    port: u16,
    dir: ScratchDir,
) -> Oriel {
    let origins = format!("[\"{central_url}\"]");
    let data = dir.path().join("data");
    Oriel::start_at(
        "gateway",
        &[
            "--role",
            role,
            "--id",
            id,
            "--zone",
            zone,
            "--control",
            central_url,
            "--control-ca",
            central_cert.to_str().unwrap(),
        ],
        &[
            ("ORIEL_GATEWAY__ALLOWED_ORIGINS", origins.as_str()),
            ("ORIEL_GATEWAY__REVOCATIONS_REFRESH", "500ms"),
        ],
        dir,
        data,
        &format!("127.0.0.1:{port}"),
    )
    .await
    .unwrap()
}

async fn keys_fetched(g: &Oriel) {
    let file = g.data_dir().join("keys/control-keys.json");
    wait_until(Duration::from_secs(20), "the keys", || {
        let ok = file.exists();
        async move { ok }
    })
    .await
    .unwrap();
}

async fn call(api: &Api, method: &'static str, path: &str, body: Option<Value>) -> Value {
    let r = api.request(method, path, body).await.unwrap();
    assert!(r.status < 300, "{method} {path}: {r:?}");
    r.body
}

/// Opens `stream_url` with `token` from the central web UI's origin.
async fn open(stream_url: &str, ca: &Path, origin: &str, token: &str) -> StreamViewer {
    let mut v = StreamViewer::connect(stream_url, ca, Some(origin))
        .await
        .unwrap();
    v.hello(token, Duration::from_secs(20)).await.unwrap();
    v
}

async fn frames(v: &mut StreamViewer, n: u64) {
    let before = v.frames;
    let deadline = Instant::now() + Duration::from_secs(20);
    while v.frames < before + n {
        assert!(Instant::now() < deadline, "no frames");
        assert!(
            !v.pump(Duration::from_millis(200)).await.unwrap(),
            "closed: {:?}",
            v.end
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zones_route_streams_through_their_proxies() {
    support::contract::enforce();
    let display = VncDisplay::start(VncOptions {
        password: Some("site-pw1".into()),
        ..VncOptions::new(640, 400)
    })
    .await
    .unwrap();
    let _xterm = display
        .start_xterm(oriel_testkit::XtermOptions::default())
        .await
        .unwrap();

    // The connection proxy's first start makes its keys: its public
    // signing key goes to the control plane (reports), its sealing key
    // into the zone (credentials).
    let cp_dir = ScratchDir::new("conn-proxy").unwrap();
    let cp_data = cp_dir.path().join("data");
    let _ = Oriel::start_in("gateway", &[], &[], cp_dir.clone(), cp_data.clone()).await;
    let report_keys = format!(
        "[\"{}\"]",
        cp_data.join("keys/gateway-signing.pub").display()
    );
    let central = Oriel::up(&[("ORIEL_CONTROL__GATEWAY_REPORT_KEYS", report_keys.as_str())])
        .await
        .unwrap();
    let central_url = central.origin();
    let central_cert = central.cert();
    let (cp_port, px_port) = (free_port().unwrap(), free_port().unwrap());
    let conn = gateway(
        &central_url,
        &central_cert,
        "connection-proxy",
        "site-gw",
        "site",
        cp_port,
        cp_dir,
    )
    .await;
    let proxy = gateway(
        &central_url,
        &central_cert,
        "dedicated-proxy",
        "proxy-eu",
        "eu",
        px_port,
        ScratchDir::new("proxy-eu").unwrap(),
    )
    .await;
    keys_fetched(&conn).await;
    keys_fetched(&proxy).await;

    // The admin sets up the zones, the workspace and the user.
    let admin = central.admin_api().await.unwrap();
    let sealing = std::fs::read_to_string(cp_data.join("keys/gateway-sealing.pub")).unwrap();
    call(
        &admin,
        "POST",
        "/api/v1/zones",
        Some(json!({
            "name": "site",
            "description": "the remote site's network",
            "connection_proxy": {
                "id": "site-gw",
                "url": format!("https://localhost:{cp_port}"),
                "cert_sha256": support::cert_sha256(&conn.cert()),
                "sealing_key": sealing.trim(),
            },
        })),
    )
    .await;
    call(
        &admin,
        "POST",
        "/api/v1/zones",
        Some(json!({"name": "eu", "proxy_url": format!("https://localhost:{px_port}")})),
    )
    .await;
    let zones = call(&admin, "GET", "/api/v1/zones", None).await;
    let names: Vec<&str> = zones["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "eu", "site"]);
    // A workspace may only name a zone that exists.
    let bad = admin
        .request(
            "POST",
            "/api/v1/workspaces",
            Some(json!({"name": "nowhere", "kind": "vnc",
                "target": {"host": "127.0.0.1", "port": 5900, "zone": "mars"}})),
        )
        .await
        .unwrap();
    assert_eq!(bad.status, 422, "{bad:?}");
    let ws = call(
        &admin,
        "POST",
        "/api/v1/workspaces",
        Some(json!({
            "name": "site-desk",
            "kind": "vnc",
            "target": {"host": "127.0.0.1", "port": display.rfb_port(), "zone": "site"},
            "credentials": {"password": "site-pw1"},
        })),
    )
    .await;
    assert_eq!(ws["target"]["zone"], "site");
    let eve = call(
        &admin,
        "POST",
        "/api/v1/users",
        Some(json!({"username": "eve", "password": "larch-tangent-918"})),
    )
    .await;
    call(
        &admin,
        "POST",
        "/api/v1/groups",
        Some(json!({
            "name": "eu-users",
            "settings": {"zone": "eu"},
            "members": [eve["id"]],
            "workspaces": [ws["id"]],
        })),
    )
    .await;

    // Eve, of zone eu, launches: through her zone's proxy to the site's
    // connection proxy.
    let mut eve_api = central.api();
    let eve_api = blocking(move || {
        let r = eve_api.login("eve", "larch-tangent-918").unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        eve_api
    })
    .await;
    let launched = call(
        &eve_api,
        "POST",
        "/api/v1/sessions",
        Some(json!({"workspace": "site-desk"})),
    )
    .await;
    let url = launched["stream_url"].as_str().unwrap();
    assert_eq!(url, format!("wss://localhost:{px_port}/stream"));
    let token = launched["token"].as_str().unwrap();
    let mut v = open(url, &proxy.cert(), &central_url, token).await;
    assert!(
        v.hello.is_some(),
        "{:?}\nproxy:\n{}\nconnection proxy:\n{}",
        v.end,
        proxy.log_tail(15),
        conn.log_tail(15)
    );
    frames(&mut v, 1).await;
    let sid = launched["id"].as_str().unwrap().to_owned();
    let running = oriel_testkit::wait_for_value(
        Duration::from_secs(15),
        "the connection proxy's report",
        || async {
            let s = call(&admin, "GET", &format!("/api/v1/sessions/{sid}"), None).await;
            (s["state"] == "running").then_some(())
        },
    )
    .await;
    assert!(running.is_ok(), "{}", conn.log_tail(20));

    // Her token is for zones eu and site: the central gateway refuses it.
    let mut direct = open(&central.stream_url(), &central_cert, &central_url, token).await;
    let (end, code) = direct.wait_closed(Duration::from_secs(10)).await.unwrap();
    assert_eq!(code, Some(4003), "{end:?}");
    assert!(end.unwrap().message.contains("zone"));
    drop(v);

    // The admin, of the default zone (no proxy), goes to the connection
    // proxy directly.
    let grant = call(
        &admin,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "admins-site", "members": [], "workspaces": [ws["id"]]})),
    )
    .await;
    let me = call(&admin, "GET", "/api/v1/auth/me", None).await;
    call(
        &admin,
        "PUT",
        &format!("/api/v1/groups/{}", grant["id"].as_str().unwrap()),
        Some(json!({"name": "admins-site", "members": [me["id"]], "workspaces": [ws["id"]]})),
    )
    .await;
    let launched = call(
        &admin,
        "POST",
        "/api/v1/sessions",
        Some(json!({"workspace": "site-desk"})),
    )
    .await;
    let url = launched["stream_url"].as_str().unwrap();
    assert_eq!(url, format!("wss://localhost:{cp_port}/stream"));
    let mut v = open(
        url,
        &conn.cert(),
        &central_url,
        launched["token"].as_str().unwrap(),
    )
    .await;
    assert!(v.hello.is_some(), "{:?}\n{}", v.end, conn.log_tail(15));
    frames(&mut v, 1).await;

    // A session of the central gateway: its token does not name the
    // connection proxy, which refuses it.
    let port = display.rfb_port();
    let central_ws = {
        let api = admin.clone();
        blocking(move || {
            api.vnc_workspace("central-desk", port, Some("site-pw1"), json!({}))
                .unwrap();
            api.launch("central-desk").unwrap()
        })
        .await
    };
    assert_eq!(
        central_ws["stream_url"].as_str().unwrap(),
        central.stream_url()
    );
    let mut wrong = open(
        &format!("wss://localhost:{cp_port}/stream"),
        &conn.cert(),
        &central_url,
        central_ws["token"].as_str().unwrap(),
    )
    .await;
    let (end, code) = wrong.wait_closed(Duration::from_secs(10)).await.unwrap();
    assert_eq!(code, Some(4003), "{end:?}");
    assert!(end.unwrap().message.contains("another gateway"));
}
