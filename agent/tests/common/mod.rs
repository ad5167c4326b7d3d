//! Fixtures for the agent's tests against the real Docker engine: a tiny
//! busybox image that stands in for the desktop image, a guard that removes
//! everything carrying a test agent's label, and helpers that run commands
//! inside a session container.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use oriel_agent::{ContainerSpec, DockerRuntime, DockerSettings, RunningSession, SessionId};

/// A `FROM scratch` image with a static busybox: `sh`, `nc`, `wget`,
/// `sleep`… It runs as uid 1000 like the desktop image (contract
/// version 1, deploy/images/README.md). Its command answers `RFB 003.008` on port 5900 to every
/// connection (enough for "the VNC server answers"), exits on SIGTERM, and
/// it declares `VOLUME /data` so that anonymous volumes can be checked.
pub const TEST_IMAGE: &str = "oriel-agent-test-busybox:4";

const BUSYBOX: &str = "/bin/busybox";
const APPLETS: &[&str] = &["sh", "nc", "wget", "sleep", "cat", "echo", "touch", "ls"];
const CMD: &str =
    r#"CMD ["/bin/sh","-c","trap 'exit 0' TERM; nc -ll -p 5900 -e echo 'RFB 003.008' & wait $!"]"#;

/// Builds [`TEST_IMAGE`] with `docker import` unless it exists.
pub fn test_image() -> &'static str {
    let exists = Command::new("docker")
        .args(["image", "inspect", TEST_IMAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("docker CLI")
        .success();
    if exists {
        return TEST_IMAGE;
    }
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} is missing: install Debian's busybox-static (./x deps-test)"
    );
    let dir = std::env::temp_dir().join(format!("oriel-agent-image-{}", std::process::id()));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(BUSYBOX, bin.join("busybox")).unwrap();
    for applet in APPLETS {
        let link = bin.join(applet);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("busybox", link).unwrap();
    }
    // Docker copies a tmpfs target's mode from the image: give the
    // directories the modes a real image has (the tar keeps our uid, so
    // /home/oriel gets a mode the test user can write).
    for (d, mode) in [("tmp", 0o1777), ("home/oriel", 0o777), ("data", 0o777)] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
        std::fs::set_permissions(dir.join(d), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(&dir)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let status = Command::new("docker")
        .args([
            "import",
            "-c",
            "VOLUME /data",
            "-c",
            "USER 1000:1000",
            "-c",
            CMD,
            "-",
            TEST_IMAGE,
        ])
        .stdin(Stdio::from(tar.stdout.take().unwrap()))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(tar.wait().unwrap().success());
    let _ = std::fs::remove_dir_all(&dir);
    assert!(status.success(), "docker import of the test image failed");
    TEST_IMAGE
}

/// A unique agent id for one test (tests run in parallel processes).
pub fn agent_id(test: &str) -> String {
    format!("t{}-{test}", std::process::id())
}

pub fn settings(agent_id: &str) -> DockerSettings {
    let mut s = DockerSettings::new(agent_id);
    s.ready_timeout = Duration::from_secs(20);
    s.stop_timeout = Duration::from_secs(2);
    s
}

pub async fn agent(agent_id: &str) -> DockerRuntime {
    DockerRuntime::connect(settings(agent_id)).await.unwrap()
}

pub fn spec() -> ContainerSpec {
    let mut s = ContainerSpec::new(test_image());
    s.cpus = 0.5;
    s.memory_mb = 64;
    s.pids = 64;
    s
}

pub fn sid(s: &str) -> SessionId {
    SessionId::new(s).unwrap()
}

/// Removes, also when the test panics, every container and network carrying
/// the agent's label and its firewall rules.
pub struct LabelGuard(pub String);

impl Drop for LabelGuard {
    fn drop(&mut self) {
        let label = format!("label=oriel.agent={}", self.0);
        let script = format!(
            "docker ps -aq --filter {label} | xargs -r docker rm -f -v >/dev/null 2>&1; \
             docker network ls -q --filter {label} | xargs -r docker network rm >/dev/null 2>&1; \
             for c in INPUT DOCKER-USER FORWARD; do iptables -w -S $c | grep -F 'oriel:{id}:' | sed 's/^-A/-D/' \
               | while read -r r; do eval iptables -w $r; done; done",
            id = self.0
        );
        let _ = Command::new("sh").arg("-c").arg(script).status();
    }
}

/// Runs `sh -c script` inside a container; returns (success, stdout+stderr).
pub async fn exec(container: &str, script: &str) -> (bool, String) {
    let out = tokio::process::Command::new("docker")
        .args(["exec", container, "sh", "-c", script])
        .output()
        .await
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Tries a TCP connection from inside the container (2 s limit); true when
/// it connected. A failed attempt must be refused, not time out.
pub async fn can_connect(container: &str, addr: SocketAddr) -> bool {
    let (ok, out) = exec(
        container,
        &format!("nc -w 2 {} {} </dev/null", addr.ip(), addr.port()),
    )
    .await;
    eprintln!("connect {addr} from {container}: ok={ok} {}", out.trim());
    assert!(ok || out.contains("refused"), "{addr}: fails fast: {out}");
    ok
}

/// The JSON of `docker <kind> inspect <name>`.
pub fn inspect(kind: &str, name: &str) -> Option<String> {
    let out = Command::new("docker")
        .args([kind, "inspect", name])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Container and network ids carrying the label `oriel.agent=<id>`.
pub fn labelled(agent_id: &str) -> (Vec<String>, Vec<String>) {
    let list = |args: &[&str]| -> Vec<String> {
        let out = Command::new("docker").args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let label = format!("label=oriel.agent={agent_id}");
    (
        list(&["ps", "-aq", "--filter", &label]),
        list(&["network", "ls", "-q", "--filter", &label]),
    )
}

/// Firewall rules of this agent (lines of `iptables -S`).
pub fn rules(agent_id: &str) -> Vec<String> {
    let mut out = Vec::new();
    for chain in ["INPUT", "DOCKER-USER", "FORWARD"] {
        let o = Command::new("iptables")
            .args(["-w", "-S", chain])
            .output()
            .unwrap();
        out.extend(
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.contains(&format!("oriel:{agent_id}:")))
                .map(str::to_owned),
        );
    }
    out
}

pub fn short(r: &RunningSession) -> &str {
    &r.container_id[..12]
}

/// A "LAN host" beside the Docker host: a network namespace behind a veth
/// pair (host side `10.251.<n>.1/30`, namespace side `.2`) that answers
/// `hi` on a TCP port. Reaching it from a session means forwarding to a
/// private range. Removed (namespace, veth, listener) when dropped.
pub struct LanHost {
    ns: String,
    listener: std::process::Child,
    pub addr: SocketAddr,
}

impl LanHost {
    pub fn start() -> LanHost {
        let n = std::process::id() % 250;
        let ns = format!("orl-lan-{}", std::process::id());
        let (host_if, ns_if) = (format!("orlh{n}"), format!("orln{n}"));
        let host_ip = format!("10.251.{n}.1/30");
        let lan_ip = format!("10.251.{n}.2");
        let script = format!(
            "set -e; ip netns add {ns}; ip link add {host_if} type veth peer name {ns_if}; \
             ip link set {ns_if} netns {ns}; ip addr add {host_ip} dev {host_if}; \
             ip link set {host_if} up; ip -n {ns} addr add {lan_ip}/30 dev {ns_if}; \
             ip -n {ns} link set {ns_if} up; ip -n {ns} link set lo up"
        );
        // Built before running anything, so a failed step is still cleaned.
        let mut host = LanHost {
            ns: ns.clone(),
            listener: Command::new("true").spawn().unwrap(),
            addr: SocketAddr::new(lan_ip.parse().unwrap(), 8080),
        };
        let ok = Command::new("sh").arg("-c").arg(&script).status().unwrap();
        assert!(ok.success(), "network namespace {ns}");
        host.listener = Command::new("ip")
            .args(["netns", "exec", &ns, BUSYBOX, "nc", "-ll", "-p", "8080"])
            .args(["-e", "echo", "hi"])
            .spawn()
            .unwrap();
        // The host itself reaches it (the listener is up).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect_timeout(&host.addr, Duration::from_millis(200)).is_err()
        {
            assert!(std::time::Instant::now() < deadline, "LAN host listens");
            std::thread::sleep(Duration::from_millis(50));
        }
        host
    }
}

impl Drop for LanHost {
    fn drop(&mut self) {
        let _ = self.listener.kill();
        let _ = self.listener.wait();
        // Deleting the namespace deletes the veth pair with it.
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// Does what Docker does for a moment whenever it creates a network: takes
/// the `FORWARD -j DOCKER-USER` jump out. Puts it back first in `FORWARD`
/// (where Docker re-inserts it) when dropped, also on panic.
pub struct DockerUserJumpRemoved;

impl DockerUserJumpRemoved {
    pub fn new() -> DockerUserJumpRemoved {
        let ok = Command::new("iptables")
            .args(["-w", "-D", "FORWARD", "-j", "DOCKER-USER"])
            .status()
            .unwrap();
        assert!(ok.success(), "FORWARD -j DOCKER-USER removed");
        DockerUserJumpRemoved
    }
}

impl Drop for DockerUserJumpRemoved {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .arg("-c")
            .arg("iptables -w -C FORWARD -j DOCKER-USER 2>/dev/null || iptables -w -I FORWARD -j DOCKER-USER")
            .status();
    }
}
