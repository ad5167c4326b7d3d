//! The Chromium fixture against a real headless Chromium.

use std::time::Duration;

use anyhow::Result;
use base64::Engine as _;
use oriel_testkit::{Browser, MouseButton, Page, Rect, RgbImage};
use serde_json::json;

/// A `data:` URL for an HTML document.
fn html_url(html: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(html);
    format!("data:text/html;base64,{encoded}")
}

async fn open(browser: &Browser, html: &str) -> Result<Page> {
    let page = browser.new_page().await?;
    page.goto(&html_url(html)).await?;
    Ok(page)
}

/// Four quadrants of known colours, as the canvas test draws them.
fn quadrants(width: u32, height: u32) -> Result<RgbImage> {
    let row = |left: [u8; 3], right: [u8; 3]| {
        let mut row = left.repeat((width / 2) as usize);
        row.extend(right.repeat((width - width / 2) as usize));
        row
    };
    let mut data = row([255, 0, 0], [0, 255, 0]).repeat((height / 2) as usize);
    data.extend(row([0, 0, 255], [18, 52, 86]).repeat((height - height / 2) as usize));
    RgbImage::new(width, height, data)
}

const QUADRANT_JS: &str = "
  const c = document.getElementById('c');
  const ctx = c.getContext('2d');
  const w = c.width, h = c.height;
  ctx.fillStyle = 'rgb(255,0,0)'; ctx.fillRect(0, 0, w / 2, h / 2);
  ctx.fillStyle = 'rgb(0,255,0)'; ctx.fillRect(w / 2, 0, w - w / 2, h / 2);
  ctx.fillStyle = 'rgb(0,0,255)'; ctx.fillRect(0, h / 2, w / 2, h - h / 2);
  ctx.fillStyle = 'rgb(18,52,86)'; ctx.fillRect(w / 2, h / 2, w - w / 2, h - h / 2);
  window.drawn = true;
";

#[tokio::test]
async fn canvas_pixels_read_back_exactly() -> Result<()> {
    let browser = Browser::launch().await?;
    assert!(browser.version().await?.contains("Chrome"));
    for (width, height) in [(300, 200), (1920, 1080)] {
        let page = open(
            &browser,
            &format!(
                "<body style=margin:0><canvas id=c width={width} height={height}></canvas>\
                 <script>{QUADRANT_JS}</script></body>"
            ),
        )
        .await?;
        page.wait_for("window.drawn === true", Duration::from_secs(5))
            .await?;
        let image = page.canvas_image("#c").await?;
        let diff = image.compare(&quadrants(width, height)?)?;
        assert!(diff.is_identical(), "{width}x{height}: {diff:?}");
        let region = Rect::new(width / 2 - 5, height / 2 - 5, 10, 10);
        let part = page.canvas_region("#c", region).await?;
        assert!(part.compare(&image.crop(region)?)?.is_identical());
    }
    Ok(())
}

#[tokio::test]
async fn keys_reach_an_input_with_codes() -> Result<()> {
    let browser = Browser::launch().await?;
    let page = open(
        &browser,
        "<input id=i><script>
           window.keys = [];
           document.getElementById('i').addEventListener('keydown',
             e => window.keys.push(`${e.key}|${e.code}|${e.keyCode}|${e.shiftKey}`));
         </script>",
    )
    .await?;
    page.click_selector("#i").await?;
    page.wait_for("document.activeElement.id === 'i'", Duration::from_secs(5))
        .await?;
    page.type_text("Hello, World! 123 é").await?;
    page.press_key("Backspace").await?;
    page.press_key("ArrowLeft").await?;
    page.type_text("_").await?;
    assert_eq!(
        page.eval("document.getElementById('i').value").await?,
        json!("Hello, World! 123_ ")
    );

    let keys = page.eval("window.keys").await?;
    let keys: Vec<&str> = keys
        .as_array()
        .map(|k| k.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    for expected in [
        "Shift|ShiftLeft|16|true",
        "H|KeyH|72|true",
        "e|KeyE|69|false",
        ",|Comma|188|false",
        "!|Digit1|49|true",
        "Backspace|Backspace|8|false",
        "ArrowLeft|ArrowLeft|37|false",
        "_|Minus|189|true",
    ] {
        assert!(
            keys.contains(&expected),
            "no keydown {expected} in {keys:?}"
        );
    }

    // Select all and delete with a chord.
    page.press_key("Control+KeyA").await?;
    page.press_key("Delete").await?;
    assert_eq!(
        page.eval("document.getElementById('i').value").await?,
        json!("")
    );
    page.type_text("x\n").await?;
    assert!(keys_contain(&page, "Enter|Enter|13|false").await?);
    Ok(())
}

async fn keys_contain(page: &Page, entry: &str) -> Result<bool> {
    Ok(page
        .eval(&format!("window.keys.includes({})", json!(entry)))
        .await?
        == json!(true))
}

#[tokio::test]
async fn clicks_mouse_events_and_errors() -> Result<()> {
    let browser = Browser::launch().await?;
    let page = open(
        &browser,
        "<body style=margin:0>
         <button id=b style='position:absolute;left:100px;top:50px;width:80px;height:30px'
           onclick='window.clicked = (window.clicked || 0) + 1'>go</button>
         <canvas id=c width=400 height=300 style='position:absolute;left:0;top:200px'></canvas>
         <script>
           window.downs = [];
           document.getElementById('c').addEventListener('mousedown',
             e => window.downs.push([e.offsetX, e.offsetY, e.button]));
           document.getElementById('c').addEventListener('contextmenu', e => e.preventDefault());
         </script></body>",
    )
    .await?;
    let rect = page.element_rect("#b").await?;
    assert_eq!(
        (rect.x, rect.y, rect.width, rect.height),
        (100.0, 50.0, 80.0, 30.0)
    );
    page.click_selector("#b").await?;
    assert_eq!(page.eval("window.clicked").await?, json!(1));

    page.mouse_click(30.0, 240.0, MouseButton::Left).await?;
    page.mouse_click(50.0, 260.0, MouseButton::Right).await?;
    assert_eq!(
        page.eval("window.downs").await?,
        json!([[30, 40, 0], [50, 60, 2]])
    );

    let error = page
        .eval("throw new Error('kaboom')")
        .await
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
    assert!(error.contains("kaboom"), "{error}");
    assert!(page.click_selector("#missing").await.is_err());
    assert_eq!(
        page.eval("new Promise(r => setTimeout(() => r(42), 10))")
            .await?,
        json!(42)
    );

    page.eval(
        "console.error('console', 'boom', 7); setTimeout(() => { throw new Error('late') }, 0)",
    )
    .await?;
    let mut errors = Vec::new();
    for _ in 0..100 {
        errors = page.console_errors();
        if errors.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(errors.iter().any(|e| e == "console boom 7"), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("Error: late")),
        "{errors:?}"
    );

    let shot = page.screenshot().await?;
    assert_eq!((shot.width, shot.height), (1600, 1000));
    assert_eq!(shot.pixel(1500, 900), Some([255, 255, 255]));
    Ok(())
}

#[tokio::test]
async fn navigation_errors_and_pages_are_independent() -> Result<()> {
    let browser = Browser::launch().await?;
    let a = open(&browser, "<title>a</title>").await?;
    let b = open(&browser, "<title>b</title>").await?;
    assert_eq!(a.eval("document.title").await?, json!("a"));
    assert_eq!(b.eval("document.title").await?, json!("b"));
    // A port nothing listens on.
    let port = oriel_testkit::free_port()?;
    let error = a
        .goto(&format!("http://127.0.0.1:{port}/"))
        .await
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
    assert!(error.contains("ERR_CONNECTION_REFUSED"), "{error}");
    drop(b);
    assert_eq!(a.eval("1 + 1").await?, json!(2));
    Ok(())
}

/// A small form whose parts appear, change and go as the tests' pages do.
const FORM: &str = "<form id=f hidden onsubmit='event.preventDefault()'>
       <input id=name>
       <label><input id=ok type=checkbox> ok</label>
       <select id=kind><option value=a>A</option><option value=b>B</option></select>
       <button id=save type=button
         onclick=\"document.getElementById('out').textContent = [
           document.getElementById('name').value,
           document.getElementById('ok').checked,
           document.getElementById('kind').value].join('|');
           document.getElementById('gone').remove()\">save</button>
     </form>
     <ul><li class=item data-n=1>one</li><li class=item data-n=2>two</li><li class=item>three</li></ul>
     <p id=out></p><p id=gone>bye</p>
     <script>
       document.getElementById('kind').addEventListener('change', () => window.changed = true);
       setTimeout(() => document.getElementById('f').hidden = false, 300);
     </script>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elements_are_waited_for_filled_and_read() -> Result<()> {
    let browser = Browser::launch().await?;
    let page = open(&browser, FORM).await?;
    assert_eq!(page.wait_timeout(), oriel_testkit::DEFAULT_WAIT);
    // The form shows after a moment: the click and the fill wait for it.
    assert!(!page.is_shown("#name").await?);
    page.fill("#name", "Ada Lovelace").await?;
    assert!(page.is_shown("#name").await?);
    assert_eq!(page.value("#name").await?, "Ada Lovelace");
    // Filling again replaces the text.
    page.fill("#name", "Ada").await?;
    page.set_checked("#ok", true).await?;
    page.set_checked("#ok", true).await?;
    assert_eq!(page.property("#ok", "checked").await?, json!(true));
    assert!(page.choose("#kind", "zzz").await.is_err());
    page.choose("#kind", "b").await?;
    assert_eq!(page.eval("window.changed").await?, json!(true));
    page.click("#save").await?;
    page.wait_text("#out", "Ada|true|b").await?;
    page.wait_gone("#gone").await?;
    assert_eq!(page.text("#out").await?, "Ada|true|b");
    assert_eq!(page.text("#missing").await?, "");
    assert_eq!(page.count(".item").await?, 3);
    assert_eq!(page.texts(".item").await?, ["one", "two", "three"]);
    assert_eq!(page.attrs(".item", "data-n").await?, ["1", "2"]);

    // A wait that fails says what it waited for and what the page showed.
    let mut page = page;
    page.set_wait_timeout(Duration::from_millis(300));
    let error = format!("{:#}", page.wait_text("#out", "other").await.unwrap_err());
    assert!(error.contains("\"Ada|true|b\", not \"other\""), "{error}");
    let error = format!("{:#}", page.click("#gone").await.unwrap_err());
    assert!(error.contains("#gone is not shown"), "{error}");
    assert!(page.js_errors().is_empty(), "{:?}", page.js_errors());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_test_leaves_a_screenshot_of_its_page() -> Result<()> {
    let browser = Browser::launch().await?;
    let page = open(&browser, "<body style='background: rgb(0, 128, 255)'>").await?;
    // A test panics while its page is open (in a task, so that this test
    // goes on): the page saves its screenshot as it closes.
    let failed = tokio::spawn(async move {
        let _page = page;
        panic!("a failing assertion");
    })
    .await;
    assert!(failed.is_err_and(|e| e.is_panic()));
    let shot = browser.scratch_dir().path().join("failure-page.png");
    let image = RgbImage::from_png(&std::fs::read(&shot)?)?;
    assert_eq!(image.pixel(10, 10), Some([0, 128, 255]));
    Ok(())
}
