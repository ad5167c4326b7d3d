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
use oriel_testkit::{StreamViewer, VncDisplay, VncOptions, XtermOptions};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{Api, Backend, Deployment, blocking};

on_both_databases!(recordings_are_stored_listed_judged_downloaded_and_deleted);

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

async fn recordings_are_stored_listed_judged_downloaded_and_deleted(backend: Backend) {
    support::contract::enforce();
    let display = VncDisplay::start(VncOptions::new(640, 400)).await.unwrap();
    let _xterm = display
        .start_xterm(XtermOptions {
            columns: 60,
            rows: 12,
            command: Some("i=0; while [ $i -lt 20 ]; do i=$((i+1)); echo line $i; sleep 0.05; done; sleep 600".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let oriel = Deployment::start(backend, &[("ORIEL_GATEWAY__RECORDING_KEYFRAME", "1s")]).await;
    let api = oriel.admin();
    let port = display.rfb_port();
    let (ws, launched, admin_id, auditor) = blocking({
        let api = api.clone();
        let base = oriel.api();
        move || {
            let ws = api
                .vnc_workspace(
                    "recorded",
                    port,
                    None,
                    json!({"recording": true, "recording_retention_days": 30}),
                )
                .unwrap();
            let launched = api.launch("recorded").unwrap();
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
            (ws, launched, me.body["id"].as_str().unwrap().to_owned(), auditor)
        }
    })
    .await;
    let sid = launched["id"].as_str().unwrap().to_owned();
    let mut v = StreamViewer::connect(
        launched["stream_url"].as_str().unwrap(),
        &oriel.cert(),
        Some(&oriel.origin()),
    )
    .await
    .unwrap();
    v.hello(launched["token"].as_str().unwrap(), Duration::from_secs(20))
        .await
        .unwrap();
    assert!(v.hello.is_some(), "{:?}", v.end);
    v.pump(Duration::from_secs(3)).await.unwrap();
    let status = api
        .request("DELETE", &format!("/api/v1/sessions/{sid}"), None)
        .await
        .unwrap()
        .status;
    assert_eq!(status, 204);
    v.wait_closed(Duration::from_secs(5)).await.unwrap();

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
