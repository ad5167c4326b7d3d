//! The clipboard in both directions, allowed and denied by policy.

use crate::support::web::{
    CONNECT_TIMEOUT, Desk, expect_logged_in, goto_index, install_ws_spy, launch_workspace,
    received, sent, unique_suffix, viewer_state, wait_connected,
};
use crate::text_xterm;
use serde_json::json;
use std::time::{Duration, Instant};

/// Gateway → viewer message types (docs/protocol.md §2.2).
const MSG_CLIPBOARD: u8 = 0x85;
const MSG_NOTICE: u8 = 0x89;
/// Viewer → gateway CLIPBOARD.
const MSG_CLIPBOARD_UP: u8 = 0x06;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clipboard_policy_is_enforced_by_the_gateway() {
    let desk = Desk::start(1024, 768).await.unwrap();
    let display = &desk.display;
    let _text = display
        .start_xterm(text_xterm(40, 40, "echo 'clipboard test'; sleep 600"))
        .await
        .unwrap();
    desk.workspace(
        "clip-both",
        json!({"clipboard_up": true, "clipboard_down": true}),
    )
    .await
    .unwrap();
    desk.workspace("clip-none", json!({})).await.unwrap();

    // Two tabs of one browser (one login cookie), both on the same display:
    // A may copy both ways, B neither. A is the positive control for B.
    let a = &desk.page;
    install_ws_spy(a).await.unwrap();
    desk.open("clip-both").await.unwrap();
    let b = desk.browser.new_page().await.unwrap();
    install_ws_spy(&b).await.unwrap();
    goto_index(&b, &desk.oriel).await.unwrap();
    expect_logged_in(&b, "admin").await.unwrap();
    launch_workspace(&b, "clip-none").await.unwrap();
    wait_connected(&b, CONNECT_TIMEOUT).await.unwrap();
    assert_eq!(viewer_state(a).await.unwrap()["policy"], 3);
    assert_eq!(viewer_state(&b).await.unwrap()["policy"], 0);
    for page in [a, &b] {
        page.bring_to_front().await.unwrap();
        page.click("#clipboard-toggle").await.unwrap();
        assert!(page.is_shown("#clipboard-panel").await.unwrap());
    }
    let disabled = |sel: &str| format!("document.querySelector('{sel}').disabled");
    assert_eq!(a.eval(&disabled("#clipboard-send")).await.unwrap(), false);
    assert_eq!(b.eval(&disabled("#clipboard-send")).await.unwrap(), true);
    assert_eq!(b.eval(&disabled("#clipboard-local")).await.unwrap(), true);

    // Remote → local.
    let from_remote = format!("from-remote-{}", unique_suffix());
    display.clipboard_set(&from_remote).await.unwrap();
    a.wait(&format!(
        "document.getElementById('clipboard-remote').value === {}",
        serde_json::to_string(&from_remote).unwrap()
    ))
    .await
    .unwrap();
    // B got nothing, not even a message the UI could have ignored.
    let quiet_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < quiet_until {
        assert_eq!(
            b.eval("document.getElementById('clipboard-remote').value")
                .await
                .unwrap(),
            ""
        );
        assert_eq!(received(&b, MSG_CLIPBOARD).await.unwrap(), 0);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(received(a, MSG_CLIPBOARD).await.unwrap() >= 1);

    // Local → remote, allowed: typed into A's panel and sent.
    a.bring_to_front().await.unwrap();
    let from_local = format!("from-local-{}", unique_suffix());
    a.fill("#clipboard-local", &from_local).await.unwrap();
    a.click("#clipboard-send").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = display.clipboard_get().await.unwrap_or_default();
        if now == from_local {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the X clipboard is {now:?}, not {from_local:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        a.text("#clipboard-local-note")
            .await
            .unwrap()
            .starts_with("Sent ")
    );

    // Local → remote, denied. The UI does not let B send (the button is
    // disabled), so the client's encoder sends CLIPBOARD on B's own stream,
    // as a modified client would: the gateway must drop it and say why.
    let kept = format!("kept-{}", unique_suffix());
    display.clipboard_set(&kept).await.unwrap();
    a.wait(&format!(
        "document.getElementById('clipboard-remote').value === {}",
        serde_json::to_string(&kept).unwrap()
    ))
    .await
    .unwrap();
    b.bring_to_front().await.unwrap();
    b.click("#clipboard-send").await.unwrap();
    assert_eq!(
        sent(&b, MSG_CLIPBOARD_UP).await.unwrap(),
        0,
        "a disabled button sends nothing"
    );
    let forced = format!("forced-{}", unique_suffix());
    let sent_ok = b
        .eval(&format!(
            "import('/js/wire.js').then(({{ encodeClipboard }}) => {{ \
               const ws = window.__orielSpy.sockets.at(-1); \
               if (ws.readyState !== WebSocket.OPEN) return false; \
               ws.send(encodeClipboard({})); return true; }})",
            serde_json::to_string(&forced).unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(sent_ok, true);
    assert_eq!(sent(&b, MSG_CLIPBOARD_UP).await.unwrap(), 1);
    b.wait_for(
        "!document.getElementById('notice').hidden \
         && document.getElementById('notice').textContent.includes('disabled by policy')",
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    eprintln!("denied notice: {:?}", b.text("#notice").await.unwrap());
    assert_eq!(received(&b, MSG_NOTICE).await.unwrap(), 1);
    // The gateway answered (it handles a stream's messages in order), and
    // the X clipboard kept its value; it still has it a moment later.
    assert_eq!(display.clipboard_get().await.unwrap(), kept);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(display.clipboard_get().await.unwrap(), kept);
    assert_eq!(
        a.eval("document.getElementById('clipboard-remote').value")
            .await
            .unwrap(),
        kept.as_str()
    );
    assert_eq!(received(&b, MSG_CLIPBOARD).await.unwrap(), 0);
    assert_eq!(viewer_state(&b).await.unwrap()["state"], "connected");
    a.assert_no_js_errors();
    b.assert_no_js_errors();
}
