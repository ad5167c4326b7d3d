//! Connecting, checking the host key and authenticating with russh:
//! RFC 4253 (transport, host key), RFC 4252 (password and public-key
//! authentication), RFC 4256 (keyboard-interactive, used as a password
//! fallback), and the classification of russh's errors into session errors.
//!
//! Host keys are compared as OpenSSH prints them: `SHA256:` followed by the
//! unpadded base64 of the SHA-256 of the key blob (`ssh-keygen -l`).

use base64::Engine as _;
use oriel_core_model::{SessionError, SessionErrorKind};
use oriel_core_token::Credentials;
use oriel_protocols_session::TargetTrust;
use russh::client::{self, AuthResult, DisconnectReason, Handle, KeyboardInteractiveAuthResponse};
use russh::keys::ssh_encoding::Encode as _;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use std::sync::{Arc, Mutex};
use tracing::{debug, warn};

/// The host key fingerprint of a key blob's owner, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &russh::keys::ssh_key::public::KeyData) -> Option<String> {
    let blob = key.encode_vec().ok()?;
    let digest = ring::digest::digest(&ring::digest::SHA256, &blob);
    Some(format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    ))
}

/// A pinned fingerprint in canonical form: the `SHA256:` prefix optional,
/// base64 padding ignored.
fn canonical_pin(pin: &str) -> &str {
    let pin = pin.trim();
    pin.strip_prefix("SHA256:")
        .unwrap_or(pin)
        .trim_end_matches('=')
}

/// Whether a presented fingerprint matches a pinned one.
pub fn pin_matches(pinned: &str, presented: &str) -> bool {
    !canonical_pin(pinned).is_empty() && canonical_pin(pinned) == canonical_pin(presented)
}

/// What the connection learnt, shared between russh's handler and the adapter.
#[derive(Debug, Default)]
pub struct Observed {
    /// Fingerprint of the host key the server proved it holds.
    pub host_key: Option<String>,
    /// A pinned key that did not match: (pinned, presented).
    pub mismatch: Option<(String, String)>,
    /// Why the connection ended, when russh reported it.
    pub ended: Option<SessionError>,
}

/// Shared handle on [`Observed`].
pub type SharedObserved = Arc<Mutex<Observed>>;

fn observe<T>(shared: &SharedObserved, f: impl FnOnce(&mut Observed) -> T) -> T {
    let mut guard = shared.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut guard)
}

/// russh's client handler: checks the host key against the trust setting.
#[derive(Debug)]
pub struct ClientHandler {
    trust: TargetTrust,
    observed: SharedObserved,
}

impl ClientHandler {
    /// A handler that checks host keys against `trust`.
    pub fn new(trust: TargetTrust, observed: SharedObserved) -> Self {
        if trust == TargetTrust::NotApplicable {
            warn!("ssh target without a trust setting: accepting its host key as on first use");
        }
        ClientHandler { trust, observed }
    }
}

impl client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let data = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data(),
            PublicKeyOrCertificate::Certificate(cert) => cert.public_key(),
        };
        let Some(presented) = fingerprint(data) else {
            return Ok(false);
        };
        let accepted = match &self.trust {
            TargetTrust::Pinned(pinned) => pin_matches(pinned, &presented),
            TargetTrust::FirstUse | TargetTrust::NotApplicable => true,
        };
        observe(&self.observed, |o| {
            if accepted {
                o.host_key = Some(presented.clone());
            } else if let TargetTrust::Pinned(pinned) = &self.trust {
                o.mismatch = Some((pinned.clone(), presented.clone()));
            }
        });
        debug!(fingerprint = %presented, accepted, "ssh host key");
        Ok(accepted)
    }

    async fn disconnected(
        &mut self,
        reason: DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        match reason {
            DisconnectReason::ReceivedDisconnect(info) => {
                let error = SessionError::new(
                    SessionErrorKind::TargetClosed,
                    format!("the ssh server disconnected: {}", info.message.trim()),
                );
                observe(&self.observed, |o| {
                    o.ended.get_or_insert(error);
                });
                Ok(())
            }
            DisconnectReason::Error(e) => {
                let error = classify(&e);
                observe(&self.observed, |o| {
                    o.ended.get_or_insert(error);
                });
                Err(e)
            }
        }
    }
}

/// The session error for a russh error.
pub fn classify(e: &russh::Error) -> SessionError {
    use russh::Error as E;
    use std::io::ErrorKind as Io;
    let kind = match e {
        E::IO(io) => match io.kind() {
            Io::UnexpectedEof | Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe => {
                SessionErrorKind::TargetClosed
            }
            Io::TimedOut => SessionErrorKind::TargetTimeout,
            Io::ConnectionRefused | Io::HostUnreachable | Io::NetworkUnreachable => {
                SessionErrorKind::TargetUnreachable
            }
            _ => SessionErrorKind::TargetProtocol,
        },
        E::Disconnect | E::HUP | E::SendError | E::RecvError => SessionErrorKind::TargetClosed,
        E::ConnectionTimeout | E::KeepaliveTimeout | E::InactivityTimeout | E::Elapsed(_) => {
            SessionErrorKind::TargetTimeout
        }
        E::UnknownKey | E::KeyChanged { .. } | E::WrongServerSig => {
            SessionErrorKind::TargetIdentity
        }
        E::NoAuthMethod | E::NotAuthenticated => SessionErrorKind::TargetAuthFailed,
        _ => SessionErrorKind::TargetProtocol,
    };
    SessionError::new(kind, format!("ssh: {e}"))
}

/// The error for a failed handshake: a changed host key if that is why.
pub fn handshake_error(e: &russh::Error, observed: &SharedObserved, target: &str) -> SessionError {
    if let Some((pinned, presented)) = observe(observed, |o| o.mismatch.clone()) {
        return SessionError::new(
            SessionErrorKind::TargetIdentity,
            // Short: the viewer shows the first 200 bytes after the
            // public message, which already says "refused".
            format!("the host key of {target} changed: recorded {pinned}, presented {presented}"),
        );
    }
    classify(e)
}

fn auth_failed(detail: impl Into<String>) -> SessionError {
    SessionError::new(SessionErrorKind::TargetAuthFailed, detail)
}

/// Authenticates with the credentials: the private key first (the password,
/// if given, decrypts an encrypted key and is then never sent to the
/// server), else or then the password, with keyboard-interactive as a
/// fallback for servers that only offer that.
pub async fn authenticate(
    handle: &mut Handle<ClientHandler>,
    credentials: Option<&Credentials>,
) -> Result<String, SessionError> {
    let creds = credentials.ok_or_else(|| auth_failed("the ssh target needs credentials"))?;
    let user = creds
        .username
        .as_deref()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| auth_failed("the ssh target needs a user name"))?
        .to_owned();
    let mut password = creds.password.as_deref().filter(|p| !p.is_empty());
    let mut tried = Vec::new();
    if let Some(text) = creds
        .private_key
        .as_deref()
        .filter(|k| !k.trim().is_empty())
    {
        let key = match russh::keys::decode_secret_key(text, None) {
            Ok(key) => key,
            Err(plain_error) => match password {
                Some(pass) => {
                    let key = russh::keys::decode_secret_key(text, Some(pass)).map_err(|e| {
                        auth_failed(format!("the private key cannot be read or decrypted: {e}"))
                    })?;
                    // The password was the key's passphrase: never send it.
                    password = None;
                    key
                }
                None => {
                    return Err(auth_failed(format!(
                        "the private key cannot be read (encrypted keys need their passphrase as the password): {plain_error}"
                    )));
                }
            },
        };
        let hash = if key.algorithm().is_rsa() {
            handle
                .best_supported_rsa_hash()
                .await
                .map_err(|e| classify(&e))?
                .flatten()
        } else {
            None
        };
        let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
        match handle.authenticate_publickey(user.as_str(), key).await {
            Ok(AuthResult::Success) => return Ok(user),
            Ok(AuthResult::Failure { .. }) => tried.push("public key"),
            Err(e) => return Err(classify(&e)),
        }
    }
    if let Some(pass) = password {
        match handle.authenticate_password(user.as_str(), pass).await {
            Ok(AuthResult::Success) => return Ok(user),
            Ok(AuthResult::Failure {
                remaining_methods, ..
            }) => {
                tried.push("password");
                let interactive = remaining_methods
                    .iter()
                    .any(|m| matches!(m, russh::MethodKind::KeyboardInteractive));
                if interactive && keyboard_interactive(handle, &user, pass).await? {
                    return Ok(user);
                }
            }
            Err(e) => return Err(classify(&e)),
        }
    }
    if tried.is_empty() {
        return Err(auth_failed(
            "the ssh target needs a password or a private key",
        ));
    }
    Err(auth_failed(format!(
        "the ssh server rejected the {} for user {user}",
        tried.join(" and the ")
    )))
}

/// Keyboard-interactive authentication answering every hidden prompt with
/// the password (what PAM's password prompt asks for); at most a few rounds.
async fn keyboard_interactive(
    handle: &mut Handle<ClientHandler>,
    user: &str,
    password: &str,
) -> Result<bool, SessionError> {
    let mut reply = handle
        .authenticate_keyboard_interactive_start(user, None::<String>)
        .await
        .map_err(|e| classify(&e))?;
    for _ in 0..4 {
        match reply {
            KeyboardInteractiveAuthResponse::Success => return Ok(true),
            KeyboardInteractiveAuthResponse::Failure { .. } => return Ok(false),
            KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => {
                let answers = prompts
                    .iter()
                    .map(|p| {
                        if p.echo {
                            String::new()
                        } else {
                            password.to_owned()
                        }
                    })
                    .collect();
                reply = handle
                    .authenticate_keyboard_interactive_respond(answers)
                    .await
                    .map_err(|e| classify(&e))?;
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key and its fingerprint as `ssh-keygen -lf` printed them.
    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFc4bkzoKRKGmQxqXsy+WK75bzkGflw4GUFVmFyah9/v test";
    const FINGERPRINT: &str = "SHA256:rd+NiOBSdxIE++eLX8OzPk2bOsF0U4wzmnyS+guKTV4";

    #[test]
    fn fingerprint_matches_ssh_keygen() {
        let key = russh::keys::PublicKey::from_openssh(KEY).expect("key");
        assert_eq!(fingerprint(key.key_data()).as_deref(), Some(FINGERPRINT));
        assert_eq!(
            key.fingerprint(russh::keys::HashAlg::Sha256).to_string(),
            FINGERPRINT
        );
    }

    #[test]
    fn pins_compare_canonically() {
        let bare = FINGERPRINT.trim_start_matches("SHA256:");
        assert!(pin_matches(FINGERPRINT, FINGERPRINT));
        assert!(pin_matches(bare, FINGERPRINT));
        assert!(pin_matches(&format!("{FINGERPRINT}="), FINGERPRINT));
        assert!(!pin_matches("", FINGERPRINT));
        assert!(!pin_matches("SHA256:", "SHA256:"));
        assert!(!pin_matches(&FINGERPRINT.to_lowercase(), FINGERPRINT));
    }

    #[test]
    fn errors_are_classified() {
        assert_eq!(
            classify(&russh::Error::Disconnect).kind,
            SessionErrorKind::TargetClosed
        );
        assert_eq!(
            classify(&russh::Error::Version).kind,
            SessionErrorKind::TargetProtocol
        );
        assert_eq!(
            classify(&russh::Error::UnknownKey).kind,
            SessionErrorKind::TargetIdentity
        );
        assert_eq!(
            classify(&russh::Error::KeepaliveTimeout).kind,
            SessionErrorKind::TargetTimeout
        );
    }
}
