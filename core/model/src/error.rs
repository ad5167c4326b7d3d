//! Session errors, classified by who failed (the pingora way): the class
//! picks the close code, the message the user sees and the metric label.

/// Who is at fault when a session ends abnormally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The browser or whoever holds the token did something wrong.
    Client,
    /// The remote desktop (VNC/RDP/SSH server) failed or misbehaved.
    Target,
    /// A policy decision ended the session (ended by an admin, revoked).
    Policy,
    /// Oriel itself failed.
    Internal,
}

impl ErrorClass {
    /// Label used in metrics and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Client => "client",
            ErrorClass::Target => "target",
            ErrorClass::Policy => "policy",
            ErrorClass::Internal => "internal",
        }
    }
}

/// Why a session ended or could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionErrorKind {
    /// The token is malformed, tampered with or signed by an unknown key.
    TokenInvalid,
    /// The token is past its expiry or not yet valid.
    TokenExpired,
    /// The token is valid but may not be used here or any more.
    Forbidden,
    /// The session was ended (by its user, an admin or the API).
    Ended,
    /// No input from the viewer for longer than the policy allows.
    IdleTimeout,
    /// The session reached its maximum length.
    SessionExpired,
    /// The client broke the stream protocol.
    ClientProtocol,
    /// The client did not say hello in time.
    ClientTimeout,
    /// The target refused the connection or could not be reached.
    TargetUnreachable,
    /// The target did not answer in time.
    TargetTimeout,
    /// The target rejected the credentials.
    TargetAuthFailed,
    /// The target's certificate or host key is not the one recorded.
    TargetIdentity,
    /// The target sent something we cannot accept.
    TargetProtocol,
    /// The target closed the connection.
    TargetClosed,
    /// The workspace kind has no protocol adapter in this gateway.
    UnsupportedTarget,
    /// The session's policy requires a control this server does not
    /// provide (session recording, a watermark): it may not stream without it.
    FeatureUnavailable,
    /// The gateway is shutting down.
    ShuttingDown,
    /// A bug or resource failure in Oriel.
    Internal,
}

impl SessionErrorKind {
    /// Who failed.
    pub const fn class(self) -> ErrorClass {
        use SessionErrorKind::*;
        match self {
            TokenInvalid | TokenExpired | ClientProtocol | ClientTimeout => ErrorClass::Client,
            Forbidden | Ended | IdleTimeout | SessionExpired | FeatureUnavailable => {
                ErrorClass::Policy
            }
            TargetUnreachable | TargetTimeout | TargetAuthFailed | TargetIdentity
            | TargetProtocol | TargetClosed => ErrorClass::Target,
            UnsupportedTarget | ShuttingDown | Internal => ErrorClass::Internal,
        }
    }

    /// Whether reconnecting (with a fresh token) may help.
    pub const fn retryable(self) -> bool {
        use SessionErrorKind::*;
        matches!(
            self,
            TokenExpired | TargetUnreachable | TargetTimeout | ShuttingDown | Internal
        )
    }

    /// Short label for metrics and logs.
    pub const fn as_str(self) -> &'static str {
        use SessionErrorKind::*;
        match self {
            TokenInvalid => "token_invalid",
            TokenExpired => "token_expired",
            Forbidden => "forbidden",
            Ended => "ended",
            IdleTimeout => "idle_timeout",
            SessionExpired => "session_expired",
            ClientProtocol => "client_protocol",
            ClientTimeout => "client_timeout",
            TargetUnreachable => "target_unreachable",
            TargetTimeout => "target_timeout",
            TargetAuthFailed => "target_auth_failed",
            TargetIdentity => "target_identity",
            TargetProtocol => "target_protocol",
            TargetClosed => "target_closed",
            UnsupportedTarget => "unsupported_target",
            FeatureUnavailable => "feature_unavailable",
            ShuttingDown => "shutting_down",
            Internal => "internal",
        }
    }

    /// What the user is told. Never includes internal detail.
    pub const fn public_message(self) -> &'static str {
        use SessionErrorKind::*;
        match self {
            TokenInvalid => "the session token is not valid",
            TokenExpired => "the session token has expired",
            Forbidden => "this session may not be opened here",
            Ended => "the session has ended",
            IdleTimeout => "the session ended after a period without input",
            SessionExpired => "the session reached its maximum length",
            ClientProtocol => "the viewer sent a message the gateway does not understand",
            ClientTimeout => "the viewer did not start the session in time",
            TargetUnreachable => "the remote system cannot be reached",
            TargetTimeout => "the remote system did not answer in time",
            TargetAuthFailed => "the remote system rejected the credentials",
            TargetIdentity => {
                "the remote system's identity changed since it was recorded (possible interception): refused"
            }
            TargetProtocol => "the remote system sent data the gateway cannot accept",
            TargetClosed => "the remote system closed the connection",
            UnsupportedTarget => "this gateway cannot open this kind of workspace",
            FeatureUnavailable => {
                "this workspace's policy requires a session control this server does not provide yet"
            }
            ShuttingDown => "the gateway is restarting",
            Internal => "the gateway hit an internal error",
        }
    }
}

/// A classified session error. `detail` is for logs only; users see
/// [`SessionErrorKind::public_message`] (plus `detail` for target errors,
/// which describe the user's own server, never ours).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", kind.as_str())]
pub struct SessionError {
    /// What went wrong.
    pub kind: SessionErrorKind,
    /// Detail for logs.
    pub detail: String,
}

impl SessionError {
    /// An error with detail for the log.
    pub fn new(kind: SessionErrorKind, detail: impl Into<String>) -> Self {
        SessionError {
            kind,
            detail: detail.into(),
        }
    }

    /// Who failed.
    pub fn class(&self) -> ErrorClass {
        self.kind.class()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_distinct_label() {
        use SessionErrorKind::*;
        let all = [
            TokenInvalid,
            TokenExpired,
            Forbidden,
            Ended,
            IdleTimeout,
            SessionExpired,
            ClientProtocol,
            ClientTimeout,
            TargetUnreachable,
            TargetTimeout,
            TargetAuthFailed,
            TargetIdentity,
            TargetProtocol,
            TargetClosed,
            UnsupportedTarget,
            ShuttingDown,
            Internal,
        ];
        let labels: std::collections::HashSet<_> = all.iter().map(|k| k.as_str()).collect();
        assert_eq!(labels.len(), all.len());
        assert!(all.iter().all(|k| !k.public_message().is_empty()));
    }

    #[test]
    fn classes_follow_who_failed() {
        assert_eq!(SessionErrorKind::TokenInvalid.class(), ErrorClass::Client);
        assert_eq!(
            SessionErrorKind::TargetUnreachable.class(),
            ErrorClass::Target
        );
        assert_eq!(SessionErrorKind::Ended.class(), ErrorClass::Policy);
        assert!(!SessionErrorKind::TargetAuthFailed.retryable());
        assert!(SessionErrorKind::TargetUnreachable.retryable());
    }
}
