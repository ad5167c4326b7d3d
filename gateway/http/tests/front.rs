//! The front over real TLS on loopback: routing, limits, health, metrics,
//! WebSocket upgrade with origin checks.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use oriel_gateway_http::{
    BoxFuture, Front, Health, HttpHandler, OriginPolicy, RequestContext, RouteLabel,
    UpgradeContext, WebSocketHandler, WsRoute, WsStream, ensure_self_signed, load_identity,
};
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;

struct Echo;
impl HttpHandler for Echo {
    fn handle(
        &self,
        req: http::Request<Bytes>,
        ctx: RequestContext,
    ) -> BoxFuture<'_, http::Response<Bytes>> {
        Box::pin(async move {
            let body = format!(
                "{} {} {} peer={}",
                req.method(),
                req.uri().path(),
                req.body().len(),
                ctx.peer.is_some()
            );
            let mut resp = http::Response::new(Bytes::from(body));
            resp.extensions_mut().insert(RouteLabel("/echo/{x}".into()));
            resp
        })
    }
}

struct WsEcho;
impl WebSocketHandler for WsEcho {
    fn serve(&self, mut ws: WsStream, _ctx: UpgradeContext) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            while let Some(Ok(msg)) = ws.next().await {
                if msg.is_binary() && ws.send(msg).await.is_err() {
                    break;
                }
            }
        })
    }
}

struct Server {
    addr: SocketAddr,
    connector: TlsConnector,
    _shutdown: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

async fn start(health_ready: bool) -> Server {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let files = ensure_self_signed(dir.path(), &[]).unwrap();
    let identity = load_identity(&files).unwrap();
    let health = Health::new();
    health.register("test").set(health_ready);
    let registry = prometheus::Registry::new();
    let front = Front::builder(health, registry)
        .http("/echo/", Arc::new(Echo))
        .http_with_limit("/echo/upload", Arc::new(Echo), 4000)
        .max_body(1000)
        .websocket(WsRoute {
            path: "/ws".into(),
            subprotocol: Some("oriel.v1".into()),
            max_message_size: 1 << 16,
            origins: OriginPolicy::SameHost,
            handler: Arc::new(WsEcho),
        })
        .build()
        .unwrap();
    serve(front, identity, dir, &files)
}

/// Serves `front` on a loopback port, with a client trusting its certificate.
fn serve(
    front: Front,
    identity: Arc<rustls::sign::CertifiedKey>,
    dir: tempfile::TempDir,
    files: &oriel_gateway_http::TlsFiles,
) -> Server {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(front.serve(listener, identity, rx));
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&files.cert).unwrap();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Server {
        addr,
        connector: TlsConnector::from(Arc::new(config)),
        _shutdown: tx,
        _dir: dir,
    }
}

impl Server {
    async fn tls(&self) -> tokio_rustls::client::TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        self.connector.connect(name, tcp).await.unwrap()
    }

    /// One request on a fresh connection; returns (status, body).
    async fn request(&self, raw: &str) -> (u16, String) {
        let mut s = self.tls().await;
        s.write_all(raw.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        let text = String::from_utf8_lossy(&buf).to_string();
        let status = text[9..12].parse().unwrap();
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
        (status, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_limits_health_and_metrics() {
    let s = start(true).await;
    let (status, body) = s
        .request(
            "POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
        )
        .await;
    assert_eq!((status, body.as_str()), (200, "POST /echo/a 3 peer=true"));
    let (status, _) = s
        .request("GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(status, 404);
    let big = "x".repeat(2000);
    let (status, _) = s
        .request(&format!(
            "POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\nConnection: close\r\n\r\n{big}"
        ))
        .await;
    assert_eq!(status, 413);
    // A route with a limit of its own takes what the front would refuse,
    // up to its own limit.
    let (status, body) = s
        .request(&format!(
            "POST /echo/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\nConnection: close\r\n\r\n{big}"
        ))
        .await;
    assert_eq!(
        (status, body.as_str()),
        (200, "POST /echo/upload 2000 peer=true")
    );
    let bigger = "x".repeat(5000);
    let (status, _) = s
        .request(&format!(
            "POST /echo/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n{bigger}"
        ))
        .await;
    assert_eq!(status, 413);
    let (status, body) = s
        .request("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(status, 200);
    assert!(body.contains("\"test\":\"ready\""), "{body}");
    let (status, body) = s
        .request("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("oriel_http_requests_total{route=\"/echo/{x}\",status=\"200\"} 2"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_serves_several_requests_on_one_connection() {
    let s = start(true).await;
    let mut conn = s.tls().await;
    // Browsers reuse connections sequentially (no pipelining).
    conn.write_all(b"GET /echo/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&buf).contains("GET /echo/1 0") {
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed after the first response");
        buf.extend_from_slice(&chunk[..n]);
    }
    assert!(String::from_utf8_lossy(&buf).contains("strict-transport-security"));
    conn.write_all(b"GET /echo/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let _ = conn.read_to_end(&mut rest).await;
    let text = String::from_utf8_lossy(&rest);
    assert!(text.contains("GET /echo/2 0"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_health_is_503() {
    let s = start(false).await;
    let (status, _) = s
        .request("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(status, 503);
}

async fn ws_connect(
    s: &Server,
    origin: Option<&str>,
) -> Result<(WsClient, Option<String>), String> {
    let stream = s.tls().await;
    let mut req = http::Request::builder()
        .uri(format!("wss://localhost:{}/ws", s.addr.port()))
        .header("host", format!("localhost:{}", s.addr.port()))
        .header("sec-websocket-protocol", "oriel.v1")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header(
            "sec-websocket-key",
            tokio_tungstenite::tungstenite::handshake::client::generate_key(),
        );
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let (ws, resp) = tokio_tungstenite::client_async(req.body(()).unwrap(), stream)
        .await
        .map_err(|e| e.to_string())?;
    let proto = resp
        .headers()
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().unwrap().to_owned());
    Ok((ws, proto))
}

type WsClient = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_checks_origin_and_echoes() {
    let s = start(true).await;
    let same = format!("https://localhost:{}", s.addr.port());
    let (mut ws, proto) = ws_connect(&s, Some(&same)).await.unwrap();
    assert_eq!(proto.as_deref(), Some("oriel.v1"));
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    let back = ws.next().await.unwrap().unwrap();
    assert_eq!(back.into_data().as_ref(), &[1, 2, 3]);
    let err = ws_connect(&s, Some("https://evil.example"))
        .await
        .unwrap_err();
    assert!(err.contains("403"), "{err}");
    // No Origin (not a browser): allowed; the token check is the gate.
    assert!(ws_connect(&s, None).await.is_ok());
    // Oversized message closes the socket instead of buffering it.
    let (mut ws, _) = ws_connect(&s, Some(&same)).await.unwrap();
    let _ = ws.send(Message::binary(vec![0u8; 1 << 17])).await;
    let next = ws.next().await;
    assert!(!matches!(next, Some(Ok(Message::Binary(_)))), "{next:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_behind_a_token_answer_only_its_bearer() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let files = ensure_self_signed(dir.path(), &[]).unwrap();
    let identity = load_identity(&files).unwrap();
    let health = Health::new();
    health.register("test").set(true);
    let front = Front::builder(health, prometheus::Registry::new())
        .metrics_token(Some("s3cret-metrics-token".into()))
        .build()
        .unwrap();
    let s = serve(front, identity, dir, &files);
    for auth in [
        "",
        "Authorization: Bearer wrong\r\n",
        "Authorization: Bearer s3cret-metrics-tokeN\r\n",
        "Authorization: Basic s3cret-metrics-token\r\n",
        "Authorization: Bearer s3cret-metrics-token-and-more\r\n",
    ] {
        let (status, body) = s
            .request(&format!(
                "GET /metrics HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
            ))
            .await;
        assert_eq!(status, 401, "{auth:?}: {body}");
        assert!(body.contains("\"unauthorized\""), "{body}");
        assert!(!body.contains("oriel_http_requests_total"), "{body}");
    }
    let (status, body) = s
        .request("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret-metrics-token\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(status, 200);
    assert!(body.contains("oriel_http_requests_total"), "{body}");
    // Health stays public.
    let (status, _) = s
        .request("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(status, 200);
}
