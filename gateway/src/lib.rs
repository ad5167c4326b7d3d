//! The session plane (app tier): streams remote desktops to viewers.
//!
//! A viewer opens the `/stream` WebSocket and says HELLO with a session token
//! (`docs/protocol.md`). The gateway verifies the token with the control
//! plane's public key alone, opens the sealed target credentials with its own
//! key, connects the protocol adapter named by the workspace kind, and runs
//! the [`stream`] pipeline: target events → damage tracker → shared encode
//! pool → FRAME messages paced by the viewer's acknowledgements; keyboard,
//! pointer and clipboard flow back under the token's policy.
//!
//! Invariant: nothing here touches a database or Docker; everything a stream
//! needs arrives in its token or in a signed command ([`commands`]).

mod admission;
pub mod commands;
pub mod handover;
mod metrics;
mod proxy;
mod registry;
mod relay;
mod report;
mod session;
mod sinks;
mod sync;

pub use admission::{DEFAULT_REUSE, GatewayIdentity, GatewayRole, KeyRing, RevocationsError};
pub use metrics::GatewayMetrics;
pub use registry::{SessionRegistry, StopReason, TokenRef};
pub use relay::RELAY_PATH;
pub use report::{HttpReporter, NoReports, REPORT_PATH, ReportFn, SessionReporter};
pub use sinks::recorder::RecordingSettings;
pub use sync::{ControlSync, KEYS_PATH, REVOCATIONS_API_PATH, cached_keys};

use oriel_core_stream::CoreSettings;
pub use oriel_core_stream::LossyCodec;
use oriel_core_token::{Reuse, SealingKey, TokenSigner, TokenVerifier};
use oriel_core_wire::{MAX_CLIENT_MESSAGE, SUBPROTOCOL};
use oriel_encoders_codecs::EncodePool;
use oriel_encoders_damage::PlanSettings;
use oriel_gateway_http::{OriginPolicy, WsRoute};
use oriel_protocols_session::Connectors;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Tunables of the session plane.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Frames sent before waiting for an acknowledgement.
    pub max_frames_in_flight: u8,
    /// Tile side in pixels.
    pub tile_size: u16,
    /// Damage planning (JPEG quality, lossless threshold, settle time).
    pub plan: PlanSettings,
    /// Time a viewer has to say HELLO.
    pub hello_timeout: Duration,
    /// Time a target has to connect and authenticate.
    pub connect_timeout: Duration,
    /// A viewer silent this long (no message, no pong) is dropped.
    pub idle_client_timeout: Duration,
    /// Longest wait for more target events before a frame is planned.
    pub max_coalesce: Duration,
    /// Who may open the stream WebSocket.
    pub origins: OriginPolicy,
    /// The codec of lossy tiles.
    pub lossy_codec: LossyCodec,
    /// This gateway's id, zone and role, as tokens name them.
    pub identity: GatewayIdentity,
    /// Reconnection rules for tokens that carry none.
    pub reuse: Reuse,
    /// Most token ids the replay cache remembers at once.
    pub replay_entries: usize,
    /// Session recordings.
    pub recordings: RecordingSettings,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            max_frames_in_flight: 2,
            tile_size: oriel_encoders_damage::DEFAULT_TILE,
            plan: PlanSettings::default(),
            hello_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(15),
            idle_client_timeout: Duration::from_secs(45),
            max_coalesce: Duration::from_millis(16),
            origins: OriginPolicy::SameHost,
            lossy_codec: LossyCodec::Auto { cpu_budget: 0.02 },
            identity: GatewayIdentity::default(),
            reuse: DEFAULT_REUSE,
            replay_entries: 100_000,
            recordings: RecordingSettings::default(),
        }
    }
}

impl GatewaySettings {
    /// The session core's settings.
    pub(crate) fn core(&self) -> CoreSettings {
        let defaults = CoreSettings::default();
        CoreSettings {
            max_frames_in_flight: self.max_frames_in_flight,
            tile_size: self.tile_size,
            plan: self.plan.clone(),
            max_coalesce_us: self.max_coalesce.as_micros() as u64,
            lossy_codec: self.lossy_codec,
            silence_us: self.idle_client_timeout.as_micros() as u64,
            ..defaults
        }
    }
}

/// Keys the gateway needs: the control plane's token keys, and its own
/// sealing key for target credentials.
#[derive(Debug)]
pub struct GatewayKeys {
    /// Verifies session tokens and commands (keys replaceable while running).
    pub verifier: KeyRing,
    /// Opens credentials sealed to this gateway.
    pub sealing: SealingKey,
    /// Signs this gateway's reports and recordings' checkpoints.
    pub signing: Option<Arc<TokenSigner>>,
}

/// The session plane of one process.
#[derive(Debug)]
pub struct Gateway {
    pub(crate) settings: GatewaySettings,
    pub(crate) keys: GatewayKeys,
    pub(crate) connectors: Connectors,
    pub(crate) pool: EncodePool,
    pub(crate) registry: SessionRegistry,
    pub(crate) metrics: GatewayMetrics,
    pub(crate) reporter: Arc<dyn SessionReporter>,
    pub(crate) admission: admission::AdmissionState,
}

impl GatewayKeys {
    /// Keys trusting `verifier`'s public keys and opening with `sealing`.
    pub fn new(verifier: TokenVerifier, sealing: SealingKey) -> Self {
        GatewayKeys {
            verifier: KeyRing::new(verifier),
            sealing,
            signing: None,
        }
    }

    /// With the gateway's signing key (recordings need it).
    pub fn with_signing(mut self, signer: Arc<TokenSigner>) -> Self {
        self.signing = Some(signer);
        self
    }
}

impl Gateway {
    /// A gateway with these adapters, keys, the process's encode pool, and
    /// where to report what happens to streams.
    pub fn new(
        settings: GatewaySettings,
        keys: GatewayKeys,
        connectors: Connectors,
        pool: EncodePool,
        reporter: Arc<dyn SessionReporter>,
        registry: &prometheus::Registry,
    ) -> prometheus::Result<Arc<Self>> {
        Ok(Arc::new(Gateway {
            admission: admission::AdmissionState::new(settings.replay_entries),
            settings,
            keys,
            connectors,
            pool,
            registry: SessionRegistry::new(),
            metrics: GatewayMetrics::new(registry)?,
            reporter,
        }))
    }

    /// The `/stream` WebSocket route for the HTTPS front: sessions served
    /// here, or, on a dedicated proxy, passed on to the gateway each
    /// token names.
    pub fn stream_route(self: &Arc<Self>) -> WsRoute {
        let handler: Arc<dyn oriel_gateway_http::WebSocketHandler> =
            if self.settings.identity.role == GatewayRole::DedicatedProxy {
                Arc::new(proxy::ProxyEndpoint {
                    gateway: Arc::clone(self),
                })
            } else {
                Arc::new(sinks::viewer::StreamEndpoint {
                    gateway: Arc::clone(self),
                })
            };
        WsRoute {
            path: "/stream".into(),
            subprotocol: Some(SUBPROTOCOL.into()),
            max_message_size: MAX_CLIENT_MESSAGE,
            origins: self.settings.origins.clone(),
            handler,
        }
    }

    /// The `/relay/<route>` WebSocket: streams passed on, undecoded, to the
    /// gateway of the node running the session.
    pub fn relay_route(self: &Arc<Self>) -> WsRoute {
        WsRoute {
            path: RELAY_PATH.into(),
            subprotocol: Some(SUBPROTOCOL.into()),
            max_message_size: MAX_CLIENT_MESSAGE,
            origins: self.settings.origins.clone(),
            handler: Arc::new(relay::RelayEndpoint {
                gateway: Arc::clone(self),
            }),
        }
    }

    /// Ends a session on this gateway (in-process call of the control plane
    /// in `oriel up`; remote control planes send [`commands`]).
    pub fn end_session(&self, session_id: &str, until_unix: u64) -> usize {
        let n = self.registry.end(session_id, until_unix);
        self.metrics
            .sessions_active
            .set(self.registry.active_sessions() as i64);
        n
    }

    /// Hands the control of a share link's viewers of a session over, or
    /// takes it back. Returns how many viewers changed (0 when none of the
    /// link's viewers is here, or they already had that control).
    pub async fn set_link_control(&self, session_id: &str, link: &str, control: bool) -> usize {
        let Some(handle) = self.registry.upstream_of(session_id).await else {
            return 0;
        };
        let (changed, answer) = tokio::sync::oneshot::channel();
        let told = handle
            .tell(session::Inbound::LinkControl {
                link: link.to_owned(),
                control,
                changed,
            })
            .await;
        if !told {
            return 0;
        }
        answer.await.unwrap_or(0)
    }

    /// Live streams and sessions.
    pub fn sessions(&self) -> &SessionRegistry {
        &self.registry
    }
}

/// A session's one clock: the wall clock (Unix µs) read once at its start,
/// moved on by the monotonic clock, so that deadlines never jump and frame
/// times stay comparable with viewers' clocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: tokio::time::Instant,
    start_us: u64,
}

impl Clock {
    /// A clock starting now.
    pub(crate) fn start() -> Self {
        Clock {
            start: tokio::time::Instant::now(),
            start_us: now_us(),
        }
    }

    /// Unix µs now.
    pub(crate) fn now_us(&self) -> u64 {
        self.start_us + self.start.elapsed().as_micros() as u64
    }

    /// The instant of Unix µs `at`.
    pub(crate) fn instant(&self, at: u64) -> tokio::time::Instant {
        self.start + Duration::from_micros(at.saturating_sub(self.start_us))
    }
}

/// Wall clock, µs since the Unix epoch.
pub(crate) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Wall clock, seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    now_us() / 1_000_000
}
