#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A session container's life on the real Docker engine: create, VNC ready,
//! limits and security options, end with nothing left behind.

mod common;

use std::path::PathBuf;

use common::*;
use oriel_agent::{
    DockerError, DockerRuntime, DockerSettings, Egress, SessionRuntime as _, probe_rfb,
};

#[tokio::test]
async fn launch_answers_vnc_and_end_leaves_nothing() {
    let id = agent_id("life");
    let _guard = LabelGuard(id.clone());
    let agent = agent(&id).await;
    let session = sid("s-life-1");
    let spec = spec();

    let running = agent.launch(&spec, &session).await.unwrap();
    assert!(
        probe_rfb(running.vnc_addr).await,
        "vnc answers from the host"
    );
    assert_eq!(running.vnc_password.len(), 8);
    assert_eq!(running.vnc_addr.port(), 5900);

    let docker = agent.docker();
    let info = docker
        .inspect_container(&running.container_id, None)
        .await
        .unwrap();
    let config = info.config.clone().unwrap();
    let labels = config.labels.unwrap();
    assert_eq!(labels["oriel.session"], "s-life-1");
    assert_eq!(labels["oriel.agent"], id);
    let env = config.env.unwrap();
    assert!(env.contains(&format!("ORIEL_VNC_PASSWORD={}", running.vnc_password)));
    assert!(env.contains(&"ORIEL_WIDTH=1280".to_owned()));
    assert!(env.contains(&"ORIEL_HEIGHT=800".to_owned()));

    let host = info.host_config.clone().unwrap();
    assert_eq!(host.nano_cpus, Some(500_000_000));
    assert_eq!(host.memory, Some(64 * 1024 * 1024));
    assert_eq!(host.memory_swap, Some(64 * 1024 * 1024), "no swap");
    assert_eq!(host.pids_limit, Some(64));
    assert_eq!(host.readonly_rootfs, Some(true));
    assert_eq!(host.privileged, Some(false));
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
    assert!(host.cap_add.unwrap_or_default().is_empty());
    assert!(
        host.security_opt
            .unwrap()
            .iter()
            .any(|o| o.starts_with("no-new-privileges"))
    );
    let tmpfs = host.tmpfs.unwrap();
    assert!(tmpfs.contains_key("/tmp") && tmpfs.contains_key("/home/oriel"));
    assert!(host.binds.unwrap_or_default().is_empty(), "no bind mounts");
    // The only mount is the image's anonymous volume: no host path, no socket.
    let mounts = info.mounts.clone().unwrap_or_default();
    assert_eq!(mounts.len(), 1, "{mounts:?}");
    let volume = mounts[0].name.clone().unwrap();
    assert_eq!(mounts[0].destination.as_deref(), Some("/data"));
    assert!(
        mounts
            .iter()
            .all(|m| !m.source.as_deref().unwrap_or("").contains("docker.sock"))
    );

    // The network is the session's own, internal for egress None.
    let networks = info.network_settings.unwrap().networks.unwrap();
    assert_eq!(networks.len(), 1);
    let (net_name, _) = networks.into_iter().next().unwrap();
    let net = docker.inspect_network(&net_name, None).await.unwrap();
    assert_eq!(net.internal, Some(true));
    assert_eq!(net.labels.unwrap()["oriel.session"], "s-life-1");
    assert!(!rules(&id).is_empty(), "firewall rules installed");

    // Read-only root, writable tmpfs, no privilege.
    let c = short(&running);
    let (ok, out) = exec(c, "touch /rootfile").await;
    assert!(!ok, "root is read-only: {out}");
    let (ok, out) = exec(c, "touch /tmp/x /home/oriel/x").await;
    assert!(ok, "tmpfs is writable: {out}");
    let (ok, out) = exec(c, "cat /proc/self/status").await;
    assert!(ok);
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");

    agent.end(&session).await.unwrap();
    assert_eq!(
        labelled(&id),
        (vec![], vec![]),
        "no container or network left"
    );
    assert!(
        inspect("volume", &volume).is_none(),
        "anonymous volume removed"
    );
    assert!(inspect("network", &net_name).is_none());
    assert!(rules(&id).is_empty(), "firewall rules removed");
    assert!(!probe_rfb(running.vnc_addr).await);
    // Ending again is a no-op.
    agent.end(&session).await.unwrap();
}

#[tokio::test]
async fn each_session_gets_its_own_password_and_network() {
    let id = agent_id("two");
    let _guard = LabelGuard(id.clone());
    let agent = agent(&id).await;
    let (spec, sa, sb) = (spec(), sid("s-a"), sid("s-b"));
    let (a, b) = tokio::join!(agent.launch(&spec, &sa), agent.launch(&spec, &sb));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.vnc_password, b.vnc_password);
    assert_ne!(a.vnc_addr.ip(), b.vnc_addr.ip());
    let err = agent.launch(&spec, &sa).await.unwrap_err();
    assert!(matches!(err, DockerError::SessionExists(_)), "{err}");
    // The refused duplicate did not tear down the running one.
    assert!(probe_rfb(a.vnc_addr).await);
    let mut sessions = agent.sessions().await.unwrap();
    sessions.sort();
    assert_eq!(sessions, vec![sid("s-a"), sid("s-b")]);
    agent.end(&sid("s-a")).await.unwrap();
    agent.end(&sid("s-b")).await.unwrap();
    assert_eq!(labelled(&id), (vec![], vec![]));
}

#[tokio::test]
async fn internet_egress_uses_a_non_internal_network() {
    let id = agent_id("egress");
    let _guard = LabelGuard(id.clone());
    let agent = agent(&id).await;
    let mut spec = spec();
    spec.egress = Egress::Internet;
    let running = agent.launch(&spec, &sid("s-net")).await.unwrap();
    let info = agent
        .docker()
        .inspect_container(&running.container_id, None)
        .await
        .unwrap();
    let net_name = info
        .network_settings
        .unwrap()
        .networks
        .unwrap()
        .into_keys()
        .next()
        .unwrap();
    let net = agent
        .docker()
        .inspect_network(&net_name, None)
        .await
        .unwrap();
    assert_eq!(net.internal, Some(false));
    agent.end(&sid("s-net")).await.unwrap();
    assert_eq!(labelled(&id), (vec![], vec![]));
}

#[tokio::test]
async fn a_missing_socket_is_a_clear_error() {
    let mut settings = DockerSettings::new("nosock");
    settings.docker_socket = PathBuf::from("/nonexistent/docker.sock");
    let err = DockerRuntime::connect(settings).await.unwrap_err();
    assert!(matches!(err, DockerError::SocketMissing(_)), "{err:?}");
    assert!(
        err.to_string().contains("/nonexistent/docker.sock"),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_image_fails_and_leaves_nothing() {
    let id = agent_id("noimg");
    let _guard = LabelGuard(id.clone());
    let agent = agent(&id).await;
    let mut spec = spec();
    spec.image = "oriel-agent-test-no-such-image:0".to_owned();
    let err = agent.launch(&spec, &sid("s-x")).await.unwrap_err();
    assert!(matches!(err, DockerError::ImageMissing(_)), "{err:?}");
    assert_eq!(labelled(&id), (vec![], vec![]));
    assert!(rules(&id).is_empty());
}

#[tokio::test]
async fn a_container_that_exits_fails_fast_and_is_removed() {
    let id = agent_id("exit");
    let _guard = LabelGuard(id.clone());
    let agent = agent(&id).await;
    // pids limit 1: the image's shell cannot fork its listener and exits.
    let mut spec = spec();
    spec.pids = 1;
    let started = std::time::Instant::now();
    let err = agent.launch(&spec, &sid("s-dead")).await.unwrap_err();
    assert!(
        matches!(
            err,
            DockerError::ContainerExited { .. } | DockerError::VncTimeout { .. }
        ),
        "{err:?}"
    );
    eprintln!("failed after {:?}: {err}", started.elapsed());
    assert_eq!(labelled(&id), (vec![], vec![]));
}

#[tokio::test]
async fn sessions_take_subnets_from_the_configured_pool() {
    let id = agent_id("pool");
    let _guard = LabelGuard(id.clone());
    let mut settings = settings(&id);
    // A tiny pool (four /28s) so that overlaps and retries happen.
    settings.subnet_pool = Some(oriel_agent::SubnetPool::new("10.213.250.0/26", 28).unwrap());
    let agent = DockerRuntime::connect(settings).await.unwrap();
    let spec = spec();
    let ids: Vec<_> = (0..3).map(|i| sid(&format!("s-{i}"))).collect();
    let mut ips = Vec::new();
    for s in &ids {
        let running = agent.launch(&spec, s).await.unwrap();
        let ip = running.vnc_addr.ip().to_string();
        assert!(ip.starts_with("10.213.250."), "{ip}");
        assert!(probe_rfb(running.vnc_addr).await);
        ips.push(ip);
    }
    for s in &ids {
        agent.end(s).await.unwrap();
    }
    assert_eq!(labelled(&id), (vec![], vec![]));
}
