//! Where a session's stream goes: the serving gateway (the control
//! plane's own, an agent's node gateway, a zone's connection proxy), the
//! entry (a dedicated proxy of the user's zone, the relay, or direct), and
//! what the token says of zones and gateways.

use crate::ControlPlane;
use crate::service::ServiceError;
use crate::time::now_ms;
use oriel_control_store::WorkspaceRecord;
use oriel_core_token::{CLAIMS_VERSION, RouteClaims, SealingPublicKey, Upstream};

/// Base URL of the web UI: `control.public_url`, else `https://` and the
/// `host` the request came to.
pub(crate) fn public_base(cp: &ControlPlane, host: Option<&str>) -> String {
    if let Some(url) = &cp.settings.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    format!("https://{}", host.unwrap_or("localhost"))
}

/// `https://…` → `wss://…` (and `http` → `ws`).
fn ws_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    base.strip_prefix("https://")
        .map(|rest| format!("wss://{rest}"))
        .or_else(|| {
            base.strip_prefix("http://")
                .map(|rest| format!("ws://{rest}"))
        })
        .unwrap_or_else(|| base.to_owned())
}

/// WebSocket URL of the gateway's stream endpoint.
fn stream_url(cp: &ControlPlane, host: Option<&str>) -> String {
    let base = cp
        .settings
        .gateway_url
        .clone()
        .unwrap_or_else(|| public_base(cp, host));
    format!("{}/stream", ws_url(&base))
}

/// Where a session's stream goes, whom its credentials are sealed to, and
/// what its tokens say of zones and gateways.
pub(crate) struct StreamRoute {
    pub(crate) stream_url: String,
    pub(crate) seal_to: SealingPublicKey,
    pub(crate) routing: Routing,
}

/// The token claims that route a stream (`SessionClaims::zones`, `gws`, `via`).
#[derive(Default)]
pub(crate) struct Routing {
    pub(crate) zones: Vec<String>,
    pub(crate) gws: Vec<String>,
    pub(crate) via: Option<Upstream>,
}

/// The gateway that serves a session when it is not the control plane's
/// own: an agent's node gateway or a zone's connection proxy.
struct Serving {
    id: String,
    zone: String,
    upstream: Upstream,
    seal_to: SealingPublicKey,
}

/// The serving gateway of a session: its agent's node gateway, else the
/// connection proxy of the zone its target is in, else `None` (ours).
async fn serving_gateway(
    cp: &ControlPlane,
    w: &WorkspaceRecord,
    agent_id: Option<&str>,
) -> Result<Option<Serving>, ServiceError> {
    if let Some(agent_id) = agent_id {
        let Some(agent) = cp.store.agent(agent_id).await? else {
            return Ok(None);
        };
        let Some(g) = &agent.registration.gateway else {
            return Ok(None);
        };
        let seal_to = SealingPublicKey(
            crate::service::fleet::sealing_key_of(g)
                .ok_or_else(|| ServiceError::internal(&"an agent's gateway key is not valid"))?,
        );
        return Ok(Some(Serving {
            id: agent.registration.id.clone(),
            zone: agent.registration.zone.clone(),
            upstream: Upstream {
                to: format!("{}/stream", ws_url(&g.url)),
                cert_sha256: g.cert_sha256.clone(),
            },
            seal_to,
        }));
    }
    let Some(zone) = w.spec.get("zone").and_then(|z| z.as_str()) else {
        return Ok(None);
    };
    let z = cp
        .store
        .zone(zone)
        .await?
        .ok_or_else(|| ServiceError::ZoneGone(zone.to_owned()))?;
    let Some(p) = &z.connection_proxy else {
        return Err(ServiceError::NoConnectionProxy(zone.to_owned()));
    };
    let key = crate::service::zones::sealing_key(p)
        .ok_or_else(|| ServiceError::internal(&"a connection proxy's sealing key is not valid"))?;
    Ok(Some(Serving {
        id: p.id.clone(),
        zone: zone.to_owned(),
        upstream: Upstream {
            to: format!("{}/stream", ws_url(&p.url)),
            cert_sha256: p.cert_sha256.clone(),
        },
        seal_to: SealingPublicKey(key),
    }))
}

/// The session whose stream is routed, and for whom.
#[derive(Debug, Clone, Copy)]
pub(super) struct RouteRequest<'a> {
    /// The session.
    pub session_id: &'a str,
    /// Its agent (container sessions).
    pub agent_id: Option<&'a str>,
    /// Its workspace.
    pub workspace: &'a WorkspaceRecord,
    /// The zone of the user who streams.
    pub user_zone: &'a str,
    /// The `Host` the request came to (URLs when the settings name none).
    pub host: Option<&'a str>,
    /// Expiry of the token the route is for, Unix ms.
    pub expires_at_ms: i64,
}

/// How a session's stream is reached. The serving gateway is the control
/// plane's own, the agent's node gateway (reached directly or relayed by
/// ours, `control.agent_streams`) or the connection proxy of the target's
/// zone. When the user's zone has a dedicated proxy and the serving
/// gateway is another, the stream enters through that proxy, which passes
/// it on (`via`); the token names the zones and gateway allowed.
pub(super) async fn route_of(
    cp: &ControlPlane,
    stream: &RouteRequest<'_>,
) -> Result<StreamRoute, ServiceError> {
    let RouteRequest {
        session_id: sid,
        agent_id,
        workspace: w,
        user_zone,
        host,
        expires_at_ms: exp_ms,
    } = *stream;
    let Some(serving) = serving_gateway(cp, w, agent_id).await? else {
        return Ok(StreamRoute {
            stream_url: stream_url(cp, host),
            seal_to: cp.keys.gateway_sealing,
            routing: Routing::default(),
        });
    };
    let entry = cp
        .store
        .zone(user_zone)
        .await?
        .and_then(|z| z.proxy_url)
        .map(|url| format!("{}/stream", ws_url(&url)));
    let mut zones = vec![serving.zone.clone()];
    if let Some(proxy) = entry {
        if user_zone != serving.zone {
            zones.insert(0, user_zone.to_owned());
        }
        return Ok(StreamRoute {
            stream_url: proxy,
            seal_to: serving.seal_to,
            routing: Routing {
                zones,
                gws: vec![serving.id],
                via: Some(serving.upstream),
            },
        });
    }
    let direct = serving.upstream.to.clone();
    let stream_url = match (agent_id.is_some(), cp.settings.agent_streams) {
        (true, crate::AgentStreams::Relay) => {
            let now = (now_ms() / 1000) as u64;
            let claims = RouteClaims {
                v: CLAIMS_VERSION,
                sid: sid.to_owned(),
                iat: now,
                nbf: now,
                exp: (exp_ms / 1000) as u64,
                to: direct,
                cert_sha256: serving.upstream.cert_sha256.clone(),
            };
            let route = cp
                .keys
                .signer
                .sign(&claims)
                .map_err(|e| ServiceError::internal(&e))?;
            let ours = stream_url(cp, host);
            let base = ours.strip_suffix("/stream").unwrap_or(&ours);
            format!("{base}/relay/{route}")
        }
        _ => direct,
    };
    Ok(StreamRoute {
        stream_url,
        seal_to: serving.seal_to,
        routing: Routing {
            zones,
            gws: vec![serving.id],
            via: None,
        },
    })
}
