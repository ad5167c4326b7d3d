//! The far end of every measured path, inside the load tester.
//!
//! - A TLS WebSocket server with a self-signed certificate (rcgen): what the
//!   relay's route names (`wss://127.0.0.1:PORT/stream`, pinned by its
//!   SHA-256), what nginx proxies to, and what the direct baseline reaches.
//!   It accepts only clients offering the stream subprotocol, like a real
//!   gateway.
//! - A plain TCP server: what websockify relays to (it turns WebSocket
//!   messages into a byte stream).
//!
//! Both speak one tiny in-band protocol: the first [`HEADER_LEN`] bytes a
//! client sends say what to do ([`Mode`]): count what arrives (sink), send
//! back what arrives (echo) or send as fast as possible (source). Bytes
//! arriving at a sink are counted in the shared [`Counters`].

use anyhow::{Context as _, bail};
use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use oriel_core_wire::SUBPROTOCOL;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Length of the header a client sends first.
pub const HEADER_LEN: usize = 8;

/// Largest message either side sends or accepts.
pub const MAX_MESSAGE: usize = 64 << 20;

/// What the far end does with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Counts every byte that arrives.
    Sink,
    /// Sends back every message (byte) that arrives.
    Echo,
    /// Sends messages (TCP: chunks) of this many bytes as fast as it can.
    Source(u32),
}

impl Mode {
    /// The header selecting this mode: `OR`, the mode, a zero, the size
    /// (little endian).
    pub fn header(self) -> [u8; HEADER_LEN] {
        let (mode, size) = match self {
            Mode::Sink => (1, 0),
            Mode::Echo => (2, 0),
            Mode::Source(n) => (3, n),
        };
        let mut h = [b'O', b'R', mode, 0, 0, 0, 0, 0];
        h[4..].copy_from_slice(&size.to_le_bytes());
        h
    }

    fn parse(h: &[u8]) -> Option<Mode> {
        if h.len() != HEADER_LEN || &h[..2] != b"OR" || h[3] != 0 {
            return None;
        }
        let size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        match h[2] {
            1 => Some(Mode::Sink),
            2 => Some(Mode::Echo),
            3 if size > 0 && size as usize <= MAX_MESSAGE => Some(Mode::Source(size)),
            _ => None,
        }
    }
}

/// What the far servers saw, shared by all their connections.
#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes that arrived at sinks (payload only).
    pub sunk: AtomicU64,
    /// Connections open now.
    pub active: AtomicU64,
    /// Connections refused or broken before their header.
    pub refused: AtomicU64,
}

/// The far servers and their certificate.
#[derive(Debug)]
pub struct FarServers {
    /// The TLS WebSocket server.
    pub ws: SocketAddr,
    /// The plain TCP server (for websockify).
    pub tcp: SocketAddr,
    /// Its certificate (PEM), for clients and nginx to trust.
    pub cert_pem: PathBuf,
    /// Its private key (PEM), which nginx and websockify reuse.
    pub key_pem: PathBuf,
    /// SHA-256 of the certificate (hex, lowercase), for routes.
    pub cert_sha256: String,
    pub counters: Arc<Counters>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FarServers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl FarServers {
    /// Generates a certificate for `localhost`/127.0.0.1 into `dir` and
    /// starts both servers on free 127.0.0.1 ports.
    pub async fn start(dir: &Path) -> anyhow::Result<FarServers> {
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .context("cannot generate the far server's certificate")?;
        let cert_pem = dir.join("far.crt");
        let key_pem = dir.join("far.key");
        std::fs::write(&cert_pem, certified.cert.pem())?;
        std::fs::write(&key_pem, certified.signing_key.serialize_pem())?;
        let der = certified.cert.der().to_vec();
        let digest = ring::digest::digest(&ring::digest::SHA256, &der);
        let cert_sha256: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();

        let key = PrivateKeyDer::from_pem_file(&key_pem).context("far server key")?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(der)], key)?;
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let counters = Arc::new(Counters::default());
        let ws_listener = TcpListener::bind("127.0.0.1:0").await?;
        let tcp_listener = TcpListener::bind("127.0.0.1:0").await?;
        let ws = ws_listener.local_addr()?;
        let tcp = tcp_listener.local_addr()?;
        let tasks = vec![
            tokio::spawn(accept_loop(ws_listener, Arc::clone(&counters), {
                let acceptor = acceptor.clone();
                move |stream, counters| Box::pin(serve_ws(stream, acceptor.clone(), counters))
            })),
            tokio::spawn(accept_loop(
                tcp_listener,
                Arc::clone(&counters),
                |stream, counters| Box::pin(serve_tcp(stream, counters)),
            )),
        ];
        Ok(FarServers {
            ws,
            tcp,
            cert_pem,
            key_pem,
            cert_sha256,
            counters,
            tasks,
        })
    }

    /// Waits (up to `timeout`) until no connection is open: the previous
    /// phase has been torn down everywhere.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.counters.active.load(Ordering::Relaxed) > 0 {
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}

type ConnFuture = std::pin::Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

async fn accept_loop(
    listener: TcpListener,
    counters: Arc<Counters>,
    serve: impl Fn(TcpStream, Arc<Counters>) -> ConnFuture + Send + 'static,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(_) => {
                // Out of file descriptors and the like: wait, try again.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let counters = Arc::clone(&counters);
        let conn = serve(stream, Arc::clone(&counters));
        tokio::spawn(async move {
            counters.active.fetch_add(1, Ordering::Relaxed);
            let _ = conn.await;
            counters.active.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// The WebSocket configuration of both ends: messages up to [`MAX_MESSAGE`].
pub fn ws_config() -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(MAX_MESSAGE);
    config.max_frame_size = Some(MAX_MESSAGE);
    config
}

/// Whether a request offers `protocol` in `Sec-WebSocket-Protocol`.
pub fn offers(req: &Request, protocol: &str) -> bool {
    req.headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == protocol)
}

async fn serve_ws(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    counters: Arc<Counters>,
) -> anyhow::Result<()> {
    let tls = acceptor.accept(stream).await?;
    // The signature is tungstenite's (its error type is a whole response).
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        if !offers(req, SUBPROTOCOL) {
            let mut refusal = ErrorResponse::new(Some("the stream subprotocol is required".into()));
            *refusal.status_mut() = http::StatusCode::BAD_REQUEST;
            return Err(refusal);
        }
        resp.headers_mut().insert(
            "sec-websocket-protocol",
            http::HeaderValue::from_static(SUBPROTOCOL),
        );
        Ok(resp)
    };
    let ws = match tokio_tungstenite::accept_hdr_async_with_config(tls, callback, Some(ws_config()))
        .await
    {
        Ok(ws) => ws,
        Err(e) => {
            counters.refused.fetch_add(1, Ordering::Relaxed);
            return Err(e.into());
        }
    };
    let (mut tx, mut rx) = ws.split();
    let mode = loop {
        match rx.next().await {
            // A HELLO passed on by a dedicated proxy (the far server
            // stands in for the serving gateway and does not check it).
            Some(Ok(Message::Binary(h))) if h.first() == Some(&0x01) => {}
            Some(Ok(Message::Binary(h))) => match Mode::parse(&h) {
                Some(m) => break m,
                None => {
                    counters.refused.fetch_add(1, Ordering::Relaxed);
                    bail!("bad header");
                }
            },
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            _ => {
                counters.refused.fetch_add(1, Ordering::Relaxed);
                bail!("no header");
            }
        }
    };
    match mode {
        Mode::Sink => {
            while let Some(m) = rx.next().await {
                match m? {
                    Message::Binary(b) => {
                        counters.sunk.fetch_add(b.len() as u64, Ordering::Relaxed);
                    }
                    Message::Close(_) => break,
                    _ => {}
                }
            }
        }
        Mode::Echo => {
            while let Some(m) = rx.next().await {
                match m? {
                    Message::Binary(b) => tx.send(Message::Binary(b)).await?,
                    Message::Close(_) => break,
                    _ => {}
                }
            }
        }
        Mode::Source(size) => {
            let payload = Bytes::from(vec![0x5a_u8; size as usize]);
            // Reading goes on beside, so a close from the client ends it.
            let reader = async {
                while let Some(Ok(m)) = rx.next().await {
                    if matches!(m, Message::Close(_)) {
                        break;
                    }
                }
            };
            let writer = async {
                loop {
                    if tx.send(Message::Binary(payload.clone())).await.is_err() {
                        break;
                    }
                }
            };
            tokio::select! {
                () = reader => {}
                () = writer => {}
            }
        }
    }
    Ok(())
}

async fn serve_tcp(mut stream: TcpStream, counters: Arc<Counters>) -> anyhow::Result<()> {
    let mut header = [0u8; HEADER_LEN];
    if stream.read_exact(&mut header).await.is_err() {
        counters.refused.fetch_add(1, Ordering::Relaxed);
        bail!("no header");
    }
    let Some(mode) = Mode::parse(&header) else {
        counters.refused.fetch_add(1, Ordering::Relaxed);
        bail!("bad header");
    };
    let mut buf = vec![0u8; 256 << 10];
    match mode {
        Mode::Sink => loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            counters.sunk.fetch_add(n as u64, Ordering::Relaxed);
        },
        Mode::Echo => loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            stream.write_all(&buf[..n]).await?;
        },
        Mode::Source(size) => {
            let chunk = vec![0x5a_u8; size as usize];
            let (mut rd, mut wr) = stream.split();
            let reader = async {
                let mut b = [0u8; 1024];
                while matches!(rd.read(&mut b).await, Ok(n) if n > 0) {}
            };
            let writer = async { while wr.write_all(&chunk).await.is_ok() {} };
            tokio::select! {
                () = reader => {}
                () = writer => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_junk_is_refused() {
        for m in [Mode::Sink, Mode::Echo, Mode::Source(1 << 20)] {
            assert_eq!(Mode::parse(&m.header()), Some(m));
        }
        assert_eq!(Mode::parse(b"ORxx"), None);
        assert_eq!(Mode::parse(&[b'O', b'R', 9, 0, 0, 0, 0, 0]), None);
        assert_eq!(Mode::parse(&Mode::Source(0).header()), None);
        assert_eq!(Mode::parse(&Mode::Source(u32::MAX).header()), None);
    }
}
