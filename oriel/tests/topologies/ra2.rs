//! RA2: a control plane and external agents in containers.

use super::support::{ADMIN_PASSWORD, Api, blocking, web::unique_suffix};
use super::{
    IMAGE_SCRIPT, Project, RA2, built, call, frames_while_typing, healthy, launch_ready, names,
    open_stream, run, wait_agent,
};
use oriel_testkit::docker::{AgentLeftovers, containers};
use oriel_testkit::{ScratchDir, free_port, wait_for_value};
use serde_json::{Value, json};
use std::time::Duration;

const SITE_PASSWORD: &str = "site-pw1";
async fn session(api: &Api, id: &str) -> Value {
    let path = format!("/api/v1/sessions/{id}");
    call(api, "GET", &path, None).await
}

/// The host's iptables rules of one agent's session (its comment).
fn firewall_rules(agent: &str, sid: &str) -> usize {
    let out = std::process::Command::new("iptables")
        .args(["-w", "-S"])
        .output()
        .unwrap();
    let comment = format!("oriel:{agent}:{sid}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&comment))
        .count()
}

/// RA2 (`deploy/compose/ra2.yml`): the control plane in a container on a
/// LAN, two agents as containers with the Docker socket on the host's
/// network, a connection proxy into a site network with a desktop. Two
/// container launches land one on each agent (least loaded), each streamed
/// by its node's gateway with frames; each session's bridge has the host
/// firewall rules the containerised agent installed. The site's desktop is
/// reached through the connection proxy. One agent container is killed:
/// the control plane marks it lost and fails its session; started again,
/// it reaps the orphan container. Ending the other session removes its
/// container and rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ra2_control_plane_with_agents_in_containers() {
    let image = built(IMAGE_SCRIPT, &[env!("CARGO_BIN_EXE_oriel")]);
    let desktop = oriel_testkit::images::desktop_image().await.unwrap();
    let suffix: String = unique_suffix()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let tail = &suffix[suffix.len().saturating_sub(8)..];
    let (a_id, b_id) = (format!("ra2a{tail}"), format!("ra2b{tail}"));
    // Dropped last: whatever the agents left, once the project is down.
    let _leftovers = (AgentLeftovers(a_id.clone()), AgentLeftovers(b_id.clone()));
    let dir = ScratchDir::new("ra2").unwrap();
    for node in ["control", "connproxy", "agent1", "agent2"] {
        std::fs::create_dir_all(dir.path().join(node)).unwrap();
    }
    let (name, net) = names("ra2", 7);
    let site = format!("{}.8", net.rsplit_once('.').unwrap().0);
    let (a_port, b_port) = (free_port().unwrap(), free_port().unwrap());
    let project = Project {
        file: RA2,
        name,
        env: vec![
            ("RA2_DIR".into(), dir.path().display().to_string()),
            ("RA2_NET".into(), net.clone()),
            ("RA2_SITE".into(), site.clone()),
            ("RA2_AGENT1".into(), a_id.clone()),
            ("RA2_AGENT1_PORT".into(), a_port.to_string()),
            ("RA2_AGENT2".into(), b_id.clone()),
            ("RA2_AGENT2_PORT".into(), b_port.to_string()),
            ("RA2_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
            ("RA2_VNC_PASSWORD".into(), SITE_PASSWORD.into()),
            ("ORIEL_IMAGE".into(), image),
            ("ORIEL_DESKTOP_IMAGE".into(), desktop.clone()),
        ],
    };
    // The control plane and the connection proxy read each other's files
    // (each restarts until they exist); the agents come once it is up.
    run(&mut project.compose(&["up", "-d", "control", "connproxy", "desktop"]));
    let base = format!("https://{net}.10:8443");
    let cert = dir.path().join("control/tls/tls.crt");
    healthy(&project, "control", &base, cert.clone()).await;
    run(&mut project.compose(&["up", "-d"]));
    let conn_url = format!("https://{net}.30:8443");
    let conn_cert = dir.path().join("connproxy/tls/tls.crt");
    healthy(&project, "connproxy", &conn_url, conn_cert.clone()).await;

    let mut admin = Api::new(&base, &cert);
    let admin = blocking(move || {
        admin.login_admin().unwrap();
        admin
    })
    .await;
    wait_agent(&admin, &project, "agent1", &a_id, "online").await;
    wait_agent(&admin, &project, "agent2", &b_id, "online").await;

    // Two container sessions: one on each agent, each streamed by its node.
    call(
        &admin,
        "POST",
        "/api/v1/workspaces",
        Some(json!({
            "name": "Desk",
            "kind": "container",
            "container": {"image": desktop, "cpus": 1, "memory_mb": 512, "width": 800, "height": 600},
        })),
    )
    .await;
    let launched = [
        launch_ready(&admin, "Desk").await,
        launch_ready(&admin, "Desk").await,
    ];
    let mut on = std::collections::HashMap::new();
    for (sid, grant) in launched {
        let s = session(&admin, &sid).await;
        on.insert(s["agent_id"].as_str().unwrap().to_owned(), (sid, grant));
    }
    assert_eq!(on.len(), 2, "both on one agent: {on:?}");
    let (a_sid, a_grant) = on.remove(&a_id).expect("a session on agent 1");
    let (b_sid, b_grant) = on.remove(&b_id).expect("a session on agent 2");
    assert_eq!(
        a_grant["stream_url"],
        format!("wss://{net}.1:{a_port}/stream")
    );
    let a_cert = dir.path().join("agent1/tls/tls.crt");
    let b_cert = dir.path().join("agent2/tls/tls.crt");
    let mut va = open_stream(&a_grant, &a_cert, &base).await;
    let mut vb = open_stream(&b_grant, &b_cert, &base).await;
    assert!(
        frames_while_typing(&mut va, 3).await > 0,
        "no frames on agent 1"
    );
    assert!(
        frames_while_typing(&mut vb, 3).await > 0,
        "no frames on agent 2"
    );
    // The agents, in their containers, isolated each session's bridge with
    // rules on the host.
    assert!(
        firewall_rules(&a_id, &a_sid) > 0,
        "no host rules for agent 1's session"
    );
    assert!(
        firewall_rules(&b_id, &b_sid) > 0,
        "no host rules for agent 2's session"
    );

    // The site's desktop, through the connection proxy.
    let sealing =
        std::fs::read_to_string(dir.path().join("connproxy/keys/gateway-sealing.pub")).unwrap();
    call(
        &admin,
        "POST",
        "/api/v1/zones",
        Some(json!({
            "name": "site",
            "connection_proxy": {
                "id": "connproxy",
                "url": conn_url,
                "cert_sha256": super::support::cert_sha256(&conn_cert),
                "sealing_key": sealing.trim(),
            },
        })),
    )
    .await;
    call(
        &admin,
        "POST",
        "/api/v1/workspaces",
        Some(json!({
            "name": "site-desk",
            "kind": "vnc",
            "target": {"host": format!("{site}.40"), "port": 5900, "zone": "site"},
            "credentials": {"password": SITE_PASSWORD},
        })),
    )
    .await;
    let remote = call(
        &admin,
        "POST",
        "/api/v1/sessions",
        Some(json!({"workspace": "site-desk"})),
    )
    .await;
    assert_eq!(remote["stream_url"], format!("wss://{net}.30:8443/stream"));
    let mut vs = open_stream(&remote, &conn_cert, &base).await;
    assert!(
        frames_while_typing(&mut vs, 3).await > 0,
        "no frames from the site:\n{}",
        project.logs("connproxy")
    );
    drop(vs);

    // Agent 1's container is killed: lost, its session failed, the other
    // untouched; started again, it reaps the orphan.
    run(&mut project.compose(&["kill", "agent1"]));
    wait_agent(&admin, &project, "agent1", &a_id, "lost").await;
    let failed = wait_for_value(Duration::from_secs(30), "failed", || async {
        let s = session(&admin, &a_sid).await;
        (s["state"] == "failed").then_some(s)
    })
    .await
    .unwrap();
    assert_eq!(failed["failure"], "its agent was lost");
    assert_eq!(session(&admin, &b_sid).await["state"], "running");
    assert!(
        !vb.pump(Duration::from_millis(500)).await.unwrap(),
        "b's stream closed"
    );
    drop(va);
    run(&mut project.compose(&["start", "agent1"]));
    wait_agent(&admin, &project, "agent1", &a_id, "online").await;
    let reaped = wait_for_value(Duration::from_secs(60), "orphan reaped", || async {
        let left = containers(&format!("label=oriel.session={a_sid}"))
            .await
            .unwrap();
        (left.is_empty() && firewall_rules(&a_id, &a_sid) == 0).then_some(())
    })
    .await;
    assert!(
        reaped.is_ok(),
        "the orphan survived:\n{}",
        project.logs("agent1")
    );

    // Ending b closes its stream as ended and removes its container.
    let path = format!("/api/v1/sessions/{b_sid}");
    let a = admin.clone();
    let r = blocking(move || a.call("DELETE", &path, None, &[]).unwrap()).await;
    assert_eq!(r.status, 204, "{r:?}");
    let (_, code) = vb.wait_closed(Duration::from_secs(30)).await.unwrap();
    assert_eq!(code, Some(4000));
    let gone = wait_for_value(Duration::from_secs(30), "b removed", || async {
        let left = containers(&format!("label=oriel.session={b_sid}"))
            .await
            .unwrap();
        (left.is_empty() && firewall_rules(&b_id, &b_sid) == 0).then_some(())
    })
    .await;
    assert!(gone.is_ok(), "{}", project.logs("agent2"));
}
