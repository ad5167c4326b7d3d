//! The watermark, end to end with the real `oriel up` and Xtigervnc: drawn
//! into every picture on the gateway, so that a viewer's picture is the
//! server's with the mark over it, pixel for pixel; the mark reads as the
//! user's name (OCR by tesseract); a recording of the session carries it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use oriel_core_model::Rect;
use oriel_testkit::{RgbImage, VncDisplay, VncOptions, XtermOptions};
use serde_json::json;
use std::time::{Duration, Instant};
use support::{Oriel, blocking};

/// The server's picture with the mark over it, as the gateway draws it.
fn marked(shot: &RgbImage, lines: &[String], opacity: u8, angle: i16) -> RgbImage {
    let style = oriel_encoders_watermark::Style {
        opacity: f32::from(opacity) / 100.0,
        angle_deg: f32::from(angle),
        ..Default::default()
    };
    let overlay = oriel_encoders_watermark::render(lines, style).unwrap();
    let mut out = shot.clone();
    overlay.apply(
        Rect::new(0, 0, shot.width as u16, shot.height as u16),
        &mut out.data,
    );
    out
}

/// The text tesseract reads in `image`.
fn ocr(image: &RgbImage, dir: &std::path::Path) -> String {
    let png = dir.join("viewer.png");
    image.save_png(&png).unwrap();
    let out = std::process::Command::new("tesseract")
        .arg(&png)
        .arg("-")
        .output()
        .expect("tesseract (Debian's tesseract-ocr) is installed by ./x");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mark_is_in_every_picture_reads_as_the_users_name_and_is_recorded() {
    let display = VncDisplay::start(VncOptions::new(640, 400)).await.unwrap();
    let _xterm = display
        .start_xterm(XtermOptions {
            columns: 40,
            rows: 6,
            command: Some("echo watermarked; sleep 600".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let oriel = Oriel::up(&[]).await.unwrap();
    let mut api = oriel.api();
    let port = display.rfb_port();
    let policy = json!({
        "watermark": true,
        "watermark_text": "{user} {session}",
        "watermark_opacity": 100,
        "watermark_angle": 0,
        "recording": true,
    });
    let launched = blocking(move || {
        api.login_admin().unwrap();
        api.vnc_workspace("marked", port, None, policy).unwrap();
        api.launch("marked").unwrap()
    })
    .await;
    let sid = launched["id"].as_str().unwrap().to_owned();
    let mut v = support::open_viewer(&oriel.cert(), &oriel.origin(), &launched, 0).await;
    let lines = vec![format!("admin {sid}")];
    // The viewer's picture converges to the server's with the mark over it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (shot, seen) = loop {
        v.pump(Duration::from_millis(400)).await.unwrap();
        let shot = display.screenshot().await.unwrap();
        let want = marked(&shot, &lines, 100, 0);
        let seen = v.image();
        if seen.width == want.width && seen.compare(&want).unwrap().differing_pixels == 0 {
            break (shot, seen);
        }
        assert!(
            Instant::now() < deadline,
            "the viewer never showed the server's picture with the mark"
        );
    };
    // Not the server's picture alone: the mark covers part of it.
    let bare = seen.compare(&shot).unwrap().differing_pixels;
    assert!(
        bare > 1000,
        "only {bare} pixels differ from the unmarked picture"
    );
    // The mark reads as the user's name.
    let text = ocr(&seen, display.scratch_dir().path());
    assert!(text.contains("admin"), "tesseract read {text:?}");
    // The recording carries the mark too: its last picture is the same.
    let api = oriel.admin_api().await.unwrap();
    let path = format!("/api/v1/sessions/{sid}");
    blocking(move || api.call("DELETE", &path, None, &[]).unwrap()).await;
    let dir = oriel.data_dir().join("recordings").join(&sid);
    let deadline = Instant::now() + Duration::from_secs(20);
    let recording = loop {
        let file = std::fs::read_dir(&dir)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.path());
        if let Some(file) = file {
            let bytes = std::fs::read(file).unwrap();
            let keys = support::replay::gateway_keys(&oriel.data_dir());
            if let Ok(r) = oriel_core_recording::read(&bytes, &keys)
                && r.records
                    .last()
                    .is_some_and(|(_, rec)| rec.kind == oriel_core_recording::RecordKind::End)
            {
                break r;
            }
        }
        assert!(Instant::now() < deadline, "no finished recording");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let fb = support::replay::last_picture(&recording);
    assert!(
        fb.as_rgb() == seen.data.as_slice(),
        "the recording's picture is not the marked one"
    );
}
