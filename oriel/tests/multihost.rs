//! Container sessions across hosts: a web node (`oriel up` with its own
//! agent off) and agents as separate `oriel agent` processes, each with its
//! own data directory, address, gateway and certificate, on the real Docker
//! engine. Streams are read by the verifying stream viewer.
//!
//! - `direct_streams_across_two_agents_and_one_lost`: launches spread over
//!   both agents; each stream goes straight to its node's gateway (URL in
//!   the token response, credentials sealed to that gateway), which reports
//!   the session running; one agent is killed mid-session: its session is
//!   marked failed, the other's is untouched, and when the agent comes back
//!   its orphan container is reaped; ending a session closes its stream on
//!   the node as ended (4000).
//! - `relayed_streams_pass_through_the_web_node`: with `agent_streams =
//!   relay` the browser talks only to the web node, whose gateway passes
//!   the stream on undecoded; a tampered route is refused.
//! - `a_web_node_down_longer_than_agent_lost_after_loses_no_agent`: the web
//!   node killed for more than `agent_lost_after` and restarted on its
//!   data: the agent's session streamed on and is still running, the agent
//!   online (its silence fell in the web node's own absence).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use oriel_testkit::docker::AgentLeftovers;
use oriel_testkit::{ScratchDir, StreamViewer, ViewerEvent, free_port, wait_for_value};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use support::web::unique_suffix;
use support::{Api, Oriel, blocking};

const START: Duration = Duration::from_secs(60);

fn agent_id(tag: &str) -> String {
    let suffix: String = unique_suffix()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    format!("{tag}{}", &suffix[suffix.len().saturating_sub(10)..])
}

async fn containers(filter: &str) -> Vec<String> {
    oriel_testkit::docker::containers(filter).await.unwrap()
}

/// `oriel agent` `id` on 127.0.0.1:`port`, joined to `web`.
async fn start_agent(web: &Oriel, id: &str, port: u16, dir: Option<ScratchDir>) -> Oriel {
    let keys = web.data_dir().join("keys");
    let token_file = keys.join("agent-join.key");
    let signing = keys.join("signing.pub");
    let gateway_url = format!("https://127.0.0.1:{port}");
    let origins = format!("[\"{}\"]", web.origin());
    let control_keys = format!("[\"{}\"]", signing.display());
    let env = [
        ("ORIEL_AGENT__JOIN_TOKEN_FILE", token_file.to_str().unwrap()),
        ("ORIEL_AGENT__GATEWAY_URL", gateway_url.as_str()),
        ("ORIEL_AGENT__MAX_SESSIONS", "4"),
        ("ORIEL_GATEWAY__ALLOWED_ORIGINS", origins.as_str()),
        ("ORIEL_GATEWAY__CONTROL_PUBLIC_KEYS", control_keys.as_str()),
    ];
    let cert = web.cert();
    let args = [
        "--control",
        web.base.as_str(),
        "--control-ca",
        cert.to_str().unwrap(),
        "--id",
        id,
    ];
    let dir = match dir {
        Some(d) => d,
        None => ScratchDir::new("oriel-agent").unwrap(),
    };
    let data: PathBuf = dir.path().join("data");
    Oriel::start_at(
        "agent",
        &args,
        &env,
        dir,
        data,
        &format!("127.0.0.1:{port}"),
    )
    .await
    .unwrap()
}

async fn admin(oriel: &Oriel) -> Api {
    let mut api = oriel.api();
    blocking(move || {
        api.login_admin().unwrap();
        api
    })
    .await
}

async fn agent_state(api: &Api, id: &str) -> Option<Value> {
    let api = api.clone();
    let id = id.to_owned();
    blocking(move || {
        let r = api.call("GET", "/api/v1/agents", None, &[]).ok()?;
        r.body["items"]
            .as_array()?
            .iter()
            .find(|a| a["id"] == id.as_str())
            .cloned()
    })
    .await
}

async fn wait_agent(api: &Api, id: &str, state: &str, web: &Oriel) {
    let found = wait_for_value(START, "agent state", || async {
        agent_state(api, id)
            .await
            .filter(|a| a["state"] == state)
            .map(|_| ())
    })
    .await;
    assert!(
        found.is_ok(),
        "agent {id} never {state}: {:?}\n{}",
        agent_state(api, id).await,
        web.log_tail(30)
    );
}

fn create_workspace(api: &Api, image: &str) {
    let r = api
        .call(
            "POST",
            "/api/v1/workspaces",
            Some(&json!({
                "name": "Remote desk",
                "kind": "container",
                "container": {"image": image, "cpus": 1, "memory_mb": 512, "width": 800, "height": 600},
            })),
            &[],
        )
        .unwrap();
    assert_eq!(r.status, 201, "{r:?}");
}

/// Launches and waits for the desktop: the session and its token response.
fn launch_ready(api: &Api) -> (Value, Value) {
    let r = api.try_launch("Remote desk").unwrap();
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.body["id"].as_str().unwrap().to_owned();
    let grant = api.wait_token(&id, START).unwrap();
    let s = api
        .call("GET", &format!("/api/v1/sessions/{id}"), None, &[])
        .unwrap();
    (s.body, grant)
}

async fn session(api: &Api, id: &str) -> Value {
    let api = api.clone();
    let id = id.to_owned();
    blocking(move || {
        api.call("GET", &format!("/api/v1/sessions/{id}"), None, &[])
            .unwrap()
            .body
    })
    .await
}

async fn viewer(stream_url: &str, token: &str, ca: &std::path::Path, origin: &str) -> StreamViewer {
    let mut v = StreamViewer::connect(stream_url, ca, Some(origin))
        .await
        .unwrap();
    v.hello(token, Duration::from_secs(20)).await.unwrap();
    assert!(v.hello.is_some(), "no HELLO: {:?}", v.end);
    v.wait_for(Duration::from_secs(20), "a frame", |e| {
        matches!(e, ViewerEvent::Frame(_))
    })
    .await
    .unwrap();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_streams_across_two_agents_and_one_lost() {
    let image = oriel_testkit::images::desktop_image().await.unwrap();
    let (a_id, b_id) = (agent_id("a"), agent_id("b"));
    let _cleanup = (AgentLeftovers(a_id.clone()), AgentLeftovers(b_id.clone()));
    let web = Oriel::up(&[
        ("ORIEL_AGENT__ENABLED", "false"),
        ("ORIEL_CONTROL__AGENT_LOST_AFTER", "4s"),
    ])
    .await
    .unwrap();
    let api = admin(&web).await;
    let (a_port, b_port) = (free_port().unwrap(), free_port().unwrap());
    let agent_a = start_agent(&web, &a_id, a_port, None).await;
    let agent_b = start_agent(&web, &b_id, b_port, None).await;
    wait_agent(&api, &a_id, "online", &web).await;
    wait_agent(&api, &b_id, "online", &web).await;
    let a = api.clone();
    let ((s1, t1), (s2, t2)) = blocking(move || {
        create_workspace(&a, &image);
        (launch_ready(&a), launch_ready(&a))
    })
    .await;

    // Least loaded first: one session on each agent, each streamed by the
    // gateway of its own node.
    let mut placed = vec![
        s1["agent_id"].as_str().unwrap().to_owned(),
        s2["agent_id"].as_str().unwrap().to_owned(),
    ];
    placed.sort();
    let mut want = vec![a_id.clone(), b_id.clone()];
    want.sort();
    assert_eq!(placed, want);
    let (on_a, on_b) = if s1["agent_id"] == a_id.as_str() {
        ((s1, t1), (s2, t2))
    } else {
        ((s2, t2), (s1, t1))
    };
    assert_eq!(
        on_a.1["stream_url"],
        format!("wss://127.0.0.1:{a_port}/stream")
    );
    assert_eq!(
        on_b.1["stream_url"],
        format!("wss://127.0.0.1:{b_port}/stream")
    );
    let _va = viewer(
        on_a.1["stream_url"].as_str().unwrap(),
        on_a.1["token"].as_str().unwrap(),
        &agent_a.cert(),
        &web.origin(),
    )
    .await;
    let mut vb = viewer(
        on_b.1["stream_url"].as_str().unwrap(),
        on_b.1["token"].as_str().unwrap(),
        &agent_b.cert(),
        &web.origin(),
    )
    .await;
    let a_sid = on_a.0["id"].as_str().unwrap().to_owned();
    let b_sid = on_b.0["id"].as_str().unwrap().to_owned();
    // The node gateways' reports reached the control plane.
    for sid in [&a_sid, &b_sid] {
        let running = wait_for_value(Duration::from_secs(15), "running", || async {
            (session(&api, sid).await["state"] == "running").then_some(())
        })
        .await;
        assert!(running.is_ok(), "{}", session(&api, sid).await);
    }

    // Agent a dies mid-session: lost, its session failed; b's untouched.
    let Oriel {
        guard: a_guard,
        dir: a_dir,
        ..
    } = agent_a;
    std::process::Command::new("kill")
        .args(["-9", &a_guard.id().to_string()])
        .status()
        .unwrap();
    drop(a_guard);
    wait_agent(&api, &a_id, "lost", &web).await;
    let failed = wait_for_value(Duration::from_secs(20), "failed", || async {
        let s = session(&api, &a_sid).await;
        (s["state"] == "failed").then_some(s)
    })
    .await
    .unwrap();
    assert_eq!(failed["failure"], "its agent was lost");
    assert_eq!(session(&api, &b_sid).await["state"], "running");
    assert!(
        !vb.pump(Duration::from_millis(500)).await.unwrap(),
        "b's stream closed"
    );
    // The dead agent could not remove its container.
    assert_eq!(
        containers(&format!("label=oriel.session={a_sid}"))
            .await
            .len(),
        1
    );

    // It comes back: its orphan is reaped, b's container stays.
    let _agent_a = start_agent(&web, &a_id, a_port, Some(a_dir)).await;
    wait_agent(&api, &a_id, "online", &web).await;
    let reaped = wait_for_value(Duration::from_secs(30), "orphan reaped", || async {
        containers(&format!("label=oriel.session={a_sid}"))
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    assert!(reaped.is_ok(), "the orphan container survived");
    assert_eq!(
        containers(&format!("label=oriel.session={b_sid}"))
            .await
            .len(),
        1
    );

    // Ending b closes its stream and removes its container.
    let a = api.clone();
    let sid = b_sid.clone();
    let r = blocking(move || {
        a.call("DELETE", &format!("/api/v1/sessions/{sid}"), None, &[])
            .unwrap()
    })
    .await;
    assert_eq!(r.status, 204, "{r:?}");
    // The node's gateway closes the stream as ended (4000), not as a lost
    // target: its agent tells it the moment the session is no longer wanted.
    let (_, code) = vb.wait_closed(Duration::from_secs(30)).await.unwrap();
    assert_eq!(code, Some(4000));
    let gone = wait_for_value(Duration::from_secs(30), "b removed", || async {
        containers(&format!("label=oriel.session={b_sid}"))
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    assert!(gone.is_ok());
    drop(agent_b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayed_streams_pass_through_the_web_node() {
    let image = oriel_testkit::images::desktop_image().await.unwrap();
    let c_id = agent_id("c");
    let _cleanup = AgentLeftovers(c_id.clone());
    let web = Oriel::up(&[
        ("ORIEL_AGENT__ENABLED", "false"),
        ("ORIEL_CONTROL__AGENT_STREAMS", "relay"),
    ])
    .await
    .unwrap();
    let api = admin(&web).await;
    let port = free_port().unwrap();
    let _agent = start_agent(&web, &c_id, port, None).await;
    wait_agent(&api, &c_id, "online", &web).await;
    let a = api.clone();
    let (s, t) = blocking(move || {
        create_workspace(&a, &image);
        launch_ready(&a)
    })
    .await;
    let url = t["stream_url"].as_str().unwrap();
    // The web node's own address (as the API client named it), then the route.
    let at = url.find("/relay/rt1.").expect("a relay route");
    let prefix = url[..at + "/relay/".len()].to_owned();
    assert!(
        prefix.starts_with("wss://") && prefix.ends_with(&format!(":{}/relay/", web.port)),
        "{url}"
    );
    // The browser needs to trust only the web node.
    let mut v = viewer(
        url,
        t["token"].as_str().unwrap(),
        &web.cert(),
        &web.origin(),
    )
    .await;
    let sid = s["id"].as_str().unwrap().to_owned();
    let running = wait_for_value(Duration::from_secs(15), "running", || async {
        (session(&api, &sid).await["state"] == "running").then_some(())
    })
    .await;
    assert!(running.is_ok());

    // A route the control plane did not sign is refused.
    let route = &url[prefix.len()..];
    let (head, sig) = route.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let forged = format!("{prefix}{head}.{flipped}{}", &sig[1..]);
    let mut bad = StreamViewer::connect(&forged, &web.cert(), Some(&web.origin()))
        .await
        .unwrap();
    let (_, code) = bad.wait_closed(Duration::from_secs(10)).await.unwrap();
    assert_eq!(code, Some(4001));

    // Ending the session ends the relayed stream.
    let a = api.clone();
    let id = sid.clone();
    let r = blocking(move || {
        a.call("DELETE", &format!("/api/v1/sessions/{id}"), None, &[])
            .unwrap()
    })
    .await;
    assert_eq!(r.status, 204);
    // Closed by the far gateway as ended, passed on by the relay.
    let (_, code) = v.wait_closed(Duration::from_secs(30)).await.unwrap();
    assert_eq!(code, Some(4000));
}

/// The web node (control plane) is down longer than `agent_lost_after`:
/// the agent's session streams on meanwhile, and when the web node is back
/// on its data its reaper does not take the agent for lost (it judges
/// silence only over time it could hear): the session stays running and
/// its container stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_node_down_longer_than_agent_lost_after_loses_no_agent() {
    let image = oriel_testkit::images::desktop_image().await.unwrap();
    let d_id = agent_id("d");
    let _cleanup = AgentLeftovers(d_id.clone());
    let env = [
        ("ORIEL_AGENT__ENABLED", "false"),
        ("ORIEL_CONTROL__AGENT_LOST_AFTER", "4s"),
    ];
    let web = Oriel::up(&env).await.unwrap();
    let api = admin(&web).await;
    let port = free_port().unwrap();
    let agent = start_agent(&web, &d_id, port, None).await;
    wait_agent(&api, &d_id, "online", &web).await;
    let a = api.clone();
    let (s, t) = blocking(move || {
        create_workspace(&a, &image);
        launch_ready(&a)
    })
    .await;
    let mut v = viewer(
        t["stream_url"].as_str().unwrap(),
        t["token"].as_str().unwrap(),
        &agent.cert(),
        &web.origin(),
    )
    .await;
    let sid = s["id"].as_str().unwrap().to_owned();
    let running = wait_for_value(Duration::from_secs(15), "running", || async {
        (session(&api, &sid).await["state"] == "running").then_some(())
    })
    .await;
    assert!(running.is_ok(), "{}", session(&api, &sid).await);

    // Down for 10 s, more than twice agent_lost_after; the stream goes on.
    let Oriel {
        guard,
        dir,
        port: web_port,
        ..
    } = web;
    std::process::Command::new("kill")
        .args(["-9", &guard.id().to_string()])
        .status()
        .unwrap();
    drop(guard);
    assert!(
        !v.pump(Duration::from_secs(10)).await.unwrap(),
        "the stream closed while the web node was down"
    );
    let data = dir.path().join("data");
    let web = Oriel::start_at("up", &[], &env, dir, data, &format!("127.0.0.1:{web_port}"))
        .await
        .unwrap();
    let api = admin(&web).await;
    // Past two reaper passes and agent_lost_after: nothing was judged lost.
    assert!(
        !v.pump(Duration::from_secs(12)).await.unwrap(),
        "the stream closed after the web node came back:\n{}",
        web.log_tail(30)
    );
    assert_eq!(
        agent_state(&api, &d_id).await.map(|a| a["state"].clone()),
        Some(json!("online")),
        "{}",
        web.log_tail(30)
    );
    assert_eq!(session(&api, &sid).await["state"], "running");
    assert_eq!(
        containers(&format!("label=oriel.session={sid}"))
            .await
            .len(),
        1
    );
    drop(agent);
}
