//! Container workspaces end to end: the real `oriel up` with its agent in
//! the process, on the real Docker engine, with the desktop image built
//! from Debian packages (`deploy/images/desktop`), in a real headless
//! Chromium.
//!
//! - `a_fresh_desktop_in_the_browser_and_nothing_left_after_logout`: a user
//!   clicks a container workspace, the viewer waits while the agent starts
//!   the container, draws its desktop; the container carries the session's
//!   labels; logging out ends the session and removes the container and its
//!   network.
//! - `placement_respects_capacity_and_zones`: concurrent launches never
//!   exceed the agent's capacity, the one left over is told no capacity is
//!   left; a user of a zone without agents is told so; ending a session
//!   frees its place; the agents list shows the load.
//!
//! - `files_move_between_the_browser_and_the_container`: the Files panel
//!   lists the container's home, an upload lands there with the same bytes
//!   (owned by the session user), a file made in the container downloads to
//!   the same bytes, and an upload over the workspace's limit is refused
//!   before any data flows.
//!
//! - `without_docker_oriel_up_runs_and_says_why`: no Docker socket: `oriel
//!   up` starts anyway, says container workspaces are off and why, and a
//!   container launch is refused with a clear message.
//! - `idle_timeout_and_maximum_length_remove_the_container`: sessions ended
//!   by the gateway (idle) and by the control plane (maximum length) leave
//!   no container behind.
//!
//! Each test gives its agent a unique id: an agent only ever touches
//! containers carrying its own id, so tests running at once stay apart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use anyhow::Context as _;
use oriel_testkit::docker::{AgentLeftovers, containers, networks};
use oriel_testkit::pseudo_random_bytes;
use oriel_testkit::{Browser, Page, ScratchDir, StreamViewer, wait_for_value};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::web::{expect_logged_in, launch_workspace, log_in, unique_suffix, wait_connected};
use support::{ADMIN_PASSWORD, Api, Oriel, blocking};

/// Starting a desktop container (and the viewer's first frame) may take
/// this long on a busy machine; the goal is ~2 s.
const START: Duration = Duration::from_secs(60);

fn agent_id() -> String {
    let suffix: String = unique_suffix()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    format!("t{}", &suffix[suffix.len().saturating_sub(12)..])
}

async fn up_with_agent(agent: &str, extra: &[(&str, &str)]) -> Oriel {
    let mut env = vec![("ORIEL_AGENT__ENABLED", "true"), ("ORIEL_AGENT__ID", agent)];
    env.extend_from_slice(extra);
    let oriel = Oriel::up(&env).await.unwrap();
    let api = admin(&oriel).await;
    let id = agent.to_owned();
    let registered = wait_for_value(Duration::from_secs(20), "the agent registered", || {
        let api = api.clone();
        let id = id.clone();
        async move {
            blocking(move || {
                let r = api.call("GET", "/api/v1/agents", None, &[]).ok()?;
                r.body["items"]
                    .as_array()?
                    .iter()
                    .any(|a| a["id"] == id.as_str() && a["state"] == "online")
                    .then_some(())
            })
            .await
        }
    })
    .await;
    assert!(
        registered.is_ok(),
        "the agent never registered:\n{}",
        oriel.log_tail(30)
    );
    oriel
}

async fn admin(oriel: &Oriel) -> Api {
    let mut api = oriel.api();
    blocking(move || {
        api.login_admin().unwrap();
        api
    })
    .await
}

fn container_workspace(api: &Api, name: &str, image: &str) -> Value {
    let r = api
        .call(
            "POST",
            "/api/v1/workspaces",
            Some(&json!({
                "name": name,
                "kind": "container",
                "container": {"image": image, "cpus": 1, "memory_mb": 768, "width": 1024, "height": 768},
            })),
            &[],
        )
        .unwrap();
    assert_eq!(r.status, 201, "{r:?}");
    r.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_desktop_in_the_browser_and_nothing_left_after_logout() {
    let image = oriel_testkit::images::desktop_image().await.unwrap();
    let agent = agent_id();
    let _cleanup = AgentLeftovers(agent.clone());
    let oriel = up_with_agent(&agent, &[]).await;
    let api = admin(&oriel).await;
    let img = image.clone();
    blocking(move || container_workspace(&api, "Fresh desktop", &img)).await;

    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    log_in(&page, &oriel, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    expect_logged_in(&page, "admin").await.unwrap();
    let clicked = Instant::now();
    let sid = launch_workspace(&page, "Fresh desktop").await.unwrap();
    let state = wait_connected(&page, START)
        .await
        .with_context(|| format!("oriel log:\n{}", oriel.log_tail(40)))
        .unwrap();
    eprintln!(
        "container desktop: click → first frame in {:?}",
        clicked.elapsed()
    );
    assert_eq!(state["width"], 1024, "{state}");
    assert_eq!(state["height"], 768, "{state}");

    // A real desktop: the window manager's background and an xterm, not a
    // blank canvas.
    let desktop = wait_for_value(Duration::from_secs(20), "a desktop on the canvas", || {
        let page = &page;
        async move {
            let img = page.canvas_image("#screen").await.ok()?;
            let mut colours = std::collections::HashSet::new();
            for p in img.data.chunks_exact(3).step_by(7) {
                colours.insert([p[0], p[1], p[2]]);
            }
            (colours.len() > 8).then_some(colours.len())
        }
    })
    .await;
    assert!(desktop.is_ok(), "the canvas never showed a desktop");

    // The container is this session's, on this agent.
    let mine = containers(&format!("label=oriel.session={sid}"))
        .await
        .unwrap();
    assert_eq!(mine, vec![format!("oriel-{agent}-{sid}")]);
    let api = admin(&oriel).await;
    let id = sid.clone();
    let session = blocking(move || {
        api.call("GET", &format!("/api/v1/sessions/{id}"), None, &[])
            .unwrap()
    })
    .await;
    assert_eq!(session.body["state"], "running", "{session:?}");
    assert_eq!(session.body["agent_id"], agent.as_str());

    // Logging out ends it: the viewer says so, and nothing of it remains.
    let logout = page
        .eval(
            "fetch('/api/v1/auth/logout', {method: 'POST', credentials: 'same-origin', \
             headers: {'Content-Type': 'application/json'}, body: '{}'}).then(r => r.status)",
        )
        .await
        .unwrap();
    assert_eq!(logout, 204);
    page.wait_for(
        "window.orielViewer && orielViewer.state === 'ended'",
        Duration::from_secs(15),
    )
    .await
    .unwrap();
    let gone = wait_for_value(Duration::from_secs(30), "nothing left", || {
        let sid = sid.clone();
        let agent = agent.clone();
        async move {
            let c = containers(&format!("label=oriel.session={sid}"))
                .await
                .ok()?;
            let n = networks(&format!("name=oriel-{agent}-{sid}")).await.ok()?;
            (c.is_empty() && n.is_empty()).then_some(())
        }
    })
    .await;
    assert!(
        gone.is_ok(),
        "the container or network survived logout:\n{}",
        oriel.log_tail(30)
    );
    let api = admin(&oriel).await;
    let id = sid.clone();
    let session = blocking(move || {
        api.call("GET", &format!("/api/v1/sessions/{id}"), None, &[])
            .unwrap()
    })
    .await;
    assert_eq!(session.body["state"], "ended", "{session:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placement_respects_capacity_and_zones() {
    support::contract::enforce();
    let image = oriel_testkit::images::desktop_image().await.unwrap();
    let agent = agent_id();
    let _cleanup = AgentLeftovers(agent.clone());
    let oriel = up_with_agent(&agent, &[("ORIEL_AGENT__MAX_SESSIONS", "2")]).await;
    let api = admin(&oriel).await;
    let agent_for = agent.clone();
    blocking(move || {
        container_workspace(&api, "Desk", &image);
        // Three launches at once on an agent with room for two.
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..3)
                .map(|_| {
                    let api = api.clone();
                    s.spawn(move || {
                        api.try_launch("Desk")
                        .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let launched: Vec<_> = results.iter().filter(|r| r.status == 201).collect();
        let refused: Vec<_> = results.iter().filter(|r| r.status == 503).collect();
        assert_eq!(launched.len(), 2, "{results:?}");
        assert_eq!(refused.len(), 1, "{results:?}");
        assert_eq!(refused[0].body["error"]["code"], "no_capacity");
        let message = refused[0].body["error"]["message"].as_str().unwrap();
        assert!(message.contains("full"), "{message}");
        for l in &launched {
            assert_eq!(l.body["state"], "requested");
            assert!(l.body["token"].is_null());
        }

        // Their desktops come up: a token once ready.
        for l in &launched {
            let id = l.body["id"].as_str().unwrap();
            let grant = api.wait_token(id, START).unwrap();
            assert!(grant["token"].as_str().is_some_and(|t| !t.is_empty()));
        }
        let agents = api.call("GET", "/api/v1/agents", None, &[]).unwrap();
        let me = agents.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == agent_for.as_str())
            .unwrap()
            .clone();
        assert_eq!(me["active_sessions"], 2, "{me}");
        assert_eq!(me["reserved_memory_mb"], 2 * 768, "{me}");
        assert_eq!(me["max_sessions"], 2, "{me}");

        // A user of a zone with no agent is told so.
        let r = api
            .call(
                "POST",
                "/api/v1/users",
                Some(&json!({"username": "zoe", "password": "placed-far-away-pw-1", "role": "admin"})),
                &[],
            )
            .unwrap();
        assert_eq!(r.status, 201, "{r:?}");
        let zoe_id = r.body["id"].as_str().unwrap().to_owned();
        let r = api
            .call(
                "PUT",
                &format!("/api/v1/users/{zoe_id}"),
                Some(&json!({"role": "admin", "zone": "far-away"})),
                &[],
            )
            .unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["zone"], "far-away");
        let mut zoe = api.clone();
        zoe.token = None;
        assert_eq!(zoe.login("zoe", "placed-far-away-pw-1").unwrap().status, 200);
        let r = zoe.try_launch("Desk")
            .unwrap();
        assert_eq!(r.status, 503, "{r:?}");
        assert_eq!(r.body["error"]["code"], "no_capacity");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no agent is online in your zone (far-away)"),
            "{r:?}"
        );

        // Ending one frees its place.
        let first = launched[0].body["id"].as_str().unwrap();
        let r = api
            .call("DELETE", &format!("/api/v1/sessions/{first}"), None, &[])
            .unwrap();
        assert_eq!(r.status, 204, "{r:?}");
        let again = api.try_launch("Desk")
            .unwrap();
        assert_eq!(again.status, 201, "{again:?}");
    })
    .await;
    // The ended session's container is removed; two remain.
    let filter = format!("label=oriel.agent={agent}");
    let settled = wait_for_value(START, "two containers", || {
        let filter = filter.clone();
        async move { (containers(&filter).await.ok()?.len() == 2).then_some(()) }
    })
    .await;
    assert!(
        settled.is_ok(),
        "containers: {:?}\n{}",
        containers(&filter).await,
        oriel.log_tail(30)
    );
}

/// Keeps every Blob the page turns into a URL (the panel's downloads).
const CAPTURE: &str = r"
(() => {
  window.__blobs = [];
  const create = URL.createObjectURL.bind(URL);
  URL.createObjectURL = (obj) => { if (obj instanceof Blob) window.__blobs.push(obj); return create(obj); };
  document.addEventListener('click', (e) => {
    if (e.target instanceof HTMLAnchorElement && e.target.hasAttribute('download')) e.preventDefault();
  }, true);
})();
";

/// Waits for the panel's transfer of `name` to end; returns its record.
async fn wait_transfer(page: &Page, name: &str) -> Value {
    let name = serde_json::to_string(name).unwrap();
    let find = format!("orielViewer.files.transfers.find((t) => t.name === {name})");
    page.wait_for(
        &format!("({find} || {{}}).state === 'done' || ({find} || {{}}).state === 'error'"),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    page.eval(&find).await.unwrap()
}

async fn docker_exec(container: &str, script: &str) -> Vec<u8> {
    let out = tokio::process::Command::new("docker")
        .args(["exec", "-u", "1000", container, "sh", "-c", script])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_move_between_the_browser_and_the_container() {
    const LIMIT: u64 = 300_000;
    let image = oriel_testkit::images::desktop_image().await.unwrap();
    let agent = agent_id();
    let _cleanup = AgentLeftovers(agent.clone());
    let oriel = up_with_agent(&agent, &[]).await;
    let api = admin(&oriel).await;
    let img = image.clone();
    blocking(move || {
        let r = api
            .call(
                "POST",
                "/api/v1/workspaces",
                Some(&json!({
                    "name": "Files desk",
                    "kind": "container",
                    "container": {"image": img, "memory_mb": 512, "width": 1024, "height": 768},
                    "policy": {"upload": true, "download": true,
                               "upload_max_bytes": LIMIT, "download_max_bytes": LIMIT},
                })),
                &[],
            )
            .unwrap();
        assert_eq!(r.status, 201, "{r:?}");
    })
    .await;
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": CAPTURE }),
    )
    .await
    .unwrap();
    log_in(&page, &oriel, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    expect_logged_in(&page, "admin").await.unwrap();
    let sid = launch_workspace(&page, "Files desk").await.unwrap();
    wait_connected(&page, START).await.unwrap();
    let container = format!("oriel-{agent}-{sid}");

    // The panel opens on the container's home.
    page.wait_for(
        "orielViewer.files && orielViewer.files.available \
         && !document.getElementById('files-toggle').hidden",
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    page.click_selector("#files-toggle").await.unwrap();
    page.wait_for(
        "!document.getElementById('files-panel').hidden && orielViewer.files.path === '/home/oriel'",
        Duration::from_secs(20),
    )
    .await
    .with_context(|| oriel.log_tail(20))
    .unwrap();

    // Upload with the picker: the same bytes, owned by the session user.
    let scratch = ScratchDir::new("container-files").unwrap();
    let up = pseudo_random_bytes(200_000, 7);
    let local = scratch.path().join("report.bin");
    std::fs::write(&local, &up).unwrap();
    let input = page
        .call(
            "Runtime.evaluate",
            json!({"expression": "document.getElementById('files-input')"}),
        )
        .await
        .unwrap();
    let object = input["result"]["objectId"].as_str().unwrap().to_owned();
    page.call(
        "DOM.setFileInputFiles",
        json!({"files": [local.to_string_lossy()], "objectId": object}),
    )
    .await
    .unwrap();
    let t = wait_transfer(&page, "report.bin").await;
    assert_eq!(t["state"], "done", "{t}\n{}", oriel.log_tail(20));
    let landed = docker_exec(&container, "cat /home/oriel/report.bin").await;
    assert!(
        landed == up,
        "the uploaded file differs ({} bytes)",
        landed.len()
    );
    let owner = docker_exec(&container, "stat -c %u /home/oriel/report.bin").await;
    assert_eq!(String::from_utf8_lossy(&owner).trim(), "1000");

    // A file made in the desktop downloads to the same bytes.
    docker_exec(
        &container,
        "head -c 250000 /dev/urandom > /home/oriel/made-here.bin",
    )
    .await;
    let made = docker_exec(&container, "cat /home/oriel/made-here.bin").await;
    let mut listed = false;
    for _ in 0..20 {
        page.click_selector("#files-refresh").await.unwrap();
        if page
            .wait_for(
                "orielViewer.files.entries.some((e) => e.name === 'made-here.bin')",
                Duration::from_secs(1),
            )
            .await
            .is_ok()
        {
            listed = true;
            break;
        }
    }
    assert!(listed, "made-here.bin never listed");
    page.click_selector("#files-list li[data-name=\"made-here.bin\"] .files-download")
        .await
        .unwrap();
    let t = wait_transfer(&page, "made-here.bin").await;
    assert_eq!(t["state"], "done", "{t}");
    let got = page
        .eval(
            "(async () => { const b = window.__blobs[0]; const a = new Uint8Array(await b.arrayBuffer()); \
             return Array.from(a, (x) => x.toString(16).padStart(2, '0')).join(''); })()",
        )
        .await
        .unwrap();
    let want: String = made.iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        got.as_str() == Some(want.as_str()),
        "the downloaded bytes differ"
    );

    // Over the upload limit: refused before any data flows; nothing lands.
    let big = scratch.path().join("too-big.bin");
    std::fs::write(&big, pseudo_random_bytes(LIMIT as usize + 1, 9)).unwrap();
    page.call(
        "DOM.setFileInputFiles",
        json!({"files": [big.to_string_lossy()], "objectId": object}),
    )
    .await
    .unwrap();
    let t = wait_transfer(&page, "too-big.bin").await;
    assert_eq!(t["state"], "error", "{t}");
    let there = docker_exec(&container, "ls /home/oriel").await;
    assert!(
        !String::from_utf8_lossy(&there).contains("too-big.bin"),
        "the refused upload landed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_docker_oriel_up_runs_and_says_why() {
    support::contract::enforce();
    let oriel = Oriel::up(&[
        ("ORIEL_AGENT__ENABLED", "true"),
        ("ORIEL_AGENT__DOCKER_SOCKET", "/nonexistent/docker.sock"),
    ])
    .await
    .unwrap();
    let log = oriel.guard.log();
    assert!(
        log.contains("container workspaces are off on this host")
            && log.contains("/nonexistent/docker.sock"),
        "{}",
        oriel.log_tail(20)
    );
    let api = admin(&oriel).await;
    blocking(move || {
        container_workspace(&api, "No docker", "oriel/desktop:latest");
        let r = api.try_launch("No docker").unwrap();
        assert_eq!(r.status, 503, "{r:?}");
        assert_eq!(r.body["error"]["code"], "no_capacity");
        let agents = api.call("GET", "/api/v1/agents", None, &[]).unwrap();
        assert_eq!(agents.body["items"], json!([]));
    })
    .await;
    assert!(oriel.guard.log().contains("ready at"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_and_maximum_length_remove_the_container() {
    let image = oriel_testkit::images::desktop_image().await.unwrap();
    let agent = agent_id();
    let _cleanup = AgentLeftovers(agent.clone());
    let oriel = up_with_agent(&agent, &[]).await;
    let api = admin(&oriel).await;
    let a = api.clone();
    let grants = blocking(move || {
        let mut grants = Vec::new();
        for (name, policy) in [
            ("Idle desk", json!({"idle_timeout_secs": 2})),
            ("Short desk", json!({"max_session_secs": 4})),
        ] {
            let r = a
                .call(
                    "POST",
                    "/api/v1/workspaces",
                    Some(&json!({
                        "name": name, "kind": "container", "policy": policy,
                        "container": {"image": image, "memory_mb": 512, "width": 800, "height": 600},
                    })),
                    &[],
                )
                .unwrap();
            assert_eq!(r.status, 201, "{r:?}");
            let l = a.try_launch(name)
                .unwrap();
            assert_eq!(l.status, 201, "{l:?}");
            let id = l.body["id"].as_str().unwrap().to_owned();
            let grant = a.wait_token(&id, START).unwrap();
            grants.push((id, grant));
        }
        grants
    })
    .await;
    for (id, grant) in grants {
        let mut v = StreamViewer::connect(
            grant["stream_url"].as_str().unwrap(),
            &oriel.cert(),
            Some(&oriel.origin()),
        )
        .await
        .unwrap();
        v.hello(grant["token"].as_str().unwrap(), Duration::from_secs(20))
            .await
            .unwrap();
        // Nobody types: the idle one ends by the gateway (4015), the short
        // one by the control plane's reaper (4000 or 4016).
        let (_, code) = v.wait_closed(Duration::from_secs(30)).await.unwrap();
        assert!(
            matches!(code, Some(4000 | 4015 | 4016)),
            "{code:?}\n{}",
            oriel.log_tail(20)
        );
        let gone = wait_for_value(Duration::from_secs(30), "container removed", || {
            let id = id.clone();
            async move {
                containers(&format!("label=oriel.session={id}"))
                    .await
                    .ok()?
                    .is_empty()
                    .then_some(())
            }
        })
        .await;
        assert!(
            gone.is_ok(),
            "the container of {id} survived:\n{}",
            oriel.log_tail(20)
        );
    }
}
