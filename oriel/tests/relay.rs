//! The relay's refusals end to end, each with its close code
//! (docs/protocol.md): a forged or expired route, a far gateway that cannot
//! be reached, a far gateway whose certificate is not the one the route
//! names; and a route to the right certificate is followed (the far
//! gateway, here the same `oriel up`, answers the viewer itself).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine as _;
use oriel_core_token::{CLAIMS_VERSION, RouteClaims, TokenSigner};
use oriel_testkit::StreamViewer;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::Oriel;

/// Signs a route with the deployment's own signing key.
fn route(oriel: &Oriel, to: &str, cert_sha256: &str, exp_offset: i64) -> String {
    let seed = std::fs::read_to_string(oriel.data_dir().join("keys/signing.key")).unwrap();
    let seed: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(seed.trim())
        .unwrap()
        .try_into()
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    TokenSigner::from_seed(&seed)
        .unwrap()
        .sign(&RouteClaims {
            v: CLAIMS_VERSION,
            sid: "relay-test".into(),
            iat: now - 600,
            nbf: now - 600,
            exp: now.saturating_add_signed(exp_offset),
            to: to.into(),
            cert_sha256: cert_sha256.into(),
        })
        .unwrap()
}

/// Opens `/relay/<route>` and returns the close code it ends with, after
/// sending HELLO with `token` when given.
async fn close_code(oriel: &Oriel, route: &str, token: Option<&str>) -> Option<u16> {
    let url = format!("wss://localhost:{}/relay/{route}", oriel.port);
    let mut v = StreamViewer::connect(&url, &oriel.cert(), Some(&oriel.origin()))
        .await
        .unwrap();
    if let Some(token) = token {
        v.hello(token, Duration::from_secs(10)).await.unwrap();
    }
    v.wait_closed(Duration::from_secs(20)).await.unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_refusals_carry_their_close_codes() {
    let oriel = Oriel::up(&[]).await.unwrap();
    let own = oriel.stream_url();
    let sha = support::cert_sha256(&oriel.cert());
    // A port nothing listens on: bound, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);

    assert_eq!(
        close_code(&oriel, "rt1.forged.route", None).await,
        Some(4001)
    );
    // Past the verifier's clock-skew leeway.
    let expired = route(&oriel, &own, &sha, -300);
    assert_eq!(close_code(&oriel, &expired, None).await, Some(4002));
    let unreachable = route(
        &oriel,
        &format!("wss://127.0.0.1:{closed_port}/stream"),
        &sha,
        600,
    );
    assert_eq!(close_code(&oriel, &unreachable, None).await, Some(4004));
    let not_wss = route(&oriel, &own.replace("wss:", "ws:"), &sha, 600);
    assert_eq!(close_code(&oriel, &not_wss, None).await, Some(4010));
    let other_cert = route(&oriel, &own, &"0".repeat(64), 600);
    assert_eq!(close_code(&oriel, &other_cert, None).await, Some(4014));
    // The right certificate: the relay passes the viewer on to the far
    // gateway, which refuses the (invalid) session token itself.
    let good = route(&oriel, &own, &sha, 600);
    let code = close_code(&oriel, &good, Some("s1.not-a-token")).await;
    eprintln!("the far gateway closed with {code:?}");
    assert!(code.is_some(), "a close code, passed through");
    assert!(
        oriel.log_tail(200).contains("relaying a stream"),
        "the route was followed\n{}",
        oriel.log_tail(30)
    );
}
