//! The relay: `/relay/<route>` passes a viewer's stream on to the gateway of
//! the node that runs the session, untouched.
//!
//! The route (`rt1.…`, [`RouteClaims`]) is signed by the control plane and
//! names the far gateway's `wss://` URL and the SHA-256 of its certificate,
//! the only one accepted there. The relay opens that WebSocket (offering
//! the stream subprotocol, passing the viewer's `Origin`) and copies
//! messages both ways without reading them: HELLO, the session token,
//! frames and input are the far gateway's business, which verifies the
//! token itself. Closing either side closes the other with the same code.

use crate::{Gateway, now_secs};
use futures_util::{SinkExt as _, StreamExt as _};
use oriel_core_token::RouteClaims;
use oriel_core_wire::SUBPROTOCOL;
use oriel_gateway_http::{BoxFuture, UpgradeContext, WebSocketHandler, WsStream};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tracing::{debug, info, warn};

/// Path prefix of the relay endpoint.
pub const RELAY_PATH: &str = "/relay/";

pub(crate) struct RelayEndpoint {
    pub(crate) gateway: Arc<Gateway>,
}

impl WebSocketHandler for RelayEndpoint {
    fn serve(&self, ws: WsStream, ctx: UpgradeContext) -> BoxFuture<'static, ()> {
        let gateway = Arc::clone(&self.gateway);
        Box::pin(async move { relay(gateway, ws, ctx).await })
    }
}

/// Why a route could not be followed: the close code (docs/protocol.md)
/// and a reason for the viewer.
struct Refusal(u16, &'static str);

async fn close(mut ws: WsStream, Refusal(code, reason): Refusal) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    let _ = ws.send(Message::Close(Some(frame))).await;
    let _ = ws.close(None).await;
}

async fn relay(gateway: Arc<Gateway>, ws: WsStream, ctx: UpgradeContext) {
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
            close(ws, refusal).await;
            return;
        }
    };
    let upstream = match tokio::time::timeout(
        gateway.settings.connect_timeout,
        connect(&route, ctx.origin.as_deref()),
    )
    .await
    {
        Ok(Ok(u)) => u,
        Ok(Err(refusal)) => {
            warn!(session_id = %route.sid, to = %route.to, reason = refusal.1, "relay cannot reach the session's gateway");
            close(ws, refusal).await;
            return;
        }
        Err(_) => {
            warn!(session_id = %route.sid, to = %route.to, "relay timed out reaching the session's gateway");
            close(
                ws,
                Refusal(4012, "the session's gateway did not answer in time"),
            )
            .await;
            return;
        }
    };
    info!(session_id = %route.sid, to = %route.to, "relaying a stream");
    let (mut down_tx, mut down_rx) = ws.split();
    let (mut up_tx, mut up_rx) = upstream.split();
    let mut shutdown = ctx.shutdown.clone();
    let viewer_to_node = async {
        while let Some(Ok(m)) = down_rx.next().await {
            let last = matches!(m, Message::Close(_));
            if up_tx.send(m).await.is_err() || last {
                break;
            }
        }
        let _ = up_tx.close().await;
    };
    let node_to_viewer = async {
        while let Some(Ok(m)) = up_rx.next().await {
            let last = matches!(m, Message::Close(_));
            if down_tx.send(m).await.is_err() || last {
                break;
            }
        }
        let _ = down_tx.close().await;
    };
    tokio::select! {
        () = viewer_to_node => {}
        () = node_to_viewer => {}
        _ = shutdown.changed() => {}
    }
    debug!(session_id = %route.sid, "relay done");
}

type Upstream =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

async fn connect(route: &RouteClaims, origin: Option<&str>) -> Result<Upstream, Refusal> {
    let bad = Refusal(4010, "the route names no usable gateway");
    let mut request = route.to.as_str().into_client_request().map_err(|_| bad)?;
    let uri = request.uri().clone();
    if uri.scheme_str() != Some("wss") {
        return Err(Refusal(4010, "the route names no usable gateway"));
    }
    let host = uri
        .host()
        .ok_or(Refusal(4010, "the route names no usable gateway"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-protocol",
        http::HeaderValue::from_static(SUBPROTOCOL),
    );
    if let Some(o) = origin.and_then(|o| http::HeaderValue::from_str(o).ok()) {
        headers.insert(http::header::ORIGIN, o);
    }
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|_| Refusal(4004, "the session's gateway cannot be reached"))?;
    let _ = tcp.set_nodelay(true);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedCert {
        sha256: route.cert_sha256.to_ascii_lowercase(),
        provider: Arc::clone(&provider),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| Refusal(4010, "TLS is not available"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let name = ServerName::try_from(host.clone())
        .map_err(|_| Refusal(4010, "the route names no usable gateway"))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            Some(rustls::Error::InvalidCertificate(_)) => Refusal(
                4014,
                "the session's gateway presented another certificate than the control plane recorded",
            ),
            _ => Refusal(4004, "the session's gateway cannot be reached"),
        })?;
    let mut config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
    // Frames from the far gateway are as large as a desktop's; viewer
    // messages were already capped by this gateway's front.
    config.max_message_size = Some(64 << 20);
    config.max_frame_size = Some(64 << 20);
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, tls, Some(config))
        .await
        .map_err(|_| Refusal(4004, "the session's gateway refused the stream"))?;
    Ok(ws)
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
