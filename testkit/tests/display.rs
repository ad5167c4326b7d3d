//! The X display fixtures against the real servers and X clients.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use oriel_testkit::{
    Rect, RgbImage, SECURITY_NONE, SECURITY_VNC_AUTH, VncDisplay, VncOptions, VncServer,
    XtermOptions, parse_xwd, read_rfb_banner, rfb_security_types, wait_for_value,
};

/// Saves `image` next to the display's logs and keeps them, for a failing test.
fn keep_artefact(display: &VncDisplay, name: &str, image: &RgbImage) -> String {
    display.scratch_dir().keep();
    let path = display.scratch_dir().path().join(format!("{name}.png"));
    match image.save_png(&path) {
        Ok(()) => format!("screenshot saved to {}", path.display()),
        Err(error) => format!("cannot save screenshot: {error:#}"),
    }
}

#[tokio::test]
async fn tigervnc_xterm_typing_changes_the_screen() -> Result<()> {
    let display = VncDisplay::start(VncOptions::new(800, 600)).await?;
    assert_eq!(display.size(), (800, 600));
    assert_eq!(read_rfb_banner(display.rfb_port()).await?, "RFB 003.008\n");
    assert_eq!(
        rfb_security_types(display.rfb_port()).await?,
        vec![SECURITY_NONE]
    );

    let xterm = display
        .start_xterm(XtermOptions {
            columns: 60,
            rows: 10,
            x: 20,
            y: 30,
            background: Some("black".into()),
            foreground: Some("white".into()),
            command: Some("cat".into()),
            ..XtermOptions::default()
        })
        .await?;
    assert!(xterm.window_id > 0);
    let geometry = display
        .xdotool(&["getwindowgeometry", "--shell", &xterm.window_id.to_string()])
        .await?;
    assert!(
        geometry.contains("X=20") && geometry.contains("Y=30"),
        "{geometry}"
    );

    let region = Rect::new(20, 30, 300, 80);
    let before = display.screenshot().await?;
    assert_eq!((before.width, before.height), (800, 600));
    let before = before.crop(region)?;
    // No window manager: the keyboard focus follows the pointer.
    display
        .xdotool(&[
            "mousemove",
            "--window",
            &xterm.window_id.to_string(),
            "10",
            "10",
        ])
        .await?;
    display
        .xdotool(&["type", "--delay", "5", "hello oriel"])
        .await?;
    let changed = wait_for_value(Duration::from_secs(10), "typed text on screen", || async {
        let after = display.screenshot().await.ok()?.crop(region).ok()?;
        let diff = after.compare(&before).ok()?;
        (diff.differing_pixels > 50).then_some(after)
    })
    .await;
    if let Err(error) = changed {
        let shot = display.screenshot().await?;
        let saved = keep_artefact(&display, "xterm-typing", &shot);
        return Err(error.context(format!("{saved}\n{}", display.server_log_tail(20))));
    }
    Ok(())
}

#[tokio::test]
async fn tigervnc_pointer_and_clipboard() -> Result<()> {
    let display = VncDisplay::start(VncOptions::new(640, 480)).await?;
    display.xdotool(&["mousemove", "100", "200"]).await?;
    assert_eq!(display.pointer_location().await?, (100, 200));

    assert!(
        display.clipboard_get().await.is_err(),
        "nobody owns the clipboard yet"
    );
    display
        .clipboard_set("héllo clipboard ✓\nsecond line")
        .await?;
    assert_eq!(
        display.clipboard_get().await?,
        "héllo clipboard ✓\nsecond line"
    );
    display.clipboard_set("replaced").await?;
    assert_eq!(display.clipboard_get().await?, "replaced");
    Ok(())
}

#[tokio::test]
async fn xwd_parser_matches_imagemagick() -> Result<()> {
    let display = VncDisplay::start(VncOptions::new(320, 240)).await?;
    display.set_background([0x12, 0x34, 0x56]).await?;
    let _xterm = display
        .start_xterm(XtermOptions {
            columns: 20,
            rows: 5,
            x: 7,
            y: 9,
            background: Some("#ffcc00".into()),
            foreground: Some("#0000ff".into()),
            command: Some("echo 'xwd check 0123'; cat".into()),
            ..XtermOptions::default()
        })
        .await?;
    // Wait for the text to be drawn, so the picture has several colours.
    let (xwd, ours) = wait_for_value(Duration::from_secs(10), "xterm text", || async {
        let xwd = display.screenshot_xwd().await.ok()?;
        let image = parse_xwd(&xwd).ok()?;
        (image.count_color([0, 0, 0xff], 0) > 20).then_some((xwd, image))
    })
    .await?;

    let mut convert = tokio::process::Command::new("convert");
    convert
        .args(["xwd:-", "-depth", "8", "rgb:-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = convert
        .spawn()
        .context("cannot run ImageMagick's convert")?;
    let mut stdin = child.stdin.take().context("convert stdin")?;
    let feed = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        stdin.write_all(&xwd).await
    });
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .context("convert timed out")??;
    feed.await??;
    ensure!(
        output.status.success(),
        "convert failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs = RgbImage::new(320, 240, output.stdout)?;
    let diff = ours.compare(&theirs)?;
    assert!(
        diff.is_identical(),
        "xwd parse differs from convert: {diff:?}"
    );

    assert_eq!(
        ours.pixel(0, 0),
        Some([0x12, 0x34, 0x56]),
        "root background"
    );
    assert!(
        ours.count_color([0xff, 0xcc, 0x00], 0) > 1000,
        "xterm background"
    );
    assert!(ours.count_color([0, 0, 0xff], 0) > 20, "xterm text");
    Ok(())
}

#[tokio::test]
async fn x11vnc_on_xvfb_starts_and_screenshots() -> Result<()> {
    let display = VncDisplay::start(VncOptions::new(640, 360).server(VncServer::X11vnc)).await?;
    assert_eq!(display.server(), VncServer::X11vnc);
    assert!(
        read_rfb_banner(display.rfb_port())
            .await?
            .starts_with("RFB 003.00")
    );
    assert!(
        rfb_security_types(display.rfb_port())
            .await?
            .contains(&SECURITY_NONE)
    );
    let shot = display.screenshot().await?;
    assert_eq!((shot.width, shot.height), (640, 360));
    display.xdotool(&["mousemove", "33", "44"]).await?;
    assert_eq!(display.pointer_location().await?, (33, 44));
    Ok(())
}

#[tokio::test]
async fn password_makes_servers_offer_vnc_auth() -> Result<()> {
    for server in [VncServer::Tigervnc, VncServer::X11vnc] {
        let display =
            VncDisplay::start(VncOptions::new(320, 200).server(server).password("s3cret")).await?;
        let types = rfb_security_types(display.rfb_port()).await?;
        assert!(
            types.contains(&SECURITY_VNC_AUTH),
            "{server:?} offers {types:?}"
        );
        assert!(
            !types.contains(&SECURITY_NONE),
            "{server:?} offers {types:?}"
        );
        assert_eq!(display.password(), Some("s3cret"));
    }
    Ok(())
}

#[tokio::test]
async fn displays_in_parallel_get_distinct_numbers_and_ports() -> Result<()> {
    let (a, b, c) = tokio::try_join!(
        VncDisplay::start(VncOptions::new(320, 200)),
        VncDisplay::start(VncOptions::new(320, 200)),
        VncDisplay::start(VncOptions::new(320, 200).server(VncServer::X11vnc)),
    )?;
    let numbers = [a.display_number(), b.display_number(), c.display_number()];
    let ports = [a.rfb_port(), b.rfb_port(), c.rfb_port()];
    assert!(numbers[0] != numbers[1] && numbers[1] != numbers[2] && numbers[0] != numbers[2]);
    assert!(ports[0] != ports[1] && ports[1] != ports[2] && ports[0] != ports[2]);

    // Everything is gone once the fixtures drop.
    let lock = format!("/tmp/.X{}-lock", numbers[0]);
    let port = ports[2];
    drop((a, b, c));
    assert!(!std::path::Path::new(&lock).exists(), "{lock} left behind");
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "x11vnc still listens on {port}"
    );
    Ok(())
}
