//! The domain error of the service layer: what went wrong, in the terms of
//! the control plane (a session limit, no capacity, a workspace that needs a
//! feature this server lacks), never of HTTP. The API maps each variant to a
//! status, a stable code and a public message (`crate::error`).

use oriel_control_store::{DataKeyError, StoreError};

/// A feature a workspace's effective policy requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// A watermark over the desktop (`policy.watermark`) with settings it
    /// can be drawn with.
    Watermark,
}

impl Feature {
    /// The policy field that asks for it.
    pub fn field(self) -> &'static str {
        match self {
            Feature::Watermark => "watermark",
        }
    }

    /// What it is, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Feature::Watermark => "a watermark it can draw",
        }
    }
}

/// Why a domain operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// No such object, or the caller may not see it (`what`: "session", …).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The caller is not who they say (a credential is wrong).
    #[error("{0}")]
    Unauthenticated(String),
    /// A value is invalid; `field` names the request field when one is at fault.
    #[error("{message}")]
    Invalid {
        /// The request field at fault (`target.host`), when one is.
        field: Option<String>,
        /// For people: what is wrong.
        message: String,
    },
    /// The request conflicts with the state of things; `reason` is a stable
    /// snake_case word (`last_admin`, `zone_in_use`, `external_user`, …).
    #[error("{message}")]
    Conflict {
        /// Stable reason.
        reason: &'static str,
        /// For people.
        message: String,
    },
    /// The user already has as many active sessions of the workspace as its
    /// policy allows.
    #[error("session limit reached ({active} active)")]
    SessionLimit {
        /// Active sessions counted.
        active: i64,
    },
    /// No agent of the zone has room for a container session.
    #[error("no capacity in zone {zone} ({agents} agents)")]
    NoCapacity {
        /// The zone looked in.
        zone: String,
        /// Live agents there.
        agents: usize,
    },
    /// Container workspaces need agents, and none may connect.
    #[error("no agent is configured")]
    NoAgent,
    /// The workspace's effective policy requires a feature this server
    /// does not provide: it must not stream without it (fail closed).
    #[error("the workspace requires {}, which this server cannot apply", .0.describe())]
    FeatureUnavailable(Feature),
    /// A container session's desktop is not ready yet.
    #[error("the session's desktop is not ready yet")]
    SessionStarting,
    /// The session failed (why).
    #[error("the session failed: {0}")]
    SessionFailed(String),
    /// The session has ended.
    #[error("the session has ended")]
    SessionEnded,
    /// The caller must sign in for this (an anonymous request).
    #[error("{0}")]
    SignInRequired(String),
    /// The caller may not do this, for a reason worth a stable code
    /// (`sharing_disabled`, `not_in_group`, …).
    #[error("{message}")]
    Denied {
        /// Stable reason.
        reason: &'static str,
        /// For people.
        message: String,
    },
    /// What was asked for existed but is over for good (an expired or a
    /// revoked share link).
    #[error("{message}")]
    Gone {
        /// Stable reason.
        reason: &'static str,
        /// For people.
        message: String,
    },
    /// The session reached its maximum length.
    #[error("the session reached its maximum length")]
    SessionExpired,
    /// The session's workspace was deleted or is no longer granted.
    #[error("the session's workspace is gone")]
    WorkspaceGone,
    /// The workspace names a zone that no longer exists.
    #[error("zone {0:?} no longer exists")]
    ZoneGone(String),
    /// The workspace's zone has no connection proxy to reach it.
    #[error("zone {0:?} has no connection proxy")]
    NoConnectionProxy(String),
    /// The session is ending, but a gateway did not confirm closing its streams.
    #[error("a gateway did not confirm the end of the session")]
    GatewayUnconfirmed,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something of ours failed (the cause, for the log only).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// A value is invalid; a message of the form "`field` must …" names its
    /// field (see `crate::error::ApiError::invalid`).
    pub fn invalid(message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            field: None,
            message: message.into(),
        }
    }

    /// A value of request field `field` is invalid.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    /// The same error, about request field `field` (validation errors only).
    pub fn about(self, field: &str) -> Self {
        match self {
            ServiceError::Invalid { message, .. } => ServiceError::Invalid {
                field: Some(field.to_owned()),
                message,
            },
            other => other,
        }
    }

    /// A conflict with the state of things.
    pub fn conflict(reason: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Conflict {
            reason,
            message: message.into(),
        }
    }

    /// The caller may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ServiceError::Forbidden(message.into())
    }

    /// Something of ours failed.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        ServiceError::Internal(cause.to_string())
    }
}

impl From<DataKeyError> for ServiceError {
    fn from(e: DataKeyError) -> Self {
        ServiceError::internal(&e)
    }
}

impl From<crate::auth::CryptoError> for ServiceError {
    fn from(e: crate::auth::CryptoError) -> Self {
        ServiceError::internal(&e)
    }
}
