//! Bad input at the session boundary: every refusal is clear (END code and
//! message) and the gateway keeps serving a healthy session meanwhile.
//!
//! The hostile VNC servers are small fakes: a real server cannot be made to
//! send a rectangle outside its framebuffer or a 4 GiB clipboard.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use oriel_core_token::{
    CLAIMS_VERSION, Policy, SessionClaims, TargetClaims, TokenSigner, TokenVerifier,
};
use oriel_testkit::{StreamViewer, VncDisplay, VncOptions, handshake_status};
use serde_json::json;
use std::time::{Duration, Instant};
use support::{Oriel, blocking};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// A running healthy session to check the gateway keeps serving.
struct Healthy {
    viewer: StreamViewer,
    display: VncDisplay,
    _xterm: oriel_testkit::Xterm,
}

impl Healthy {
    async fn start(oriel: &Oriel, api: &support::Api) -> Healthy {
        let display = VncDisplay::start(VncOptions::new(640, 480)).await.unwrap();
        let xterm = display
            .start_xterm(oriel_testkit::XtermOptions {
                command: Some("i=0; while :; do i=$((i+1)); echo line $i; sleep 0.05; done".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let api = api.clone();
        let port = display.rfb_port();
        let launched = blocking(move || {
            api.vnc_workspace("healthy", port, None, json!({})).unwrap();
            api.launch("healthy").unwrap()
        })
        .await;
        let mut viewer =
            StreamViewer::connect(&oriel.stream_url(), &oriel.cert(), Some(&oriel.origin()))
                .await
                .unwrap();
        viewer
            .hello(launched["token"].as_str().unwrap(), Duration::from_secs(20))
            .await
            .unwrap();
        assert!(viewer.hello.is_some(), "{:?}", viewer.end);
        Healthy {
            viewer,
            display,
            _xterm: xterm,
        }
    }

    /// Frames keep coming (the xterm scrolls 20 lines a second).
    async fn still_streaming(&mut self) {
        let before = self.viewer.frames;
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.viewer.frames < before + 3 {
            assert!(
                Instant::now() < deadline,
                "the healthy session stopped streaming"
            );
            assert!(
                !self.viewer.pump(Duration::from_millis(200)).await.unwrap(),
                "healthy session closed"
            );
        }
        let _ = &self.display;
    }
}

async fn refused(oriel: &Oriel, token: &str) -> (Option<oriel_core_wire::End>, Option<u16>) {
    let mut v = StreamViewer::connect(&oriel.stream_url(), &oriel.cert(), Some(&oriel.origin()))
        .await
        .unwrap();
    v.hello(token, Duration::from_secs(20)).await.unwrap();
    assert!(v.hello.is_none(), "a bad token got a HELLO");
    v.wait_closed(Duration::from_secs(20)).await.unwrap()
}

fn claims(sid: &str, port: u16, nbf: u64, exp: u64) -> SessionClaims {
    SessionClaims {
        v: CLAIMS_VERSION,
        sid: sid.into(),
        jti: "t".into(),
        sub: "u".into(),
        name: "mallory".into(),
        ws: "w".into(),
        iat: nbf,
        nbf,
        exp,
        target: TargetClaims {
            kind: "vnc".into(),
            host: "127.0.0.1".into(),
            port,
            identity: None,
        },
        policy: Policy::default(),
        creds: None,
        deadline: None,
        zones: Vec::new(),
        gws: Vec::new(),
        via: None,
        reuse: None,
        control: None,
        watcher: None,
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_and_origins_are_refused_clearly() {
    let oriel = Oriel::up(&[]).await.unwrap();
    let mut api = oriel.api();
    let api = blocking(move || {
        api.login_admin().unwrap();
        api
    })
    .await;
    let mut healthy = Healthy::start(&oriel, &api).await;
    let target = healthy.display.rfb_port();
    let api2 = api.clone();
    let launched = blocking(move || api2.launch("healthy").unwrap()).await;
    let good = launched["token"].as_str().unwrap().to_owned();

    // Tampered: one character of the payload changed.
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut payload: Vec<char> = parts[2].chars().collect();
    payload[10] = if payload[10] == 'A' { 'B' } else { 'A' };
    parts[2] = payload.into_iter().collect();
    let (end, code) = refused(&oriel, &parts.join(".")).await;
    assert_eq!(code, Some(4001));
    assert!(end.unwrap().message.contains("not valid"));

    // Signed by a key the gateway does not know (another installation).
    let stranger = TokenSigner::from_seed(&[42; 32]).unwrap();
    let forged = stranger
        .sign(&claims(
            launched["id"].as_str().unwrap(),
            target,
            now(),
            now() + 60,
        ))
        .unwrap();
    assert_eq!(refused(&oriel, &forged).await.1, Some(4001));

    // Expired and not yet valid, signed with the real key (read from the data dir).
    let seed = std::fs::read_to_string(oriel.data_dir().join("keys/signing.key")).unwrap();
    let seed: Vec<u8> =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, seed.trim()).unwrap();
    let signer = TokenSigner::from_seed(&seed.try_into().unwrap()).unwrap();
    let sid = launched["id"].as_str().unwrap();
    let expired = signer
        .sign(&claims(sid, target, now() - 600, now() - 120))
        .unwrap();
    let (end, code) = refused(&oriel, &expired).await;
    assert_eq!(code, Some(4002));
    assert!(
        end.unwrap().retryable,
        "an expired token is worth a fresh one"
    );
    let early = signer
        .sign(&claims(sid, target, now() + 600, now() + 900))
        .unwrap();
    assert_eq!(refused(&oriel, &early).await.1, Some(4002));
    assert!(
        TokenVerifier::new([signer.public_key()])
            .verify::<SessionClaims>(&good, now())
            .is_ok(),
        "the key read from the data dir is the one that signs real tokens"
    );

    // A policy that asks for a watermark the gateway cannot draw (settings
    // out of range): the session does not stream without it (fail closed),
    // with a message that says why. (A recording it cannot write:
    // oriel/tests/recording.rs.)
    let mut c = claims(sid, target, now(), now() + 60);
    c.jti = "needs-watermark".into();
    c.policy.watermark = true;
    c.policy.watermark_opacity = 0;
    let (end, code) = refused(&oriel, &signer.sign(&c).unwrap()).await;
    assert_eq!(code, Some(4017));
    let end = end.unwrap();
    assert!(!end.retryable);
    assert!(end.message.contains("watermark"), "{}", end.message);
    let api2 = api.clone();
    let metrics = blocking(move || api2.call("GET", "/metrics", None, &[]).unwrap()).await;
    assert!(
        metrics
            .body
            .as_str()
            .unwrap()
            .lines()
            .any(|l| l == "oriel_gateway_token_refusals_total{reason=\"feature_unavailable\"} 1"),
        "refusals counted by reason"
    );

    // Oversized token, and garbage.
    assert_eq!(refused(&oriel, &"A".repeat(8000)).await.1, Some(4001));
    assert_eq!(refused(&oriel, "not-a-token").await.1, Some(4001));

    // A WebSocket from a foreign origin never gets to say HELLO.
    let err = StreamViewer::connect(
        &oriel.stream_url(),
        &oriel.cert(),
        Some("https://evil.example"),
    )
    .await
    .unwrap_err();
    assert_eq!(handshake_status(&err), Some(403), "{err:#}");

    // No HELLO in time: 4009 (the gateway waits 10 s).
    let mut idle = StreamViewer::connect(&oriel.stream_url(), &oriel.cert(), Some(&oriel.origin()))
        .await
        .unwrap();
    let (_, code) = idle.wait_closed(Duration::from_secs(20)).await.unwrap();
    assert_eq!(code, Some(4009));

    healthy.still_streaming().await;
}

/// How a fake VNC server misbehaves after a correct handshake.
#[derive(Clone, Copy, Debug)]
enum Hostility {
    RectOutsideFramebuffer,
    HugeClipboard,
    TruncatedUpdate,
    Garbage,
}

/// A fake RFB 3.8 server (security None, 64×64) that misbehaves once the
/// viewer's first update request arrives.
async fn hostile_server(how: Hostility) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                s.write_all(b"RFB 003.008\n").await?;
                s.read_exact(&mut buf[..12]).await?;
                s.write_all(&[1, 1]).await?; // one security type: None
                s.read_exact(&mut buf[..1]).await?;
                s.write_all(&0u32.to_be_bytes()).await?; // SecurityResult OK
                s.read_exact(&mut buf[..1]).await?; // ClientInit
                let mut init = vec![0, 64, 0, 64];
                init.extend_from_slice(&[32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
                init.extend_from_slice(&4u32.to_be_bytes());
                init.extend_from_slice(b"evil");
                s.write_all(&init).await?;
                // Let the client's SetPixelFormat/SetEncodings/request arrive.
                tokio::time::sleep(Duration::from_millis(300)).await;
                let _ = s.read(&mut buf).await?;
                let msg: Vec<u8> = match how {
                    Hostility::RectOutsideFramebuffer => {
                        // FramebufferUpdate, 1 rect at (60,60) 10x10 Raw.
                        let mut m = vec![0, 0, 0, 1, 0, 60, 0, 60, 0, 10, 0, 10, 0, 0, 0, 0];
                        m.extend(vec![0xaa; 10 * 10 * 4]);
                        m
                    }
                    Hostility::HugeClipboard => {
                        let mut m = vec![3, 0, 0, 0];
                        m.extend_from_slice(&u32::MAX.to_be_bytes());
                        m.extend_from_slice(b"just the start");
                        m
                    }
                    Hostility::TruncatedUpdate => {
                        vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 16, 0, 16, 0, 0, 0, 0, 1, 2, 3]
                    }
                    Hostility::Garbage => vec![0xee; 64],
                };
                s.write_all(&msg).await?;
                if matches!(how, Hostility::TruncatedUpdate) {
                    s.shutdown().await?;
                } else {
                    // Keep the connection open: the gateway must give up by itself.
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                Ok::<_, std::io::Error>(())
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_and_hostile_targets_give_clear_errors() {
    let oriel = Oriel::up(&[]).await.unwrap();
    let mut api = oriel.api();
    let api = blocking(move || {
        api.login_admin().unwrap();
        api
    })
    .await;
    let mut healthy = Healthy::start(&oriel, &api).await;

    let dead = oriel_testkit::free_port().unwrap();
    let cases = [
        ("dead", dead, 4004, "cannot be reached"),
        (
            "outside",
            hostile_server(Hostility::RectOutsideFramebuffer).await,
            4006,
            "cannot accept",
        ),
        (
            "clipboard",
            hostile_server(Hostility::HugeClipboard).await,
            4006,
            "cannot accept",
        ),
        (
            "garbage",
            hostile_server(Hostility::Garbage).await,
            4006,
            "cannot accept",
        ),
        (
            "truncated",
            hostile_server(Hostility::TruncatedUpdate).await,
            4007,
            "closed the connection",
        ),
    ];
    for (name, port, want_code, want_text) in cases {
        let api2 = api.clone();
        let launched = blocking(move || {
            api2.vnc_workspace(name, port, None, json!({})).unwrap();
            api2.launch(name).unwrap()
        })
        .await;
        let mut v =
            StreamViewer::connect(&oriel.stream_url(), &oriel.cert(), Some(&oriel.origin()))
                .await
                .unwrap();
        v.hello(launched["token"].as_str().unwrap(), Duration::from_secs(20))
            .await
            .unwrap();
        let (end, code) = v.wait_closed(Duration::from_secs(20)).await.unwrap();
        let end = end.unwrap_or_else(|| panic!("{name}: no END, code {code:?}"));
        assert_eq!(code, Some(want_code), "{name}: {end:?}");
        assert_eq!(end.code, want_code);
        assert!(end.message.contains(want_text), "{name}: {:?}", end.message);
        assert_eq!(end.class, oriel_core_model::ErrorClass::Target);
        healthy.still_streaming().await;
    }
    // The process is alive and healthy after all that.
    let api2 = api.clone();
    let health = blocking(move || api2.call("GET", "/healthz", None, &[]).unwrap()).await;
    assert_eq!(health.status, 200);
}
