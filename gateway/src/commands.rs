//! Signed requests from the control plane, under `/gateway/v1/`:
//!
//! - `POST /gateway/v1/commands` with a `c1.` token as the body: end a
//!   session, list the sessions with live streams, hand a share link's
//!   control over or take it back. Only the holder of the
//!   control plane's signing key can issue them, and a command addressed to
//!   another gateway (`aud`) is refused; every command is idempotent, so a
//!   replayed command changes nothing.
//! - `POST /gateway/v1/revocations` with an `rv1.` revocation list as the
//!   body: applied if newer than the one held.
//!
//! The gateway needs no database to check either.

use crate::{Gateway, now_secs};
use bytes::Bytes;
use oriel_core_token::{Command, CommandClaims};
use oriel_gateway_http::{BoxFuture, HttpHandler, RequestContext, RouteLabel};
use std::sync::Arc;
use tracing::{info, warn};

/// Path of the command endpoint.
pub const COMMAND_PATH: &str = "/gateway/v1/commands";
/// Path of the revocation list endpoint.
pub const REVOCATIONS_PATH: &str = "/gateway/v1/revocations";

/// The HTTP handler of [`COMMAND_PATH`].
#[derive(Debug)]
pub struct CommandEndpoint {
    pub(crate) gateway: Arc<Gateway>,
}

impl Gateway {
    /// The handler for signed control-plane commands.
    pub fn command_endpoint(self: &Arc<Self>) -> Arc<CommandEndpoint> {
        Arc::new(CommandEndpoint {
            gateway: Arc::clone(self),
        })
    }
}

fn reply(status: u16, body: serde_json::Value) -> http::Response<Bytes> {
    let mut resp = http::Response::new(Bytes::from(body.to_string()));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp.extensions_mut()
        .insert(RouteLabel(COMMAND_PATH.to_owned()));
    resp
}

fn error(status: u16, code: &str, message: &str) -> http::Response<Bytes> {
    reply(
        status,
        serde_json::json!({ "error": { "code": code, "message": message } }),
    )
}

impl HttpHandler for CommandEndpoint {
    fn handle(
        &self,
        req: http::Request<Bytes>,
        ctx: RequestContext,
    ) -> BoxFuture<'_, http::Response<Bytes>> {
        Box::pin(async move {
            let path = req.uri().path();
            if path != COMMAND_PATH && path != REVOCATIONS_PATH {
                return error(404, "not_found", "no such endpoint");
            }
            if req.method() != http::Method::POST {
                return error(405, "method_not_allowed", "use POST");
            }
            let Ok(token) = std::str::from_utf8(req.body()) else {
                return error(400, "bad_request", "the body must be a signed token");
            };
            if path == REVOCATIONS_PATH {
                return match self.gateway.apply_revocations(token.trim()) {
                    Ok(seq) => reply(200, serde_json::json!({ "seq": seq })),
                    Err(e) => {
                        warn!(error = %e, peer = ?ctx.peer, "revocation list refused");
                        error(401, "unauthorized", &e.to_string())
                    }
                };
            }
            let claims: CommandClaims =
                match self.gateway.keys.verifier.verify(token.trim(), now_secs()) {
                    Ok(c) => c,
                    Err(e) => {
                        warn!(error = %e, peer = ?ctx.peer, "command refused");
                        return error(401, "unauthorized", &e.to_string());
                    }
                };
            let me = &self.gateway.settings.identity.id;
            if claims.aud.as_ref().is_some_and(|aud| aud != me) {
                warn!(command_id = %claims.jti, aud = ?claims.aud, "command for another gateway refused");
                return error(403, "forbidden", "the command is for another gateway");
            }
            match claims.cmd {
                Command::EndSession { sid, until } => {
                    let streams = self.gateway.end_session(&sid, until);
                    info!(session_id = %sid, streams, command_id = %claims.jti, "session ended by command");
                    reply(200, serde_json::json!({ "streams_closed": streams }))
                }
                Command::SetLinkControl { sid, link, control } => {
                    let viewers = self.gateway.set_link_control(&sid, &link, control).await;
                    info!(session_id = %sid, link, control, viewers, command_id = %claims.jti, "share link control set by command");
                    reply(200, serde_json::json!({ "viewers_changed": viewers }))
                }
                Command::ListSessions => reply(
                    200,
                    serde_json::json!({
                        "gateway": me,
                        "zone": self.gateway.settings.identity.zone,
                        "sessions": self.gateway.registry.session_ids(),
                        "revocations_seq": self.gateway.revocations_seq(),
                    }),
                ),
            }
        })
    }
}
