//! Authentication primitives, free of HTTP: argon2id password hashing and
//! the password policy, secret hashing and random tokens (`password`),
//! TOTP codes and their QR code (`totp`), and the OpenID Connect relying
//! party (`oidc`: discovery and key cache, the sealed flow, claims → user).
//!
//! How a request authenticates (cookie, login token, API token) is the
//! API's business (`crate::api::authn`); what the caller may then do is the
//! service layer's (`crate::service::Authed`).

pub(crate) mod oidc;
pub(crate) mod password;
pub(crate) mod totp;

/// Prefix of API tokens (so they are recognisable in logs and scanners).
pub(crate) const API_TOKEN_PREFIX: &str = "oriel_pat_";

/// A cryptographic primitive failed (no system randomness, a hashing
/// error, a task that did not finish): never the caller's fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CryptoError(pub(crate) String);
