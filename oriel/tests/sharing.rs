//! Watchers of a session at the gateway (issue 17): a share link's guest
//! and an admin shadowing a session join its one upstream as sinks whose
//! token says whether they control it.
//!
//! A stand-alone `oriel gateway` that trusts a key this test holds, a real
//! Xtigervnc desktop, and raw protocol clients (not the browser UI, so that
//! the gateway, not a hidden button, is what refuses a guest's input):
//!
//! - the owner's viewer is told who watches (NOTICE 4), a silent admin is
//!   not shown; the guest's HELLO says it only watches;
//! - a view-only guest's keyboard, pointer and clipboard never reach the
//!   desktop, counted as refused input;
//! - the signed command `set_link_control` hands the link's control over
//!   (its clipboard now reaches the desktop) and takes it back;
//! - a revocation list naming the link closes the guest's stream (4003)
//!   while the owner streams on, and refuses the link's tokens after;
//! - a watcher whose stream connects the target first records the session
//!   as the owner's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine as _;
use oriel_core_token::{
    CLAIMS_VERSION, Command, CommandClaims, Policy, RevocationClaims, Revoked, SessionClaims,
    TargetClaims, TokenSigner, WatchedVia, Watcher,
};
use oriel_core_wire::{ClientMessage, NoticeKind, caps, policy_bits};
use oriel_testkit::{ScratchDir, StreamViewer, ViewerEvent, VncDisplay, VncOptions};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::{Oriel, blocking};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

const SID: &str = "s-shared";

/// A gateway on its own, trusting `signer` as the control plane's key.
async fn gateway(signer: &TokenSigner) -> Oriel {
    let dir = ScratchDir::new("oriel-sharing").unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("keys")).unwrap();
    std::fs::write(
        data.join("keys/signing.pub"),
        base64::engine::general_purpose::STANDARD.encode(signer.public_key()),
    )
    .unwrap();
    Oriel::start_in("gateway", &["--id", "gw-share"], &[], dir, data)
        .await
        .unwrap()
}

fn owner_claims(port: u16) -> SessionClaims {
    SessionClaims {
        v: CLAIMS_VERSION,
        sid: SID.into(),
        jti: "owner-1".into(),
        sub: "u-alice".into(),
        name: "alice".into(),
        ws: "w".into(),
        iat: now(),
        nbf: now() - 5,
        exp: now() + 300,
        target: TargetClaims {
            kind: "vnc".into(),
            host: "127.0.0.1".into(),
            port,
            identity: None,
        },
        policy: Policy {
            clipboard_up: true,
            clipboard_down: true,
            ..Policy::default()
        },
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

/// A watcher's token for the same session.
fn watcher_claims(
    port: u16,
    jti: &str,
    name: &str,
    via: WatchedVia,
    link: Option<&str>,
    notify: bool,
) -> SessionClaims {
    SessionClaims {
        jti: jti.into(),
        sub: format!("u-{name}"),
        name: name.into(),
        control: Some(false),
        watcher: Some(Watcher {
            via,
            link: link.map(str::to_owned),
            notify,
            owner_sub: owner_claims(port).sub,
            owner_name: owner_claims(port).name,
        }),
        ..owner_claims(port)
    }
}

async fn join(gw: &Oriel, token: &str) -> StreamViewer {
    let mut v = StreamViewer::connect(&gw.stream_url(), &gw.cert(), Some(&gw.origin()))
        .await
        .unwrap();
    v.capabilities = caps::PRESENCE;
    v.hello(token, Duration::from_secs(20)).await.unwrap();
    assert!(v.hello.is_some(), "{:?}", v.end);
    v
}

/// The next list of watchers the owner is told.
async fn watchers_told(v: &mut StreamViewer) -> String {
    match v
        .wait_for(Duration::from_secs(10), "a watchers notice", |e| {
            matches!(e, ViewerEvent::Notice(NoticeKind::Watchers, _))
        })
        .await
        .unwrap()
    {
        ViewerEvent::Notice(_, line) => line,
        _ => unreachable!(),
    }
}

/// `oriel_gateway_input_refused_total` on the gateway's metrics.
async fn refused_input(gw: &Oriel) -> u64 {
    let api = gw.api();
    let text = blocking(move || api.call("GET", "/metrics", None, &[]).unwrap()).await;
    let text = text.body.as_str().unwrap_or_default().to_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("oriel_gateway_input_refused_total "))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// POSTs a signed token to one of the gateway's control endpoints.
async fn post_signed(gw: &Oriel, path: &str, token: String) -> (u16, serde_json::Value) {
    let api = gw.api();
    let path = path.to_owned();
    blocking(move || api.post_text(&path, &token).unwrap()).await
}

async fn set_link_control(gw: &Oriel, signer: &TokenSigner, link: &str, control: bool) -> u64 {
    let cmd = CommandClaims {
        v: CLAIMS_VERSION,
        jti: format!("cmd-{link}-{control}-{}", now()),
        iat: now(),
        nbf: now() - 5,
        exp: now() + 60,
        aud: Some("gw-share".into()),
        cmd: Command::SetLinkControl {
            sid: SID.into(),
            link: link.into(),
            control,
        },
    };
    let (status, body) = post_signed(gw, "/gateway/v1/commands", signer.sign(&cmd).unwrap()).await;
    assert_eq!(status, 200, "{body}");
    body["viewers_changed"].as_u64().unwrap()
}

/// Sends clipboard text from `from`, then a marker from the owner, and
/// returns what the desktop's clipboard holds once the marker is through:
/// the sender's text only if the gateway passed it on.
async fn clipboard_after(
    display: &VncDisplay,
    from: &mut StreamViewer,
    owner: &mut StreamViewer,
    text: &str,
    marker: &str,
) -> String {
    from.send(ClientMessage::Clipboard(text.into()))
        .await
        .unwrap();
    // Let the text reach the session before the owner's marker.
    let _ = from.pump(Duration::from_millis(300)).await.unwrap();
    let seen = display.clipboard_get().await.unwrap_or_default();
    if seen == text {
        return seen;
    }
    owner
        .send(ClientMessage::Clipboard(marker.into()))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen = display.clipboard_get().await.unwrap_or_default();
        if seen == marker || seen == text || std::time::Instant::now() > deadline {
            return seen;
        }
        let _ = owner.pump(Duration::from_millis(100)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_link_guests_and_shadowing_admins_watch_under_the_gateways_rules() {
    let signer = TokenSigner::from_seed(&[7; 32]).unwrap();
    let gw = gateway(&signer).await;
    let display = VncDisplay::start(VncOptions::new(640, 480)).await.unwrap();
    let port = display.rfb_port();

    let mut owner = join(&gw, &signer.sign(&owner_claims(port)).unwrap()).await;
    assert_eq!(
        owner.hello.as_ref().unwrap().policy & policy_bits::VIEW_ONLY,
        0
    );

    // A share link's guest: the owner is told, the guest only watches.
    let guest_token = signer
        .sign(&watcher_claims(
            port,
            "guest-1",
            "bob",
            WatchedVia::Share,
            Some("link-1"),
            true,
        ))
        .unwrap();
    let mut guest = join(&gw, &guest_token).await;
    assert_eq!(
        guest.hello.as_ref().unwrap().policy & policy_bits::VIEW_ONLY,
        policy_bits::VIEW_ONLY
    );
    assert_eq!(
        watchers_told(&mut owner).await,
        "bob from 127.0.0.1 (share link, view only)"
    );

    // A silent admin (the workspace allows silent monitoring) is not shown;
    // one that is not silent is.
    let mut silent = join(
        &gw,
        &signer
            .sign(&watcher_claims(
                port,
                "adm-1",
                "root",
                WatchedVia::Shadow,
                None,
                false,
            ))
            .unwrap(),
    )
    .await;
    let shown = join(
        &gw,
        &signer
            .sign(&watcher_claims(
                port,
                "adm-2",
                "carol",
                WatchedVia::Shadow,
                None,
                true,
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(
        watchers_told(&mut owner).await,
        "bob from 127.0.0.1 (share link, view only); carol from 127.0.0.1 (admin, view only)"
    );
    drop(shown);
    assert_eq!(
        watchers_told(&mut owner).await,
        "bob from 127.0.0.1 (share link, view only)"
    );
    let _ = silent.pump(Duration::from_millis(100)).await.unwrap();

    // The guest's raw input is refused at the gateway, not just hidden.
    let before = refused_input(&gw).await;
    for msg in [
        ClientMessage::Key {
            down: true,
            keysym: 0x61,
            scancode: 0x1e,
        },
        ClientMessage::Key {
            down: false,
            keysym: 0x61,
            scancode: 0x1e,
        },
        ClientMessage::Pointer {
            at: oriel_core_model::Point::new(10, 10),
            buttons: 1,
        },
    ] {
        guest.send(msg).await.unwrap();
    }
    let seen = clipboard_after(&display, &mut guest, &mut owner, "from-guest", "owner-1").await;
    assert_eq!(seen, "owner-1", "the guest's clipboard reached the desktop");
    assert!(
        refused_input(&gw).await >= before + 4,
        "key down, key up, pointer and clipboard counted as refused"
    );

    // Control handed over: the guest is told, its clipboard goes through.
    assert_eq!(set_link_control(&gw, &signer, "link-1", true).await, 1);
    guest
        .wait_for(Duration::from_secs(10), "control granted", |e| {
            matches!(e, ViewerEvent::Notice(NoticeKind::ControlGranted, _))
        })
        .await
        .unwrap();
    assert_eq!(
        watchers_told(&mut owner).await,
        "bob from 127.0.0.1 (share link, in control)"
    );
    let seen = clipboard_after(&display, &mut guest, &mut owner, "guest-drives", "owner-2").await;
    assert_eq!(seen, "guest-drives");
    // Taken back: refused again.
    assert_eq!(set_link_control(&gw, &signer, "link-1", false).await, 1);
    guest
        .wait_for(Duration::from_secs(10), "control taken", |e| {
            matches!(e, ViewerEvent::Notice(NoticeKind::ControlTaken, _))
        })
        .await
        .unwrap();
    assert_eq!(
        watchers_told(&mut owner).await,
        "bob from 127.0.0.1 (share link, view only)"
    );
    let seen = clipboard_after(&display, &mut guest, &mut owner, "guest-again", "owner-3").await;
    assert_eq!(seen, "owner-3");
    // A link with nobody here changes nothing.
    assert_eq!(set_link_control(&gw, &signer, "link-9", true).await, 0);

    // The link revoked: the guest's stream closes, the owner's goes on.
    let mut list = RevocationClaims {
        seq: 1_000_000,
        iat: now(),
        nbf: now() - 5,
        exp: now() + 600,
        ..RevocationClaims::empty()
    };
    list.links.push(Revoked {
        id: "link-1".into(),
        at: now(),
        until: now() + 600,
    });
    let (status, body) =
        post_signed(&gw, "/gateway/v1/revocations", signer.sign(&list).unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let (end, code) = guest.wait_closed(Duration::from_secs(10)).await.unwrap();
    assert_eq!(code, Some(4003), "{end:?}");
    assert!(
        end.unwrap().message.contains("share link has been revoked"),
        "the guest is told why"
    );
    assert_eq!(watchers_told(&mut owner).await, "");
    // Its tokens are refused from now on, even ones not used before.
    let mut again = StreamViewer::connect(&gw.stream_url(), &gw.cert(), Some(&gw.origin()))
        .await
        .unwrap();
    let other = signer
        .sign(&watcher_claims(
            port,
            "guest-2",
            "bob",
            WatchedVia::Share,
            Some("link-1"),
            true,
        ))
        .unwrap();
    again.hello(&other, Duration::from_secs(20)).await.unwrap();
    assert!(again.hello.is_none());
    let (end, code) = again.wait_closed(Duration::from_secs(10)).await.unwrap();
    assert_eq!(code, Some(4003), "{end:?}");
    // The owner still streams and drives the desktop.
    let seen = clipboard_after(&display, &mut owner, &mut silent, "owner-4", "never").await;
    assert_eq!(seen, "owner-4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_who_connects_the_target_first_records_the_owners_session() {
    let display = VncDisplay::start(VncOptions::new(320, 200)).await.unwrap();
    let signer = TokenSigner::from_seed(&[8; 32]).unwrap();
    let gw = gateway(&signer).await;
    let recorded = |mut c: SessionClaims| {
        c.sid = "s-watched-first".into();
        c.policy.recording = true;
        c
    };
    let port = display.rfb_port();
    let guest = recorded(watcher_claims(
        port,
        "guest-first",
        "bob",
        WatchedVia::Share,
        Some("link-first"),
        true,
    ));
    let mut v = join(&gw, &signer.sign(&guest).unwrap()).await;
    v.pump(Duration::from_secs(1)).await.unwrap();
    drop(v);
    let dir = gw.data_dir().join("recordings").join("s-watched-first");
    let header = blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let file = std::fs::read_dir(&dir)
                .ok()
                .and_then(|mut d| d.next())
                .and_then(Result::ok)
                .map(|e| std::fs::read(e.path()).unwrap());
            let verifier = oriel_core_token::TokenVerifier::new([]);
            if let Some(r) = file.and_then(|b| oriel_core_recording::read(&b, &verifier).ok()) {
                return r.header;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no recording in {dir:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await;
    assert_eq!(
        (header.user_id.as_str(), header.user.as_str()),
        ("u-alice", "alice")
    );
}
