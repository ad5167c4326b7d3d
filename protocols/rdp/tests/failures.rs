//! Targets that are not RDP servers: a dead port, and servers that speak
//! garbage or hang up. Every one ends in a classified error, never a panic.

mod common;

use std::time::{Duration, Instant};

use common::request;
use oriel_core_model::SessionErrorKind;
use oriel_protocols_rdp::RdpConnector;
use oriel_protocols_session::{Connector, TargetTrust};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test]
async fn a_dead_port_is_unreachable() {
    let port = oriel_testkit::free_port().expect("port");
    let err = RdpConnector::default()
        .connect(request(port, TargetTrust::FirstUse, None))
        .await
        .expect_err("nothing listens");
    assert_eq!(err.kind, SessionErrorKind::TargetUnreachable, "{err}");
}

/// A server that reads the client's first bytes, answers `reply`, then
/// either hangs up or keeps the connection open.
async fn fake_server(reply: &'static [u8], hang_up: bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(reply).await;
                if !hang_up {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            });
        }
    });
    port
}

async fn connect(port: u16) -> oriel_core_model::SessionError {
    let mut req = request(port, TargetTrust::FirstUse, None);
    req.timeout = Duration::from_secs(5);
    RdpConnector::default()
        .connect(req)
        .await
        .expect_err("not an rdp server")
}

#[tokio::test]
async fn garbage_is_a_protocol_error() {
    let started = Instant::now();
    // An HTTP answer, an SSH banner, a TPKT header announcing an X.224
    // packet that is no connection confirm, and a refusal to negotiate.
    for reply in [
        &b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"[..],
        &b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"[..],
        &[
            0x03, 0x00, 0x00, 0x0b, 0x06, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00,
        ][..],
        // A well-formed negotiation failure (HYBRID_REQUIRED_BY_SERVER).
        &[
            0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x03, 0x00, 0x08,
            0x00, 0x05, 0x00, 0x00, 0x00,
        ][..],
    ] {
        for hang_up in [false, true] {
            let err = connect(fake_server(reply, hang_up).await).await;
            eprintln!(
                "{:?} hang_up={hang_up}: {err}",
                String::from_utf8_lossy(&reply[..8.min(reply.len())])
            );
            if hang_up {
                assert!(
                    matches!(
                        err.kind,
                        SessionErrorKind::TargetProtocol | SessionErrorKind::TargetClosed
                    ),
                    "{err}"
                );
            } else {
                assert_eq!(err.kind, SessionErrorKind::TargetProtocol, "{err}");
            }
        }
    }
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn silence_is_a_timeout_and_hanging_up_is_closed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let mut req = request(port, TargetTrust::FirstUse, None);
    req.timeout = Duration::from_millis(500);
    let err = RdpConnector::default()
        .connect(req)
        .await
        .expect_err("silent");
    assert_eq!(err.kind, SessionErrorKind::TargetTimeout, "{err}");

    let err = connect(fake_server(b"", true).await).await;
    assert_eq!(err.kind, SessionErrorKind::TargetClosed, "{err}");
}
