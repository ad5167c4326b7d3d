#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Isolation, tried from inside a session container: another session's
//! container, services on the host (on every host address), and the internet
//! without egress must all be unreachable — and fail fast.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use oriel_agent::{DockerRuntime, Egress, RunningSession, SessionRuntime as _};
use tokio::net::TcpListener;

/// A host service on all addresses that counts the connections it accepts.
async fn host_service() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((_stream, peer)) = listener.accept().await {
            eprintln!("host service accepted {peer}");
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, accepted)
}

/// The host's addresses a container could aim at: its own network's
/// gateway, docker0's gateway and the host's primary address.
async fn host_addresses(agent: &DockerRuntime, session: &RunningSession) -> Vec<IpAddr> {
    let docker = agent.docker();
    let info = docker
        .inspect_container(&session.container_id, None)
        .await
        .unwrap();
    let mut out = Vec::new();
    for (_, endpoint) in info.network_settings.unwrap().networks.unwrap() {
        if let Some(gw) = endpoint.gateway.filter(|g| !g.is_empty()) {
            out.push(gw.parse().unwrap());
        }
    }
    // Every IPv4 address of the host (docker0's, other bridges', the uplink's).
    let ip = std::process::Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&ip.stdout).lines() {
        let mut words = line.split_whitespace();
        if let Some(addr) = words.find(|w| *w == "inet").and(words.next()) {
            let ip: IpAddr = addr.split('/').next().unwrap().parse().unwrap();
            if !ip.is_loopback() {
                out.push(ip);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

async fn assert_isolated(
    agent: &DockerRuntime,
    from: &RunningSession,
    other: &RunningSession,
    internet_must_fail: bool,
) {
    let c = short(from).to_owned();
    // Positive control: the container's own VNC answers on its loopback, so
    // nc works and a failure below is the network's doing.
    let (ok, out) = exec(&c, "nc -w 2 127.0.0.1 5900 </dev/null").await;
    assert!(ok && out.contains("RFB 003.008"), "control: {out}");

    let (port, accepted) = host_service().await;
    // The host reaches its own service (the listener works).
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut targets: Vec<SocketAddr> = host_addresses(agent, from)
        .await
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect();
    assert!(targets.len() >= 3, "{targets:?}");
    // Another session's VNC (which the host itself can reach).
    assert!(oriel_agent::probe_rfb(other.vnc_addr).await);
    targets.push(other.vnc_addr);
    if internet_must_fail {
        targets.push("1.1.1.1:443".parse().unwrap());
        targets.push("8.8.8.8:53".parse().unwrap());
    }
    let started = Instant::now();
    let attempts = targets.iter().map(|t| {
        let c = c.clone();
        let t = *t;
        async move { (t, can_connect(&c, t).await) }
    });
    let results = futures_join_all(attempts).await;
    for (target, connected) in &results {
        assert!(!connected, "{target} reachable from session container");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "failures are fast: {:?}",
        started.elapsed()
    );
    // One accept from the host's own control connection; none from the container.
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "host service reached");
}

/// Runs the futures concurrently (each is a `docker exec`).
async fn futures_join_all<F: Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_without_egress_reaches_nothing() {
    let id = agent_id("iso-none");
    let _guard = LabelGuard(id.clone());
    let agent = agent(&id).await;
    let (spec, sa, sb) = (spec(), sid("s-a"), sid("s-b"));
    let (a, b) = tokio::join!(agent.launch(&spec, &sa), agent.launch(&spec, &sb));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_isolated(&agent, &a, &b, true).await;
    assert_isolated(&agent, &b, &a, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_with_internet_egress_still_reaches_no_host_or_session() {
    let id = agent_id("iso-net");
    let _guard = LabelGuard(id.clone());
    let agent = agent(&id).await;
    let mut open = spec();
    open.egress = Egress::Internet;
    let closed = spec();
    let (so, sc) = (sid("s-open"), sid("s-closed"));
    let (o, c) = tokio::join!(agent.launch(&open, &so), agent.launch(&closed, &sc));
    let (o, c) = (o.unwrap(), c.unwrap());
    // The internet itself is not asserted (tests must not need it).
    assert_isolated(&agent, &o, &c, false).await;
    assert_isolated(&agent, &c, &o, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_firewall_the_host_would_be_reachable() {
    // Documents why the agent installs host rules: Docker alone leaves the
    // bridge gateway open to host services, even on an internal network.
    let id = agent_id("iso-nofw");
    let _guard = LabelGuard(id.clone());
    let mut settings = settings(&id);
    settings.host_firewall = false;
    let agent = DockerRuntime::connect(settings).await.unwrap();
    let running = agent.launch(&spec(), &sid("s-open")).await.unwrap();
    let (port, accepted) = host_service().await;
    let info = agent
        .docker()
        .inspect_container(&running.container_id, None)
        .await
        .unwrap();
    let gateway: IpAddr = info
        .network_settings
        .unwrap()
        .networks
        .unwrap()
        .into_values()
        .next()
        .unwrap()
        .gateway
        .unwrap()
        .parse()
        .unwrap();
    assert!(can_connect(short(&running), SocketAddr::new(gateway, port)).await);
    assert!(accepted.load(Ordering::SeqCst) >= 1);
    // …and, with internet egress, the LAN: the fixture the next test uses
    // is reachable when nothing forbids it.
    let lan = LanHost::start();
    let mut open = spec();
    open.egress = Egress::Internet;
    let egress = agent.launch(&open, &sid("s-net")).await.unwrap();
    assert!(can_connect(short(&egress), lan.addr).await);
    agent.end(&sid("s-open")).await.unwrap();
    agent.end(&sid("s-net")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_rules_hold_while_docker_recreates_its_jump() {
    // Docker deletes and re-inserts `FORWARD -j DOCKER-USER` whenever any
    // network is created on the host; for that instant the rules in
    // DOCKER-USER are skipped. The agent's copies in FORWARD must still
    // refuse a session with internet egress the LAN.
    let id = agent_id("iso-jump");
    let _guard = LabelGuard(id.clone());
    let lan = LanHost::start();
    let agent = agent(&id).await;
    let mut open = spec();
    open.egress = Egress::Internet;
    let session = agent.launch(&open, &sid("s-open")).await.unwrap();
    let c = short(&session);
    assert!(!can_connect(c, lan.addr).await, "LAN refused");
    // Networks created after the session's insert their rules above ours.
    let later = format!("{id}-later");
    let created = std::process::Command::new("docker")
        .args([
            "network",
            "create",
            "--label",
            &format!("oriel.agent={id}"),
            &later,
        ])
        .status()
        .unwrap();
    assert!(created.success());
    {
        let _gone = DockerUserJumpRemoved::new();
        assert!(
            !can_connect(c, lan.addr).await,
            "LAN refused without DOCKER-USER"
        );
    }
    assert!(!can_connect(c, lan.addr).await, "LAN refused again");
    agent.end(&sid("s-open")).await.unwrap();
    assert!(rules(&id).is_empty(), "every copy removed at the end");
}
