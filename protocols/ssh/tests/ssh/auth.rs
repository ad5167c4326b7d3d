//! Authentication, host key trust and failure classification.

use crate::support::{Live, credentials, password, request};
use oriel_core_model::SessionErrorKind;
use oriel_protocols_session::{ConnectRequest, TargetTrust};
use oriel_protocols_ssh::SshConnector;
use oriel_testkit::free_port;
use oriel_testkit::sshd::Sshd;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

async fn connect_err(req: ConnectRequest) -> oriel_core_model::SessionError {
    match SshConnector::default().connect_with_probe(req).await {
        Ok(_) => panic!("connected, expected an error"),
        Err(e) => e,
    }
}

/// 2. Public-key login with a pinned host key; a wrong password; a changed
/// host key is refused with a message saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_login_pins_and_wrong_password() {
    let started = Instant::now();
    let mut sshd = Sshd::start().await.expect("sshd");
    let pin = sshd.host_fingerprint().unwrap();
    assert!(pin.starts_with("SHA256:"));
    let key = sshd.generate_client_key("t2").unwrap();
    sshd.authorize(&key).unwrap();
    let creds = credentials(sshd.user(), None, Some(&key.private_openssh));
    let live = Live::connect(request(
        sshd.port(),
        creds.clone(),
        TargetTrust::Pinned(pin.clone()),
        None,
    ))
    .await
    .unwrap_or_else(|e| panic!("key login: {e}\n{}", sshd.log_tail(30)));
    assert_eq!(live.info.identity.as_deref(), Some(pin.as_str()));
    live.wait_prompt().await;
    live.type_text("echo key-$((40+2))\n").await;
    live.wait_line("key-42").await;
    drop(live);

    // A key the server does not know.
    let stranger = sshd.generate_client_key("stranger").unwrap();
    let e = connect_err(request(
        sshd.port(),
        credentials(sshd.user(), None, Some(&stranger.private_openssh)),
        TargetTrust::Pinned(pin.clone()),
        None,
    ))
    .await;
    assert_eq!(e.kind, SessionErrorKind::TargetAuthFailed, "{e}");

    // A wrong password.
    let mut wrong = password(&sshd);
    wrong.password = Some("not-the-password".to_owned());
    let e = connect_err(request(
        sshd.port(),
        wrong,
        TargetTrust::Pinned(pin.clone()),
        None,
    ))
    .await;
    assert_eq!(e.kind, SessionErrorKind::TargetAuthFailed, "{e}");

    // The server gets a new host key: the old pin is refused.
    sshd.restart_with_new_host_key().await.unwrap();
    let new_pin = sshd.host_fingerprint().unwrap();
    assert_ne!(new_pin, pin);
    let e = connect_err(request(
        sshd.port(),
        creds.clone(),
        TargetTrust::Pinned(pin.clone()),
        None,
    ))
    .await;
    assert_eq!(e.kind, SessionErrorKind::TargetIdentity, "{e}");
    assert!(
        e.detail.contains("host key") && e.detail.contains("changed"),
        "{e}"
    );
    assert!(
        e.detail.contains(&pin) && e.detail.contains(&new_pin),
        "{e}"
    );

    // The new pin works; first use reports it.
    let live = Live::connect(request(sshd.port(), creds, TargetTrust::FirstUse, None))
        .await
        .expect("first use");
    assert_eq!(live.info.identity.as_deref(), Some(new_pin.as_str()));
    println!("key/pin test took {:?}", started.elapsed());
}

/// 7. Nothing listening → unreachable; garbage instead of SSH → protocol
/// error; silence → timeout. No panic anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_garbage_and_silent_targets() {
    let creds = credentials("nobody", Some("x"), None);
    let dead = free_port().unwrap();
    let e = connect_err(request(dead, creds.clone(), TargetTrust::FirstUse, None)).await;
    assert_eq!(e.kind, SessionErrorKind::TargetUnreachable, "{e}");

    // Servers that answer with garbage, before or after a valid banner.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut garbage = vec![0u8; 64 * 1024];
    for b in &mut garbage {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        *b = seed as u8;
    }
    for banner in [&b""[..], &b"SSH-2.0-OpenSSH_9.2 fake\r\n"[..]] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let payload = [banner, &garbage].concat();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let _ = sock.write_all(&payload).await;
            // Keep the connection open until the client gives up.
            let mut sink = [0u8; 4096];
            while matches!(sock.read(&mut sink).await, Ok(n) if n > 0) {}
        });
        let e = connect_err(request(port, creds.clone(), TargetTrust::FirstUse, None)).await;
        assert_eq!(
            e.kind,
            SessionErrorKind::TargetProtocol,
            "banner {banner:?}: {e}"
        );
        server.abort();
    }

    // A server that accepts and says nothing.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (_sock, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let mut req = request(port, creds, TargetTrust::FirstUse, None);
    req.timeout = Duration::from_millis(500);
    let e = connect_err(req).await;
    assert_eq!(e.kind, SessionErrorKind::TargetTimeout, "{e}");
    server.abort();
}

/// The connection drops mid-session: the events channel ends with
/// `TargetClosed`, not a silent close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connection_is_reported() {
    let sshd = Sshd::start().await.expect("sshd");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream = sshd.port();
    let proxy = tokio::spawn(async move {
        let (mut client, _) = listener.accept().await.unwrap();
        let mut server = tokio::net::TcpStream::connect(("127.0.0.1", upstream))
            .await
            .unwrap();
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    });
    let live = Live::connect(request(port, password(&sshd), TargetTrust::FirstUse, None))
        .await
        .expect("connect through the proxy");
    live.wait_prompt().await;
    proxy.abort();
    let deadline = Instant::now() + crate::support::WAIT;
    while !live.seen.lock().unwrap().ended {
        assert!(Instant::now() < deadline, "the session did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let error = live.seen.lock().unwrap().error.clone().expect("an error");
    assert_eq!(error.kind, SessionErrorKind::TargetClosed, "{error}");
}
