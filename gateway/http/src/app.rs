//! The pingora HTTP application: routing, buffered handlers, WebSocket upgrade.

use crate::metrics::FrontMetrics;
use crate::upgrade::{OriginPolicy, check_handshake, offers_subprotocol};
use crate::{
    Health, HttpHandler, RequestContext, RouteLabel, ShutdownWatch, UpgradeContext,
    WebSocketHandler,
};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use pingora_core::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream};
use pingora_core::listeners::Listeners;
use pingora_core::listeners::tls::TlsSettings;
use pingora_core::protocols::ALPN;
use pingora_core::protocols::http::ServerSession;
use pingora_core::server::Fds;
use pingora_core::server::ListenFds;
use pingora_core::services::Service as _;
use pingora_http::ResponseHeader;
use prometheus::{Encoder as _, Registry, TextEncoder};
use std::net::SocketAddr;
use std::os::fd::IntoRawFd as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tracing::{debug, info, warn};

/// A WebSocket endpoint.
#[derive(Clone)]
pub struct WsRoute {
    /// Exact path, e.g. `/stream`; a path ending in `/` also takes every
    /// path under it (`/relay/` takes `/relay/<route>`).
    pub path: String,
    /// Subprotocol selected when the client offers it.
    pub subprotocol: Option<String>,
    /// Largest message accepted from the client.
    pub max_message_size: usize,
    /// Who may open it.
    pub origins: OriginPolicy,
    /// The session logic.
    pub handler: Arc<dyn WebSocketHandler>,
}

impl std::fmt::Debug for WsRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsRoute")
            .field("path", &self.path)
            .field("subprotocol", &self.subprotocol)
            .field("origins", &self.origins)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Front`].
pub struct FrontBuilder {
    ws: Vec<WsRoute>,
    http: Vec<HttpRoute>,
    health: Health,
    registry: Registry,
    max_body: usize,
    /// A secret: never printed.
    metrics_token: Option<String>,
}

/// An HTTP route: a path prefix, its handler, and its own body limit if it
/// takes larger bodies than the front's.
struct HttpRoute {
    prefix: String,
    handler: Arc<dyn HttpHandler>,
    max_body: Option<usize>,
}

impl std::fmt::Debug for FrontBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontBuilder")
            .field("ws", &self.ws)
            .field(
                "http",
                &self.http.iter().map(|r| &r.prefix).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl FrontBuilder {
    /// Registers a WebSocket endpoint.
    pub fn websocket(mut self, route: WsRoute) -> Self {
        self.ws.push(route);
        self
    }

    /// Routes requests whose path starts with `prefix` to `handler`.
    /// The longest matching prefix wins.
    pub fn http(self, prefix: &str, handler: Arc<dyn HttpHandler>) -> Self {
        self.route(prefix, handler, None)
    }

    /// Like [`FrontBuilder::http`], for a route that takes bodies of up to
    /// `max_body` bytes (e.g. uploads), whatever the front's limit.
    pub fn http_with_limit(
        self,
        prefix: &str,
        handler: Arc<dyn HttpHandler>,
        max_body: usize,
    ) -> Self {
        self.route(prefix, handler, Some(max_body))
    }

    fn route(
        mut self,
        prefix: &str,
        handler: Arc<dyn HttpHandler>,
        max_body: Option<usize>,
    ) -> Self {
        self.http.push(HttpRoute {
            prefix: prefix.to_owned(),
            handler,
            max_body,
        });
        self.http.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        self
    }

    /// Largest request body accepted (default 1 MiB).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// `/metrics` answers only requests with `Authorization: Bearer
    /// <token>` (401 otherwise); `None` (the default): anyone may read it.
    pub fn metrics_token(mut self, token: Option<String>) -> Self {
        self.metrics_token = token;
        self
    }

    /// The front.
    pub fn build(self) -> prometheus::Result<Front> {
        Ok(Front {
            metrics_token: self.metrics_token,
            metrics: FrontMetrics::new(&self.registry)?,
            ws: self.ws,
            http: self.http,
            health: self.health,
            registry: self.registry,
            max_body: self.max_body,
        })
    }
}

/// The HTTP application behind the TLS listener.
pub struct Front {
    ws: Vec<WsRoute>,
    http: Vec<HttpRoute>,
    health: Health,
    registry: Registry,
    metrics: FrontMetrics,
    max_body: usize,
    metrics_token: Option<String>,
}

/// Whether `headers` carry `Authorization: Bearer <token>` (compared in
/// time independent of where the bytes differ).
fn bearer_matches(headers: &http::HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
    else {
        return false;
    };
    given.len() == token.len()
        && given
            .iter()
            .zip(token.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

impl std::fmt::Debug for Front {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Front")
            .field("ws", &self.ws)
            .finish_non_exhaustive()
    }
}

fn peer_of(session: &ServerSession) -> Option<SocketAddr> {
    session.client_addr().and_then(|a| a.as_inet()).copied()
}

/// Headers every response carries.
const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("strict-transport-security", "max-age=63072000"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
];

impl Front {
    /// A builder; `registry` is the process's metrics registry (served at `/metrics`).
    pub fn builder(health: Health, registry: Registry) -> FrontBuilder {
        FrontBuilder {
            ws: Vec::new(),
            http: Vec::new(),
            health,
            registry,
            max_body: 1 << 20,
            metrics_token: None,
        }
    }

    /// Serves HTTPS on `listener` until `shutdown` flips to `true`.
    ///
    /// The listener is bound by the caller (so port 0 works and the real
    /// address is known before serving) and handed to pingora as an
    /// inherited socket.
    pub async fn serve(
        self,
        listener: std::net::TcpListener,
        identity: Arc<rustls::sign::CertifiedKey>,
        shutdown: ShutdownWatch,
    ) -> std::io::Result<()> {
        let addr = listener.local_addr()?.to_string();
        listener.set_nonblocking(true)?;
        let mut fds = Fds::new();
        fds.add(addr.clone(), listener.into_raw_fd());
        let fds: ListenFds = Arc::new(parking_lot::Mutex::new(fds));
        let mut listeners = Listeners::new();
        let mut tls = TlsSettings::intermediate("", "").map_err(std::io::Error::other)?;
        tls.set_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(identity)));
        tls.set_alpn(ALPN::H1);
        listeners.add_tls_with_settings(&addr, None, tls);
        let mut service = pingora_core::services::listening::Service::with_listeners(
            "oriel-https".into(),
            listeners,
            self,
        );
        info!(%addr, "https listener started");
        service.start_service(Some(fds), shutdown, 1).await;
        Ok(())
    }

    fn respond_builtin(
        &self,
        path: &str,
        headers: &http::HeaderMap,
    ) -> Option<(http::Response<Bytes>, &'static str)> {
        match path {
            "/metrics"
                if self
                    .metrics_token
                    .as_deref()
                    .is_some_and(|t| !bearer_matches(headers, t)) =>
            {
                let mut resp = json_response(
                    401,
                    &serde_json::json!({"error": {
                        "code": "unauthorized",
                        "message": "/metrics needs the metrics token (Authorization: Bearer …)",
                    }}),
                );
                resp.headers_mut().insert(
                    http::header::WWW_AUTHENTICATE,
                    http::HeaderValue::from_static("Bearer"),
                );
                Some((resp, "/metrics"))
            }
            "/healthz" => {
                let (ok, body) = self.health.report();
                let status = if ok { 200 } else { 503 };
                Some((json_response(status, &body), "/healthz"))
            }
            "/metrics" => {
                let mut buf = Vec::new();
                let encoder = TextEncoder::new();
                if let Err(e) = encoder.encode(&self.registry.gather(), &mut buf) {
                    warn!(error = %e, "cannot encode metrics");
                }
                let mut resp = http::Response::new(Bytes::from(buf));
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("text/plain; version=0.0.4"),
                );
                Some((resp, "/metrics"))
            }
            _ => None,
        }
    }

    async fn read_body(&self, session: &mut ServerSession, max_body: usize) -> Result<Bytes, u16> {
        // Over the limit, the rest of the body is read and dropped (up to a
        // bound) so that the client, still sending, can read our 413; a
        // declared length past that bound is refused without reading.
        let drain_limit = (max_body as u64).saturating_mul(16).max(1 << 20);
        let declared = session
            .req_header()
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > drain_limit) {
            return Err(413);
        }
        let mut body = BytesMut::new();
        let mut seen: u64 = 0;
        loop {
            match session.read_request_body().await {
                Ok(Some(chunk)) => {
                    seen += chunk.len() as u64;
                    if seen > drain_limit {
                        return Err(413);
                    }
                    if seen <= max_body as u64 {
                        body.extend_from_slice(&chunk);
                    }
                }
                Ok(None) if seen > max_body as u64 => return Err(413),
                Ok(None) => return Ok(body.freeze()),
                Err(e) => {
                    debug!(error = %e, "reading request body failed");
                    return Err(400);
                }
            }
        }
    }

    async fn upgrade(&self, mut session: ServerSession, route: &WsRoute, shutdown: &ShutdownWatch) {
        let req = session.req_header();
        let key = match check_handshake(&req.method, &req.headers) {
            Ok(key) => key,
            Err(e) => {
                debug!(error = %e, "bad websocket handshake");
                self.metrics
                    .upgrades
                    .with_label_values(&["bad_handshake"])
                    .inc();
                let _ = write_response(&mut session, text_response(400, &e.to_string())).await;
                return;
            }
        };
        let path = req.uri.path().to_owned();
        let origin = req
            .headers
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let host = req
            .headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| req.uri.authority().map(|a| a.as_str()));
        if !route.origins.allows(origin.as_deref(), host) {
            warn!(
                origin = origin.as_deref().unwrap_or(""),
                "websocket from a foreign origin refused"
            );
            self.metrics
                .upgrades
                .with_label_values(&["bad_origin"])
                .inc();
            let _ = write_response(&mut session, text_response(403, "origin not allowed")).await;
            return;
        }
        let subprotocol = route
            .subprotocol
            .as_deref()
            .filter(|p| offers_subprotocol(&req.headers, p));
        let mut resp = match ResponseHeader::build(101, Some(4)) {
            Ok(r) => r,
            Err(_) => return,
        };
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        let ok = resp.insert_header("upgrade", "websocket").is_ok()
            && resp.insert_header("connection", "Upgrade").is_ok()
            && resp.insert_header("sec-websocket-accept", accept).is_ok()
            && subprotocol.is_none_or(|p| resp.insert_header("sec-websocket-protocol", p).is_ok());
        if !ok || session.write_response_header(Box::new(resp)).await.is_err() {
            self.metrics
                .upgrades
                .with_label_values(&["write_failed"])
                .inc();
            return;
        }
        let peer = peer_of(&session);
        let ServerSession::H1(h1) = session else {
            // ALPN offers only HTTP/1.1, so this cannot be HTTP/2.
            return;
        };
        self.metrics.upgrades.with_label_values(&["ok"]).inc();
        let ctx = UpgradeContext {
            peer,
            origin,
            path,
            shutdown: shutdown.clone(),
        };
        if route.handler.takes_raw() {
            route.handler.serve_raw(h1.into_inner(), ctx).await;
            return;
        }
        let mut config = WebSocketConfig::default();
        // What viewers send is small (input, file chunks): a 16 KiB read
        // buffer instead of tungstenite's 128 KiB, which is allocated and
        // zero-filled, so resident, for every connection.
        config.read_buffer_size = 16 << 10;
        config.max_message_size = Some(route.max_message_size);
        config.max_frame_size = Some(route.max_message_size);
        let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            h1.into_inner(),
            Role::Server,
            Some(config),
        )
        .await;
        route.handler.serve(ws, ctx).await;
    }
}

#[async_trait]
impl HttpServerApp for Front {
    async fn process_new_http(
        self: &Arc<Self>,
        mut session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        session.set_read_timeout(Some(Duration::from_secs(30)));
        session.set_write_timeout(Some(Duration::from_secs(30)));
        match session.read_request().await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                debug!(error = %e, "reading request failed");
                return None;
            }
        }
        let started = Instant::now();
        let path = session.req_header().uri.path().to_owned();
        if session.is_upgrade_req()
            && let Some(route) = self
                .ws
                .iter()
                .find(|r| r.path == path || (r.path.ends_with('/') && path.starts_with(&r.path)))
        {
            session.set_read_timeout(None);
            session.set_write_timeout(None);
            self.upgrade(session, route, shutdown).await;
            return None;
        }
        let builtin = self.respond_builtin(&path, &session.req_header().headers);
        let (response, label) = if let Some((resp, label)) = builtin {
            (resp, label.to_owned())
        } else if let Some(route) = self
            .http
            .iter()
            .find(|r| path.starts_with(r.prefix.as_str()))
        {
            let handler = &route.handler;
            let max_body = route.max_body.unwrap_or(self.max_body);
            let body = match self.read_body(&mut session, max_body).await {
                Ok(b) => b,
                Err(status) => {
                    // The connection is closed after this answer (what is
                    // left of the body is not read): say so, or a client
                    // would send its next request on it and meet a reset.
                    let mut resp = body_error(&path, status, max_body);
                    resp.headers_mut().insert(
                        http::header::CONNECTION,
                        http::HeaderValue::from_static("close"),
                    );
                    self.observe("body", status, started);
                    let _ = write_response(&mut session, resp).await;
                    return None;
                }
            };
            let req = session.req_header();
            let mut builder = http::Request::builder()
                .method(req.method.clone())
                .uri(req.uri.clone())
                .version(req.version);
            if let Some(h) = builder.headers_mut() {
                *h = req.headers.clone();
            }
            let request = match builder.body(body) {
                Ok(r) => r,
                Err(_) => {
                    let _ = write_response(&mut session, text_response(400, "bad request")).await;
                    return None;
                }
            };
            let ctx = RequestContext {
                peer: peer_of(&session),
            };
            let resp = handler.handle(request, ctx).await;
            let label = resp
                .extensions()
                .get::<RouteLabel>()
                .map_or_else(|| "other".to_owned(), |l| l.0.clone());
            (resp, label)
        } else {
            (text_response(404, "not found"), "not_found".to_owned())
        };
        let status = response.status().as_u16();
        self.observe(&label, status, started);
        let settings = HttpPersistentSettings::for_session(&session);
        if write_response(&mut session, response).await.is_err() {
            return None;
        }
        match session.finish().await {
            Ok(Some(reusable)) => Some(ReusedHttpStream::from_reusable_stream(reusable, settings)),
            _ => None,
        }
    }
}

impl Front {
    fn observe(&self, route: &str, status: u16, started: Instant) {
        self.metrics
            .requests
            .with_label_values(&[route, &status.to_string()])
            .inc();
        self.metrics
            .duration
            .with_label_values(&[route])
            .observe(started.elapsed().as_secs_f64());
    }
}

/// The answer to a body that is too large (413) or unreadable (400): the
/// API's JSON error shape under `/api/`, plain text elsewhere.
fn body_error(path: &str, status: u16, max_body: usize) -> http::Response<Bytes> {
    let (code, message) = if status == 413 {
        (
            "payload_too_large",
            format!("the request body is larger than {max_body} bytes"),
        )
    } else {
        (
            "bad_request",
            "the request body could not be read".to_owned(),
        )
    };
    if path.starts_with("/api/") {
        json_response(
            status,
            &serde_json::json!({ "error": { "code": code, "message": message } }),
        )
    } else {
        text_response(status, &message)
    }
}

/// A small plain-text response.
pub(crate) fn text_response(status: u16, text: &str) -> http::Response<Bytes> {
    let mut resp = http::Response::new(Bytes::copy_from_slice(text.as_bytes()));
    *resp.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn json_response(status: u16, body: &serde_json::Value) -> http::Response<Bytes> {
    let mut resp = http::Response::new(Bytes::from(body.to_string()));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    resp
}

async fn write_response(
    session: &mut ServerSession,
    response: http::Response<Bytes>,
) -> pingora_core::Result<()> {
    let (parts, body) = response.into_parts();
    let mut header = ResponseHeader::build(parts.status, Some(parts.headers.len() + 6))?;
    for (name, value) in parts.headers.iter() {
        header.append_header(name.clone(), value.clone())?;
    }
    for (name, value) in SECURITY_HEADERS {
        if !parts.headers.contains_key(name) {
            header.insert_header(name, value)?;
        }
    }
    let is_head = session.req_header().method == http::Method::HEAD;
    header.set_content_length(body.len())?;
    session.write_response_header(Box::new(header)).await?;
    if !is_head && !body.is_empty() {
        session.write_response_body(body, true).await?;
    }
    session.finish_body().await?;
    Ok(())
}
