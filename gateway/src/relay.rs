//! The relay: `/relay/<route>` passes a viewer's stream on to the gateway of
//! the node that runs the session, untouched.
//!
//! The route (`rt1.…`, [`RouteClaims`]) is signed by the control plane and
//! names the far gateway's `wss://` URL and the SHA-256 of its certificate,
//! the only one accepted there. The relay opens that WebSocket (offering
//! the stream subprotocol, passing the viewer's `Origin`), then copies the
//! two connections' bytes both ways: WebSocket frames are not even decoded
//! (the viewer's frames are masked, as the far gateway expects of a client;
//! the far gateway's are not, as the viewer expects of a server; neither
//! side negotiated an extension). HELLO, the session token, frames, input
//! and the close handshake are the far gateway's business, which verifies
//! the token itself. Only a refused route or an unreachable far gateway is
//! answered here, with a close frame (docs/protocol.md codes).
//!
//! Copying bytes rather than messages keeps a large frame from being
//! reassembled before its first byte goes on, and an idle relayed stream
//! holds two small copy buffers and two TLS sessions, nothing more.

use crate::{Gateway, now_secs};
use oriel_core_token::RouteClaims;
use oriel_core_wire::SUBPROTOCOL;
use oriel_gateway_http::{BoxFuture, RawStream, UpgradeContext, WebSocketHandler, WsStream};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::handshake::{client::generate_key, derive_accept_key};
use tracing::{debug, info, warn};

/// Path prefix of the relay endpoint.
pub const RELAY_PATH: &str = "/relay/";

/// Bytes copied at a time in each direction (a TLS record holds 16 KiB).
const COPY_BUFFER: usize = 16 << 10;
/// Longest HTTP response head accepted from the far gateway.
const MAX_RESPONSE_HEAD: usize = 8 << 10;

pub(crate) struct RelayEndpoint {
    pub(crate) gateway: Arc<Gateway>,
}

impl WebSocketHandler for RelayEndpoint {
    fn serve(&self, ws: WsStream, _ctx: UpgradeContext) -> BoxFuture<'static, ()> {
        // Not called: the front hands this endpoint raw connections.
        drop(ws);
        Box::pin(async {})
    }

    fn takes_raw(&self) -> bool {
        true
    }

    fn serve_raw(&self, io: RawStream, ctx: UpgradeContext) -> BoxFuture<'static, ()> {
        let gateway = Arc::clone(&self.gateway);
        Box::pin(async move { relay(gateway, io, ctx).await })
    }
}

/// Why a route could not be followed: the close code (docs/protocol.md)
/// and a reason for the viewer.
pub(crate) struct Refusal(pub(crate) u16, pub(crate) &'static str);

/// Sends a close frame (server to client: unmasked) and ends the connection.
pub(crate) async fn close(io: RawStream, Refusal(code, reason): Refusal) {
    close_with(io, None, code, reason).await;
}

/// Sends `message` (a protocol message, e.g. END) if any, then a close
/// frame with `code` and `reason`, and ends the connection.
pub(crate) async fn close_with(mut io: RawStream, message: Option<&[u8]>, code: u16, reason: &str) {
    let reason = oriel_core_wire::truncate_utf8(reason, 123).as_bytes();
    let mut frames = Vec::with_capacity(16 + reason.len() + message.map_or(0, <[u8]>::len));
    if let Some(m) = message {
        frames.push(0x82);
        match m.len() {
            n @ 0..=125 => frames.push(n as u8),
            n @ 126..=0xffff => {
                frames.push(126);
                frames.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frames.push(127);
                frames.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frames.extend_from_slice(m);
    }
    frames.extend_from_slice(&[0x88, (2 + reason.len()) as u8]);
    frames.extend_from_slice(&code.to_be_bytes());
    frames.extend_from_slice(reason);
    let _ = io.write_all(&frames).await;
    let _ = io.flush().await;
    let _ = io.shutdown().await;
}

async fn relay(gateway: Arc<Gateway>, mut io: RawStream, ctx: UpgradeContext) {
    let token = ctx.path.strip_prefix(RELAY_PATH).unwrap_or("");
    let route: RouteClaims = match gateway.keys.verifier.verify(token, now_secs()) {
        Ok(r) => r,
        Err(e) => {
            warn!(error = %e, "relay route refused");
            let refusal = if matches!(e, oriel_core_token::TokenError::Expired) {
                Refusal(4002, "the route has expired")
            } else {
                Refusal(4001, "the route is invalid")
            };
            close(io, refusal).await;
            return;
        }
    };
    let (mut far, early) = match tokio::time::timeout(
        gateway.settings.connect_timeout,
        connect(&route.to, &route.cert_sha256, ctx.origin.as_deref()),
    )
    .await
    {
        Ok(Ok(u)) => u,
        Ok(Err(refusal)) => {
            warn!(session_id = %route.sid, to = %route.to, reason = refusal.1, "relay cannot reach the session's gateway");
            close(io, refusal).await;
            return;
        }
        Err(_) => {
            warn!(session_id = %route.sid, to = %route.to, "relay timed out reaching the session's gateway");
            close(
                io,
                Refusal(4012, "the session's gateway did not answer in time"),
            )
            .await;
            return;
        }
    };
    info!(session_id = %route.sid, to = %route.to, "relaying a stream");
    // Frames the far gateway sent right behind its 101 response.
    if !early.is_empty() && io.write_all(&early).await.is_err() {
        return;
    }
    gateway.metrics.relayed_streams.inc();
    let mut shutdown = ctx.shutdown.clone();
    tokio::select! {
        copied = copy_both_ways(&mut io, &mut far) => {
            match copied {
                Ok((up, down)) => debug!(session_id = %route.sid, up, down, "relay done"),
                Err(e) => debug!(session_id = %route.sid, error = %e, "relay ended"),
            }
        }
        _ = shutdown.changed() => {}
    }
    gateway.metrics.relayed_streams.dec();
}

/// Copies bytes both ways until either side closes.
pub(crate) async fn copy_both_ways(
    io: &mut RawStream,
    far: &mut Far,
) -> std::io::Result<(u64, u64)> {
    tokio::io::copy_bidirectional_with_sizes(io, far, COPY_BUFFER, COPY_BUFFER).await
}

pub(crate) type Far = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// Opens the route's WebSocket: TLS with the pinned certificate, then the
/// opening handshake (RFC 6455 §4.1) written and checked here, so that what
/// follows is the far gateway's frames as bytes. Returns the connection and
/// any bytes read past the response head.
pub(crate) async fn connect(
    to: &str,
    cert_sha256: &str,
    origin: Option<&str>,
) -> Result<(Far, Vec<u8>), Refusal> {
    let bad = || Refusal(4010, "the route names no usable gateway");
    let uri: http::Uri = to.parse().map_err(|_| bad())?;
    if uri.scheme_str() != Some("wss") {
        return Err(bad());
    }
    let host = uri
        .host()
        .ok_or_else(bad)?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let authority = uri.authority().ok_or_else(bad)?.as_str();
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|_| Refusal(4004, "the session's gateway cannot be reached"))?;
    let _ = tcp.set_nodelay(true);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedCert {
        sha256: cert_sha256.to_ascii_lowercase(),
        provider: Arc::clone(&provider),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| Refusal(4010, "TLS is not available"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let name = ServerName::try_from(host.clone()).map_err(|_| bad())?;
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            Some(rustls::Error::InvalidCertificate(_)) => Refusal(
                4014,
                "the session's gateway presented another certificate than the control plane recorded",
            ),
            _ => Refusal(4004, "the session's gateway cannot be reached"),
        })?;
    let key = generate_key();
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {SUBPROTOCOL}\r\n"
    );
    // The viewer's Origin, already checked by this front; a value that
    // could break the request line is dropped.
    if let Some(o) = origin.filter(|o| o.bytes().all(|b| b.is_ascii_graphic())) {
        request.push_str(&format!("Origin: {o}\r\n"));
    }
    request.push_str("\r\n");
    let refused = || Refusal(4004, "the session's gateway refused the stream");
    tls.write_all(request.as_bytes())
        .await
        .map_err(|_| refused())?;
    let mut head = Vec::with_capacity(1024);
    let end = loop {
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if head.len() > MAX_RESPONSE_HEAD {
            return Err(refused());
        }
        let mut chunk = [0u8; 1024];
        let n = tls.read(&mut chunk).await.map_err(|_| refused())?;
        if n == 0 {
            return Err(refused());
        }
        head.extend_from_slice(&chunk[..n]);
    };
    if !accepts(&head[..end], &derive_accept_key(key.as_bytes())) {
        return Err(refused());
    }
    Ok((tls, head[end..].to_vec()))
}

/// Whether a response head is a 101 accepting our key and choosing the
/// stream subprotocol, without extensions (frames pass through as they are).
fn accepts(head: &[u8], accept: &str) -> bool {
    let Ok(text) = std::str::from_utf8(head) else {
        return false;
    };
    let mut lines = text.split("\r\n");
    let status_ok = lines.next().is_some_and(|l| {
        let mut parts = l.split(' ');
        parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) && parts.next() == Some("101")
    });
    let (mut key_ok, mut protocol_ok, mut extension) = (false, false, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "sec-websocket-accept" => key_ok = value == accept,
            "sec-websocket-protocol" => protocol_ok = value == SUBPROTOCOL,
            "sec-websocket-extensions" => extension = true,
            _ => {}
        }
    }
    status_ok && key_ok && protocol_ok && !extension
}

/// Accepts exactly the certificate whose SHA-256 the route names (the far
/// gateway's self-signed or CA-issued certificate alike); handshake
/// signatures are checked as usual.
#[derive(Debug)]
struct PinnedCert {
    sha256: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest = ring::digest::digest(&ring::digest::SHA256, end_entity.as_ref());
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        if hex == self.sha256 {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_101_with_our_key_and_subprotocol_is_accepted() {
        let accept = derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
        let ok = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\nsec-websocket-protocol: {SUBPROTOCOL}\r\n\r\n"
        );
        assert!(accepts(ok.as_bytes(), &accept));
        assert!(!accepts(ok.replace("101", "200").as_bytes(), &accept));
        assert!(!accepts(ok.as_bytes(), "another key"));
        let no_protocol = ok.replace(&format!("sec-websocket-protocol: {SUBPROTOCOL}\r\n"), "");
        assert!(!accepts(no_protocol.as_bytes(), &accept));
        let deflate = ok.replace(
            "\r\n\r\n",
            "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
        );
        assert!(!accepts(deflate.as_bytes(), &accept));
        assert!(!accepts(b"\xff\xfe", &accept));
    }
}
