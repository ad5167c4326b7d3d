//! RA3: one zone, several web nodes behind a load balancer, two agents.

use super::support::{ADMIN_PASSWORD, Api, blocking, web::unique_suffix};
use super::{
    IMAGE_SCRIPT, Project, RA3, VNC_PASSWORD, built, call, frames_unless_closed,
    frames_while_typing, frames_while_typing_all, healthy, launch_ready, names, open_stream, run,
    sessions_on, wait_agent,
};
use oriel_testkit::docker::{AgentLeftovers, containers};
use oriel_testkit::{ScratchDir, StreamViewer, free_port, wait_for_value};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const LENA: (&str, &str) = ("lena", "meadow-copper-512");

async fn login(api: Api) -> Api {
    blocking(move || {
        let mut api = api;
        let r = api.login(LENA.0, LENA.1).unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        api
    })
    .await
}

/// A stream of a launched (or re-granted) session: HELLO and frames.
async fn open(grant: &Value, cert: &Path, origin: &str) -> StreamViewer {
    let mut v = open_stream(grant, cert, origin).await;
    assert!(frames_while_typing(&mut v, 2).await > 0, "no frames");
    v
}

/// RA3 (`deploy/compose/ra3.yml`): PostgreSQL on its own host, two web
/// nodes (`oriel up`) sharing it behind an nginx TCP load balancer, two
/// agents in containers polling through the balancer, two desktops.
/// Streams through the balancer land on both nodes (one each, each on a
/// desktop of its own), container sessions on both agents. web1 is killed:
/// web2's stream and the agents' streams go on; web1's stream comes back
/// through the balancer with the token it holds (web2 admits it); logins
/// and launches, of desktops and of containers, go on through the
/// balancer; ending the container sessions removes their containers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ra3_one_web_node_killed_the_other_carries_on() {
    let image = built(IMAGE_SCRIPT, &[env!("CARGO_BIN_EXE_oriel")]);
    let postgres = built(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/images/postgres/build.sh"
        ),
        &[],
    );
    let nginx = built(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/images/nginx/build.sh"
        ),
        &[],
    );
    let desktop = oriel_testkit::images::desktop_image().await.unwrap();
    let suffix: String = unique_suffix()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let tail = &suffix[suffix.len().saturating_sub(8)..];
    let agents = [format!("ra3a{tail}"), format!("ra3b{tail}")];
    // Dropped last: whatever the agents left, once the project is down.
    let _leftovers = agents.clone().map(AgentLeftovers);
    let dir = ScratchDir::new("ra3").unwrap();
    for node in ["db", "web1", "web2", "agent1", "agent2"] {
        std::fs::create_dir_all(dir.path().join(node)).unwrap();
    }
    let (name, net) = names("ra3", 3);
    let ports = [free_port().unwrap(), free_port().unwrap()];
    let project = Project {
        file: RA3,
        name,
        env: vec![
            ("RA3_DIR".into(), dir.path().display().to_string()),
            ("RA3_NET".into(), net.clone()),
            ("RA3_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
            ("RA3_VNC_PASSWORD".into(), VNC_PASSWORD.into()),
            ("RA3_AGENT1".into(), agents[0].clone()),
            ("RA3_AGENT1_PORT".into(), ports[0].to_string()),
            ("RA3_AGENT2".into(), agents[1].clone()),
            ("RA3_AGENT2_PORT".into(), ports[1].to_string()),
            ("ORIEL_IMAGE".into(), image),
            ("ORIEL_POSTGRES_IMAGE".into(), postgres),
            ("ORIEL_NGINX_IMAGE".into(), nginx),
            ("ORIEL_DESKTOP_IMAGE".into(), desktop.clone()),
        ],
    };
    // web1 first: it makes the keys and the certificate both nodes share.
    run(&mut project.compose(&["up", "-d", "db", "web1"]));
    let cert = dir.path().join("web1/tls/tls.crt");
    let web1 = format!("https://{net}.11:8443");
    healthy(&project, "web1", &web1, cert.clone()).await;
    for sub in ["keys", "tls"] {
        let (from, to) = (
            dir.path().join("web1").join(sub),
            dir.path().join("web2").join(sub),
        );
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(&from).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
        }
    }
    run(&mut project.compose(&["up", "-d"]));
    let web2 = format!("https://{net}.12:8443");
    healthy(&project, "web2", &web2, cert.clone()).await;
    let lb = format!("https://{net}.10:8443");
    healthy(&project, "lb", &lb, cert.clone()).await;

    // Set up through the balancer.
    let mut admin = Api::new(&lb, &cert);
    let admin = blocking(move || {
        admin.login_admin().unwrap();
        admin
    })
    .await;
    for (i, id) in agents.iter().enumerate() {
        wait_agent(&admin, &project, &format!("agent{}", i + 1), id, "online").await;
    }
    let mut ws_ids = Vec::new();
    for (i, host) in [40, 41].into_iter().enumerate() {
        let ws = call(
            &admin,
            "POST",
            "/api/v1/workspaces",
            Some(json!({"name": format!("lan-desk{i}"), "kind": "vnc",
                        "target": {"host": format!("{net}.{host}"), "port": 5900},
                        "credentials": {"password": VNC_PASSWORD}})),
        )
        .await;
        ws_ids.push(ws["id"].clone());
    }
    let ws = call(
        &admin,
        "POST",
        "/api/v1/workspaces",
        Some(json!({"name": "lan-box", "kind": "container",
                    "container": {"image": desktop, "cpus": 1, "memory_mb": 512, "width": 800, "height": 600}})),
    )
    .await;
    ws_ids.push(ws["id"].clone());
    let user = call(
        &admin,
        "POST",
        "/api/v1/users",
        Some(json!({"username": LENA.0, "password": LENA.1})),
    )
    .await;
    call(
        &admin,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "lan", "members": [user["id"]], "workspaces": ws_ids})),
    )
    .await;
    let lena = login(Api::new(&lb, &cert)).await;

    // One stream on each node, each on a desktop of its own: a desktop one
    // of web1's sessions also uses would wait on the dead node's connection
    // (Xtigervnc: up to 20 s) before it serves anyone again. The first
    // stream takes lan-desk0 wherever it lands; lan-desk1 is launched until
    // a stream of it lands on the other node (one landing on the same node
    // is ended).
    let mut on_web1 = None;
    let mut on_web2 = None;
    for attempt in 0..10 {
        let desk = if attempt == 0 {
            "lan-desk0"
        } else {
            "lan-desk1"
        };
        let before = sessions_on(&web1, &cert).await;
        let l = call(
            &lena,
            "POST",
            "/api/v1/sessions",
            Some(json!({"workspace": desk})),
        )
        .await;
        let v = open(&l, &cert, &lb).await;
        let node_is_web1 = sessions_on(&web1, &cert).await > before;
        let slot = if node_is_web1 {
            &mut on_web1
        } else {
            &mut on_web2
        };
        if slot.is_none() {
            eprintln!(
                "ra3: {desk} streams on {}",
                if node_is_web1 { "web1" } else { "web2" }
            );
            *slot = Some((v, l));
            if on_web1.is_some() && on_web2.is_some() {
                break;
            }
        } else {
            let path = format!("/api/v1/sessions/{}", l["id"].as_str().unwrap());
            let api = lena.clone();
            blocking(move || api.call("DELETE", &path, None, &[]).unwrap()).await;
        }
    }
    let (Some((mut v1, l1)), Some((mut v2, _))) = (on_web1, on_web2) else {
        panic!("the balancer used one node only");
    };

    // Two container sessions: one on each agent (least loaded first).
    let (box_a, grant_a) = launch_ready(&lena, "lan-box").await;
    let (box_b, grant_b) = launch_ready(&lena, "lan-box").await;
    let mut placed = Vec::new();
    for sid in [&box_a, &box_b] {
        let s = call(&admin, "GET", &format!("/api/v1/sessions/{sid}"), None).await;
        placed.push(s["agent_id"].as_str().unwrap().to_owned());
    }
    placed.sort();
    assert_eq!(placed, agents.to_vec(), "not one session on each agent");
    // Each agent's node gateway has its own certificate.
    let agent_cert = |grant: &Value| {
        let url = grant["stream_url"].as_str().unwrap();
        let n = if url.contains(&format!(":{}/", ports[0])) {
            1
        } else {
            2
        };
        dir.path().join(format!("agent{n}/tls/tls.crt"))
    };
    let mut va = open(&grant_a, &agent_cert(&grant_a), &lb).await;
    let mut vb = open(&grant_b, &agent_cert(&grant_b), &lb).await;

    // web1 dies: web2's stream and the agents' go on.
    run(&mut project.compose(&["kill", "web1"]));
    let after = frames_while_typing_all(&mut [&mut v2, &mut va, &mut vb], 10).await;
    eprintln!("ra3: frames in the 10 s after web1 was killed (web2, agent a, agent b): {after:?}");
    assert!(
        after.iter().all(|&n| n > 0),
        "a stream stalled after web1 was killed: {after:?}\nweb2:\n{}\nlb:\n{}",
        project.logs("web2"),
        project.logs("lb")
    );
    // web1's stream closes, or (its node gone without a word) carries
    // nothing more.
    let got = frames_unless_closed(&mut v1, 3).await;
    assert!(
        matches!(got, None | Some(0)),
        "web1's stream went on: {got:?}"
    );
    drop(v1);
    // It comes back through the balancer with its token (its desktop
    // answers again once Xtigervnc gives up on the dead node's connection:
    // up to its ClientWaitTimeMillis, 20 s).
    let mut v = StreamViewer::connect(l1["stream_url"].as_str().unwrap(), &cert, Some(&lb))
        .await
        .unwrap();
    v.hello(l1["token"].as_str().unwrap(), Duration::from_secs(60))
        .await
        .unwrap();
    assert!(v.hello.is_some(), "reconnection refused: {:?}", v.end);
    let mut got = 0;
    for _ in 0..12 {
        got = frames_unless_closed(&mut v, 5).await.expect("closed");
        if got > 0 {
            break;
        }
    }
    assert!(got > 0, "no frames after the reconnection");

    // Logins and launches go on through the balancer: a desktop, and a
    // container (the agents now poll web2).
    let again = login(Api::new(&lb, &cert)).await;
    let l = call(
        &again,
        "POST",
        "/api/v1/sessions",
        Some(json!({"workspace": "lan-desk1"})),
    )
    .await;
    drop(open(&l, &cert, &lb).await);
    let (box_c, grant_c) = launch_ready(&again, "lan-box").await;
    drop(open(&grant_c, &agent_cert(&grant_c), &lb).await);

    // Ending the container sessions removes their containers.
    for sid in [&box_a, &box_b, &box_c] {
        let path = format!("/api/v1/sessions/{sid}");
        let api = again.clone();
        let r = blocking(move || api.call("DELETE", &path, None, &[]).unwrap()).await;
        assert_eq!(r.status, 204, "{r:?}");
    }
    for sid in [&box_a, &box_b, &box_c] {
        let gone = wait_for_value(Duration::from_secs(60), "a container removed", || async {
            containers(&format!("label=oriel.session={sid}"))
                .await
                .unwrap()
                .is_empty()
                .then_some(())
        })
        .await;
        assert!(gone.is_ok(), "{}", project.logs("agent1"));
    }
}
