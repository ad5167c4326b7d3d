//! Deployment topologies from `deploy/compose/`, brought up on the real
//! Docker engine with images built here (`deploy/images/`), every host a
//! container of the test's own Compose project on networks it creates.
//!
//! - `ra1_single_server_under_systemd_on_sqlite` / `…_on_postgresql`: RA1
//!   (`deploy/compose/ra1.yml`): a Debian host with systemd as PID 1
//!   (`deploy/images/host`) installed as `deploy/systemd/oriel.service`
//!   says, on SQLite and on the host's PostgreSQL; a stream to the desktop
//!   beside it; the service restarted by systemd when killed, state kept.
//! - `ra2_control_plane_with_agents_in_containers`: RA2
//!   (`deploy/compose/ra2.yml`): the control plane, two agents as
//!   containers (Docker socket, the host's network, its firewall rules), a
//!   connection proxy into a site network; sessions spread over the agents,
//!   the site's desktop through the proxy, an agent container killed and
//!   its orphan reaped when it returns.
//! - `ra4_a_remote_zone_survives_latency_and_the_control_plane_stopping`:
//!   RA4 (`deploy/compose/ra4.yml`): the central control plane on a WAN,
//!   its PostgreSQL (`deploy/images/postgres`) on the central network; a
//!   remote zone with its dedicated proxy, its agent (a container), its
//!   connection proxy and a desktop. The admin sets the zone up through the
//!   API; a user of the zone launches the zone's desktop (the stream enters
//!   at the zone's proxy and is served by the connection proxy, the
//!   password sealed to it) and a container (placed on the zone's agent,
//!   entered at the proxy too). `oriel-loadtest stream` measures a user of
//!   the zone (fps, latency) without and with WAN latency. 100 ms of round trip are added on the WAN (a delaying relay on the
//!   way from the proxies to the control plane: this kernel has no netem):
//!   the stream, which never crosses the WAN, keeps streaming (frame counts
//!   reported). Then the control plane and its database are stopped for
//!   `ORIEL_RA4_OUTAGE_SECS` (600 s by default: ten minutes): both
//!   sessions keep streaming (the user types, the desktops echo) with no
//!   drop. When it comes back, they are still running there, and ending
//!   them closes the streams as ended and removes the container.
//! - `ra3_one_web_node_killed_the_other_carries_on`: RA3
//!   (`deploy/compose/ra3.yml`): PostgreSQL on its own host, two web nodes
//!   behind nginx (TCP, TLS passed through), two agents in containers
//!   polling through it, two desktops; one node killed: the other node's
//!   stream and the agents' go on, its stream comes back through the
//!   balancer with its token, logins and launches go on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod ra1;
mod ra2;
mod ra3;
mod ra4;
mod wan;

use oriel_core_wire::ClientMessage;
use oriel_testkit::{StreamViewer, ViewerEvent, wait_for_value, wait_until};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::{Api, blocking};

const RA4: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/compose/ra4.yml");
const RA1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/compose/ra1.yml");
const RA2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/compose/ra2.yml");
const RA3: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/compose/ra3.yml");
const IMAGE_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../deploy/images/oriel/build.sh"
);
const VNC_PASSWORD: &str = "remote1";

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A Compose project of this test: brought down (containers, networks)
/// when dropped.
struct Project {
    file: &'static str,
    name: String,
    env: Vec<(String, String)>,
}

impl Project {
    fn compose(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker-compose");
        c.args(["-p", &self.name, "-f", self.file]).args(args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn logs(&self, service: &str) -> String {
        let out = self
            .compose(&["logs", "--no-color", "--tail=30", service])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self
            .compose(&["down", "--volumes", "--remove-orphans", "--timeout", "5"])
            .output();
    }
}

/// Waits until `https://…/healthz` of a node answers 200, trusting `cert`
/// (which the node writes at its first start).
async fn healthy(project: &Project, service: &str, base: &str, cert: PathBuf) {
    let ok = wait_until(Duration::from_secs(120), service, || {
        let (base, cert) = (base.to_owned(), cert.clone());
        async move {
            if !cert.exists() {
                return false;
            }
            blocking(move || {
                Api::new(&base, &cert)
                    .call("GET", "/healthz", None, &[])
                    .is_ok_and(|r| r.status == 200)
            })
            .await
        }
    })
    .await;
    assert!(
        ok.is_ok(),
        "{service} never became healthy:\n{}",
        project.logs(service)
    );
}

async fn call(api: &Api, method: &'static str, path: &str, body: Option<Value>) -> Value {
    let (api, owned) = (api.clone(), path.to_owned());
    let r = blocking(move || api.call(method, &owned, body.as_ref(), &[]).unwrap()).await;
    assert!(r.status < 300, "{method} {path}: {r:?}");
    r.body
}

/// Frames received in `secs` seconds while typing a key every 200 ms (the
/// desktop's terminal echoes it). Panics if the stream closes.
async fn frames_while_typing(v: &mut StreamViewer, secs: u64) -> u64 {
    frames_while_typing_all(&mut [v], secs).await[0]
}

/// [`frames_while_typing`] into several streams at once, each read in turn
/// (100 ms each per step), so none of them is left unread for long.
async fn frames_while_typing_all(viewers: &mut [&mut StreamViewer], secs: u64) -> Vec<u64> {
    let before: Vec<u64> = viewers.iter().map(|v| v.frames).collect();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut n = 0u32;
    while Instant::now() < deadline {
        let keysym = 0x61 + (n % 26); // a..z
        n += 1;
        for v in viewers.iter_mut() {
            for down in [true, false] {
                v.send(ClientMessage::Key {
                    down,
                    keysym,
                    scancode: 0,
                })
                .await
                .unwrap();
            }
            let step = Instant::now() + Duration::from_millis(100);
            while Instant::now() < step {
                if let Some(ViewerEvent::Closed(end, code)) = v.next(step).await.unwrap() {
                    panic!("the stream closed: {end:?} {code:?}");
                }
            }
        }
    }
    viewers
        .iter()
        .zip(before)
        .map(|(v, b)| v.frames - b)
        .collect()
}

/// Like [`frames_while_typing`], but `None` when the stream closes.
async fn frames_unless_closed(v: &mut StreamViewer, secs: u64) -> Option<u64> {
    let before = v.frames;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut n = 0u32;
    while Instant::now() < deadline {
        for down in [true, false] {
            let key = ClientMessage::Key {
                down,
                keysym: 0x61 + (n % 26),
                scancode: 0,
            };
            if v.send(key).await.is_err() {
                return None;
            }
        }
        n += 1;
        let step = Instant::now() + Duration::from_millis(200);
        while Instant::now() < step {
            match v.next(step).await {
                Ok(Some(ViewerEvent::Closed(..))) | Err(_) => return None,
                _ => {}
            }
        }
    }
    Some(v.frames - before)
}

/// An agent as `GET /api/v1/agents` lists it.
async fn agent(api: &Api, id: &str) -> Option<Value> {
    let (api, id) = (api.clone(), id.to_owned());
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

/// Waits (90 s at most) until agent `id` is in `state`; fails with the
/// logs of its Compose `service`.
async fn wait_agent(api: &Api, project: &Project, service: &str, id: &str, state: &str) {
    let reached = wait_for_value(Duration::from_secs(90), "agent state", || async {
        agent(api, id)
            .await
            .filter(|a| a["state"] == state)
            .map(|_| ())
    })
    .await;
    assert!(
        reached.is_ok(),
        "agent {id} never {state}: {:?}\n{}",
        agent(api, id).await,
        project.logs(service)
    );
}

/// A viewer of a launch's (or a token grant's) stream, HELLO answered.
async fn open_stream(grant: &Value, cert: &Path, origin: &str) -> StreamViewer {
    let mut v = StreamViewer::connect(grant["stream_url"].as_str().unwrap(), cert, Some(origin))
        .await
        .unwrap();
    v.hello(grant["token"].as_str().unwrap(), Duration::from_secs(30))
        .await
        .unwrap();
    assert!(v.hello.is_some(), "no HELLO: {:?}", v.end);
    v
}

/// Launches a container workspace and waits (90 s at most) for its
/// desktop: the session id and its token grant.
async fn launch_ready(api: &Api, workspace: &str) -> (String, Value) {
    let (api, workspace) = (api.clone(), workspace.to_owned());
    blocking(move || {
        let r = api.try_launch(&workspace).unwrap();
        assert_eq!(r.status, 201, "{r:?}");
        let id = r.body["id"].as_str().unwrap().to_owned();
        let grant = api.wait_token(&id, Duration::from_secs(90)).unwrap();
        (id, grant)
    })
    .await
}

/// The last line a build script printed: the image reference.
fn built(script: &str, args: &[&str]) -> String {
    let out = run(Command::new(script).args(args));
    out.lines().last().unwrap().trim().to_owned()
}

/// A unique Compose project name and a /24 prefix of our own.
fn names(tag: &str, third: u32) -> (String, String) {
    let suffix: String = support::web::unique_suffix()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    let octet = 180 + (std::process::id() + third) % 70;
    (
        format!("oriel{tag}{}", &suffix[suffix.len().saturating_sub(8)..]),
        format!("10.{octet}.{third}"),
    )
}

/// `oriel_gateway_sessions_active` of one web node, reached directly.
async fn sessions_on(base: &str, cert: &Path) -> u64 {
    let (base, cert) = (base.to_owned(), cert.to_owned());
    blocking(move || {
        let m = Api::new(&base, &cert)
            .call("GET", "/metrics", None, &[])
            .unwrap();
        m.body
            .as_str()
            .unwrap_or("")
            .lines()
            .find(|l| l.starts_with("oriel_gateway_sessions_active "))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0)
    })
    .await
}
