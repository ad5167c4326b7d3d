//! FreeRDP's shadow server through the other graphics paths: the graphics
//! pipeline (EGFX, lossless planar here: must match exactly) and RemoteFX
//! (lossy by design: wavelet quantisation, checked by PSNR).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Viewer, request};
use oriel_protocols_rdp::{RdpConnector, RdpSettings};
use oriel_protocols_session::{Connector, TargetTrust};
use oriel_testkit::rdp::{ShadowSecurity, ShadowServer};
use oriel_testkit::{ImageDiff, VncDisplay, VncOptions, VncServer, XtermOptions, ensure_test_user};

/// Log lines of the whole test binary (one test per binary).
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn take(&self) -> String {
        self.0
            .lock()
            .map(|mut v| String::from_utf8_lossy(&std::mem::take(&mut *v)).into_owned())
            .unwrap_or_default()
    }
}

async fn converge(
    viewer: &mut Viewer,
    display: &VncDisplay,
    good: impl Fn(&ImageDiff) -> bool,
) -> ImageDiff {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        viewer.pump(Duration::from_millis(300)).await;
        assert!(viewer.ended.is_none(), "session ended: {:?}", viewer.ended);
        let shot = display.screenshot().await.expect("screenshot");
        let diff = viewer.image().compare(&shot).expect("same size");
        if good(&diff) || Instant::now() > deadline {
            return diff;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_graphics_pipeline_and_remotefx() {
    require_root!();
    let capture = Capture::default();
    let writer = capture.clone();
    let _ = tracing_subscriber::fmt()
        .with_env_filter("oriel_protocols_rdp=info")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init();
    let started = Instant::now();
    ensure_test_user().expect("test user");
    let display = VncDisplay::start(VncOptions::new(800, 600).server(VncServer::X11vnc))
        .await
        .expect("xvfb display");
    display
        .set_background([40, 90, 160])
        .await
        .expect("background");
    let _xterm = display
        .start_xterm(XtermOptions {
            x: 10,
            y: 10,
            command: Some("echo graphics paths; ls -l /usr/bin | head -30; sleep 600".into()),
            ..XtermOptions::default()
        })
        .await
        .expect("xterm");
    let shadow = ShadowServer::start(&display, ShadowSecurity::Tls)
        .await
        .expect("shadow server");

    // The default: the graphics pipeline without RemoteFX, so FreeRDP picks
    // planar, lossless.
    let pipeline = RdpSettings::default();
    assert!(pipeline.graphics_pipeline && !pipeline.remotefx);
    let session = RdpConnector::new(pipeline)
        .connect(request(shadow.port(), TargetTrust::FirstUse, None))
        .await
        .unwrap_or_else(|e| panic!("pipeline: {e}\n{}", shadow.log()));
    let mut viewer = Viewer::new(session);
    let diff = converge(&mut viewer, &display, ImageDiff::is_identical).await;
    assert!(diff.is_identical(), "pipeline picture: {diff:?}");
    let log = capture.take();
    assert!(
        log.contains("graphics pipeline negotiated"),
        "no EGFX:\n{log}"
    );
    eprintln!(
        "pipeline: identical; {}",
        log.lines().find(|l| l.contains("negotiated")).unwrap_or("")
    );
    drop(viewer);

    // RemoteFX surface bits (no pipeline): lossy, so close rather than equal.
    let remotefx = RdpSettings {
        graphics_pipeline: false,
        remotefx: true,
        ..RdpSettings::default()
    };
    let session = RdpConnector::new(remotefx)
        .connect(request(shadow.port(), TargetTrust::FirstUse, None))
        .await
        .expect("remotefx connect");
    let mut viewer = Viewer::new(session);
    let diff = converge(&mut viewer, &display, |d| d.psnr_db > 40.0).await;
    assert!(
        diff.psnr_db > 40.0 && diff.max_channel_diff <= 64,
        "remotefx picture: {diff:?}"
    );
    assert!(!capture.take().contains("graphics pipeline negotiated"));
    eprintln!("remotefx: {diff:?}");
    eprintln!("shadow graphics test took {:?}", started.elapsed());
}
