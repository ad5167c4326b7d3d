//! Recordings in the control plane's storage, end to end with the real
//! `oriel up`, Xtigervnc and an xterm, on SQLite and PostgreSQL: a recorded
//! session's file is handed over by the gateway when it ends, listed,
//! downloaded, judged complete; the stored file changed reads tampered,
//! cut short reads incomplete; auditors read but do not delete; admins
//! delete; every read and delete is audited. Every exchange is checked
//! against the OpenAPI document.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use oriel_core_recording::Verdict;
use oriel_core_wire::ClientMessage;
use oriel_testkit::sshd::Sshd;
use oriel_testkit::{StreamViewer, VncDisplay, VncOptions, XtermOptions};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{Api, Backend, Deployment, blocking};

on_both_databases!(recordings_are_stored_listed_judged_downloaded_and_deleted);
on_both_databases!(an_ssh_recording_is_found_by_its_text_and_downloads_as_asciicast);

/// Waits for the control plane to list `sid`'s recording.
fn wait_recording(api: &Api, sid: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = api
            .call(
                "GET",
                &format!("/api/v1/recordings?session={sid}"),
                None,
                &[],
            )
            .unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        if let Some(item) = r.body["items"].as_array().and_then(|a| a.first()) {
            return item.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no recording of {sid} was stored"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn audited(api: &Api, action: &str, id: &str) -> Vec<Value> {
    let r = api
        .call(
            "GET",
            &format!("/api/v1/audit?action={action}&target_id={id}"),
            None,
            &[],
        )
        .unwrap();
    r.body["items"].as_array().cloned().unwrap_or_default()
}

fn sha256_hex(bytes: &[u8]) -> String {
    oriel_core_recording::upload::hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// A desktop with a little moving text to record.
async fn desktop() -> (VncDisplay, oriel_testkit::Xterm) {
    let display = VncDisplay::start(VncOptions::new(640, 400)).await.unwrap();
    let xterm = display
        .start_xterm(XtermOptions {
            columns: 60,
            rows: 12,
            command: Some("i=0; while [ $i -lt 20 ]; do i=$((i+1)); echo line $i; sleep 0.05; done; sleep 600".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    (display, xterm)
}

/// A viewer of `launched`, after HELLO.
async fn watch(oriel: &Deployment, launched: &Value) -> StreamViewer {
    let v = support::open_viewer(&oriel.cert(), &oriel.origin(), launched, 0).await;
    assert!(v.hello.is_some(), "{:?}", v.end);
    v
}

/// Ends session `sid` through the API and waits for its viewer to close.
async fn end_session(api: &Api, sid: &str, mut v: StreamViewer) {
    let status = api
        .request("DELETE", &format!("/api/v1/sessions/{sid}"), None)
        .await
        .unwrap()
        .status;
    assert_eq!(status, 204);
    v.wait_closed(Duration::from_secs(5)).await.unwrap();
}

/// Creates the recorded VNC workspace `recorded` with `policy` on the
/// desktop at `port`, watches a session of it for a few seconds and ends
/// it: the workspace and the session id.
async fn record_a_session(oriel: &Deployment, port: u16, policy: Value) -> (Value, String) {
    let api = oriel.admin();
    let (ws, launched) = blocking({
        let api = api.clone();
        move || {
            let ws = api.vnc_workspace("recorded", port, None, policy).unwrap();
            (ws, api.launch("recorded").unwrap())
        }
    })
    .await;
    let sid = launched["id"].as_str().unwrap().to_owned();
    let mut v = watch(oriel, &launched).await;
    v.pump(Duration::from_secs(3)).await.unwrap();
    end_session(&api, &sid, v).await;
    (ws, sid)
}

async fn recordings_are_stored_listed_judged_downloaded_and_deleted(backend: Backend) {
    support::contract::enforce();
    let (display, _xterm) = desktop().await;
    let oriel = Deployment::start(backend, &[("ORIEL_GATEWAY__RECORDING_KEYFRAME", "1s")]).await;
    let api = oriel.admin();
    let (ws, sid) = record_a_session(
        &oriel,
        display.rfb_port(),
        json!({"recording": true, "recording_retention_days": 30}),
    )
    .await;
    let (admin_id, auditor) = blocking({
        let api = api.clone();
        let base = oriel.api();
        move || {
            let me = api.call("GET", "/api/v1/auth/me", None, &[]).unwrap();
            let created = api
                .call(
                    "POST",
                    "/api/v1/users",
                    Some(&json!({"username": "inspector", "password": "auditor-password-1", "role": "auditor"})),
                    &[],
                )
                .unwrap();
            assert_eq!(created.status, 201, "{created:?}");
            let mut auditor = base;
            assert_eq!(
                auditor
                    .login("inspector", "auditor-password-1")
                    .unwrap()
                    .status,
                200
            );
            (me.body["id"].as_str().unwrap().to_owned(), auditor)
        }
    })
    .await;

    let data_dir = oriel.data_dir();
    let keys = support::replay::gateway_keys(&data_dir);
    let ws_id = ws["id"].as_str().unwrap().to_owned();
    blocking(move || {
        // Handed over when the session ended: listed, complete, with who
        // and what, and kept 30 days.
        let rec = wait_recording(&api, &sid);
        let id = rec["id"].as_str().unwrap().to_owned();
        assert_eq!(rec["verdict"], "complete", "{rec}");
        assert_eq!(rec["username"], "admin");
        assert_eq!(rec["user_id"], admin_id.as_str());
        assert_eq!(rec["workspace_id"], ws_id.as_str());
        assert_eq!(rec["workspace_name"], "recorded");
        assert_eq!(rec["kind"], "vnc");
        assert!(rec["bytes"].as_i64().unwrap() > 0);
        assert!(rec["retain_until"].is_string(), "{rec}");
        // The gateway's copy is gone; the store has it.
        let gateway_dir = data_dir.join("recordings").join(&sid);
        assert!(
            std::fs::read_dir(&gateway_dir).map_or(true, |mut d| d.next().is_none()),
            "the gateway kept its copy"
        );
        let stored = data_dir.join("recordings-store").join(format!("{id}.orec"));
        let original = std::fs::read(&stored).unwrap();

        // Filters: by user, by workspace; others' filters find nothing.
        for (query, found) in [
            (format!("user={admin_id}"), true),
            (format!("workspace={ws_id}"), true),
            ("user=nobody".to_owned(), false),
            ("session=nothing".to_owned(), false),
        ] {
            let r = api
                .call("GET", &format!("/api/v1/recordings?{query}"), None, &[])
                .unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(
                r.body["items"].as_array().unwrap().len(),
                usize::from(found),
                "{query}: {:?}",
                r.body
            );
        }
        let bad = api
            .call("GET", "/api/v1/recordings?after=junk", None, &[])
            .unwrap();
        assert_eq!(bad.status, 400);
        // By kind and time: a window around the session finds it, one
        // before it or after it does not; a VNC session has no text.
        let started = rec["started_at"].as_str().unwrap();
        let ended = rec["ended_at"].as_str().unwrap();
        for (query, found) in [
            ("kind=vnc".to_owned(), true),
            ("kind=ssh".to_owned(), false),
            (format!("since={started}&until=2999-01-01T00:00:00Z"), true),
            (format!("since={ended}"), true),
            (format!("until={started}"), false),
            ("since=2999-01-01T00:00:00Z".to_owned(), false),
            ("until=2000-01-01T00:00:00Z".to_owned(), false),
            ("text=line".to_owned(), false),
            (
                format!("kind=vnc&user={admin_id}&since=2000-01-01T00:00:00%2B01:00"),
                true,
            ),
        ] {
            let r = api
                .call("GET", &format!("/api/v1/recordings?{query}"), None, &[])
                .unwrap();
            assert_eq!(r.status, 200, "{query}: {r:?}");
            assert_eq!(
                r.body["items"].as_array().unwrap().len(),
                usize::from(found),
                "{query}: {:?}",
                r.body
            );
        }
        for query in [
            "kind=telnet".to_owned(),
            "since=yesterday".to_owned(),
            "until=2026-13-01T00:00:00Z".to_owned(),
            format!("text={}", "x".repeat(201)),
        ] {
            let r = api
                .call("GET", &format!("/api/v1/recordings?{query}"), None, &[])
                .unwrap();
            assert_eq!(r.status, 422, "{query}: {r:?}");
        }
        // Only SSH recordings have text to play as asciicast.
        let cast = api
            .call("GET", &format!("/api/v1/recordings/{id}/cast"), None, &[])
            .unwrap();
        assert_eq!(cast.status, 409, "{cast:?}");
        assert_eq!(cast.body["error"]["code"], "no_terminal_text", "{cast:?}");

        // Downloaded: the stored bytes, their hash as listed, complete with
        // the gateway's key; audited.
        let (status, bytes, content_type) = api
            .get_bytes(&format!("/api/v1/recordings/{id}/file"))
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(content_type, "application/octet-stream");
        assert_eq!(bytes, original);
        assert_eq!(rec["sha256"], sha256_hex(&bytes).as_str());
        let read = oriel_core_recording::read(&bytes, &keys).unwrap();
        assert_eq!(read.verdict, Verdict::Complete);
        assert_eq!(read.header.session_id, sid);
        assert_eq!(audited(&api, "recording.download", &id).len(), 1);
        // The player's fetch is audited as a view.
        let (status, _, _) = api
            .get_bytes(&format!("/api/v1/recordings/{id}/file?purpose=view"))
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(audited(&api, "recording.view", &id).len(), 1);

        let verdict = |api: &Api| {
            let r = api
                .call("GET", &format!("/api/v1/recordings/{id}"), None, &[])
                .unwrap();
            assert_eq!(r.status, 200, "{r:?}");
            (
                r.body["verdict"].as_str().unwrap().to_owned(),
                r.body["verdict_detail"].as_str().unwrap().to_owned(),
            )
        };
        assert_eq!(verdict(&api).0, "complete");
        // One byte changed in the middle of the stored file: tampered.
        let mut flipped = original.clone();
        let at = flipped.len() / 2;
        flipped[at] ^= 0x01;
        std::fs::write(&stored, &flipped).unwrap();
        let (v, detail) = verdict(&api);
        assert_eq!(v, "tampered", "{detail}");
        // Cut short: incomplete, the records up to the cut's last
        // checkpoint verified.
        std::fs::write(&stored, &original[..original.len() * 2 / 3]).unwrap();
        let (v, detail) = verdict(&api);
        assert_eq!(v, "incomplete", "{detail}");
        assert!(detail.ends_with("records verified"), "{detail}");
        // Restored: complete again.
        std::fs::write(&stored, &original).unwrap();
        assert_eq!(verdict(&api).0, "complete");

        // Auditors read, and do not delete.
        assert_eq!(verdict(&auditor).0, "complete");
        let (status, _, _) = auditor
            .get_bytes(&format!("/api/v1/recordings/{id}/file"))
            .unwrap();
        assert_eq!(status, 200);
        let refused = auditor
            .call("DELETE", &format!("/api/v1/recordings/{id}"), None, &[])
            .unwrap();
        assert_eq!(refused.status, 403);
        // Admins delete: file and row gone, audited.
        let deleted = api
            .call("DELETE", &format!("/api/v1/recordings/{id}"), None, &[])
            .unwrap();
        assert_eq!(deleted.status, 204);
        assert!(!stored.exists());
        let gone = api
            .call("GET", &format!("/api/v1/recordings/{id}"), None, &[])
            .unwrap();
        assert_eq!(gone.status, 404);
        assert_eq!(audited(&api, "recording.delete", &id).len(), 1);
        assert_eq!(audited(&api, "recording.store", &id).len(), 1);
    })
    .await;
}

/// Types `text` into the session as key presses (keysyms of Latin-1
/// characters are their code points; `\n` is Return).
async fn type_keys(v: &mut StreamViewer, text: &str) {
    for c in text.chars() {
        let keysym = if c == '\n' { 0xff0d } else { u32::from(c) };
        for down in [true, false] {
            v.send(ClientMessage::Key {
                down,
                keysym,
                scancode: 0,
            })
            .await
            .unwrap();
        }
    }
}

async fn an_ssh_recording_is_found_by_its_text_and_downloads_as_asciicast(backend: Backend) {
    support::contract::enforce();
    let sshd = Sshd::start().await.unwrap();
    let oriel = Deployment::start(backend, &[]).await;
    let api = oriel.admin();
    let body = json!({
        "name": "shell",
        "kind": "ssh",
        "target": {"host": "127.0.0.1", "port": sshd.port()},
        "credentials": {"username": sshd.user(), "password": sshd.password()},
        "policy": {"recording": true},
    });
    let launched = blocking({
        let api = api.clone();
        move || {
            let r = api
                .call("POST", "/api/v1/workspaces", Some(&body), &[])
                .unwrap();
            assert_eq!(r.status, 201, "{r:?}");
            api.launch("shell").unwrap()
        }
    })
    .await;
    let sid = launched["id"].as_str().unwrap().to_owned();
    let mut v = watch(&oriel, &launched).await;
    v.pump(Duration::from_secs(2)).await.unwrap();
    // The output (42) is not what was typed: the text is the shell's.
    type_keys(&mut v, "echo Needle-$((6*7))-Found\n").await;
    v.pump(Duration::from_secs(2)).await.unwrap();
    end_session(&api, &sid, v).await;

    blocking(move || {
        let rec = wait_recording(&api, &sid);
        let id = rec["id"].as_str().unwrap().to_owned();
        assert_eq!(rec["kind"], "ssh", "{rec}");
        assert_eq!(rec["verdict"], "complete", "{rec}");
        let ids = |query: &str| {
            let r = api
                .call("GET", &format!("/api/v1/recordings?{query}"), None, &[])
                .unwrap();
            assert_eq!(r.status, 200, "{query}: {r:?}");
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        let found = vec![id.clone()];
        assert_eq!(ids("text=needle-42-found"), found);
        assert_eq!(ids("text=NEEDLE-42-FOUND"), found);
        assert_eq!(ids("kind=ssh&text=Needle-42"), found);
        assert_eq!(ids("kind=ssh"), found);
        assert!(ids("text=needle-43").is_empty());
        assert!(ids("kind=vnc&text=needle-42").is_empty());
        // As asciicast v2: a header, then events in time order, the
        // shell's output among them; audited as a download.
        let (status, bytes, content_type) = api
            .get_bytes(&format!("/api/v1/recordings/{id}/cast"))
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(content_type, "application/x-asciicast");
        let text = String::from_utf8(bytes).unwrap();
        let mut lines = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap());
        let header = lines.next().unwrap();
        assert_eq!(header["version"], 2, "{header}");
        assert!(header["width"].as_u64().unwrap() > 20, "{header}");
        assert!(header["height"].as_u64().unwrap() > 5, "{header}");
        let events: Vec<Value> = lines.collect();
        let mut last = 0.0;
        let mut printed = String::new();
        for e in &events {
            let t = e[0].as_f64().unwrap();
            assert!(t >= last, "{e}");
            last = t;
            if e[1] == "o" {
                printed.push_str(e[2].as_str().unwrap());
            }
        }
        assert!(printed.contains("Needle-42-Found\r\n"), "{printed:?}");
        let downloads = audited(&api, "recording.download", &id);
        assert_eq!(downloads.len(), 1, "{downloads:?}");
        assert_eq!(downloads[0]["details"]["format"], "asciicast");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_encrypted_at_rest_holds_no_plaintext_and_shows_any_change() {
    support::contract::enforce();
    let (display, _xterm) = desktop().await;
    let oriel = Deployment::start(
        Backend::Sqlite,
        &[("ORIEL_CONTROL__RECORDINGS_ENCRYPT", "true")],
    )
    .await;
    let api = oriel.admin();
    let (_, sid) = record_a_session(&oriel, display.rfb_port(), json!({"recording": true})).await;
    let data_dir = oriel.data_dir();
    let keys = support::replay::gateway_keys(&data_dir);
    blocking(move || {
        let rec = wait_recording(&api, &sid);
        let id = rec["id"].as_str().unwrap().to_owned();
        assert_eq!(rec["verdict"], "complete", "{rec}");
        // On disk: the encrypted form, no byte of the recording's own
        // header in it.
        let stored = data_dir.join("recordings-store").join(format!("{id}.orec"));
        let sealed = std::fs::read(&stored).unwrap();
        assert!(sealed.starts_with(b"ORIELENC\0\x01"), "{:?}", &sealed[..16]);
        assert!(!sealed.windows(8).any(|w| w == b"ORIELREC"));
        assert!(!sealed.windows(sid.len()).any(|w| w == sid.as_bytes()));
        // Downloaded: the recording as the gateway wrote it, its hash as
        // listed, complete with the gateway's key.
        let (status, bytes, _) = api
            .get_bytes(&format!("/api/v1/recordings/{id}/file"))
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(rec["sha256"], sha256_hex(&bytes).as_str());
        assert_eq!(rec["bytes"].as_u64().unwrap(), bytes.len() as u64);
        let read = oriel_core_recording::read(&bytes, &keys).unwrap();
        assert_eq!(read.verdict, Verdict::Complete);
        assert_eq!(read.header.session_id, sid);
        // One bit changed on disk: tampered, and no file is served.
        let mut changed = sealed.clone();
        let at = changed.len() / 2;
        changed[at] ^= 0x01;
        std::fs::write(&stored, &changed).unwrap();
        let r = api
            .call("GET", &format!("/api/v1/recordings/{id}"), None, &[])
            .unwrap();
        assert_eq!(r.body["verdict"], "tampered", "{r:?}");
        assert!(
            r.body["verdict_detail"]
                .as_str()
                .unwrap()
                .contains("does not decrypt"),
            "{r:?}"
        );
        let refused = api
            .call("GET", &format!("/api/v1/recordings/{id}/file"), None, &[])
            .unwrap();
        assert_eq!(refused.status, 409, "{refused:?}");
        assert_eq!(refused.body["error"]["code"], "recording_unreadable");
        // Restored: complete again.
        std::fs::write(&stored, &sealed).unwrap();
        let r = api
            .call("GET", &format!("/api/v1/recordings/{id}"), None, &[])
            .unwrap();
        assert_eq!(r.body["verdict"], "complete", "{r:?}");
    })
    .await;
}
