//! The dedicated proxy's path: `oriel gateway --role dedicated-proxy` in
//! front of the far server, and the HELLO (a fresh session token naming
//! the far server as the gateway to pass it on to) each stream sends first.

use crate::deploy::Deployment;
use anyhow::{Context as _, bail};
use base64::Engine as _;
use oriel_core_token::{CLAIMS_VERSION, TokenSigner};
use oriel_testkit::ScratchDir;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Starts `oriel gateway --role dedicated-proxy` trusting the deployment's
/// key file; returns it and its `wss://…/stream`.
pub(super) async fn start_proxy(
    binary: &Path,
    deployment: &Deployment,
    scratch: &ScratchDir,
) -> anyhow::Result<(oriel_testkit::ChildGuard, String)> {
    let data = deployment
        .ca
        .parent()
        .and_then(Path::parent)
        .context("no data directory")?;
    let key = data.join("keys").join("signing.pub");
    let mut cmd = std::process::Command::new(binary);
    cmd.args([
        "gateway",
        "--role",
        "dedicated-proxy",
        "--zone",
        "bench",
        "--id",
        "bench-proxy",
    ])
    .arg("--data-dir")
    .arg(scratch.path().join("proxy"))
    .args(["--listen", "127.0.0.1:0"])
    // The deployment's certificate, which the clients trust already.
    .arg("--tls-cert")
    .arg(&deployment.ca)
    .arg("--tls-key")
    .arg(data.join("tls").join("tls.key"))
    .env(
        "ORIEL_GATEWAY__CONTROL_PUBLIC_KEYS",
        format!("[\"{}\"]", key.display()),
    )
    .env("RUST_LOG", "warn,oriel=info");
    let mut guard = oriel_testkit::ChildGuard::spawn(cmd, "oriel-proxy", scratch)?;
    let started = std::time::Instant::now();
    loop {
        if let Some(base) = guard.log().lines().find_map(|l| {
            l.split(" ready at ")
                .nth(1)
                .map(|u| u.trim().trim_end_matches('/').to_owned())
        }) {
            let url = format!("{}/stream", base.replacen("https://", "wss://", 1));
            return Ok((guard, url));
        }
        if !guard.is_running() || started.elapsed() > Duration::from_secs(30) {
            bail!("the dedicated proxy did not start:\n{}", guard.log_tail(20));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A HELLO with a fresh session token (its own id) naming the far server
/// as the gateway the proxy passes the stream on to.
pub(super) fn proxy_hello(signer: &TokenSigner, to: &str, cert_sha256: &str) -> Vec<u8> {
    use oriel_core_token::{Policy, Reuse, SessionClaims, TargetClaims, Upstream};
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let claims = SessionClaims {
        v: CLAIMS_VERSION,
        sid: format!("loadtest-proxy-{n}"),
        jti: format!("loadtest-proxy-{}-{n}", std::process::id()),
        sub: "loadtest".into(),
        name: "loadtest".into(),
        ws: "relay".into(),
        iat: now,
        nbf: now,
        exp: now + 3600,
        target: TargetClaims {
            kind: "vnc".into(),
            host: "127.0.0.1".into(),
            port: 1,
            identity: None,
        },
        policy: Policy::default(),
        creds: None,
        deadline: None,
        zones: vec!["bench".into()],
        gws: Vec::new(),
        via: Some(Upstream {
            to: to.to_owned(),
            cert_sha256: cert_sha256.to_owned(),
        }),
        reuse: Some(Reuse { window: 60, max: 0 }),
        control: None,
        watcher: None,
    };
    let token = signer.sign(&claims).unwrap_or_default();
    oriel_core_wire::ClientMessage::Hello(oriel_core_wire::ClientHello {
        version: oriel_core_wire::VERSION,
        capabilities: 0,
        viewport: oriel_core_model::Size::new(0, 0),
        token,
    })
    .to_bytes()
}

/// The deployment's own signing key.
pub(super) fn deployment_signer(deployment: &Deployment) -> anyhow::Result<TokenSigner> {
    let data = deployment
        .ca
        .parent()
        .and_then(Path::parent)
        .context("no data directory")?;
    let key_file = data.join("keys").join("signing.key");
    let text = std::fs::read_to_string(&key_file)
        .with_context(|| format!("cannot read {}", key_file.display()))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .with_context(|| format!("{} is not base64", key_file.display()))?;
    let seed: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .with_context(|| format!("{} must hold 32 bytes", key_file.display()))?;
    Ok(TokenSigner::from_seed(&seed)?)
}
