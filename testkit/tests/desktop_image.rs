#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The desktop workspace image (`deploy/images/desktop`), built from Debian
//! packages and run the way the agent runs it: on an internal Docker network,
//! read-only root, no capabilities, no new privileges, tmpfs for /tmp and the
//! home directory, a random per-session VNC password.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use oriel_testkit::images::{VncAuthOutcome, desktop_image, vnc_auth_handshake};
use oriel_testkit::{SECURITY_VNC_AUTH, VncDisplay, VncOptions, wait_for_value};

/// A random token of `len` lowercase letters and digits.
fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyz23456789";
    (0..len)
        .map(|i| {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_usize(i);
            char::from(ALPHABET[(hasher.finish() % ALPHABET.len() as u64) as usize])
        })
        .collect()
}

fn docker(args: &[&str]) -> Result<String> {
    let output = Command::new("docker")
        .args(args)
        .output()
        .context("cannot run docker")?;
    ensure!(
        output.status.success(),
        "docker {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// A Docker network removed on drop (after the containers on it).
struct Network(String);

impl Network {
    fn internal() -> Result<Self> {
        let name = format!("oriel-test-desktop-{}", random_token(10));
        docker(&["network", "create", "--internal", &name])?;
        Ok(Self(name))
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = docker(&["network", "rm", &self.0]);
    }
}

/// A container removed (with force) on drop; its log is printed first when
/// the test fails.
struct Container(String);

impl Container {
    fn ip(&self, network: &Network) -> Result<IpAddr> {
        let format = format!(
            "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
            network.0
        );
        let ip = docker(&["inspect", "--format", &format, &self.0])?;
        ip.parse().with_context(|| format!("container IP {ip:?}"))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = Command::new("docker").args(["logs", &self.0]).status();
        }
        let _ = docker(&["rm", "--force", &self.0]);
    }
}

/// The flags the agent uses: nothing writable but tmpfs, no capabilities.
fn run_workspace(image: &str, network: &Network, env: &[(&str, &str)]) -> Result<Container> {
    let name = format!("oriel-test-desktop-{}", random_token(10));
    let mut args = vec!["run".to_owned(), "--detach".to_owned()];
    args.extend(workspace_args(&name, network, env));
    args.push(image.to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    docker(&args)?;
    Ok(Container(name))
}

fn workspace_args(name: &str, network: &Network, env: &[(&str, &str)]) -> Vec<String> {
    let mut args = vec![
        format!("--name={name}"),
        format!("--network={}", network.0),
        "--read-only".to_owned(),
        "--cap-drop=ALL".to_owned(),
        "--security-opt=no-new-privileges".to_owned(),
        "--tmpfs=/tmp:rw,nosuid,nodev,mode=1777".to_owned(),
        "--tmpfs=/home/oriel:rw,nosuid,nodev,uid=1000,gid=1000,mode=0700".to_owned(),
        "--memory=1g".to_owned(),
        "--pids-limit=512".to_owned(),
    ];
    for (key, value) in env {
        args.push(format!("--env={key}={value}"));
    }
    args
}

/// Waits for the workspace's VNC server and authenticates with `password`;
/// returns the framebuffer size.
async fn authenticate(addr: SocketAddr, password: &str) -> Result<(u16, u16)> {
    let handshake = wait_for_value(
        Duration::from_secs(30),
        "the workspace's VNC server",
        || {
            let password = password.to_owned();
            async move { vnc_auth_handshake(addr, &password).await.ok() }
        },
    )
    .await?;
    match handshake.outcome {
        VncAuthOutcome::Accepted { width, height, .. } => Ok((width, height)),
        VncAuthOutcome::Rejected { reason } => anyhow::bail!("password refused: {reason}"),
    }
}

#[tokio::test]
async fn desktop_image_serves_vnc_auth_at_the_session_resolution() -> Result<()> {
    let image = desktop_image().await?;
    let labels = docker(&["image", "inspect", "--format", "{{json .Config}}", &image])?;
    assert!(
        labels.contains("\"User\":\"1000:1000\""),
        "image config: {labels}"
    );
    assert!(labels.contains("5900/tcp"), "image config: {labels}");

    let network = Network::internal()?;
    let password = random_token(8);
    let container = run_workspace(
        &image,
        &network,
        &[
            ("ORIEL_VNC_PASSWORD", &password),
            ("ORIEL_WIDTH", "1024"),
            ("ORIEL_HEIGHT", "768"),
        ],
    )?;
    let addr = SocketAddr::new(container.ip(&network)?, 5900);

    // Nothing is published: the host reaches the container on the network.
    let ports = docker(&["port", &container.0])?;
    assert!(ports.is_empty(), "published ports: {ports}");

    let accepted = wait_for_value(
        Duration::from_secs(30),
        "the workspace's VNC server",
        || {
            let password = password.clone();
            async move { vnc_auth_handshake(addr, &password).await.ok() }
        },
    )
    .await?;
    assert_eq!(accepted.version, "RFB 003.008");
    assert_eq!(
        accepted.security_types,
        vec![SECURITY_VNC_AUTH],
        "only VncAuth is offered"
    );
    match &accepted.outcome {
        VncAuthOutcome::Accepted { width, height, .. } => {
            assert_eq!((*width, *height), (1024, 768));
        }
        other => panic!("the right password was refused: {other:?}"),
    }

    let wrong = vnc_auth_handshake(addr, "wrong-pw").await?;
    assert!(
        matches!(wrong.outcome, VncAuthOutcome::Rejected { .. }),
        "a wrong password was accepted: {wrong:?}"
    );

    // The session runs as the unprivileged user, with a window manager and an
    // xterm on the display (openbox starts the xterm once it manages
    // windows: a moment after the VNC server answers).
    let mut processes = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        processes = docker(&["exec", &container.0, "ps", "-eo", "user:12,comm"])?;
        if processes.contains("xterm") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for process in ["Xtigervnc", "openbox", "xterm"] {
        assert!(
            processes.contains(process),
            "{process} is not running:\n{processes}"
        );
    }
    assert!(
        processes
            .lines()
            .skip(1)
            .all(|line| line.starts_with("oriel ")),
        "something runs as another user:\n{processes}"
    );

    // (find skips the few root-only directories, e.g. /var/cache/ldconfig.)
    let setuid = docker(&[
        "exec",
        &container.0,
        "sh",
        "-c",
        "find / -xdev -type f -perm /6000 2>/dev/null || true",
    ])?;
    assert!(setuid.is_empty(), "setuid or setgid files:\n{setuid}");

    // SIGTERM ends the session cleanly and promptly.
    docker(&["stop", "--time=10", &container.0])?;
    let exit = docker(&["inspect", "--format", "{{.State.ExitCode}}", &container.0])?;
    assert_eq!(exit, "0");
    drop(container);
    drop(network);
    Ok(())
}

#[tokio::test]
async fn desktop_image_refuses_a_bad_session_environment() -> Result<()> {
    let image = desktop_image().await?;
    let network = Network::internal()?;
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[], "no VNC password"),
        (
            &[("ORIEL_VNC_PASSWORD", "much-too-long")],
            "6 to 8 characters",
        ),
        (
            &[("ORIEL_VNC_PASSWORD", "abcdefgh"), ("ORIEL_WIDTH", "wide")],
            "positive integers",
        ),
        (
            &[
                ("ORIEL_VNC_PASSWORD", "abcdefgh"),
                ("ORIEL_HEIGHT", "100000"),
            ],
            "outside 64..8192",
        ),
    ];
    for (env, message) in cases {
        let container = run_workspace(&image, &network, env)?;
        let exit = docker(&["wait", &container.0])?;
        let logs = Command::new("docker")
            .args(["logs", &container.0])
            .output()?;
        let logs = String::from_utf8_lossy(&logs.stderr);
        assert_eq!(exit, "64", "{env:?}: {logs}");
        assert!(logs.contains(message), "{env:?}: {logs}");
    }
    Ok(())
}

/// The handshake client against a local Xtigervnc, without Docker: the DES
/// step is right if the right password gets in and a wrong one does not.
#[tokio::test]
async fn vnc_auth_handshake_authenticates_against_xtigervnc() -> Result<()> {
    let display = VncDisplay::start(VncOptions::new(320, 200).password("s3cret")).await?;
    let addr = SocketAddr::from(([127, 0, 0, 1], display.rfb_port()));
    let ok = vnc_auth_handshake(addr, "s3cret").await?;
    assert!(
        matches!(
            ok.outcome,
            VncAuthOutcome::Accepted {
                width: 320,
                height: 200,
                ..
            }
        ),
        "{ok:?}"
    );
    let wrong = vnc_auth_handshake(addr, "s3creT").await?;
    assert!(
        matches!(wrong.outcome, VncAuthOutcome::Rejected { .. }),
        "{wrong:?}"
    );
    Ok(())
}

#[tokio::test]
async fn desktop_image_reads_the_password_from_a_file_or_stdin() -> Result<()> {
    let image = desktop_image().await?;
    let network = Network::internal()?;

    // A file, e.g. a mounted secret.
    let dir = tempfile::tempdir()?;
    let secret = dir.path().join("vncpasswd");
    let password = random_token(8);
    std::fs::write(&secret, format!("{password}\n"))?;
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    let mount = format!("{}:/run/oriel/vncpasswd:ro", secret.display());
    let name = format!("oriel-test-desktop-{}", random_token(10));
    let mut args = vec![
        "run".to_owned(),
        "--detach".to_owned(),
        format!("--volume={mount}"),
    ];
    args.extend(workspace_args(
        &name,
        &network,
        &[
            ("ORIEL_VNC_PASSWORD_FILE", "/run/oriel/vncpasswd"),
            ("ORIEL_WIDTH", "800"),
            ("ORIEL_HEIGHT", "600"),
        ],
    ));
    args.push(image.clone());
    docker(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
    let from_file = Container(name);
    let addr = SocketAddr::new(from_file.ip(&network)?, 5900);
    assert_eq!(authenticate(addr, &password).await?, (800, 600));
    drop(from_file);

    // One line on stdin, as `docker run -i` (or an attach) delivers it.
    let password = random_token(8);
    let name = format!("oriel-test-desktop-{}", random_token(10));
    let mut args = vec!["run".to_owned(), "--interactive".to_owned()];
    args.extend(workspace_args(
        &name,
        &network,
        &[("ORIEL_VNC_PASSWORD_STDIN", "1")],
    ));
    args.push(image.clone());
    let mut client = Command::new("docker")
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let from_stdin = Container(name);
    let mut stdin = client.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, format!("{password}\n").as_bytes())?;
    let ip = wait_for_value(
        Duration::from_secs(30),
        "the stdin workspace's address",
        || {
            let ip = from_stdin.ip(&network).ok();
            async move { ip }
        },
    )
    .await?;
    assert_eq!(
        authenticate(SocketAddr::new(ip, 5900), &password).await?,
        (1280, 800)
    );
    drop(from_stdin);
    drop(stdin);
    client.wait()?;
    Ok(())
}
