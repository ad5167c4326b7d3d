//! A verifying stream client: speaks the Oriel stream protocol over real TLS
//! and WebSockets like the browser does, decodes every tile into its own
//! framebuffer, acknowledges frames, and records everything else (END,
//! clipboard, notices, cursor) for assertions. Any protocol violation by the
//! gateway (bad message, rectangle outside the desktop, undecodable image,
//! broken frame guarantees) is an error, never a silent pass.

use crate::image::RgbImage;
use anyhow::{Context as _, anyhow, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use oriel_core_model::{PixelLayout, Size};
use oriel_core_wire::{
    ClientHello, ClientMessage, Codec, End, FrameOp, NoticeKind, ServerHello, ServerMessage,
    VERSION,
};
use oriel_encoders_codecs::decode_image;
use oriel_encoders_damage::Framebuffer;
use rustls::pki_types::ServerName;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Ws = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

/// What the viewer saw, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ViewerEvent {
    /// A frame was applied (its id).
    Frame(u32),
    /// The desktop size changed.
    DesktopSize(Size),
    /// Remote clipboard text.
    Clipboard(String),
    /// A notice.
    Notice(NoticeKind, String),
    /// A cursor shape of this size.
    Cursor(Size),
    /// The bell rang.
    Bell,
    /// The stream ended with this END (if any) and close code (if any).
    Closed(Option<End>, Option<u16>),
}

/// A connected viewer.
pub struct StreamViewer {
    ws: Ws,
    fb: Framebuffer,
    /// The gateway's HELLO, once received.
    pub hello: Option<ServerHello>,
    /// END received, if any.
    pub end: Option<End>,
    /// WebSocket close code received, if any.
    pub close_code: Option<u16>,
    /// Frames applied.
    pub frames: u64,
    /// Copy operations applied.
    pub copies: u64,
    /// Bytes of stream messages received.
    pub bytes: u64,
    /// The last applied frame's `damage_time_us` (the gateway's wall clock,
    /// µs since the Unix epoch), 0 before the first frame.
    pub last_damage_time_us: u64,
    /// Wall clock (µs since the Unix epoch) when the last applied frame's
    /// message was read, before it was decoded; 0 before the first frame.
    pub last_received_us: u64,
    /// Whether to acknowledge frames (turn off to simulate a stalled viewer).
    pub ack: bool,
    /// Capability bits offered in HELLO (`caps::WEBP`: decode WebP like a
    /// browser); none by default.
    pub capabilities: u32,
    /// WebP images applied.
    pub webp_images: u64,
    /// Everything that happened, in order.
    pub events: Vec<ViewerEvent>,
}

impl std::fmt::Debug for StreamViewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamViewer")
            .field("hello", &self.hello)
            .field("end", &self.end)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

/// Wall clock, µs since the Unix epoch (the clock of `Frame::damage_time_us`).
fn unix_time_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// A TLS client trusting the certificates in `ca_pem_file`.
pub fn tls_connector(ca_pem_file: &Path) -> anyhow::Result<TlsConnector> {
    tls_connector_trusting(&[ca_pem_file])
}

/// A TLS client trusting every certificate in these PEM files.
pub fn tls_connector_trusting(ca_pem_files: &[&Path]) -> anyhow::Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    for file in ca_pem_files {
        let pem = std::fs::read(file).with_context(|| format!("read {}", file.display()))?;
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
            roots.add(cert?)?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Why a WebSocket handshake failed: the HTTP status, if the server answered.
pub fn handshake_status(err: &anyhow::Error) -> Option<u16> {
    err.chain().find_map(
        |e| match e.downcast_ref::<tokio_tungstenite::tungstenite::Error>() {
            Some(tokio_tungstenite::tungstenite::Error::Http(resp)) => Some(resp.status().as_u16()),
            _ => None,
        },
    )
}

impl StreamViewer {
    /// Opens `wss://host:port/stream` (any `stream_url`), sending `origin` if given.
    pub async fn connect(
        stream_url: &str,
        ca_pem_file: &Path,
        origin: Option<&str>,
    ) -> anyhow::Result<Self> {
        Self::connect_from(stream_url, ca_pem_file, origin, None).await
    }

    /// Like [`Self::connect`], from the local address `source` (e.g.
    /// 127.0.0.2, to be another client address on loopback).
    pub async fn connect_from(
        stream_url: &str,
        ca_pem_file: &Path,
        origin: Option<&str>,
        source: Option<std::net::IpAddr>,
    ) -> anyhow::Result<Self> {
        let url: http::Uri = stream_url.parse().context("stream url")?;
        let host = url
            .host()
            .ok_or_else(|| anyhow!("stream url without host"))?
            .to_owned();
        let port = url.port_u16().unwrap_or(443);
        let tcp = match source {
            None => TcpStream::connect((host.as_str(), port)).await?,
            Some(ip) => {
                let target = tokio::net::lookup_host((host.as_str(), port))
                    .await?
                    .find(|a| a.is_ipv4() == ip.is_ipv4())
                    .ok_or_else(|| anyhow!("{host} has no address of the source's family"))?;
                let socket = if ip.is_ipv4() {
                    tokio::net::TcpSocket::new_v4()?
                } else {
                    tokio::net::TcpSocket::new_v6()?
                };
                socket.bind(std::net::SocketAddr::new(ip, 0))?;
                socket.connect(target).await?
            }
        };
        let name = ServerName::try_from(if host == "127.0.0.1" {
            "localhost".to_owned()
        } else {
            host.clone()
        })?;
        let tls = tls_connector(ca_pem_file)?.connect(name, tcp).await?;
        let mut req = http::Request::builder()
            .uri(stream_url)
            .header("host", format!("{host}:{port}"))
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-protocol", oriel_core_wire::SUBPROTOCOL)
            .header(
                "sec-websocket-key",
                tokio_tungstenite::tungstenite::handshake::client::generate_key(),
            );
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let (ws, _) = tokio_tungstenite::client_async(req.body(())?, tls).await?;
        Ok(StreamViewer {
            ws,
            fb: Framebuffer::new(Size::new(1, 1)),
            hello: None,
            end: None,
            close_code: None,
            frames: 0,
            copies: 0,
            bytes: 0,
            last_damage_time_us: 0,
            last_received_us: 0,
            ack: true,
            capabilities: 0,
            webp_images: 0,
            events: Vec::new(),
        })
    }

    /// Sends a message.
    pub async fn send(&mut self, msg: ClientMessage) -> anyhow::Result<()> {
        self.ws.send(Message::binary(msg.to_bytes())).await?;
        Ok(())
    }

    /// Sends raw bytes as one binary message (for malformed-input tests).
    pub async fn send_raw(&mut self, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.ws.send(Message::binary(bytes)).await?;
        Ok(())
    }

    /// Sends HELLO with `token` and waits for the gateway's HELLO (or the end).
    pub async fn hello(&mut self, token: &str, timeout: Duration) -> anyhow::Result<()> {
        self.send(ClientMessage::Hello(ClientHello {
            version: VERSION,
            capabilities: self.capabilities,
            viewport: Size::new(0, 0),
            token: token.to_owned(),
        }))
        .await?;
        let deadline = Instant::now() + timeout;
        while self.hello.is_none() {
            if let Some(ViewerEvent::Closed(..)) = self.next(deadline).await? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("no HELLO from the gateway within {timeout:?}");
            }
        }
        Ok(())
    }

    /// The framebuffer as an image.
    pub fn image(&self) -> RgbImage {
        let size = self.fb.size();
        RgbImage {
            width: u32::from(size.width),
            height: u32::from(size.height),
            data: self.fb.as_rgb().to_vec(),
        }
    }

    /// Processes messages until `deadline`; returns the event handled, or
    /// `None` on timeout. Errors on any protocol violation.
    pub async fn next(&mut self, deadline: Instant) -> anyhow::Result<Option<ViewerEvent>> {
        if self
            .events
            .iter()
            .any(|e| matches!(e, ViewerEvent::Closed(..)))
        {
            return Ok(Some(ViewerEvent::Closed(self.end.clone(), self.close_code)));
        }
        loop {
            let msg = match tokio::time::timeout_at(deadline.into(), self.ws.next()).await {
                Err(_) => return Ok(None),
                Ok(m) => m,
            };
            let event = match msg {
                None | Some(Err(_)) => ViewerEvent::Closed(self.end.clone(), self.close_code),
                Some(Ok(Message::Close(frame))) => {
                    self.close_code =
                        Some(frame.map_or(u16::from(CloseCode::Status), |f| u16::from(f.code)));
                    ViewerEvent::Closed(self.end.clone(), self.close_code)
                }
                Some(Ok(Message::Binary(bytes))) => {
                    self.bytes += bytes.len() as u64;
                    let received_us = unix_time_us();
                    match self.apply(&bytes, received_us).await? {
                        Some(e) => e,
                        // HELLO, END, PONG: consumed, read on.
                        None => continue,
                    }
                }
                Some(Ok(Message::Text(_))) => bail!("the gateway sent a text message"),
                Some(Ok(_)) => continue,
            };
            self.events.push(event.clone());
            return Ok(Some(event));
        }
    }

    async fn apply(
        &mut self,
        bytes: &[u8],
        received_us: u64,
    ) -> anyhow::Result<Option<ViewerEvent>> {
        let msg = ServerMessage::decode(bytes).context("gateway message does not decode")?;
        Ok(Some(match msg {
            ServerMessage::Hello(h) => {
                if self.hello.is_some() {
                    bail!("second HELLO from the gateway");
                }
                self.fb.reset(h.size);
                self.hello = Some(h);
                return Ok(None);
            }
            ServerMessage::Frame(frame) => {
                if self.hello.is_none() {
                    bail!("FRAME before HELLO");
                }
                frame
                    .check(self.fb.size())
                    .context("frame breaks the guarantees of §3")?;
                for op in &frame.ops {
                    match op {
                        FrameOp::Copy { src, dst } => {
                            self.fb.copy(*src, *dst)?;
                            self.copies += 1;
                        }
                        FrameOp::Fill { rect, rgb } => self.fb.fill(*rect, *rgb)?,
                        FrameOp::Image { rect, codec, data } => {
                            let rgb = decode_image(*codec, data, rect.width, rect.height)
                                .with_context(|| format!("tile {rect:?} does not decode"))?;
                            if *codec == Codec::Webp {
                                self.webp_images += 1;
                            }
                            self.fb.blit(*rect, PixelLayout::Rgb24, &rgb)?;
                        }
                    }
                }
                self.frames += 1;
                self.last_damage_time_us = frame.damage_time_us;
                self.last_received_us = received_us;
                // A failed ACK means the gateway has closed; the END and the
                // close frame still in the socket's buffer tell why.
                if self.ack {
                    let _ = self.send(ClientMessage::Ack { frame_id: frame.id }).await;
                }
                ViewerEvent::Frame(frame.id)
            }
            ServerMessage::DesktopSize(size) => {
                self.fb.reset(size);
                ViewerEvent::DesktopSize(size)
            }
            ServerMessage::Cursor(c) => ViewerEvent::Cursor(c.size),
            ServerMessage::Clipboard(t) => ViewerEvent::Clipboard(t.0),
            ServerMessage::Bell => ViewerEvent::Bell,
            ServerMessage::Pong { .. } => return Ok(None),
            ServerMessage::End(end) => {
                self.end = Some(end);
                return Ok(None);
            }
            ServerMessage::Notice { kind, message } => ViewerEvent::Notice(kind, message),
            // File transfer (§2.3): this viewer asks for none; FILES is noted only.
            ServerMessage::Files(_)
            | ServerMessage::FileListing(_)
            | ServerMessage::FileStart { .. }
            | ServerMessage::FileData { .. }
            | ServerMessage::FileProgress { .. }
            | ServerMessage::FileDone { .. }
            | ServerMessage::FileError { .. } => return Ok(None),
        }))
    }

    /// Runs until `timeout` elapses or the stream closes; returns whether it closed.
    pub async fn pump(&mut self, timeout: Duration) -> anyhow::Result<bool> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(ViewerEvent::Closed(..)) = self.next(deadline).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Runs until `pred` holds for an event, the stream closes, or `timeout`.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&ViewerEvent) -> bool,
    ) -> anyhow::Result<ViewerEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.next(deadline).await? {
                Some(e) if pred(&e) => return Ok(e),
                Some(ViewerEvent::Closed(end, code)) => {
                    bail!("stream closed (end {end:?}, code {code:?}) while waiting for {what}")
                }
                Some(_) => {}
                None => bail!("timed out after {timeout:?} waiting for {what}"),
            }
        }
    }

    /// Waits for the stream to end; returns the END and close code.
    pub async fn wait_closed(
        &mut self,
        timeout: Duration,
    ) -> anyhow::Result<(Option<End>, Option<u16>)> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.next(deadline).await? {
                Some(ViewerEvent::Closed(end, code)) => return Ok((end, code)),
                Some(_) => {}
                None => bail!("the stream did not close within {timeout:?}"),
            }
        }
    }
}
