//! Sinks: whoever takes a session's pictures: a [viewer](viewer) on the
//! `/stream` WebSocket (with its own [file transfers](files)), and the
//! session's [recorder] when the policy asks for one; a shadowing admin or
//! a shared link will be sinks of the same [session](crate::session).
//!
//! A sink takes [`Outgoing`] items on a bounded channel that its writer
//! drains; the session never waits on it (a sink whose channel is full is
//! closed, not waited for).

pub(crate) mod files;
pub(crate) mod recorder;
pub(crate) mod viewer;

use futures_util::SinkExt as _;
use oriel_core_model::{ErrorClass, SessionError, SessionErrorKind};
use oriel_core_wire::{End, ServerMessage, close_code};
use oriel_gateway_http::WsStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Items a sink's channel holds at most: a window of frames and the
/// messages between them, with room to spare. A viewer that stops reading
/// fills it and is closed.
pub(crate) const SINK_QUEUE: usize = 256;

/// What a sink's writer sends.
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
            | SessionErrorKind::FeatureUnavailable
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

/// Writes a sink's items to its WebSocket until a close or an error.
pub(crate) async fn write_loop(
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

/// Sends a message on a sink's channel, waiting for room (file transfers,
/// which run in their own tasks, do; the session never does).
pub(crate) async fn send(
    out: &mpsc::Sender<Outgoing>,
    msg: ServerMessage,
) -> Result<(), SessionError> {
    out.send(Outgoing::Message(msg.to_bytes()))
        .await
        .map_err(|_| client_error("the viewer connection is gone"))
}
