//! Session recording at the gateway, end to end with the real `oriel up`,
//! Xtigervnc and an xterm: a recorded session's file (as the gateway
//! handed it to the control plane's storage) is complete, signed by the
//! gateway and replays to the server's exact picture; a recording that
//! cannot be written keeps the session from streaming (fail closed), at
//! the start and when the disk fills while it runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use oriel_core_recording::{RecordKind, Recording, Verdict};
use oriel_core_token::TokenVerifier;
use oriel_core_wire::ClientMessage;
use oriel_testkit::{StreamViewer, VncDisplay, VncOptions, XtermOptions};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::{Oriel, blocking};

/// The session's one recording, as the control plane stores it once the
/// gateway handed it over (when the recorder stopped), waiting until
/// `done` says it is.
async fn read_when(
    api: &support::Api,
    sid: &str,
    keys: &TokenVerifier,
    done: impl Fn(&Recording) -> bool + Send + 'static,
) -> Recording {
    let (api, sid, keys) = (api.clone(), sid.to_owned(), keys.clone());
    blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let listed = api
                .call(
                    "GET",
                    &format!("/api/v1/recordings?session={sid}"),
                    None,
                    &[],
                )
                .unwrap();
            if let Some(id) = listed.body["items"][0]["id"].as_str() {
                let (status, bytes, _) = api
                    .get_bytes(&format!("/api/v1/recordings/{id}/file"))
                    .unwrap();
                assert_eq!(status, 200);
                if let Ok(r) = oriel_core_recording::read(&bytes, &keys)
                    && done(&r)
                {
                    return r;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no such recording of {sid} in the control plane's storage"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .await
}

fn events(r: &Recording) -> Vec<Value> {
    r.records
        .iter()
        .filter(|(_, rec)| rec.kind == RecordKind::Event)
        .map(|(_, rec)| serde_json::from_slice(&rec.payload).unwrap())
        .collect()
}

struct Desk {
    display: VncDisplay,
    _xterm: oriel_testkit::Xterm,
}

async fn desk(command: &str) -> Desk {
    let display = VncDisplay::start(VncOptions::new(640, 400)).await.unwrap();
    let xterm = display
        .start_xterm(XtermOptions {
            columns: 60,
            rows: 12,
            command: Some(command.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    Desk {
        display,
        _xterm: xterm,
    }
}

/// Launches a recorded workspace on `port` as the admin.
async fn launch_recorded(oriel: &Oriel, port: u16) -> (support::Api, Value) {
    launch_with(oriel, port, "recorded", json!({"recording": true})).await
}

async fn launch_with(
    oriel: &Oriel,
    port: u16,
    name: &'static str,
    policy: Value,
) -> (support::Api, Value) {
    let mut api = oriel.api();
    blocking(move || {
        api.login_admin().unwrap();
        api.vnc_workspace(name, port, None, policy).unwrap();
        let launched = api.launch(name).unwrap();
        (api, launched)
    })
    .await
}

/// The control plane heard the recording fail: the session is marked
/// failed and the audit log says why.
async fn recording_failure_recorded(api: &support::Api, sid: &str) {
    let api = api.clone();
    let sid = sid.to_owned();
    blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let audit = api
                .call(
                    "GET",
                    &format!("/api/v1/audit?action=session.recording_failed&target_id={sid}"),
                    None,
                    &[],
                )
                .unwrap();
            let items = audit.body["items"].as_array().cloned().unwrap_or_default();
            let state = api
                .call("GET", &format!("/api/v1/sessions/{sid}"), None, &[])
                .unwrap()
                .body["state"]
                .clone();
            if let Some(e) = items.first() {
                assert_eq!(e["outcome"], "failure", "{e}");
                assert_eq!(e["details"]["reason"], "feature_unavailable", "{e}");
                assert_eq!(state, "failed");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no session.recording_failed audit entry for {sid} (state {state})"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .await;
}

async fn viewer(oriel: &Oriel, launched: &Value) -> StreamViewer {
    support::open_viewer(&oriel.cert(), &oriel.origin(), launched, 0).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_session_is_complete_signed_and_replays_to_the_servers_picture() {
    let desk =
        desk("i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo line $i; sleep 0.05; done; sleep 600")
            .await;
    let oriel = Oriel::up(&[("ORIEL_GATEWAY__RECORDING_KEYFRAME", "1s")])
        .await
        .unwrap();
    let (api, launched) = launch_recorded(&oriel, desk.display.rfb_port()).await;
    let sid = launched["id"].as_str().unwrap().to_owned();
    let mut v = viewer(&oriel, &launched).await;
    assert!(v.hello.is_some(), "{:?}", v.end);
    // Until the scrolling stops and the picture is exact.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        v.pump(Duration::from_millis(400)).await.unwrap();
        let shot = desk.display.screenshot().await.unwrap();
        if v.image().compare(&shot).unwrap().differing_pixels == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the viewer never matched the server"
        );
    }
    // Still for a few seconds: the recorder gets a keyframe every second.
    v.pump(Duration::from_secs(3)).await.unwrap();
    let shot = desk.display.screenshot().await.unwrap();
    let status = api
        .request("DELETE", &format!("/api/v1/sessions/{sid}"), None)
        .await
        .unwrap()
        .status;
    assert_eq!(status, 204);
    v.wait_closed(Duration::from_secs(5)).await.unwrap();

    let r = read_when(
        &api,
        &sid,
        &support::replay::gateway_keys(&oriel.data_dir()),
        |r| r.verdict == Verdict::Complete,
    )
    .await;
    assert_eq!(r.header.session_id, sid);
    assert_eq!(r.header.user, "admin");
    assert_eq!(r.header.workspace, "recorded");
    assert_eq!(r.header.kind, "vnc");
    let keyframes = r
        .records
        .iter()
        .filter(|(_, rec)| rec.kind == RecordKind::Keyframe)
        .count();
    let kinds: Vec<_> = r.records.iter().map(|(_, rec)| rec.kind).collect();
    assert!(keyframes >= 2, "a keyframe every second: {kinds:?}");
    // Played back, the last picture is the server's, pixel for pixel.
    let replayed = support::replay::last_picture(&r);
    assert_eq!(
        (replayed.size().width as u32, replayed.size().height as u32),
        (shot.width, shot.height)
    );
    assert!(
        replayed.as_rgb() == shot.data.as_slice(),
        "the replay differs from the server"
    );
    // The event track: the viewer came and went; the end says why.
    let track = events(&r);
    let kinds: Vec<&str> = track.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"viewer_joined") && kinds.contains(&"viewer_left"),
        "{track:?}"
    );
    assert!(track.iter().any(|e| {
        e["who"]
            .as_str()
            .is_some_and(|w| w.starts_with("admin from "))
    }));
    let (_, end) = r.records.last().unwrap();
    assert_eq!(end.kind, RecordKind::End);
    let end: Value = serde_json::from_slice(&end.payload).unwrap();
    assert_eq!(end["reason"], "ended", "{end}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_that_cannot_be_created_keeps_the_session_from_streaming() {
    let desk = desk("sleep 600").await;
    let scratch = tempfile::tempdir().unwrap();
    // A file where the recordings directory should be: nothing can be created in it.
    let blocked = scratch.path().join("not-a-directory");
    std::fs::write(&blocked, b"x").unwrap();
    let oriel = Oriel::up(&[("ORIEL_GATEWAY__RECORDINGS_DIR", blocked.to_str().unwrap())])
        .await
        .unwrap();
    let (api, launched) = launch_recorded(&oriel, desk.display.rfb_port()).await;
    let mut v = viewer(&oriel, &launched).await;
    assert!(v.hello.is_none(), "a recorded session streamed unrecorded");
    let (end, code) = v.wait_closed(Duration::from_secs(10)).await.unwrap();
    assert_eq!(code, Some(4017));
    let end = end.unwrap();
    assert!(
        end.message.contains("recording cannot be written"),
        "{}",
        end.message
    );
    assert!(!end.retryable);
    recording_failure_recorded(&api, launched["id"].as_str().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_ends_the_session_and_leaves_a_playable_incomplete_recording() {
    let desk = desk("sleep 600").await;
    // A small file system of its own (a tmpfs of 1 MiB) for the recordings.
    let scratch = tempfile::tempdir().unwrap();
    let small = scratch.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs"])
        .arg(&small)
        .status()
        .unwrap();
    assert!(mounted.success(), "mounting a tmpfs needs root");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(small.clone());
    let oriel = Oriel::up(&[("ORIEL_GATEWAY__RECORDINGS_DIR", small.to_str().unwrap())])
        .await
        .unwrap();
    let (api, launched) = launch_recorded(&oriel, desk.display.rfb_port()).await;
    let sid = launched["id"].as_str().unwrap().to_owned();
    let mut v = viewer(&oriel, &launched).await;
    assert!(v.hello.is_some(), "{:?}", v.end);
    // A moving picture fills the disk within seconds.
    let _video = desk.display.start_test_video("320x240").unwrap();
    let (end, code) = v.wait_closed(Duration::from_secs(60)).await.unwrap();
    assert_eq!(code, Some(4017), "{end:?}");
    let end = end.unwrap();
    assert!(
        end.message.contains("recording cannot be written"),
        "{}",
        end.message
    );
    recording_failure_recorded(&api, &sid).await;
    // What was written plays up to where the disk filled; it is marked
    // incomplete, never complete, and its signed part verifies.
    let r = read_when(
        &api,
        &sid,
        &support::replay::gateway_keys(&oriel.data_dir()),
        |_| true,
    )
    .await;
    match r.verdict {
        Verdict::Incomplete { verified_records } => assert!(verified_records > 0),
        other => panic!("{other:?}"),
    }
    assert!(
        r.records
            .iter()
            .any(|(_, rec)| rec.kind == RecordKind::Message)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystrokes_are_in_the_event_track_only_where_the_policy_says() {
    let desk = desk("sleep 600").await;
    let oriel = Oriel::up(&[]).await.unwrap();
    let keys = support::replay::gateway_keys(&oriel.data_dir());
    for (name, policy, recorded) in [
        (
            "with-keys",
            json!({"recording": true, "recording_keystrokes": true}),
            true,
        ),
        ("without-keys", json!({"recording": true}), false),
    ] {
        let (api, launched) = launch_with(&oriel, desk.display.rfb_port(), name, policy).await;
        let sid = launched["id"].as_str().unwrap().to_owned();
        let mut v = viewer(&oriel, &launched).await;
        assert!(v.hello.is_some(), "{:?}", v.end);
        for down in [true, false] {
            v.send(ClientMessage::Key {
                down,
                keysym: 0x61,
                scancode: 0x1e,
            })
            .await
            .unwrap();
        }
        v.pump(Duration::from_millis(500)).await.unwrap();
        let status = api
            .request("DELETE", &format!("/api/v1/sessions/{sid}"), None)
            .await
            .unwrap()
            .status;
        assert_eq!(status, 204);
        v.wait_closed(Duration::from_secs(5)).await.unwrap();
        let r = read_when(&api, &sid, &keys, |r| r.verdict == Verdict::Complete).await;
        assert_eq!(r.header.keystrokes, recorded, "{name}");
        let typed: Vec<(u64, bool)> = events(&r)
            .iter()
            .filter(|e| e["type"] == "key")
            .map(|e| (e["keysym"].as_u64().unwrap(), e["down"].as_bool().unwrap()))
            .collect();
        if recorded {
            assert_eq!(typed, [(0x61, true), (0x61, false)], "{name}");
        } else {
            assert!(typed.is_empty(), "{name}: {typed:?}");
        }
    }
}
