//! The control plane (app tier): REST API under `/api/v1`.
//!
//! Local users log in (argon2id) and get a login session — an HttpOnly
//! cookie for the browser, the same value as a bearer token for scripts.
//! Admins manage workspaces (target, encrypted credentials, policy). Users
//! launch sessions: the control plane records them and signs short-lived
//! session tokens ([`oriel_core_token`]) that carry everything the gateway
//! needs, so the session plane never asks the database anything.
//!
//! The API is an axum router wrapped as an [`HttpHandler`] of the HTTPS
//! front, so it runs in `oriel up` beside the gateway or alone in
//! `oriel control`. Its OpenAPI document is generated from the handlers'
//! request and response types (utoipa, `api/openapi.rs`), served at
//! `/api/v1/openapi.json` and checked against the router by a test.
//!
//! Layers, top down (a test checks that no lower one names a higher one):
//! - `api` (+ `error`): HTTP — the router, handlers that parse, call the
//!   service layer and shape JSON, [`ApiError`] (status, code, message),
//!   how a request authenticates (`api::authn`), the login, TOTP and OIDC
//!   endpoints;
//! - `service`: the operations in domain terms — launch, token minting,
//!   end, placement, policy, zones, revocations, gateway reports and the
//!   reaper — returning [`ServiceError`];
//! - `auth` (password, TOTP and OIDC primitives), `audit` (the writer),
//!   `gateway_link`, `time`; and the store and token crates below.
//!
//! The agents' messages are the agent protocol's
//! ([`oriel_core_agent_protocol`]); the control plane's side of it, the
//! fleet (the registry of agents), is `service::fleet` (operations,
//! [`ControlPlane::fleet`]) and `api::fleet` (its HTTP endpoints).

mod api;
mod audit;
mod auth;
mod error;
mod gateway_link;
mod service;
mod time;

pub use auth::oidc::OidcSettings;
pub use error::ApiError;
pub use gateway_link::{AllGateways, GatewayLink, InProcessGateway, RemoteGateways};

/// The OpenAPI document of `/api/v1` and a checker of requests and
/// responses against it (the end-to-end tests run every exchange through it).
pub mod openapi {
    pub use crate::api::openapi::{Contract, document, validate};
}
pub use service::{
    AgentStreams, Feature, Fleet, MAX_RECORDING_BYTES, RecordingUpload, ServiceError,
};

use bytes::Bytes;
use oriel_control_store::{DataKey, Role, Store, StoreError};
use oriel_core_token::{SealingPublicKey, TokenSigner, TokenVerifier};
use oriel_gateway_http::{BoxFuture, HttpHandler, RequestContext};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt as _;
use tracing::info;

/// Tunables of the control plane.
#[derive(Debug, Clone)]
pub struct ControlSettings {
    /// Lifetime of a session token (the connect token; streams outlive it).
    pub token_ttl: Duration,
    /// Lifetime of a login session.
    pub login_ttl: Duration,
    /// Public base URL of the web UI and API (`https://host:port`); when
    /// unset, the request's `Host` is used.
    pub public_url: Option<String>,
    /// Public base URL of the gateway (`https://...`; the stream URL is
    /// `wss://.../stream`); when unset, the same host as the request.
    pub gateway_url: Option<String>,
    /// Workspace kinds accepted (those some gateway can serve).
    pub workspace_kinds: Vec<String>,
    /// Shortest password accepted.
    pub password_min_len: usize,
    /// Single sign-on with an OpenID Connect provider, when configured.
    pub oidc: Option<OidcSettings>,
    /// The token agents present to register and poll; `None`: no agents
    /// (container workspaces cannot be launched).
    pub agent_join_token: Option<JoinToken>,
    /// An agent silent this long is lost and its sessions fail.
    pub agent_lost_after: Duration,
    /// A container not ready this long after launch fails.
    pub container_start_timeout: Duration,
    /// How browsers reach the gateway of another node.
    pub agent_streams: AgentStreams,
    /// Reconnection rules written in session tokens: after its first use a
    /// token may be presented again from the same address, this long, this
    /// many times (a viewer reconnects even while the control plane is away).
    pub reconnect: oriel_core_token::Reuse,
    /// Where session recordings are kept and how they are judged.
    pub recordings: RecordingStoreSettings,
}

/// The control plane's storage of session recordings (`docs/recording.md`).
#[derive(Debug, Clone)]
pub struct RecordingStoreSettings {
    /// The directory recording files are kept in; `None`: recordings are
    /// not taken (gateways keep theirs).
    pub dir: Option<std::path::PathBuf>,
    /// The public keys of the gateways whose recordings are believed (their
    /// checkpoint signatures): a recording signed by another key is
    /// judged tampered.
    pub keys: TokenVerifier,
    /// How often expired recordings are deleted.
    pub sweep_every: Duration,
    /// Store new recording files encrypted with the control plane's data
    /// key (files stored either way stay readable).
    pub encrypt: bool,
}

impl Default for RecordingStoreSettings {
    fn default() -> Self {
        RecordingStoreSettings {
            dir: None,
            keys: TokenVerifier::new([]),
            sweep_every: Duration::from_secs(3600),
            encrypt: false,
        }
    }
}

/// The agents' join token (never printed).
#[derive(Clone)]
pub struct JoinToken(pub String);

impl std::fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JoinToken(..)")
    }
}

impl std::ops::Deref for JoinToken {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Default for ControlSettings {
    fn default() -> Self {
        ControlSettings {
            token_ttl: Duration::from_secs(300),
            login_ttl: Duration::from_secs(12 * 3600),
            public_url: None,
            gateway_url: None,
            workspace_kinds: vec!["vnc".into()],
            password_min_len: 12,
            oidc: None,
            agent_join_token: None,
            agent_lost_after: Duration::from_secs(30),
            container_start_timeout: Duration::from_secs(120),
            agent_streams: AgentStreams::Direct,
            reconnect: oriel_core_token::Reuse {
                window: 300,
                max: 20,
            },
            recordings: RecordingStoreSettings::default(),
        }
    }
}

/// Keys of the control plane.
#[derive(Debug)]
pub struct ControlKeys {
    /// Signs session tokens and gateway commands.
    pub signer: TokenSigner,
    /// The gateway's public sealing key: credentials in tokens are sealed to it.
    pub gateway_sealing: SealingPublicKey,
    /// Encrypts secrets at rest.
    pub data: DataKey,
    /// Public keys of retired signing keys, still published to gateways
    /// while tokens they signed may be alive (key rotation).
    pub retired_public: Vec<[u8; 32]>,
}

/// The control plane's shared state.
pub struct ControlPlane {
    pub(crate) store: Store,
    pub(crate) keys: ControlKeys,
    pub(crate) settings: ControlSettings,
    pub(crate) gateways: Arc<dyn GatewayLink>,
    /// Verifies reports of remote gateways (their public keys); `None` when
    /// the only gateway is in this process.
    pub(crate) report_verifier: Option<TokenVerifier>,
    /// A hash that unknown users are checked against, so a login for an
    /// unknown user takes as long as one with a wrong password.
    pub(crate) dummy_hash: String,
    /// The OpenID provider (discovery and key cache), when configured.
    pub(crate) oidc: Option<auth::oidc::Oidc>,
    /// Bumped when agents should look again (a container launch or end).
    pub(crate) fleet_changes: tokio::sync::watch::Sender<u64>,
    /// Since when (Unix ms) this control plane has been up with its database
    /// in reach: agents and gateways could not be heard before, so silence
    /// from before then is no sign of trouble (see `ControlPlane::reap`).
    pub(crate) hearing_since_ms: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("backend", &self.store.backend())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The first admin's password, when the control plane generated it.
#[derive(Debug)]
pub struct Bootstrap {
    /// Generated password of `admin`, to print once; `None` when the admin
    /// already existed or the password came from the environment.
    pub generated_admin_password: Option<zeroize::Zeroizing<String>>,
}

impl ControlPlane {
    /// Opens the control plane on a migrated store, creating the first admin
    /// (`admin`) when there are no users: with `admin_password` if given,
    /// otherwise a generated one returned in [`Bootstrap`].
    pub async fn new(
        store: Store,
        keys: ControlKeys,
        settings: ControlSettings,
        gateways: Arc<dyn GatewayLink>,
        report_verifier: Option<TokenVerifier>,
        admin_password: Option<&str>,
    ) -> Result<(Arc<Self>, Bootstrap), StoreError> {
        let dummy_hash = auth::password::hash_blocking("not a real password")
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut generated = None;
        if store.count_users().await? == 0 {
            let password = match admin_password {
                Some(p) => zeroize::Zeroizing::new(p.to_owned()),
                None => {
                    let p = auth::password::random_token(15)
                        .map_err(|_| StoreError::Corrupt("no system randomness".into()))?;
                    generated = Some(p.clone());
                    p
                }
            };
            let hash = auth::password::hash_blocking(&password)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            store
                .create_user("admin", &hash, Role::Admin, time::now_ms())
                .await?;
            info!("created the first admin user \"admin\"");
        }
        let oidc = settings.oidc.clone().map(auth::oidc::Oidc::new);
        let cp = Arc::new(ControlPlane {
            store,
            keys,
            settings,
            oidc,
            gateways,
            report_verifier,
            dummy_hash,
            fleet_changes: tokio::sync::watch::Sender::new(0),
            hearing_since_ms: std::sync::atomic::AtomicI64::new(time::now_ms()),
        });
        Ok((
            cp,
            Bootstrap {
                generated_admin_password: generated,
            },
        ))
    }

    /// The API as an HTTP handler for the front (mount it at `/api/`).
    pub fn api_handler(self: &Arc<Self>) -> Arc<dyn HttpHandler> {
        Arc::new(ApiHandler {
            router: api::router(Arc::clone(self)),
        })
    }

    /// The store (for background maintenance).
    pub fn store(&self) -> &Store {
        &self.store
    }
}

struct ApiHandler {
    router: axum::Router,
}

/// Largest response body the API produces: lists are paged, a recording
/// file is at most [`MAX_RECORDING_BYTES`].
const MAX_RESPONSE: usize = MAX_RECORDING_BYTES as usize + (1 << 20);

impl HttpHandler for ApiHandler {
    fn handle(
        &self,
        req: http::Request<Bytes>,
        ctx: RequestContext,
    ) -> BoxFuture<'_, http::Response<Bytes>> {
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let mut req = http::Request::from_parts(parts, axum::body::Body::from(body));
            req.extensions_mut().insert(ctx);
            let resp = match self.router.clone().oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            let (parts, body) = resp.into_parts();
            let bytes = axum::body::to_bytes(body, MAX_RESPONSE)
                .await
                .unwrap_or_else(|_| {
                    Bytes::from_static(
                        b"{\"error\":{\"code\":\"internal\",\"message\":\"internal error\"}}",
                    )
                });
            http::Response::from_parts(parts, bytes)
        })
    }
}
