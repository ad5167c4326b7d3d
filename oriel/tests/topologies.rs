//! Deployment topologies from `deploy/compose/`, brought up on the real
//! Docker engine with images built here (`deploy/images/`), every host a
//! container of the test's own Compose project on networks it creates.
//!
//! - `ra4_a_remote_zone_survives_latency_and_the_control_plane_stopping`:
//!   RA4 (`deploy/compose/ra4.yml`): the central control plane on a WAN,
//!   its PostgreSQL (`deploy/images/postgres`) on the central network; a
//!   remote zone with its dedicated proxy, its connection proxy and a
//!   desktop. The admin sets the zone up through the API; a user of the
//!   zone launches the zone's desktop: the stream enters at the zone's
//!   proxy and is served by the connection proxy, the password sealed to
//!   it. 100 ms of round trip are added on the WAN (a delaying relay on the
//!   way from the proxies to the control plane: this kernel has no netem):
//!   the stream, which never crosses the WAN, keeps streaming (frame counts
//!   reported). Then the control plane and its database are stopped for
//!   `ORIEL_RA4_OUTAGE_SECS` (600 s by default: ten minutes): the session
//!   keeps streaming (the user types, the desktop echoes) with no drop.
//!   When it comes back, the session is still running there, and ending it
//!   closes the stream as ended.
//! - `ra3_one_web_node_killed_the_other_carries_on` (ignored: unreliable,
//!   see its attribute): RA3
//!   (`deploy/compose/ra3.yml`): PostgreSQL on its own host, two web nodes
//!   behind nginx (TCP, TLS passed through), two desktops; one node killed:
//!   its streams drop and come back through the balancer with their
//!   tokens, the other node's go on, logins and launches go on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use oriel_core_wire::ClientMessage;
use oriel_testkit::{ScratchDir, StreamViewer, ViewerEvent, wait_until};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::{ADMIN_PASSWORD, Api, blocking};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const RA4: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/compose/ra4.yml");
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

/// The WAN between the zone and the centre, as the proxies see it: a TCP
/// relay on the host that holds every chunk `delay_ms` before passing it
/// on, each way. (`tc netem` would do this in the kernel; this machine's
/// kernel has no `sch_netem`.)
struct Wan {
    port: u16,
    delay_ms: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Wan {
    async fn to(target: SocketAddr) -> Wan {
        let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let delay_ms = Arc::new(AtomicU64::new(0));
        let delay = Arc::clone(&delay_ms);
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let delay = Arc::clone(&delay);
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (ri, wi) = inbound.into_split();
                    let (ro, wo) = outbound.into_split();
                    tokio::join!(
                        delayed_copy(ri, wo, Arc::clone(&delay)),
                        delayed_copy(ro, wi, delay)
                    );
                });
            }
        });
        Wan {
            port,
            delay_ms,
            task,
        }
    }

    /// One-way delay each way (the round trip grows by twice this).
    fn set_delay(&self, ms: u64) {
        self.delay_ms.store(ms, Ordering::SeqCst);
    }
}

impl Drop for Wan {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to`, each chunk written `delay` after it was read
/// (chunks stay in order; a reader is never held up by the delay).
async fn delayed_copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Arc<AtomicU64>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due.into()).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    let reader = async move {
        let mut buf = vec![0u8; 16 << 10];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let due = Instant::now() + Duration::from_millis(delay.load(Ordering::SeqCst));
                    if tx.send((due, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    };
    tokio::join!(reader, writer);
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
    let before = v.frames;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut n = 0u32;
    while Instant::now() < deadline {
        let keysym = 0x61 + (n % 26); // a..z
        n += 1;
        for down in [true, false] {
            v.send(ClientMessage::Key {
                down,
                keysym,
                scancode: 0,
            })
            .await
            .unwrap();
        }
        let step = Instant::now() + Duration::from_millis(200);
        while Instant::now() < step {
            if let Some(ViewerEvent::Closed(end, code)) = v.next(step).await.unwrap() {
                panic!("the stream closed: {end:?} {code:?}");
            }
        }
    }
    v.frames - before
}

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
    for node in ["control", "db", "proxy", "connproxy"] {
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
            ("ORIEL_IMAGE".into(), image),
            ("ORIEL_DESKTOP_IMAGE".into(), desktop),
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
                    "members": [user["id"]], "workspaces": [ws["id"]]}),
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

    // 100 ms more round trip on the WAN: only control-plane traffic
    // (keys, revocation lists, reports) crosses it, not the stream.
    wan_link.set_delay(50);
    let delayed = frames_while_typing(&mut v, 5).await;
    eprintln!(
        "ra4: frames in 5 s while typing: {before} without WAN latency, {delayed} with 100 ms more round trip"
    );
    assert!(delayed > 0, "no frames with WAN latency");
    let state = call(&admin, "GET", &format!("/api/v1/sessions/{sid}"), None).await;
    assert_eq!(state["state"], "running", "{state}");

    // The control plane and its database stop.
    run(&mut project.compose(&["stop", "--timeout", "5", "control", "db"]));
    let started = Instant::now();
    let mut windows = 0u64;
    while started.elapsed() < outage {
        let n = frames_while_typing(&mut v, 10).await;
        assert!(n > 0, "no frames {:?} into the outage", started.elapsed());
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

/// RA3 (`deploy/compose/ra3.yml`): PostgreSQL on its own host, two web
/// nodes (`oriel up`) sharing it behind an nginx TCP load balancer, a
/// desktop. A user's streams land on both nodes; one node is killed: the
/// streams on the other go on, the dropped one reconnects through the
/// balancer with the token it holds (the other node admits it), and
/// logins and launches go on through the balancer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "unreliable: after web1 is killed, the stream on web2 sometimes carries no frame for 10 s or more (cause not found yet); run with --run-ignored"]
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
    let dir = ScratchDir::new("ra3").unwrap();
    for node in ["db", "web1", "web2"] {
        std::fs::create_dir_all(dir.path().join(node)).unwrap();
    }
    let (name, net) = names("ra3", 3);
    let project = Project {
        file: RA3,
        name,
        env: vec![
            ("RA3_DIR".into(), dir.path().display().to_string()),
            ("RA3_NET".into(), net.clone()),
            ("RA3_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
            ("RA3_VNC_PASSWORD".into(), VNC_PASSWORD.into()),
            ("ORIEL_IMAGE".into(), image),
            ("ORIEL_POSTGRES_IMAGE".into(), postgres),
            ("ORIEL_NGINX_IMAGE".into(), nginx),
            ("ORIEL_DESKTOP_IMAGE".into(), desktop),
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
    // Two desktops: a session's desktop is its own (a node's death must not
    // be felt through a desktop another node's session shares: Xtigervnc
    // waits on a vanished client before it serves the others again).
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
    let user = call(
        &admin,
        "POST",
        "/api/v1/users",
        Some(json!({"username": "lena", "password": "meadow-copper-512"})),
    )
    .await;
    call(
        &admin,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "lan", "members": [user["id"]], "workspaces": ws_ids})),
    )
    .await;
    let login = |api: Api| async move {
        blocking(move || {
            let mut api = api;
            let r = api.login("lena", "meadow-copper-512").unwrap();
            assert_eq!(r.status, 200, "{r:?}");
            api
        })
        .await
    };
    let lena = login(Api::new(&lb, &cert)).await;

    // Streams through the balancer until both nodes serve one.
    let mut streams = Vec::new();
    for i in 0..6 {
        let l = call(
            &lena,
            "POST",
            "/api/v1/sessions",
            Some(json!({"workspace": format!("lan-desk{}", i % 2)})),
        )
        .await;
        let token = l["token"].as_str().unwrap().to_owned();
        let mut v = StreamViewer::connect(l["stream_url"].as_str().unwrap(), &cert, Some(&lb))
            .await
            .unwrap();
        v.hello(&token, Duration::from_secs(30)).await.unwrap();
        assert!(v.hello.is_some(), "{:?}", v.end);
        assert!(frames_while_typing(&mut v, 2).await > 0);
        eprintln!("ra3: stream {} is session {}", streams.len(), l["id"]);
        streams.push((v, token, l["stream_url"].as_str().unwrap().to_owned()));
        if sessions_on(&web1, &cert).await > 0 && sessions_on(&web2, &cert).await > 0 {
            break;
        }
    }
    let on_web1 = sessions_on(&web1, &cert).await;
    assert!(
        on_web1 > 0 && sessions_on(&web2, &cert).await > 0,
        "the balancer used one node only"
    );

    eprintln!(
        "ra3: streams on web1 {}, on web2 {}",
        sessions_on(&web1, &cert).await,
        sessions_on(&web2, &cert).await
    );
    // web1 dies.
    run(&mut project.compose(&["kill", "web1"]));
    let mut dropped = Vec::new();
    let mut alive = 0;
    for (mut v, token, url) in streams {
        // A stream on web1 closes, or (its node gone without a word)
        // carries nothing more; one on web2 goes on.
        let got = frames_unless_closed(&mut v, 10).await;
        eprintln!(
            "ra3: after web1 was killed, a stream got {got:?} frames (end {:?}, close {:?})",
            v.end, v.close_code
        );
        match got {
            Some(n) if n > 0 => alive += 1,
            _ => dropped.push((token, url)),
        }
    }
    assert!(
        alive > 0 && !dropped.is_empty(),
        "alive {alive}, dropped {}\nweb2:\n{}\nlb:\n{}",
        dropped.len(),
        project.logs("web2"),
        project.logs("lb")
    );
    // The dropped streams come back through the balancer with their tokens
    // (their desktops answer again once Xtigervnc gives up on the dead
    // node's connection: up to its ClientWaitTimeMillis, 20 s).
    for (token, url) in &dropped {
        let mut v = StreamViewer::connect(url, &cert, Some(&lb)).await.unwrap();
        v.hello(token, Duration::from_secs(60)).await.unwrap();
        assert!(v.hello.is_some(), "reconnection refused: {:?}", v.end);
        let mut got = 0;
        for _ in 0..12 {
            got = frames_unless_closed(&mut v, 5).await.expect("closed");
            if got > 0 {
                break;
            }
        }
        assert!(got > 0, "no frames after the reconnection");
    }
    // Logins and launches go on through the balancer.
    let again = login(Api::new(&lb, &cert)).await;
    let l = call(
        &again,
        "POST",
        "/api/v1/sessions",
        Some(json!({"workspace": "lan-desk1"})),
    )
    .await;
    let mut v = StreamViewer::connect(l["stream_url"].as_str().unwrap(), &cert, Some(&lb))
        .await
        .unwrap();
    v.hello(l["token"].as_str().unwrap(), Duration::from_secs(30))
        .await
        .unwrap();
    assert!(v.hello.is_some(), "{:?}", v.end);
    assert!(frames_while_typing(&mut v, 2).await > 0);
}
