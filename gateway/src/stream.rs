//! One viewer's stream: admission (HELLO, token, target) then the pipeline.

mod files;
mod pipeline;
mod shared;

use crate::{Gateway, now_secs};
use futures_util::{SinkExt as _, StreamExt as _};
use oriel_core_model::{ErrorClass, SessionError, SessionErrorKind, Size};
use oriel_core_token::{Credentials, Report, SealError};
use oriel_core_wire::{ClientHello, ClientMessage, End, ServerMessage, VERSION, close_code};
use oriel_gateway_http::{BoxFuture, UpgradeContext, WebSocketHandler, WsStream};
use oriel_protocols_session::{ConnectRequest, TargetTrust};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tracing::{Instrument as _, info, info_span, warn};

pub(crate) type WsSource = futures_util::stream::SplitStream<WsStream>;

/// What the writer task sends.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A protocol message.
    Message(Vec<u8>),
    /// A WebSocket ping (liveness).
    Ping,
    /// Close with this code and reason, then stop.
    Close(u16, String),
}

/// How a stream ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The viewer closed the WebSocket.
    ClientClosed,
    /// The target ended the session.
    TargetClosed,
}

/// The `/stream` WebSocket handler.
#[derive(Debug)]
pub(crate) struct StreamEndpoint {
    pub(crate) gateway: Arc<Gateway>,
}

impl WebSocketHandler for StreamEndpoint {
    fn serve(&self, ws: WsStream, ctx: UpgradeContext) -> BoxFuture<'static, ()> {
        let gateway = Arc::clone(&self.gateway);
        Box::pin(serve(gateway, ws, ctx))
    }
}

async fn serve(gw: Arc<Gateway>, ws: WsStream, ctx: UpgradeContext) {
    gw.metrics.websocket_connections.inc();
    let (sink, mut source) = ws.split();
    let (out, out_rx) = mpsc::channel::<Outgoing>(16);
    let writer = tokio::spawn(write_loop(sink, out_rx, gw.metrics.bytes_sent.clone()));
    let span = info_span!(
        "stream",
        session_id = tracing::field::Empty,
        user = tracing::field::Empty,
        protocol = tracing::field::Empty,
        peer = ?ctx.peer,
    );
    let mut admitted: Option<String> = None;
    let result = run(&gw, &mut source, &out, &ctx, &mut admitted)
        .instrument(span.clone())
        .await;
    let (code, end) = match &result {
        Ok(Ending::ClientClosed) => (1000, None),
        Ok(Ending::TargetClosed) => (
            1000,
            Some(End {
                code: 1000,
                class: ErrorClass::Target,
                retryable: false,
                message: "the remote system ended the session".into(),
            }),
        ),
        Err(e) => (close_code(e.kind), Some(end_of(e))),
    };
    let (label, class) = match &result {
        Ok(Ending::ClientClosed) => ("client_closed", "none"),
        Ok(Ending::TargetClosed) => ("target_closed", "target"),
        Err(e) => (e.kind.as_str(), e.class().as_str()),
    };
    span.in_scope(|| match &result {
        Err(e) if matches!(e.class(), ErrorClass::Internal) => {
            warn!(error = %e, "stream failed");
        }
        Err(e) => info!(error = %e, "stream ended"),
        Ok(ending) => info!(?ending, "stream ended"),
    });
    gw.metrics.streams.with_label_values(&[label, class]).inc();
    if let Some(sid) = admitted {
        gw.reporter.report(Report::StreamEnded {
            sid,
            reason: label.to_owned(),
            retryable: matches!(&result, Err(e) if e.kind.retryable()),
            class: class.to_owned(),
        });
    }
    let goodbye = async {
        if let Some(end) = end {
            let reason = oriel_core_wire::truncate_utf8(&end.message, 120).to_owned();
            let _ = out
                .send(Outgoing::Message(ServerMessage::End(end).to_bytes()))
                .await;
            let _ = out.send(Outgoing::Close(code, reason)).await;
        } else {
            let _ = out.send(Outgoing::Close(code, String::new())).await;
        }
    };
    goodbye.instrument(span).await;
    drop(out);
    let _ = writer.await;
    gw.metrics.websocket_connections.dec();
    gw.metrics
        .sessions_active
        .set(gw.registry.active_sessions() as i64);
}

/// The END message for an error: the public message, plus the detail when
/// it describes the user's own server (never ours).
pub(crate) fn end_of(e: &SessionError) -> End {
    let mut message = e.kind.public_message().to_owned();
    // The detail of a target's failure describes the user's own server; a
    // refused token's, what was wrong with it. Neither tells of ours.
    let token_refusal = matches!(
        e.kind,
        SessionErrorKind::TokenInvalid
            | SessionErrorKind::TokenExpired
            | SessionErrorKind::Forbidden
    );
    if (e.class() == ErrorClass::Target || token_refusal) && !e.detail.is_empty() {
        message.push_str(": ");
        message.push_str(oriel_core_wire::truncate_utf8(&e.detail, 200));
    }
    End {
        code: close_code(e.kind),
        class: e.class(),
        retryable: e.kind.retryable(),
        message,
    }
}

async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WsStream, Message>,
    mut rx: mpsc::Receiver<Outgoing>,
    bytes_sent: prometheus::IntCounter,
) {
    while let Some(item) = rx.recv().await {
        let result = match item {
            Outgoing::Message(bytes) => {
                bytes_sent.inc_by(bytes.len() as u64);
                sink.send(Message::binary(bytes)).await
            }
            Outgoing::Ping => sink.send(Message::Ping(Default::default())).await,
            Outgoing::Close(code, reason) => {
                let frame = CloseFrame {
                    code: CloseCode::from(code),
                    reason: reason.into(),
                };
                let _ = sink.send(Message::Close(Some(frame))).await;
                let _ = sink.close().await;
                return;
            }
        };
        if result.is_err() {
            return;
        }
    }
}

pub(crate) fn client_error(detail: impl Into<String>) -> SessionError {
    SessionError::new(SessionErrorKind::ClientProtocol, detail)
}

/// The next binary message, skipping control frames; `None` when the viewer closed.
pub(crate) fn binary(
    msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
) -> Result<Option<Option<Vec<u8>>>, SessionError> {
    match msg {
        None | Some(Ok(Message::Close(_))) => Ok(None),
        Some(Ok(Message::Binary(b))) => Ok(Some(Some(b.to_vec()))),
        Some(Ok(Message::Text(_))) => {
            Err(client_error("text messages are not part of the protocol"))
        }
        Some(Ok(_)) => Ok(Some(None)),
        Some(Err(e)) => Err(client_error(format!("websocket error: {e}"))),
    }
}

async fn read_hello(source: &mut WsSource) -> Result<Option<ClientHello>, SessionError> {
    loop {
        match binary(source.next().await)? {
            None => return Ok(None),
            Some(None) => continue,
            Some(Some(bytes)) => {
                let msg = ClientMessage::decode(&bytes).map_err(|e| client_error(e.to_string()))?;
                let ClientMessage::Hello(hello) = msg else {
                    return Err(client_error("the first message must be HELLO"));
                };
                if hello.version != VERSION {
                    return Err(client_error(format!(
                        "protocol version {} is not supported (this gateway speaks {VERSION})",
                        hello.version
                    )));
                }
                return Ok(Some(hello));
            }
        }
    }
}

async fn run(
    gw: &Arc<Gateway>,
    source: &mut WsSource,
    out: &mpsc::Sender<Outgoing>,
    ctx: &UpgradeContext,
    admitted: &mut Option<String>,
) -> Result<Ending, SessionError> {
    let hello = match timeout(gw.settings.hello_timeout, read_hello(source)).await {
        Err(_) => {
            return Err(SessionError::new(
                SessionErrorKind::ClientTimeout,
                "no HELLO in time",
            ));
        }
        Ok(hello) => match hello? {
            Some(h) => h,
            None => return Ok(Ending::ClientClosed),
        },
    };
    let (claims, token) = gw.admit(&hello.token, ctx.peer.map(|p| p.ip()))?;
    let span = tracing::Span::current();
    span.record("session_id", claims.sid.as_str());
    span.record("user", claims.name.as_str());
    span.record("protocol", claims.target.kind.as_str());

    let guard = gw
        .registry
        .register(&claims.sid, token, now_secs())
        .map_err(|_| {
            SessionError::new(SessionErrorKind::Forbidden, "the session has been ended")
        })?;
    if claims.deadline.is_some_and(|d| d <= now_secs()) {
        return Err(SessionError::new(
            SessionErrorKind::SessionExpired,
            "past the session's deadline",
        ));
    }
    // From here on the control plane hears how the stream ends.
    *admitted = Some(claims.sid.clone());
    gw.metrics
        .sessions_active
        .set(gw.registry.active_sessions() as i64);
    let connector = gw.connectors.get(&claims.target.kind).ok_or_else(|| {
        SessionError::new(
            SessionErrorKind::UnsupportedTarget,
            format!("no adapter for workspace kind {:?}", claims.target.kind),
        )
    })?;
    let credentials = match &claims.creds {
        None => None,
        Some(sealed) => Some(
            Credentials::open(&gw.keys.sealing, sealed, &claims.sid).map_err(|e| match e {
                SealError::Open => SessionError::new(
                    SessionErrorKind::Forbidden,
                    "the credentials are sealed for another gateway",
                ),
                other => SessionError::new(SessionErrorKind::TokenInvalid, other.to_string()),
            })?,
        ),
    };
    let desired = Some(hello.viewport).filter(|s| s.width > 0 && s.height > 0);
    let remote = connector
        .connect(ConnectRequest {
            session_id: claims.sid.clone(),
            host: claims.target.host.clone(),
            port: claims.target.port,
            credentials,
            trust: match &claims.target.identity {
                Some(fingerprint) => TargetTrust::Pinned(fingerprint.clone()),
                None => TargetTrust::FirstUse,
            },
            desired_size: desired.map(|s| Size::new(s.width, s.height)),
            timeout: gw.settings.connect_timeout,
        })
        .await?;
    info!(
        width = remote.info.size.width,
        height = remote.info.size.height,
        "stream connected"
    );
    gw.reporter.report(Report::StreamStarted {
        sid: claims.sid.clone(),
        identity: remote.info.identity.clone(),
    });
    pipeline::Pipeline::new(gw, claims, hello.capabilities, remote, out.clone())
        .run(source, guard, ctx.shutdown.clone())
        .await
}
