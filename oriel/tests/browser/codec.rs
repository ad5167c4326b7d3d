//! The browser's copy of the stream codec (`web/static/js/wire.js`) against
//! the spec's byte vectors and round trips, run in Chromium from the page the
//! real binary serves: the JavaScript and Rust codecs cannot drift apart
//! silently (the Rust side checks the same vectors in `core/wire`).

use crate::support::Oriel;
use oriel_testkit::{Browser, BrowserOptions};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_codec_passes_its_self_test_in_chromium() {
    let oriel = Oriel::up(&[]).await.unwrap();
    let browser = Browser::launch_with(BrowserOptions::default())
        .await
        .unwrap();
    let page = browser.new_page().await.unwrap();
    page.goto(&format!("{}/test/wire-test.html", oriel.origin()))
        .await
        .unwrap();
    page.wait_for(
        "document.title.startsWith('PASS') || document.title.startsWith('FAIL')",
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let result = page.eval("document.title").await.unwrap();
    assert_eq!(result.as_str(), Some("PASS"), "{result}");
    assert!(
        page.console_errors().is_empty(),
        "{:?}",
        page.console_errors()
    );
}
