//! A spy on the viewer's WebSocket: counts of the messages of each type
//! received and sent, the age of each FRAME, and the sockets themselves
//! (for raw protocol messages on the viewer's own stream).

use anyhow::{Context as _, Result};
use oriel_testkit::Page;
use serde_json::Value;

/// Records the viewer's WebSocket traffic for the tests: every socket the
/// page opens is kept in `window.__orielSpy.sockets`, the count of
/// messages of each type byte received and sent in `received` and `sent`,
/// and the age of each FRAME on arrival in `frameAgesMs`.
/// The client exposes no hook to its stream (the `StreamSession` is not on
/// `window`), so this is how a test sends a raw protocol message on the
/// viewer's own authenticated stream.
const WS_SPY: &str = r"
(() => {
  const Native = window.WebSocket;
  const spy = { sockets: [], received: {}, sent: {}, frameAgesMs: [] };
  const typeOf = (data) => {
    if (data instanceof ArrayBuffer) return data.byteLength ? new Uint8Array(data)[0] : null;
    if (ArrayBuffer.isView(data)) return data.byteLength ? new Uint8Array(data.buffer, data.byteOffset, 1)[0] : null;
    return null;
  };
  class SpiedWebSocket extends Native {
    constructor(...args) {
      super(...args);
      spy.sockets.push(this);
      this.addEventListener('message', (event) => {
        const t = typeOf(event.data);
        if (t !== null) spy.received[t] = (spy.received[t] || 0) + 1;
        if (t === 0x82 && event.data.byteLength >= 13) {
          // FRAME: how old its oldest change is on arrival (same clock).
          const damageUs = new DataView(event.data).getBigUint64(5);
          spy.frameAgesMs.push(Date.now() - Number(damageUs / 1000n));
          if (spy.frameAgesMs.length > 1000) spy.frameAgesMs.shift();
        }
      });
    }
    send(data) {
      const t = typeOf(data);
      if (t !== null) spy.sent[t] = (spy.sent[t] || 0) + 1;
      return super.send(data);
    }
  }
  window.WebSocket = SpiedWebSocket;
  window.__orielSpy = spy;
})();
";

/// Installs the WebSocket spy in every document this tab loads from now on.
pub async fn install_ws_spy(page: &Page) -> Result<()> {
    page.add_init_script(WS_SPY).await
}

/// How many gateway → viewer messages of type `msg_type` the page received.
pub async fn received(page: &Page, msg_type: u8) -> Result<u64> {
    let n = page
        .eval(&format!("window.__orielSpy.received[{msg_type}] || 0"))
        .await?;
    n.as_u64().with_context(|| format!("bad count {n}"))
}

/// How many viewer → gateway messages of type `msg_type` the page sent.
pub async fn sent(page: &Page, msg_type: u8) -> Result<u64> {
    let n = page
        .eval(&format!("window.__orielSpy.sent[{msg_type}] || 0"))
        .await?;
    n.as_u64().with_context(|| format!("bad count {n}"))
}

/// The ages (ms from the gateway's first damage to arrival in the page) of
/// the frames received so far, oldest first (at most the last 1000).
pub async fn frame_ages_ms(page: &Page) -> Result<Vec<f64>> {
    let ages = page.eval("window.__orielSpy.frameAgesMs").await?;
    Ok(ages
        .as_array()
        .context("no frame ages")?
        .iter()
        .filter_map(Value::as_f64)
        .collect())
}
