//! Dedicated proxies end to end: `oriel gateway --role dedicated-proxy`,
//! with no database and no key file, in front of the gateway of an
//! `oriel up` (the "central" site) serving a real VNC desktop.
//!
//! - `a_dedicated_proxy_passes_streams_on_and_refuses_token_abuse`: the
//!   proxy fetches the control plane's keys (`/api/v1/keys`), passes a valid
//!   stream on to the gateway the token names, and refuses a forged
//!   signature, an unknown key id, an expired token, a replay from another
//!   address, a replay after the reconnection window or past its count, a
//!   revoked session, a token for another zone and a token naming no
//!   gateway — each with its close code and reason, each counted in
//!   `oriel_gateway_token_refusals_total`.
//! - `a_partitioned_proxy_keeps_streaming_and_catches_up_on_revocations`:
//!   the link from the proxy to the control plane is cut (a TCP relay the
//!   test controls); a stream through the proxy goes on; a proxy restarted
//!   meanwhile starts on its cached keys and serves; a session revoked
//!   during the partition is refused by the proxy itself within seconds of
//!   the link coming back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine as _;
use oriel_core_token::{
    CLAIMS_VERSION, Policy, Reuse, SessionClaims, TargetClaims, TokenSigner, Upstream,
};
use oriel_testkit::{ScratchDir, StreamViewer, VncDisplay, VncOptions, free_port, wait_until};
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::{Oriel, blocking};
use tokio::net::{TcpListener, TcpStream};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The deployment's own signing key.
fn signer(central: &Oriel) -> TokenSigner {
    let seed = std::fs::read_to_string(central.data_dir().join("keys/signing.key")).unwrap();
    let seed: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(seed.trim())
        .unwrap()
        .try_into()
        .unwrap();
    TokenSigner::from_seed(&seed).unwrap()
}

/// A session token as the control plane would issue it for a user of zone
/// `eu` whose session the central gateway serves.
struct Mint {
    signer: TokenSigner,
    via: Upstream,
    vnc_port: u16,
}

impl Mint {
    fn claims(&self, sid: &str) -> SessionClaims {
        let now = now();
        SessionClaims {
            v: CLAIMS_VERSION,
            sid: sid.into(),
            jti: format!("{sid}-{}", rand_suffix()),
            sub: "user-eu".into(),
            name: "eve".into(),
            ws: "desk".into(),
            iat: now,
            nbf: now,
            exp: now + 60,
            target: TargetClaims {
                kind: "vnc".into(),
                host: "127.0.0.1".into(),
                port: self.vnc_port,
                identity: None,
            },
            policy: Policy::default(),
            creds: None,
            deadline: None,
            zones: vec!["eu".into(), "default".into()],
            gws: Vec::new(),
            via: Some(self.via.clone()),
            reuse: Some(Reuse {
                window: 300,
                max: 5,
            }),
            control: None,
            watcher: None,
        }
    }

    fn sign(&self, claims: &SessionClaims) -> String {
        self.signer.sign(claims).unwrap()
    }
}

fn rand_suffix() -> String {
    support::web::unique_suffix()
}

/// A dedicated proxy of zone `eu` on `port`, fetching keys and revocations
/// from `control_url`.
async fn start_proxy(
    central: &Oriel,
    control_url: &str,
    port: u16,
    dir: Option<ScratchDir>,
) -> Oriel {
    let cert = central.cert();
    let args = [
        "--role",
        "dedicated-proxy",
        "--zone",
        "eu",
        "--id",
        "proxy-eu",
        "--control",
        control_url,
        "--control-ca",
        cert.to_str().unwrap(),
    ];
    let env = [
        ("ORIEL_GATEWAY__REVOCATIONS_REFRESH", "300ms"),
        ("ORIEL_GATEWAY__KEYS_REFRESH", "1s"),
    ];
    let dir = dir.unwrap_or_else(|| ScratchDir::new("oriel-proxy").unwrap());
    let data: PathBuf = dir.path().join("data");
    Oriel::start_at(
        "gateway",
        &args,
        &env,
        dir,
        data,
        &format!("127.0.0.1:{port}"),
    )
    .await
    .unwrap()
}

/// The central site: `oriel up` whose gateway accepts streams passed on by
/// the proxy (the origin of the proxy's pages), and a desktop.
struct Central {
    oriel: Oriel,
    proxy_port: u16,
    mint: Mint,
    _display: VncDisplay,
    _xterm: oriel_testkit::Xterm,
}

async fn central() -> Central {
    let proxy_port = free_port().unwrap();
    let origins = format!("[\"https://localhost:{proxy_port}\"]");
    let oriel = Oriel::up(&[("ORIEL_GATEWAY__ALLOWED_ORIGINS", origins.as_str())])
        .await
        .unwrap();
    let display = VncDisplay::start(VncOptions::new(640, 480)).await.unwrap();
    let xterm = display
        .start_xterm(oriel_testkit::XtermOptions {
            command: Some("i=0; while :; do i=$((i+1)); echo line $i; sleep 0.05; done".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mint = Mint {
        signer: signer(&oriel),
        via: Upstream {
            to: oriel.stream_url(),
            cert_sha256: support::cert_sha256(&oriel.cert()),
        },
        vnc_port: display.rfb_port(),
    };
    Central {
        oriel,
        proxy_port,
        mint,
        _display: display,
        _xterm: xterm,
    }
}

impl Central {
    /// Revokes a session as an admin of the control plane.
    async fn revoke_session(&self, sid: &str) {
        let mut api = self.oriel.api();
        let sid = sid.to_owned();
        let revoked = blocking(move || {
            api.login_admin().unwrap();
            api.call(
                "POST",
                "/api/v1/revocations",
                Some(&json!({"kind": "session", "id": sid})),
                &[],
            )
            .unwrap()
        })
        .await;
        assert_eq!(revoked.status, 201, "{:?}", revoked.body);
    }
}

async fn viewer(proxy: &Oriel, from: Option<IpAddr>) -> StreamViewer {
    StreamViewer::connect_from(
        &proxy.stream_url(),
        &proxy.cert(),
        Some(&proxy.origin()),
        from,
    )
    .await
    .unwrap()
}

/// A stream through the proxy with `token`, streaming frames.
async fn stream(proxy: &Oriel, token: &str, from: Option<IpAddr>) -> StreamViewer {
    let mut v = viewer(proxy, from).await;
    v.hello(token, Duration::from_secs(20)).await.unwrap();
    assert!(
        v.hello.is_some(),
        "no HELLO through the proxy: {:?}\n{}",
        v.end,
        proxy.log_tail(20)
    );
    wait_frames(&mut v, 2).await;
    v
}

/// The close code and END message of a stream through the proxy with `token`.
async fn refused(proxy: &Oriel, token: &str, from: Option<IpAddr>) -> (u16, String) {
    let mut v = viewer(proxy, from).await;
    v.hello(token, Duration::from_secs(20)).await.unwrap();
    assert!(v.hello.is_none(), "a bad token got a HELLO");
    let (end, code) = v.wait_closed(Duration::from_secs(20)).await.unwrap();
    let end = end.expect("an END message with the reason");
    assert_eq!(Some(end.code), code, "END and close agree");
    (end.code, end.message)
}

/// `oriel_gateway_token_refusals_total{reason}` at a gateway.
async fn refusals(gateway: &Oriel, reason: &str) -> u64 {
    let api = gateway.api();
    let line = format!("oriel_gateway_token_refusals_total{{reason=\"{reason}\"}}");
    blocking(move || {
        let m = api.call("GET", "/metrics", None, &[]).unwrap();
        m.body
            .as_str()
            .unwrap()
            .lines()
            .find(|l| l.starts_with(&line))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0)
    })
    .await
}

async fn wait_frames(v: &mut StreamViewer, n: u64) {
    let before = v.frames;
    let deadline = Instant::now() + Duration::from_secs(15);
    while v.frames < before + n {
        assert!(Instant::now() < deadline, "frames stopped coming");
        assert!(
            !v.pump(Duration::from_millis(200)).await.unwrap(),
            "the stream closed: {:?}",
            v.end
        );
    }
}

/// Waits until the proxy has fetched the control plane's keys.
async fn keys_fetched(proxy: &Oriel) {
    let file = proxy.data_dir().join("keys/control-keys.json");
    wait_until(
        Duration::from_secs(20),
        "the proxy to fetch the keys",
        || {
            let ok = file.exists();
            async move { ok }
        },
    )
    .await
    .unwrap();
}

const OTHER_ADDRESS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dedicated_proxy_passes_streams_on_and_refuses_token_abuse() {
    let c = central().await;
    let proxy = start_proxy(&c.oriel, &c.oriel.base, c.proxy_port, None).await;
    keys_fetched(&proxy).await;
    assert!(
        !proxy.data_dir().join("keys/signing.pub").exists(),
        "the proxy holds no key file: it fetched the keys"
    );
    let mint = &c.mint;

    // A valid token: the stream is passed on and served by the central gateway.
    let token = mint.sign(&mint.claims("s-good"));
    drop(stream(&proxy, &token, None).await);

    // Forged signature.
    // Forged: one character in the middle of the signature changed.
    let at = token.len() - 20;
    let mut forged = token.clone();
    let other = if &token[at..=at] == "A" { "B" } else { "A" };
    forged.replace_range(at..=at, other);
    assert_eq!(refused(&proxy, &forged, None).await.0, 4001);
    // Unknown key id: signed by a key the control plane never published.
    let stranger = TokenSigner::from_seed(&[7; 32]).unwrap();
    let (code, msg) = refused(&proxy, &stranger.sign(&mint.claims("s-x")).unwrap(), None).await;
    assert_eq!(code, 4001, "{msg}");
    // Expired (and never used, so no reconnection window).
    let mut expired = mint.claims("s-expired");
    expired.nbf -= 600;
    expired.iat -= 600;
    expired.exp = now() - 120;
    assert_eq!(refused(&proxy, &mint.sign(&expired), None).await.0, 4002);
    // Replay of the good token from another address.
    let (code, msg) = refused(&proxy, &token, Some(OTHER_ADDRESS)).await;
    assert_eq!(code, 4003, "{msg}");
    assert!(msg.contains("another address"), "{msg}");
    // From its own address it reconnects.
    drop(stream(&proxy, &token, None).await);
    // Replay after the reconnection window.
    let mut short = mint.claims("s-short");
    short.reuse = Some(Reuse { window: 2, max: 5 });
    let short = mint.sign(&short);
    drop(stream(&proxy, &short, None).await);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (code, msg) = refused(&proxy, &short, None).await;
    assert_eq!(code, 4002, "{msg}");
    // Replay past its count.
    let mut once = mint.claims("s-once");
    once.reuse = Some(Reuse {
        window: 300,
        max: 1,
    });
    let once = mint.sign(&once);
    for _ in 0..2 {
        drop(stream(&proxy, &once, None).await);
    }
    let (code, msg) = refused(&proxy, &once, None).await;
    assert_eq!(code, 4003, "{msg}");
    // For another zone.
    let mut elsewhere = mint.claims("s-us");
    elsewhere.zones = vec!["us".into()];
    let (code, msg) = refused(&proxy, &mint.sign(&elsewhere), None).await;
    assert_eq!(code, 4003, "{msg}");
    assert!(msg.contains("zone"), "{msg}");
    // Naming no gateway to pass the stream on to.
    let mut nowhere = mint.claims("s-nowhere");
    nowhere.via = None;
    assert_eq!(refused(&proxy, &mint.sign(&nowhere), None).await.0, 4003);

    // Revoked: a live stream of the session is stopped, and its token
    // (reconnection included) is refused at the proxy once it holds the list.
    let victim = mint.sign(&mint.claims("s-revoked"));
    let mut live = stream(&proxy, &victim, None).await;
    c.revoke_session("s-revoked").await;
    let (end, code) = live.wait_closed(Duration::from_secs(10)).await.unwrap();
    assert_eq!(code, Some(4000), "{end:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, msg) = refused(&proxy, &victim, None).await;
        assert_eq!(code, 4000, "{msg}");
        if refusals(&proxy, "revoked").await >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the proxy never applied the list"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    for reason in [
        "bad_signature",
        "unknown_key",
        "expired",
        "replay_address",
        "replay_window",
        "replay_limit",
        "wrong_zone",
        "no_route",
        "revoked",
    ] {
        assert!(
            refusals(&proxy, reason).await >= 1,
            "{reason} not counted at the proxy"
        );
    }
}

/// A TCP relay the test can cut: the network link between the proxy and
/// the control plane.
struct Link {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Link {
    async fn to(target: SocketAddr) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&up);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let flag = Arc::clone(&flag);
                tokio::spawn(async move {
                    if !flag.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    // Copy until either side closes or the link is cut.
                    let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    tokio::pin!(copy);
                    loop {
                        tokio::select! {
                            _ = &mut copy => return,
                            () = tokio::time::sleep(Duration::from_millis(100)) => {
                                if !flag.load(Ordering::SeqCst) {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        Link { addr, up, task }
    }

    /// Cuts the link, open connections included (they notice within 100 ms).
    async fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    fn heal(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_proxy_keeps_streaming_and_catches_up_on_revocations() {
    let c = central().await;
    let link = Link::to(format!("127.0.0.1:{}", c.oriel.port).parse().unwrap()).await;
    // Through the link, on the name the certificate is for.
    let control_url = format!("https://localhost:{}", link.addr.port());
    let proxy = start_proxy(&c.oriel, &control_url, c.proxy_port, None).await;
    keys_fetched(&proxy).await;
    let mint = &c.mint;

    // A stream through the proxy, then the partition, during which a
    // session is revoked.
    let live_token = mint.sign(&mint.claims("p-live"));
    let mut live = stream(&proxy, &live_token, None).await;
    link.cut().await;
    c.revoke_session("p-doomed").await;
    // Streaming goes on through the partition.
    for _ in 0..3 {
        wait_frames(&mut live, 5).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The proxy restarts while partitioned: it comes back on its cached
    // keys; the viewer reconnects with the token it holds (no control
    // plane needed), and a new stream is served.
    let Oriel { guard, dir, .. } = proxy;
    drop(guard);
    let (_, code) = live.wait_closed(Duration::from_secs(10)).await.unwrap();
    assert_ne!(code, Some(1000), "the proxy went away under the stream");
    let proxy = start_proxy(&c.oriel, &control_url, c.proxy_port, Some(dir)).await;
    let mut live = stream(&proxy, &live_token, None).await;
    drop(stream(&proxy, &mint.sign(&mint.claims("p-fresh")), None).await);
    // The revocation has not reached the proxy: only the serving gateway
    // refuses the doomed session for now.
    let (code, _) = refused(&proxy, &mint.sign(&mint.claims("p-doomed")), None).await;
    assert_eq!(code, 4000, "the serving gateway refuses it");
    assert_eq!(refusals(&proxy, "revoked").await, 0);

    // The link comes back: within seconds the proxy refuses it itself.
    link.heal();
    let healed = Instant::now();
    loop {
        let (code, _) = refused(&proxy, &mint.sign(&mint.claims("p-doomed")), None).await;
        assert_eq!(code, 4000);
        if refusals(&proxy, "revoked").await >= 1 {
            break;
        }
        assert!(
            healed.elapsed() < Duration::from_secs(10),
            "the proxy did not apply the revocation within seconds:\n{}",
            proxy.log_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_frames(&mut live, 3).await;
}
