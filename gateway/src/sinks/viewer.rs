//! A viewer: one `/stream` WebSocket (docs/protocol.md). It says HELLO with
//! a session token, is admitted ([`admission`](crate::admission)), joins
//! its session (connecting the target if it is the first), then passes what
//! the viewer sends to the session, serves its own file transfers, and
//! ends with END and a close code.

use super::files::{FileNote, FileService};
use super::{Ending, Outgoing, SINK_QUEUE, client_error, end_of, write_loop};
use crate::session::{Inbound, upstream};
use crate::{Gateway, now_secs};
use futures_util::StreamExt as _;
use oriel_core_model::{ErrorClass, SessionError, SessionErrorKind};
use oriel_core_stream::{SinkKind, SinkSpec};
use oriel_core_token::{Report, Watcher, WatcherLeft};
use oriel_core_wire::{ClientHello, ClientMessage, End, ServerMessage, VERSION};
use oriel_gateway_http::{BoxFuture, UpgradeContext, WebSocketHandler, WsStream};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tracing::{Instrument as _, info, info_span, warn};

pub(crate) type WsSource = futures_util::stream::SplitStream<WsStream>;

/// A stream admitted into its session: which, when, and the watcher (with
/// their `sub` and `name`) when it is not the owner's.
struct Admitted {
    sid: String,
    watcher: Option<(Watcher, String, String)>,
    at: std::time::Instant,
}

/// Longest wait for the END and close to be written to a viewer that is
/// not reading.
const GOODBYE: Duration = Duration::from_secs(5);

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
    let (out, out_rx) = mpsc::channel::<Outgoing>(SINK_QUEUE);
    let writer = tokio::spawn(write_loop(sink, out_rx, gw.metrics.bytes_sent.clone()));
    let span = info_span!(
        "stream",
        session_id = tracing::field::Empty,
        user = tracing::field::Empty,
        protocol = tracing::field::Empty,
        peer = ?ctx.peer,
    );
    let mut admitted: Option<Admitted> = None;
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
        Err(e) => (oriel_core_wire::close_code(e.kind), Some(end_of(e))),
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
    if let Some(Admitted { sid, watcher, at }) = admitted {
        gw.reporter.report(Report::StreamEnded {
            sid,
            reason: label.to_owned(),
            retryable: matches!(&result, Err(e) if e.kind.retryable()),
            class: class.to_owned(),
            watcher: watcher.map(|(w, sub, name)| WatcherLeft {
                via: w.via,
                link: w.link,
                sub,
                name,
                notify: w.notify,
                secs: at.elapsed().as_secs(),
            }),
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
    // A viewer that does not read could hold the goodbye for ever.
    let _ = timeout(GOODBYE, goodbye.instrument(span)).await;
    drop(out);
    let _ = timeout(GOODBYE, writer).await;
    gw.metrics.websocket_connections.dec();
    gw.metrics
        .sessions_active
        .set(gw.registry.active_sessions() as i64);
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
    admitted: &mut Option<Admitted>,
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

    let mut guard = gw
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
    *admitted = Some(Admitted {
        sid: claims.sid.clone(),
        watcher: claims
            .watcher
            .clone()
            .map(|w| (w, claims.sub.clone(), claims.name.clone())),
        at: std::time::Instant::now(),
    });
    gw.metrics
        .sessions_active
        .set(gw.registry.active_sessions() as i64);
    // A share link's guest or a shadowing admin controls only what its
    // token says (the owner hands a link's control over at run time).
    let spec = SinkSpec {
        capabilities: hello.capabilities,
        policy: claims.policy.clone(),
        control: claims.controls(),
        deadline_us: claims.deadline.map(|d| d.saturating_mul(1_000_000)),
        kind: SinkKind::Viewer {
            label: match ctx.peer {
                Some(peer) => format!("{} from {}", claims.name, peer.ip()),
                None => claims.name.clone(),
            },
        },
        watcher: claims.watcher.clone(),
    };
    let joined = upstream::join_or_connect(
        gw,
        &claims,
        hello.viewport,
        ctx.peer.map(|p| p.ip()),
        &guard.upstream(),
        spec.clone(),
        out,
    )
    .await?;
    info!(sink = joined.id.get(), "stream joined its session");
    gw.reporter.report(Report::StreamStarted {
        sid: claims.sid.clone(),
        identity: joined.handle.identity.clone(),
    });
    let mut viewer = Viewer {
        files: joined.handle.files.clone().and_then(|f| {
            FileService::new(
                f,
                &spec.policy,
                spec.control,
                out.clone(),
                gw.metrics.clone(),
            )
            .map(|s| {
                // Each outcome goes to the recording and, signed, to the
                // control plane's audit log.
                let record = joined.handle.file_notes();
                let reporter = gw.reporter.clone();
                let (sid, sub, name) =
                    (claims.sid.clone(), claims.sub.clone(), claims.name.clone());
                s.with_notes(Arc::new(move |note: FileNote| {
                    reporter.report(Report::FileTransfer {
                        sid: sid.clone(),
                        sub: sub.clone(),
                        name: name.clone(),
                        direction: note.direction.to_owned(),
                        path: note.path.clone(),
                        bytes: note.bytes,
                        outcome: note.outcome.to_owned(),
                    });
                    record(note);
                }))
            })
        }),
        offers_files: joined.handle.files.is_some(),
        out,
    };
    let mut ended = joined.ended;
    let mut shutdown = ctx.shutdown.clone();
    // A watch whose sender is gone resolves `changed()` at once, for ever:
    // stop polling it then, instead of spinning.
    let (mut stop_open, mut shutdown_open) = (true, true);
    let result = loop {
        tokio::select! {
            biased;
            end = &mut ended => {
                // The session ended this sink: it has already forgotten it.
                return end.unwrap_or_else(|_| Err(SessionError::new(
                    SessionErrorKind::Internal,
                    "the session stopped",
                )));
            }
            r = guard.stop.changed(), if stop_open => match r {
                Ok(()) => if let Some(why) = *guard.stop.borrow() {
                    break Err(crate::registry::stop_error(why));
                },
                Err(_) => stop_open = false,
            },
            r = shutdown.changed(), if shutdown_open => match r {
                Ok(()) => if *shutdown.borrow() {
                    break Err(SessionError::new(
                        SessionErrorKind::ShuttingDown,
                        "server shutting down",
                    ));
                },
                Err(_) => shutdown_open = false,
            },
            msg = source.next() => {
                let tell = match binary(msg) {
                    Err(e) => break Err(e),
                    Ok(None) => break Ok(Ending::ClientClosed),
                    Ok(Some(None)) => Some(Inbound::Heard(joined.id, false)),
                    Ok(Some(Some(bytes))) => match viewer.on_message(&bytes, joined.id).await {
                        Err(e) => break Err(e),
                        Ok(tell) => tell,
                    },
                };
                // A session that ended has its verdict on the way.
                if let Some(tell) = tell {
                    let _ = joined.handle.tell(tell).await;
                }
            }
        }
    };
    let why = match &result {
        Ok(Ending::ClientClosed) => "client_closed",
        Ok(Ending::TargetClosed) => "target_closed",
        Err(e) => e.kind.as_str(),
    };
    let _ = joined.handle.tell(Inbound::Leave(joined.id, why)).await;
    result
}

/// What one viewer serves itself: its file transfers.
struct Viewer<'a> {
    files: Option<FileService>,
    /// Whether the target can move files at all.
    offers_files: bool,
    out: &'a mpsc::Sender<Outgoing>,
}

impl Viewer<'_> {
    /// Decodes a message; file messages are served here, the rest is for
    /// the session.
    async fn on_message(
        &mut self,
        bytes: &[u8],
        id: oriel_core_stream::SinkId,
    ) -> Result<Option<Inbound>, SessionError> {
        let msg = ClientMessage::decode(bytes).map_err(|e| client_error(e.to_string()))?;
        if !oriel_core_stream::files::is_file_message(&msg) {
            return Ok(Some(Inbound::Viewer(id, msg)));
        }
        self.on_file(msg).await?;
        // A transfer in progress is the user at work (idle timeout).
        Ok(Some(Inbound::Heard(id, true)))
    }

    async fn on_file(&mut self, msg: ClientMessage) -> Result<(), SessionError> {
        let Some(files) = self.files.as_mut() else {
            let Some(id) = oriel_core_stream::files::request_id(&msg) else {
                // Data, ends, cancels and acks of transfers that never started.
                return Ok(());
            };
            let (code, message) = oriel_core_stream::files::unavailable(self.offers_files);
            return super::send(
                self.out,
                ServerMessage::FileError {
                    id,
                    code,
                    message: message.into(),
                },
            )
            .await;
        };
        match msg {
            ClientMessage::FileList { id, path } => files.list(id, path).await,
            ClientMessage::FileDownload { id, path } => files.download(id, path).await,
            ClientMessage::FileUpload {
                id,
                size,
                dir,
                name,
            } => files.upload(id, size, dir, name).await,
            ClientMessage::FileData { id, data } => files.data(id, data),
            ClientMessage::FileEnd { id } => files.end(id),
            ClientMessage::FileCancel { id } => {
                files.cancel(id);
                Ok(())
            }
            ClientMessage::FileAck { id, offset } => {
                files.ack(id, offset);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
