//! Classification of IronRDP's errors into [`SessionError`]s (who failed,
//! and whether it is worth retrying): every failure of the adapter ends as
//! one of these, never as a panic.

use std::error::Error as StdError;

use ironrdp_connector::{ConnectorError, ConnectorErrorKind};
use ironrdp_session::SessionError as IronSessionError;
use oriel_core_model::{SessionError, SessionErrorKind};

/// The full message of an error and its sources, for logs.
pub fn chain(err: &dyn StdError) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// The first I/O error in an error's source chain.
fn io_kind(err: &(dyn StdError + 'static)) -> Option<std::io::ErrorKind> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = e.source();
    }
    None
}

fn io_error_kind(kind: std::io::ErrorKind) -> SessionErrorKind {
    use std::io::ErrorKind::*;
    match kind {
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe => {
            SessionErrorKind::TargetClosed
        }
        TimedOut => SessionErrorKind::TargetTimeout,
        _ => SessionErrorKind::TargetProtocol,
    }
}

/// Where in the connection sequence an error happened: a server that hangs
/// up during authentication has usually refused the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// X.224 negotiation, before TLS.
    Negotiation,
    /// CredSSP (NLA).
    Credssp,
    /// Everything after authentication.
    Finalization,
}

/// Classifies a connection-sequence error.
pub fn connector_error(err: &ConnectorError, phase: Phase) -> SessionError {
    let detail = chain(err);
    let kind = match err.kind() {
        ConnectorErrorKind::Credssp(e) => credssp_kind(e),
        ConnectorErrorKind::AccessDenied => SessionErrorKind::TargetAuthFailed,
        ConnectorErrorKind::Negotiation(_) => SessionErrorKind::TargetProtocol,
        ConnectorErrorKind::Encode(_) => SessionErrorKind::Internal,
        _ => match io_kind(err) {
            Some(k)
                if phase == Phase::Credssp
                    && io_error_kind(k) == SessionErrorKind::TargetClosed =>
            {
                // FreeRDP and Windows drop the connection after a failed NTLM
                // authenticate message instead of answering it.
                SessionErrorKind::TargetAuthFailed
            }
            Some(k) => io_error_kind(k),
            None => SessionErrorKind::TargetProtocol,
        },
    };
    let detail = match (kind, phase) {
        (SessionErrorKind::TargetAuthFailed, _) => {
            // The user sees this; how the server said no is for the log.
            tracing::debug!(error = %detail, "nla authentication failed");
            "the rdp server refused the user name or password (nla)".to_owned()
        }
        (_, Phase::Negotiation) => format!("rdp negotiation failed: {detail}"),
        _ => format!("rdp connection failed: {detail}"),
    };
    SessionError::new(kind, detail)
}

fn credssp_kind(e: &ironrdp_connector::sspi::Error) -> SessionErrorKind {
    use ironrdp_connector::sspi::ErrorKind as K;
    match e.error_type {
        K::LogonDenied
        | K::UnknownCredentials
        | K::NoCredentials
        | K::IncompleteCredentials
        | K::MessageAltered
        | K::WrongPrincipalName
        | K::PolicyNtlmOnly => SessionErrorKind::TargetAuthFailed,
        _ if e.nstatus.is_some() => SessionErrorKind::TargetAuthFailed,
        _ => SessionErrorKind::TargetProtocol,
    }
}

/// Classifies an active-session error.
pub fn session_error(err: &IronSessionError) -> SessionError {
    let kind = match io_kind(err) {
        Some(k) => io_error_kind(k),
        None => SessionErrorKind::TargetProtocol,
    };
    SessionError::new(kind, format!("rdp session failed: {}", chain(err)))
}

/// Classifies a transport error while the session runs.
pub fn io_error(err: &std::io::Error) -> SessionError {
    let kind = io_error_kind(err.kind());
    let detail = if kind == SessionErrorKind::TargetClosed {
        "the rdp server closed the connection".to_owned()
    } else {
        format!("rdp transport failed: {err}")
    };
    SessionError::new(kind, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironrdp_connector::ConnectorErrorExt as _;

    #[test]
    fn dropped_connections_during_nla_are_auth_failures() {
        let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "eof");
        let err = ConnectorError::custom("read frame by hint", eof);
        assert_eq!(
            connector_error(&err, Phase::Credssp).kind,
            SessionErrorKind::TargetAuthFailed
        );
        let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "eof");
        let err = ConnectorError::custom("read frame by hint", eof);
        assert_eq!(
            connector_error(&err, Phase::Finalization).kind,
            SessionErrorKind::TargetClosed
        );
    }

    #[test]
    fn undecodable_pdus_are_protocol_errors() {
        let err = ConnectorError::general("garbage");
        assert_eq!(
            connector_error(&err, Phase::Negotiation).kind,
            SessionErrorKind::TargetProtocol
        );
        let err = std::io::Error::new(std::io::ErrorKind::InvalidData, "bad pdu");
        assert_eq!(io_error(&err).kind, SessionErrorKind::TargetProtocol);
        let err = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert_eq!(io_error(&err).kind, SessionErrorKind::TargetClosed);
    }
}
