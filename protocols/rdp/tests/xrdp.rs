//! xrdp 0.9 with the Xorg backend (xorgxrdp), TLS only: a real login of the
//! test user whose `~/startwm.sh` starts an xterm. The picture, typing,
//! clipboard both ways and resizing, checked inside that Xorg session.
//! One test: xrdp's session manager has a fixed port.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Viewer, request};
use oriel_core_model::{InputEvent, Point, Size};
use oriel_protocols_rdp::{RdpConnector, RdpSettings};
use oriel_protocols_session::{Connector, TargetTrust};
use oriel_testkit::rdp::XrdpServer;
use oriel_testkit::{
    ChildGuard, RgbImage, ScratchDir, TEST_USER, ensure_test_user, parse_xwd, run_command,
};

/// Runs an X client as root inside the user's session.
fn session_command(display: &str, home: &Path, program: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    cmd.env("DISPLAY", display)
        .env("XAUTHORITY", home.join(".Xauthority"));
    cmd
}

async fn session_output(
    display: &str,
    home: &Path,
    program: &str,
    args: &[&str],
) -> anyhow::Result<Vec<u8>> {
    let mut cmd = tokio::process::Command::from(session_command(display, home, program));
    cmd.args(args);
    Ok(run_command(cmd, Duration::from_secs(10)).await?.stdout)
}

async fn screenshot(display: &str, home: &Path) -> RgbImage {
    let xwd = session_output(display, home, "xwd", &["-root", "-silent"])
        .await
        .expect("xwd");
    parse_xwd(&xwd).expect("parse xwd")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xrdp_login_session() {
    require_root!();
    let started = Instant::now();
    let home = ensure_test_user().expect("test user");
    let work: PathBuf = home.join("oriel-rdp-test");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work dir");
    let _ = std::process::Command::new("chown")
        .arg(format!("{TEST_USER}:"))
        .arg(&work)
        .status();
    let startwm = format!(
        "#!/bin/sh\n\
         echo \"$DISPLAY\" > {work}/display.tmp && mv {work}/display.tmp {work}/display\n\
         xsetroot -solid '#205080' 2>/dev/null\n\
         xterm -geometry 70x15+20+20 -fn fixed -e sh -c 'echo oriel xrdp test; while read l; do printf %s \"$l\" > {work}/typed.tmp; mv {work}/typed.tmp {work}/typed.txt; done' </dev/null >/dev/null 2>&1 &\n\
         exec sleep 3600\n",
        work = work.display()
    );
    let server = XrdpServer::start(&startwm).await.expect("xrdp");
    let connector = RdpConnector::new(RdpSettings::lossless_bitmaps());
    let mut req = request(server.port(), TargetTrust::FirstUse, None);
    req.desired_size = Some(Size::new(1024, 768));
    req.timeout = Duration::from_secs(30);
    let session = connector
        .connect(req)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", server.log_tail(40)));
    assert!(
        session
            .info
            .identity
            .as_deref()
            .is_some_and(|f| f.starts_with("SHA256:"))
    );
    assert_eq!(session.info.size, Size::new(1024, 768));
    let mut viewer = Viewer::new(session);

    // The login starts an Xorg session, which names its display.
    let display_file = work.join("display");
    let mut display = String::new();
    for _ in 0..300 {
        display = std::fs::read_to_string(&display_file)
            .unwrap_or_default()
            .trim()
            .to_owned();
        if !display.is_empty() {
            break;
        }
        viewer.pump(Duration::from_millis(100)).await;
    }
    assert!(
        !display.is_empty(),
        "the session never started:\n{}",
        server.log_tail(40)
    );
    eprintln!("xrdp session on {display} after {:?}", started.elapsed());

    // The picture converges to what the session's X server has.
    let deadline = Instant::now() + Duration::from_secs(20);
    let diff = loop {
        viewer.pump(Duration::from_millis(300)).await;
        assert!(
            viewer.ended.is_none(),
            "session ended: {:?}\n{}",
            viewer.ended,
            server.log_tail(40)
        );
        let shot = screenshot(&display, &home).await;
        let Ok(diff) = viewer.image().compare(&shot) else {
            continue;
        };
        if diff.is_identical() || Instant::now() > deadline {
            break diff;
        }
    };
    if !diff.is_identical() {
        let dir = server.scratch_dir();
        dir.keep();
        let _ = viewer.image().save_png(dir.path().join("viewer.png"));
        let _ = screenshot(&display, &home)
            .await
            .save_png(dir.path().join("xwd.png"));
        panic!(
            "picture did not converge: {diff:?} (see {})",
            dir.path().display()
        );
    }
    eprintln!("xrdp picture identical after {:?}", started.elapsed());

    // Typing into the xterm (focus follows the pointer: there is no window manager).
    viewer
        .send(InputEvent::Pointer {
            at: Point::new(200, 100),
            buttons: 0,
        })
        .await;
    viewer.pump(Duration::from_millis(300)).await;
    viewer.type_line("xrdp typing 7").await;
    let typed_file = work.join("typed.txt");
    let mut typed = String::new();
    for _ in 0..100 {
        typed = std::fs::read_to_string(&typed_file).unwrap_or_default();
        if !typed.is_empty() {
            break;
        }
        viewer.pump(Duration::from_millis(100)).await;
    }
    assert_eq!(typed, "xrdp typing 7");

    // Lock keys: a synchronize event turns Caps Lock on in the session, so
    // plain letters arrive upper case; then off again.
    let _ = std::fs::remove_file(&typed_file);
    viewer
        .send(InputEvent::Locks {
            caps: true,
            num: false,
            scroll: false,
        })
        .await;
    viewer.type_line("caps on").await;
    viewer
        .send(InputEvent::Locks {
            caps: false,
            num: false,
            scroll: false,
        })
        .await;
    let mut typed = String::new();
    for _ in 0..100 {
        typed = std::fs::read_to_string(&typed_file).unwrap_or_default();
        if !typed.is_empty() {
            break;
        }
        viewer.pump(Duration::from_millis(100)).await;
    }
    assert_eq!(typed, "CAPS ON");

    // The pointer shape arrived as a cursor, not drawn into the picture.
    let cursor = viewer.cursor.clone().expect("a pointer shape");
    assert_eq!(cursor.rgba.len(), cursor.size.area() as usize * 4);
    assert!(cursor.size.width > 0 && cursor.rgba.chunks(4).any(|p| p[3] == 255));

    // Clipboard, viewer to session: the session's CLIPBOARD serves our text.
    viewer
        .send(InputEvent::Clipboard("from the viewer ✓".into()))
        .await;
    let mut pasted = String::new();
    for _ in 0..50 {
        viewer.pump(Duration::from_millis(100)).await;
        // xclip blocks until the owner (chansrv, asking us) answers: run it
        // without waiting here so the session keeps pumping.
        let out = tokio::spawn({
            let display = display.clone();
            let home = home.clone();
            async move {
                session_output(&display, &home, "xclip", &["-o", "-selection", "clipboard"]).await
            }
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !out.is_finished() && tokio::time::Instant::now() < deadline {
            viewer.pump(Duration::from_millis(50)).await;
        }
        if let Ok(Ok(Ok(bytes))) = tokio::time::timeout(Duration::from_millis(10), out).await {
            pasted = String::from_utf8_lossy(&bytes).into_owned();
            if pasted == "from the viewer ✓" {
                break;
            }
        }
    }
    assert_eq!(pasted, "from the viewer ✓");

    // Clipboard, session to viewer: xclip takes the selection, we get its text.
    let scratch = ScratchDir::new("xrdp-clip").expect("scratch");
    let mut cmd = session_command(&display, &home, "xclip");
    cmd.args(["-i", "-selection", "clipboard", "-quiet"]);
    let mut owner = ChildGuard::spawn_with_stdin(cmd, "xclip-in", &scratch).expect("xclip");
    owner
        .write_stdin_and_close(b"from the session\nline 2".to_vec())
        .expect("xclip stdin");
    viewer
        .pump_until(Duration::from_secs(15), "the session's clipboard", |v| {
            v.clipboard.iter().any(|t| t == "from the session\nline 2")
        })
        .await;
    drop(owner);

    // Resize through display control: the session's screen follows. Two
    // wishes in a row (a window being dragged): the second waits for the
    // server to finish the first, and the session ends at the newest.
    viewer.send(InputEvent::Resize(Size::new(900, 700))).await;
    viewer.send(InputEvent::Resize(Size::new(800, 600))).await;
    viewer
        .pump_until(Duration::from_secs(15), "the new desktop size", |v| {
            v.sizes.last() == Some(&Size::new(800, 600))
        })
        .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        viewer.pump(Duration::from_millis(300)).await;
        let shot = screenshot(&display, &home).await;
        if (shot.width, shot.height) == (800, 600)
            && viewer
                .image()
                .compare(&shot)
                .is_ok_and(|d| d.is_identical())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "picture after resize did not converge"
        );
    }
    drop(viewer);
    drop(server);
    let _ = std::fs::remove_dir_all(&work);
    eprintln!("xrdp test took {:?}", started.elapsed());
}
