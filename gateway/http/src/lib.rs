//! The HTTPS front of every Oriel role (adapter tier: TLS and HTTP plumbing).
//!
//! A pingora listening service terminates TLS (rustls) and HTTP/1.1 and routes:
//! - WebSocket upgrades on registered paths to a [`WebSocketHandler`], after
//!   checking the handshake (RFC 6455 §4.2.1) and the `Origin` header; the
//!   upgraded stream is taken out of pingora's session and handed over as a
//!   tokio-tungstenite `WebSocketStream` (pingora's `ProxyHttp` cannot do that);
//! - `GET /healthz` (200 once every registered role is ready) and
//!   `GET /metrics` (Prometheus text);
//! - everything else to [`HttpHandler`]s by path prefix (the control plane's
//!   API and the web client in `oriel up`).
//!
//! The front knows nothing of sessions or databases: the gateway and the
//! control plane plug in as handlers, so each role runs alone or together on
//! one port.

mod app;
mod health;
mod metrics;
mod tls;
mod upgrade;

pub use app::{Front, FrontBuilder, WsRoute};
pub use health::{Health, Readiness};
pub use metrics::FrontMetrics;
pub use tls::{TlsError, TlsFiles, ensure_self_signed, load_identity};
pub use upgrade::{OriginPolicy, normalize_origin};

use bytes::Bytes;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The upgraded connection handed to a [`WebSocketHandler`].
pub type WsStream = tokio_tungstenite::WebSocketStream<pingora_core::protocols::Stream>;

/// Signals shutdown: flips to `true` when the server is stopping.
pub type ShutdownWatch = tokio::sync::watch::Receiver<bool>;

/// What the front knows about a request beyond the request itself.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The client's address.
    pub peer: Option<SocketAddr>,
}

/// A label for the metrics of a response, set by handlers as a response
/// extension (e.g. the route pattern `/api/v1/sessions/{id}`), so that
/// metrics never carry ids.
#[derive(Debug, Clone)]
pub struct RouteLabel(pub String);

/// Serves buffered HTTP requests.
pub trait HttpHandler: Send + Sync + 'static {
    /// Answers one request. Errors are responses too (the handler maps them).
    fn handle(
        &self,
        request: http::Request<Bytes>,
        ctx: RequestContext,
    ) -> BoxFuture<'_, http::Response<Bytes>>;
}

/// What the front knows about an upgraded connection.
#[derive(Debug, Clone)]
pub struct UpgradeContext {
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// The `Origin` header, already checked against the policy.
    pub origin: Option<String>,
    /// The request's path (without the query).
    pub path: String,
    /// Flips to `true` when the server shuts down.
    pub shutdown: ShutdownWatch,
}

/// An upgraded connection as bytes (TLS terminated, after the 101
/// response), for handlers that pass WebSocket frames through untouched.
pub type RawStream = pingora_core::protocols::Stream;

/// Serves an upgraded WebSocket until it ends.
pub trait WebSocketHandler: Send + Sync + 'static {
    /// Runs the WebSocket session.
    fn serve(&self, ws: WsStream, ctx: UpgradeContext) -> BoxFuture<'static, ()>;

    /// Whether the front hands the upgraded connection to
    /// [`serve_raw`](Self::serve_raw) instead of [`serve`](Self::serve).
    fn takes_raw(&self) -> bool {
        false
    }

    /// Runs the session on the raw upgraded connection: its WebSocket frames
    /// are the handler's to read or to copy (a relay copies them undecoded).
    fn serve_raw(&self, io: RawStream, ctx: UpgradeContext) -> BoxFuture<'static, ()> {
        drop((io, ctx));
        Box::pin(async {})
    }
}
