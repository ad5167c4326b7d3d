//! The common session interface (adapter tier).
//!
//! Every protocol adapter (VNC now, RDP and SSH later) is a [`Connector`]: it
//! connects to a target and returns a [`RemoteSession`] — the target's
//! [`SessionEvent`]s flow out of one channel, the user's [`InputEvent`]s
//! into another, like IronRDP's `ActiveStage` outputs. The gateway picks the
//! connector by the workspace kind written in the session token and never
//! sees a protocol-specific type.
//!
//! Channel contract: the adapter's task ends when the gateway drops either
//! end. A failure is sent as a final `Err` on the events channel; a closed
//! events channel without an error means the target ended the session.

mod files;

pub use files::{FileEntry, FileError, FileTransfer};

use oriel_core_model::{InputEvent, SessionError, SessionEvent, SessionInfo, Size};
use oriel_core_token::Credentials;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Capacity of the events channel: small, so a slow gateway slows the adapter
/// (and through TCP the target) instead of buffering.
pub const EVENT_CHANNEL: usize = 32;

/// Capacity of the input channel.
pub const INPUT_CHANNEL: usize = 256;

/// How the target's identity (TLS certificate, SSH host key) is checked.
///
/// Identities are compared as fingerprints: `SHA256:` followed by the
/// unpadded base64 of the SHA-256 of the public key (SSH host key blob; the
/// TLS certificate's SubjectPublicKeyInfo), the format OpenSSH prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetTrust {
    /// Only this identity is accepted; any other is refused with
    /// [`SessionErrorKind::TargetIdentity`](oriel_core_model::SessionErrorKind).
    Pinned(String),
    /// Nothing recorded yet: accept the identity the target presents and
    /// report it in [`SessionInfo::identity`] for the control plane to record.
    FirstUse,
    /// The protocol authenticates no server identity (VNC).
    NotApplicable,
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// The session (for adapters that keep per-session state, and logs).
    pub session_id: String,
    /// Host name or address of the target.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Credentials, if the workspace has any.
    pub credentials: Option<Credentials>,
    /// How to check the target's identity.
    pub trust: TargetTrust,
    /// Desktop size the viewer would like, if any.
    pub desired_size: Option<Size>,
    /// Deadline for connecting and authenticating.
    pub timeout: Duration,
}

/// A connected session.
pub struct RemoteSession {
    /// What the target said about itself.
    pub info: SessionInfo,
    /// Events from the target, in order.
    pub events: mpsc::Receiver<Result<SessionEvent, SessionError>>,
    /// Input for the target.
    pub input: mpsc::Sender<InputEvent>,
    /// File transfer, when the protocol offers it.
    pub files: Option<Arc<dyn FileTransfer>>,
}

impl std::fmt::Debug for RemoteSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSession")
            .field("info", &self.info)
            .field("files", &self.files.is_some())
            .finish_non_exhaustive()
    }
}

/// A protocol adapter.
pub trait Connector: Send + Sync + 'static {
    /// Workspace kind this adapter serves (`"vnc"`, ...).
    fn kind(&self) -> &'static str;

    /// Connects and authenticates; the returned session is ready to stream.
    fn connect(
        &self,
        request: ConnectRequest,
    ) -> BoxFuture<'static, Result<RemoteSession, SessionError>>;
}

/// The adapters compiled into this binary, by workspace kind.
#[derive(Clone, Default)]
pub struct Connectors {
    by_kind: HashMap<&'static str, Arc<dyn Connector>>,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kinds: Vec<_> = self.by_kind.keys().collect();
        kinds.sort();
        f.debug_struct("Connectors").field("kinds", &kinds).finish()
    }
}

impl Connectors {
    /// No adapters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an adapter under its kind (replacing any previous one).
    pub fn with(mut self, connector: impl Connector) -> Self {
        self.by_kind.insert(connector.kind(), Arc::new(connector));
        self
    }

    /// The adapter for a workspace kind.
    pub fn get(&self, kind: &str) -> Option<Arc<dyn Connector>> {
        self.by_kind.get(kind).cloned()
    }

    /// Kinds served.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k: Vec<_> = self.by_kind.keys().copied().collect();
        k.sort_unstable();
        k
    }
}
