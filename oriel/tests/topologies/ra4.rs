//! RA4: a remote zone behind a WAN.

use super::support::{self, ADMIN_PASSWORD, Api, blocking};
use super::wan::Wan;
use super::{
    IMAGE_SCRIPT, Project, RA4, VNC_PASSWORD, call, frames_while_typing, frames_while_typing_all,
    healthy, launch_ready, run, wait_agent,
};
use oriel_testkit::docker::{AgentLeftovers, containers};
use oriel_testkit::{ScratchDir, StreamViewer, ViewerEvent, free_port, wait_for_value, wait_until};
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ra4_a_remote_zone_survives_latency_and_the_control_plane_stopping() {
    let outage = Duration::from_secs(
        std::env::var("ORIEL_RA4_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(600),
    );
    let image = run(Command::new(IMAGE_SCRIPT).arg(env!("CARGO_BIN_EXE_oriel")));
    let image = image.lines().last().unwrap().trim().to_owned();
    let desktop = oriel_testkit::images::desktop_image().await.unwrap();
    let postgres = run(&mut Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/images/postgres/build.sh"
    )));
    let postgres = postgres.lines().last().unwrap().trim().to_owned();
    let dir = ScratchDir::new("ra4").unwrap();
    for node in ["control", "db", "proxy", "connproxy", "agent"] {
        std::fs::create_dir_all(dir.path().join(node)).unwrap();
    }
    // Networks of our own, in a range Docker is unlikely to use.
    let octet = 180 + std::process::id() % 70;
    let (wan, zone) = (format!("10.{octet}.1"), format!("10.{octet}.2"));
    let suffix: String = support::web::unique_suffix()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    let wan_link = Wan::to(format!("{wan}.10:8443").parse().unwrap()).await;
    let agent_id = format!("ra4{}", &suffix[suffix.len().saturating_sub(8)..]);
    // Dropped last: whatever the agent left, once the project is down.
    let _leftovers = AgentLeftovers(agent_id.clone());
    let project = Project {
        file: RA4,
        name: format!("orielra4{}", &suffix[suffix.len().saturating_sub(8)..]),
        env: vec![
            ("RA4_DIR".into(), dir.path().display().to_string()),
            ("RA4_WAN".into(), wan.clone()),
            ("RA4_ZONE".into(), zone.clone()),
            ("RA4_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
            ("RA4_VNC_PASSWORD".into(), VNC_PASSWORD.into()),
            (
                "RA4_CONTROL_URL".into(),
                format!("https://{wan}.1:{}", wan_link.port),
            ),
            // Short-lived tokens: the sessions end long after theirs
            // expired, however short the outage (their ends must still
            // reach the zone's gateways).
            ("RA4_TOKEN_TTL".into(), "20s".into()),
            ("RA4_RECONNECT_WINDOW".into(), "5s".into()),
            ("RA4_AGENT".into(), agent_id.clone()),
            ("RA4_AGENT_PORT".into(), free_port().unwrap().to_string()),
            ("ORIEL_IMAGE".into(), image),
            ("ORIEL_DESKTOP_IMAGE".into(), desktop.clone()),
            ("ORIEL_POSTGRES_IMAGE".into(), postgres),
        ],
    };
    run(&mut project.compose(&["up", "-d"]));

    let control_url = format!("https://{wan}.10:8443");
    let control_cert = dir.path().join("control/tls/tls.crt");
    healthy(&project, "control", &control_url, control_cert.clone()).await;
    let conn_url = format!("https://{zone}.30:8443");
    let conn_cert = dir.path().join("connproxy/tls/tls.crt");
    healthy(&project, "connproxy", &conn_url, conn_cert.clone()).await;
    let proxy_url = format!("https://{zone}.20:8443");
    let proxy_cert = dir.path().join("proxy/tls/tls.crt");
    healthy(&project, "proxy", &proxy_url, proxy_cert.clone()).await;
    // Both proxies fetch the control plane's keys across the WAN.
    for node in ["proxy", "connproxy"] {
        let file = dir.path().join(node).join("keys/control-keys.json");
        let fetched = wait_until(Duration::from_secs(60), "the keys", || {
            let ok = file.exists();
            async move { ok }
        })
        .await;
        assert!(
            fetched.is_ok(),
            "{node} has no keys:\n{}",
            project.logs(node)
        );
    }

    // The admin sets up the remote zone, its desktop and its users.
    let mut admin = Api::new(&control_url, &control_cert);
    let admin = blocking(move || {
        admin.login_admin().unwrap();
        admin
    })
    .await;
    let sealing =
        std::fs::read_to_string(dir.path().join("connproxy/keys/gateway-sealing.pub")).unwrap();
    call(
        &admin,
        "POST",
        "/api/v1/zones",
        Some(json!({
            "name": "remote",
            "proxy_url": proxy_url,
            "connection_proxy": {
                "id": "connproxy",
                "url": conn_url,
                "cert_sha256": support::cert_sha256(&conn_cert),
                "sealing_key": sealing.trim(),
            },
        })),
    )
    .await;

    // fps and latency of a user of the zone near its proxy, measured by
    // oriel-loadtest, without and with 100 ms more round trip on the WAN.
    let trust = dir.path().join("trust.pem");
    let mut pem = std::fs::read(&control_cert).unwrap();
    pem.extend(std::fs::read(&proxy_cert).unwrap());
    std::fs::write(&trust, pem).unwrap();
    let connproxy_pid = {
        let id = run(&mut project.compose(&["ps", "-q", "connproxy"]));
        run(Command::new("docker").args(["inspect", "-f", "{{.State.Pid}}", id.trim()]))
            .trim()
            .to_owned()
    };
    let mut measured = Vec::new();
    for one_way_ms in [0, 50] {
        wan_link.set_delay(one_way_ms);
        let (json, url, trust, pid, zone) = (
            dir.path().join(format!("loadtest-{one_way_ms}.json")),
            control_url.clone(),
            trust.clone(),
            connproxy_pid.clone(),
            zone.clone(),
        );
        measured.push(
            blocking(move || stream_through_the_zone(&json, &url, &trust, &pid, &zone)).await,
        );
    }
    wan_link.set_delay(0);
    let [(fps0, p50_0), (fps1, p50_1)] = [measured[0], measured[1]];
    eprintln!(
        "ra4: oriel-loadtest stream (office, 1 session, near the zone's proxy): {fps0:.1} fps, p50 latency {p50_0:.1} ms without WAN latency; {fps1:.1} fps, {p50_1:.1} ms with 100 ms more round trip (fps ×{:.3}, latency ×{:.3})",
        fps1 / fps0,
        p50_1 / p50_0
    );
    // The stream does not cross the WAN: its latency does not take the
    // 50 ms each way the WAN now adds.
    assert!(
        p50_1 < p50_0 + 50.0,
        "the stream took the WAN's latency: {p50_0} → {p50_1} ms"
    );
    let ws = call(
        &admin,
        "POST",
        "/api/v1/workspaces",
        Some(json!({
            "name": "remote-desk",
            "kind": "vnc",
            "target": {"host": format!("{zone}.40"), "port": 5900, "zone": "remote"},
            "credentials": {"password": VNC_PASSWORD},
        })),
    )
    .await;
    // Container sessions of the zone run on the zone's agent.
    let boxed = call(
        &admin,
        "POST",
        "/api/v1/workspaces",
        Some(json!({
            "name": "remote-box",
            "kind": "container",
            "container": {"image": desktop, "cpus": 1, "memory_mb": 512, "width": 800, "height": 600},
        })),
    )
    .await;
    wait_agent(&admin, &project, "agent", &agent_id, "online").await;
    let registered = super::agent(&admin, &agent_id).await.unwrap();
    assert_eq!(registered["zone"], "remote", "{registered}");
    let user = call(
        &admin,
        "POST",
        "/api/v1/users",
        Some(json!({"username": "rosa", "password": "quartz-lantern-774"})),
    )
    .await;
    call(
        &admin,
        "POST",
        "/api/v1/groups",
        Some(
            json!({"name": "remote-users", "settings": {"zone": "remote"},
                    "members": [user["id"]], "workspaces": [ws["id"], boxed["id"]]}),
        ),
    )
    .await;
    let mut rosa = Api::new(&control_url, &control_cert);
    let rosa = blocking(move || {
        assert_eq!(
            rosa.login("rosa", "quartz-lantern-774").unwrap().status,
            200
        );
        rosa
    })
    .await;
    let launched = call(
        &rosa,
        "POST",
        "/api/v1/sessions",
        Some(json!({"workspace": "remote-desk"})),
    )
    .await;
    let stream_url = launched["stream_url"].as_str().unwrap();
    assert_eq!(stream_url, format!("wss://{zone}.20:8443/stream"));
    let mut v = StreamViewer::connect(stream_url, &proxy_cert, Some(&control_url))
        .await
        .unwrap();
    v.hello(launched["token"].as_str().unwrap(), Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        v.hello.is_some(),
        "{:?}\nproxy:\n{}\nconnproxy:\n{}",
        v.end,
        project.logs("proxy"),
        project.logs("connproxy")
    );
    let sid = launched["id"].as_str().unwrap().to_owned();
    let before = frames_while_typing(&mut v, 5).await;
    assert!(before > 0, "no frames while typing");

    // A container session: placed on the zone's agent, entered at the
    // zone's proxy, which passes it on to the agent's node gateway.
    let (box_sid, grant) = launch_ready(&rosa, "remote-box").await;
    let placed = call(&admin, "GET", &format!("/api/v1/sessions/{box_sid}"), None).await;
    assert_eq!(placed["agent_id"], agent_id.as_str(), "{placed}");
    assert_eq!(grant["stream_url"], format!("wss://{zone}.20:8443/stream"));
    let mut vbox = StreamViewer::connect(
        grant["stream_url"].as_str().unwrap(),
        &proxy_cert,
        Some(&control_url),
    )
    .await
    .unwrap();
    vbox.hello(grant["token"].as_str().unwrap(), Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        vbox.hello.is_some(),
        "{:?}\nproxy:\n{}\nagent:\n{}",
        vbox.end,
        project.logs("proxy"),
        project.logs("agent")
    );
    assert!(
        frames_while_typing(&mut vbox, 3).await > 0,
        "no frames from the container"
    );

    // 100 ms more round trip on the WAN: only control-plane traffic
    // (keys, revocation lists, reports) crosses it, not the stream.
    wan_link.set_delay(50);
    let delayed = frames_while_typing(&mut v, 5).await;
    assert!(
        frames_while_typing(&mut vbox, 2).await > 0,
        "no container frames with WAN latency"
    );
    eprintln!(
        "ra4: frames in 5 s while typing: {before} without WAN latency, {delayed} with 100 ms more round trip"
    );
    assert!(delayed > 0, "no frames with WAN latency");
    let state = call(&admin, "GET", &format!("/api/v1/sessions/{sid}"), None).await;
    assert_eq!(state["state"], "running", "{state}");

    // The database stops first: the control plane, still up, answers a
    // launch with a clear 503 (and the streams go on).
    run(&mut project.compose(&["stop", "--timeout", "5", "db"]));
    let launch = |api: &Api| {
        let api = api.clone();
        blocking(move || {
            api.call(
                "POST",
                "/api/v1/sessions",
                Some(&json!({"workspace": "remote-desk"})),
                &[],
            )
        })
    };
    let refused = launch(&rosa).await.unwrap();
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.body["error"]["code"], "database_unavailable");
    eprintln!(
        "ra4: a launch without the database: {}",
        refused.body["error"]["message"]
    );
    let n = frames_while_typing_all(&mut [&mut v, &mut vbox], 2).await;
    assert!(
        n.iter().all(|&n| n > 0),
        "frames without the database: {n:?}"
    );
    // Then the control plane itself: nothing answers a launch at all (the
    // web page says it cannot reach the server).
    run(&mut project.compose(&["stop", "--timeout", "5", "control"]));
    assert!(launch(&rosa).await.is_err(), "a launch was answered");
    let started = Instant::now();
    let mut windows = 0u64;
    while started.elapsed() < outage {
        let n = frames_while_typing_all(&mut [&mut v, &mut vbox], 10).await;
        assert!(
            n.iter().all(|&n| n > 0),
            "frames {:?} into the outage (desktop, container): {n:?}",
            started.elapsed()
        );
        windows += 1;
    }
    eprintln!(
        "ra4: streamed through a {outage:?} control-plane outage ({windows} windows of 10 s, each with frames)"
    );

    // It comes back: the session is running there, and ending it closes
    // the stream at the proxy as ended.
    run(&mut project.compose(&["start", "db", "control"]));
    healthy(&project, "control", &control_url, control_cert.clone()).await;
    let state = call(&rosa, "GET", &format!("/api/v1/sessions/{sid}"), None).await;
    assert_eq!(state["state"], "running", "{state}");
    let end = {
        let rosa = rosa.clone();
        let path = format!("/api/v1/sessions/{sid}");
        blocking(move || rosa.call("DELETE", &path, None, &[]).unwrap().status).await
    };
    assert_eq!(end, 204);
    let closed = v
        .wait_for(Duration::from_secs(20), "the end", |e| {
            matches!(e, ViewerEvent::Closed(..))
        })
        .await;
    assert!(closed.is_ok(), "{}", project.logs("connproxy"));
    assert_eq!(v.close_code, Some(4000));

    // The container session too: it ran through the outage, it is still
    // running, and ending it closes its stream and removes its container.
    let state = call(&rosa, "GET", &format!("/api/v1/sessions/{box_sid}"), None).await;
    assert_eq!(state["state"], "running", "{state}");
    let path = format!("/api/v1/sessions/{box_sid}");
    let r = rosa.clone();
    let end = blocking(move || r.call("DELETE", &path, None, &[]).unwrap().status).await;
    assert_eq!(end, 204);
    let (_, code) = vbox.wait_closed(Duration::from_secs(30)).await.unwrap();
    assert_eq!(code, Some(4000));
    let gone = wait_for_value(Duration::from_secs(30), "the container removed", || async {
        containers(&format!("label=oriel.session={box_sid}"))
            .await
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
    assert!(gone.is_ok(), "{}", project.logs("agent"));
}

/// One `oriel-loadtest stream` run as a user of zone `remote` (entering at
/// its proxy, served by its connection proxy, which reaches a display
/// started by the load tester through the zone's host address): total
/// frames per second and median latency in ms.
fn stream_through_the_zone(
    json: &std::path::Path,
    control_url: &str,
    trust: &std::path::Path,
    connproxy_pid: &str,
    zone: &str,
) -> (f64, f64) {
    let loadtest =
        std::path::Path::new(env!("CARGO_BIN_EXE_oriel")).with_file_name("oriel-loadtest");
    assert!(
        loadtest.exists(),
        "{} is missing: cargo build -p oriel-loadtest",
        loadtest.display()
    );
    run(Command::new(&loadtest).args([
        "stream",
        "--url",
        control_url,
        "--ca",
        trust.to_str().unwrap(),
        "--admin-password",
        ADMIN_PASSWORD,
        "--oriel-pid",
        connproxy_pid,
        "--zone",
        "remote",
        "--target-host",
        &format!("{zone}.1"),
        "--workload",
        "office",
        "--warmup",
        "3s",
        "--duration",
        "15s",
        "--samples",
        "1",
        "--json",
        json.to_str().unwrap(),
    ]));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    (
        report["total"]["frames_per_second"].as_f64().unwrap(),
        report["total"]["latency"]["p50_ms"].as_f64().unwrap(),
    )
}
