//! The load tester's WebSocket clients: TLS (trusting the far server's and
//! the deployment's certificates), a WebSocket handshake offering a
//! subprotocol, then one of the far end's modes ([`Mode`]) driven from here.

use super::far::{self, Mode};
use crate::stats::Latencies;
use anyhow::{Context as _, anyhow, bail};
use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

/// Opens `url` (`wss://127.0.0.1:PORT/…`) offering `subprotocol`, and
/// sends `hello` first when given (a dedicated proxy reads HELLO first).
pub async fn connect(
    tls: &TlsConnector,
    url: &str,
    subprotocol: &str,
    hello: Option<Vec<u8>>,
) -> anyhow::Result<Ws> {
    let mut request = url.into_client_request().context("bad url")?;
    let uri = request.uri().clone();
    let host = uri.host().ok_or_else(|| anyhow!("url without host"))?;
    let port = uri.port_u16().unwrap_or(443);
    request.headers_mut().insert(
        "sec-websocket-protocol",
        http::HeaderValue::from_str(subprotocol)?,
    );
    let tcp = TcpStream::connect((host, port))
        .await
        .with_context(|| format!("cannot connect to {host}:{port}"))?;
    tcp.set_nodelay(true)?;
    // Every certificate here names localhost (and 127.0.0.1).
    let name = ServerName::try_from("localhost")?;
    let stream = tls.connect(name, tcp).await.context("TLS handshake")?;
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(far::ws_config()))
            .await
            .context("WebSocket handshake")?;
    if let Some(hello) = hello {
        ws.send(Message::binary(hello)).await?;
    }
    Ok(ws)
}

/// Tells the far end what to do.
pub async fn start(ws: &mut Ws, mode: Mode) -> anyhow::Result<()> {
    ws.send(Message::binary(Bytes::copy_from_slice(&mode.header())))
        .await?;
    Ok(())
}

/// Receives until the stream ends, adding payload bytes to `counter` (the
/// far end is a source).
pub async fn receive(mut ws: Ws, counter: Arc<AtomicU64>) -> anyhow::Result<()> {
    while let Some(m) = ws.next().await {
        if let Message::Binary(b) = m? {
            counter.fetch_add(b.len() as u64, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Sends `payload` again and again until the stream fails (the far end is
/// a sink and counts).
pub async fn send_forever(mut ws: Ws, payload: Bytes) -> anyhow::Result<()> {
    loop {
        ws.send(Message::Binary(payload.clone())).await?;
    }
}

/// Echo round trips of `size`-byte messages, one at a time; the echo may
/// come back in several messages (websockify re-frames a byte stream).
pub async fn echo_round_trips(
    ws: &mut Ws,
    count: usize,
    size: usize,
    timeout: Duration,
) -> anyhow::Result<Latencies> {
    let payload = Bytes::from(vec![0xa5_u8; size]);
    let mut latencies = Latencies::default();
    for _ in 0..count {
        let t = Instant::now();
        ws.send(Message::Binary(payload.clone())).await?;
        let mut got = 0;
        while got < size {
            let next = tokio::time::timeout(timeout, ws.next())
                .await
                .map_err(|_| anyhow!("no echo within {timeout:?}"))?;
            match next {
                Some(Ok(Message::Binary(b))) => got += b.len(),
                Some(Ok(Message::Close(_))) | None => bail!("the stream ended"),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
            }
        }
        latencies.push(t.elapsed());
    }
    Ok(latencies)
}
