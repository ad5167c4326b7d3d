//! The dedicated proxy's `/stream`: check the session token, then pass the
//! stream on, undecoded, to the gateway that serves the session.
//!
//! A dedicated proxy sits near its zone's users and holds nothing but the
//! control plane's public keys. It reads the viewer's first WebSocket frame
//! (HELLO), admits its token exactly as a serving gateway would — signature
//! and key id, expiry and reconnection window, zone, revocation, replay from
//! another address — and only then opens the gateway the token names
//! (`via`: `wss://` URL and certificate pin), writes the HELLO frame there
//! as it came (still masked) and copies bytes both ways. The serving
//! gateway checks the token again: a proxy can refuse, never admit, on its
//! own.
//!
//! The stream is registered like a served one, so an end command or a
//! revocation list stops it here too; the serving gateway, told the same,
//! normally closes it first with its END message.

use crate::relay::{Refusal, close, close_with, connect, copy_both_ways};
use crate::sinks::end_of;
use crate::{Gateway, now_secs};
use oriel_core_model::{SessionError, SessionErrorKind};
use oriel_core_wire::{ClientMessage, ServerMessage, VERSION, close_code};
use oriel_gateway_http::{BoxFuture, RawStream, UpgradeContext, WebSocketHandler, WsStream};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tracing::{Instrument as _, debug, info, info_span, warn};

/// Largest first frame accepted (HELLO: a token of at most 8 KiB and a few fields).
const MAX_HELLO_FRAME: usize = 64 << 10;

/// How long a stream stopped here (ended, revoked) waits for the serving
/// gateway's own END before the connections are cut.
const STOP_GRACE: Duration = Duration::from_secs(2);

pub(crate) struct ProxyEndpoint {
    pub(crate) gateway: Arc<Gateway>,
}

impl WebSocketHandler for ProxyEndpoint {
    fn serve(&self, ws: WsStream, _ctx: UpgradeContext) -> BoxFuture<'static, ()> {
        drop(ws);
        Box::pin(async {})
    }

    fn takes_raw(&self) -> bool {
        true
    }

    fn serve_raw(&self, io: RawStream, ctx: UpgradeContext) -> BoxFuture<'static, ()> {
        let gateway = Arc::clone(&self.gateway);
        let span = info_span!(
            "proxy",
            session_id = tracing::field::Empty,
            user = tracing::field::Empty,
            peer = ?ctx.peer,
        );
        Box::pin(proxy(gateway, io, ctx).instrument(span))
    }
}

/// The viewer's first frame: the bytes received so far (the frame and
/// anything behind it) and its unmasked payload.
struct FirstFrame {
    raw: Vec<u8>,
    payload: Vec<u8>,
}

/// Reads one complete client frame (masked, RFC 6455 §5.2). `Ok(None)`: the
/// viewer closed before sending one.
async fn read_first_frame(io: &mut RawStream) -> Result<Option<FirstFrame>, SessionError> {
    let bad = |detail: &str| SessionError::new(SessionErrorKind::ClientProtocol, detail);
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((header_len, payload_len)) = frame_extent(&buf)? {
            let total = header_len + payload_len;
            if total > MAX_HELLO_FRAME {
                return Err(bad("the first message is too large for HELLO"));
            }
            if buf.len() >= total {
                if buf[0] & 0x0f == 0x8 {
                    return Ok(None);
                }
                if buf[0] != 0x82 {
                    return Err(bad("the first message must be HELLO, in one binary frame"));
                }
                let mask = [
                    buf[header_len - 4],
                    buf[header_len - 3],
                    buf[header_len - 2],
                    buf[header_len - 1],
                ];
                let payload = buf[header_len..total]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ mask[i % 4])
                    .collect();
                // Whatever the viewer sent right behind HELLO goes on with it.
                return Ok(Some(FirstFrame { raw: buf, payload }));
            }
        }
        let n = io
            .read(&mut chunk)
            .await
            .map_err(|e| bad(&format!("read error: {e}")))?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_HELLO_FRAME + 14 {
            return Err(bad("the first message is too large for HELLO"));
        }
    }
}

/// Header and payload length of the frame at the start of `buf`, once its
/// header is complete.
fn frame_extent(buf: &[u8]) -> Result<Option<(usize, usize)>, SessionError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if buf[1] & 0x80 == 0 {
        return Err(SessionError::new(
            SessionErrorKind::ClientProtocol,
            "client frames must be masked",
        ));
    }
    let (len_bytes, len) = match buf[1] & 0x7f {
        126 => (2, None),
        127 => (8, None),
        n => (0, Some(n as usize)),
    };
    let header_len = 2 + len_bytes + 4;
    if buf.len() < header_len {
        return Ok(None);
    }
    let len = match len {
        Some(n) => n,
        None => {
            let mut be = [0u8; 8];
            be[8 - len_bytes..].copy_from_slice(&buf[2..2 + len_bytes]);
            usize::try_from(u64::from_be_bytes(be)).unwrap_or(usize::MAX)
        }
    };
    Ok(Some((header_len, len.min(usize::MAX - header_len))))
}

/// Refuses the viewer with END and the close code of `e`.
async fn refuse(io: RawStream, e: &SessionError) {
    let end = end_of(e);
    let reason = end.message.clone();
    let code = close_code(e.kind);
    close_with(io, Some(&ServerMessage::End(end).to_bytes()), code, &reason).await;
}

async fn proxy(gw: Arc<Gateway>, mut io: RawStream, ctx: UpgradeContext) {
    gw.metrics.websocket_connections.inc();
    let admitted = admit(&gw, &mut io, &ctx).await;
    let (claims, token, hello) = match admitted {
        Ok(Some(a)) => a,
        Ok(None) => {
            gw.metrics.websocket_connections.dec();
            return;
        }
        Err(e) => {
            info!(error = %e, "stream refused at the proxy");
            gw.metrics
                .streams
                .with_label_values(&[e.kind.as_str(), e.class().as_str()])
                .inc();
            refuse(io, &e).await;
            gw.metrics.websocket_connections.dec();
            return;
        }
    };
    let span = tracing::Span::current();
    span.record("session_id", claims.sid.as_str());
    span.record("user", claims.name.as_str());
    let Some(via) = claims.via.clone() else {
        // `admit` refuses tokens without a route on a dedicated proxy.
        gw.metrics.websocket_connections.dec();
        return;
    };
    let guard = match gw.registry.register(&claims.sid, token, now_secs()) {
        Ok(g) => g,
        Err(why) => {
            refuse(io, &crate::registry::stop_error(why)).await;
            gw.metrics.websocket_connections.dec();
            return;
        }
    };
    let far = tokio::time::timeout(
        gw.settings.connect_timeout,
        connect(&via.to, &via.cert_sha256, ctx.origin.as_deref()),
    )
    .await;
    let (mut far, early) = match far {
        Ok(Ok(f)) => f,
        Ok(Err(refusal)) => {
            warn!(to = %via.to, reason = refusal.1, "the session's gateway cannot be reached from the proxy");
            drop(guard);
            close(io, refusal).await;
            gw.metrics.websocket_connections.dec();
            return;
        }
        Err(_) => {
            warn!(to = %via.to, "the session's gateway did not answer the proxy in time");
            drop(guard);
            close(
                io,
                Refusal(4012, "the session's gateway did not answer in time"),
            )
            .await;
            gw.metrics.websocket_connections.dec();
            return;
        }
    };
    if far.write_all(&hello).await.is_err() {
        drop(guard);
        close(io, Refusal(4004, "the session's gateway closed the stream")).await;
        gw.metrics.websocket_connections.dec();
        return;
    }
    if !early.is_empty() && io.write_all(&early).await.is_err() {
        gw.metrics.websocket_connections.dec();
        return;
    }
    info!(to = %via.to, "passing a stream on");
    gw.metrics.relayed_streams.inc();
    gw.metrics
        .sessions_active
        .set(gw.registry.active_sessions() as i64);
    let mut stop = guard.stop.clone();
    let mut shutdown = ctx.shutdown.clone();
    let copy = copy_both_ways(&mut io, &mut far);
    tokio::pin!(copy);
    let result = tokio::select! {
        copied = &mut copy => copied,
        () = async { let _ = stop.wait_for(Option::is_some).await; } => {
            // The serving gateway normally ends the stream itself (END,
            // close); give it a moment, then cut.
            tokio::time::timeout(STOP_GRACE, &mut copy).await.unwrap_or(Ok((0, 0)))
        }
        _ = shutdown.changed() => Ok((0, 0)),
    };
    match result {
        Ok((up, down)) => debug!(up, down, "proxied stream done"),
        Err(e) => debug!(error = %e, "proxied stream ended"),
    }
    drop(guard);
    gw.metrics.relayed_streams.dec();
    gw.metrics.websocket_connections.dec();
    gw.metrics
        .sessions_active
        .set(gw.registry.active_sessions() as i64);
}

type Admitted = (
    oriel_core_token::SessionClaims,
    crate::registry::TokenRef,
    Vec<u8>,
);

/// Reads HELLO (in time) and admits its token. `Ok(None)`: the viewer left.
async fn admit(
    gw: &Gateway,
    io: &mut RawStream,
    ctx: &UpgradeContext,
) -> Result<Option<Admitted>, SessionError> {
    let first = match tokio::time::timeout(gw.settings.hello_timeout, read_first_frame(io)).await {
        Err(_) => {
            return Err(SessionError::new(
                SessionErrorKind::ClientTimeout,
                "no HELLO in time",
            ));
        }
        Ok(r) => match r? {
            Some(f) => f,
            None => return Ok(None),
        },
    };
    let msg = ClientMessage::decode(&first.payload)
        .map_err(|e| SessionError::new(SessionErrorKind::ClientProtocol, e.to_string()))?;
    let ClientMessage::Hello(hello) = msg else {
        return Err(SessionError::new(
            SessionErrorKind::ClientProtocol,
            "the first message must be HELLO",
        ));
    };
    if hello.version != VERSION {
        return Err(SessionError::new(
            SessionErrorKind::ClientProtocol,
            format!(
                "protocol version {} is not supported (this gateway speaks {VERSION})",
                hello.version
            ),
        ));
    }
    let (claims, token) = gw.admit(&hello.token, ctx.peer.map(|p| p.ip()))?;
    Ok(Some((claims, token, first.raw)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_extents_are_read_from_all_three_length_forms() {
        assert_eq!(frame_extent(&[0x82]).unwrap(), None);
        assert!(frame_extent(&[0x82, 0x05]).is_err(), "unmasked");
        assert_eq!(
            frame_extent(&[0x82, 0x85, 1, 2, 3, 4]).unwrap(),
            Some((6, 5))
        );
        assert_eq!(frame_extent(&[0x82, 0xfe, 0x01]).unwrap(), None);
        assert_eq!(
            frame_extent(&[0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4]).unwrap(),
            Some((8, 256))
        );
        let mut long = vec![0x82, 0xff];
        long.extend_from_slice(&u64::MAX.to_be_bytes());
        long.extend_from_slice(&[1, 2, 3, 4]);
        let (h, n) = frame_extent(&long).unwrap().unwrap();
        assert_eq!(h, 14);
        assert!(n > MAX_HELLO_FRAME, "refused by the caller, no overflow");
    }
}
