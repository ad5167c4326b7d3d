//! Signing and verification of `<prefix>.<kid>.<payload>.<signature>` tokens.

use crate::{CLAIMS_VERSION, Claims, DEFAULT_LEEWAY_SECS, MAX_LIFETIME_SECS};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use oriel_core_model::SessionErrorKind;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use std::collections::HashMap;

/// Prefixes of the token kinds this crate knows.
const KNOWN_PREFIXES: &[&str] = &["s1", "c1", "r1", "rt1", "rv1"];

/// Why a token was refused. Every variant is a clear, loggable reason that
/// reveals nothing secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than the kind's limit ([`crate::MAX_TOKEN_LEN`] for session tokens).
    #[error("token of {0} bytes exceeds the limit")]
    Oversized(usize),
    /// Not of the `prefix.kid.payload.signature` shape, or not base64url.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// A token of another kind (e.g. a command presented as a session token).
    #[error("wrong token kind")]
    WrongKind,
    /// Signed by a key this verifier does not know.
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature does not match.
    #[error("bad signature")]
    BadSignature,
    /// The claims are not valid JSON of the expected shape (e.g. unknown fields).
    #[error("invalid claims: {0}")]
    InvalidClaims(String),
    /// Claims version not supported.
    #[error("unsupported claims version {0}")]
    UnsupportedVersion(u8),
    /// Past its expiry.
    #[error("token expired")]
    Expired,
    /// Before its not-before time.
    #[error("token not yet valid")]
    NotYetValid,
    /// Validity window empty or longer than allowed.
    #[error("token lifetime out of bounds")]
    BadLifetime,
    /// The signing key could not be used.
    #[error("signing key rejected: {0}")]
    Key(&'static str),
}

impl TokenError {
    /// The session error kind a refused token maps to.
    pub fn kind(&self) -> SessionErrorKind {
        match self {
            TokenError::Expired | TokenError::NotYetValid => SessionErrorKind::TokenExpired,
            TokenError::Key(_) => SessionErrorKind::Internal,
            _ => SessionErrorKind::TokenInvalid,
        }
    }
}

/// Key id: the first 8 bytes of SHA-256 of the public key, as 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kid(String);

impl Kid {
    /// Key id of an Ed25519 public key.
    pub fn of(public_key: &[u8; 32]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, public_key);
        let mut s = String::with_capacity(16);
        for b in &digest.as_ref()[..8] {
            s.push_str(&format!("{b:02x}"));
        }
        Kid(s)
    }

    /// A key id as written in tokens (16 lowercase hex digits), if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Kid(s.to_owned()))
    }

    /// The key id a token names, without checking anything else.
    pub fn of_token(token: &str) -> Option<Self> {
        token.split('.').nth(1).and_then(Self::parse)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Signs tokens with an Ed25519 key.
pub struct TokenSigner {
    key: Ed25519KeyPair,
    public: [u8; 32],
    kid: Kid,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// A signer from a 32-byte Ed25519 seed (private key).
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, TokenError> {
        let key = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| TokenError::Key("invalid ed25519 seed"))?;
        let mut public = [0u8; 32];
        public.copy_from_slice(key.public_key().as_ref());
        Ok(TokenSigner {
            kid: Kid::of(&public),
            key,
            public,
        })
    }

    /// A fresh random seed for [`Self::from_seed`].
    pub fn generate_seed() -> Result<zeroize::Zeroizing<[u8; 32]>, TokenError> {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), seed.as_mut())
            .map_err(|_| TokenError::Key("no randomness"))?;
        Ok(seed)
    }

    /// The public key, for verifiers.
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// The key id tokens carry.
    pub fn kid(&self) -> &Kid {
        &self.kid
    }

    /// Signs `claims` into a token.
    pub fn sign<C: Claims>(&self, claims: &C) -> Result<String, TokenError> {
        let json =
            serde_json::to_vec(claims).map_err(|e| TokenError::InvalidClaims(e.to_string()))?;
        let mut token = format!("{}.{}.{}", C::PREFIX, self.kid.0, B64.encode(json));
        let sig = self.key.sign(token.as_bytes());
        token.push('.');
        token.push_str(&B64.encode(sig.as_ref()));
        if token.len() > C::MAX_LEN {
            return Err(TokenError::Oversized(token.len()));
        }
        Ok(token)
    }
}

impl TokenSigner {
    /// Signs `message` in the context `domain` (so that a signature made
    /// for one purpose never verifies for another): Ed25519 over
    /// `domain || 0x00 || message`.
    pub fn sign_bytes(&self, domain: &str, message: &[u8]) -> [u8; 64] {
        let mut signed = Vec::with_capacity(domain.len() + 1 + message.len());
        signed.extend_from_slice(domain.as_bytes());
        signed.push(0);
        signed.extend_from_slice(message);
        let mut out = [0u8; 64];
        out.copy_from_slice(self.key.sign(&signed).as_ref());
        out
    }
}

/// Verifies tokens against a set of known public keys (several during key rotation).
#[derive(Clone)]
pub struct TokenVerifier {
    keys: HashMap<Kid, [u8; 32]>,
    leeway_secs: u64,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("leeway_secs", &self.leeway_secs)
            .finish()
    }
}

impl TokenVerifier {
    /// A verifier trusting these Ed25519 public keys.
    pub fn new(public_keys: impl IntoIterator<Item = [u8; 32]>) -> Self {
        TokenVerifier {
            keys: public_keys.into_iter().map(|k| (Kid::of(&k), k)).collect(),
            leeway_secs: DEFAULT_LEEWAY_SECS,
        }
    }

    /// Whether a key of this id is known.
    pub fn knows(&self, kid: &Kid) -> bool {
        self.keys.contains_key(kid)
    }

    /// The public keys trusted, by id.
    pub fn keys(&self) -> impl Iterator<Item = (&Kid, &[u8; 32])> {
        self.keys.iter()
    }

    /// Sets the clock skew tolerated on both ends of the validity window.
    pub fn with_leeway(mut self, secs: u64) -> Self {
        self.leeway_secs = secs;
        self
    }

    /// Checks `token` at time `now` (Unix seconds) and returns its claims.
    ///
    /// Order of checks: size, shape, kind, key, signature, claims, version,
    /// lifetime, time window. Nothing is parsed before the signature holds.
    pub fn verify<C: Claims>(&self, token: &str, now: u64) -> Result<C, TokenError> {
        match self.verify_allowing_expired(token, now)? {
            (_, true) => Err(TokenError::Expired),
            (claims, false) => Ok(claims),
        }
    }

    /// Checks a signature made by [`TokenSigner::sign_bytes`] with the key `kid`.
    pub fn verify_bytes(
        &self,
        kid: &Kid,
        domain: &str,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), TokenError> {
        let key = self.keys.get(kid).ok_or(TokenError::UnknownKey)?;
        let mut signed = Vec::with_capacity(domain.len() + 1 + message.len());
        signed.extend_from_slice(domain.as_bytes());
        signed.push(0);
        signed.extend_from_slice(message);
        UnparsedPublicKey::new(&ED25519, key)
            .verify(&signed, signature)
            .map_err(|_| TokenError::BadSignature)
    }

    /// Like [`Self::verify`], but a token past its expiry (and otherwise
    /// valid) is returned with `true`: the caller decides whether its
    /// reconnection window still admits it ([`crate::ReplayCache`]).
    pub fn verify_allowing_expired<C: Claims>(
        &self,
        token: &str,
        now: u64,
    ) -> Result<(C, bool), TokenError> {
        if token.len() > C::MAX_LEN {
            return Err(TokenError::Oversized(token.len()));
        }
        let (signed, sig_b64) = token
            .rsplit_once('.')
            .ok_or(TokenError::Malformed("missing signature"))?;
        let mut parts = signed.split('.');
        let (Some(prefix), Some(kid), Some(payload_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed("expected four dot-separated parts"));
        };
        if prefix != C::PREFIX {
            return Err(if KNOWN_PREFIXES.contains(&prefix) {
                TokenError::WrongKind
            } else {
                TokenError::Malformed("unknown prefix")
            });
        }
        let key = self
            .keys
            .get(&Kid(kid.to_owned()))
            .ok_or(TokenError::UnknownKey)?;
        let sig = B64
            .decode(sig_b64)
            .map_err(|_| TokenError::Malformed("signature is not base64url"))?;
        UnparsedPublicKey::new(&ED25519, key)
            .verify(signed.as_bytes(), &sig)
            .map_err(|_| TokenError::BadSignature)?;
        let payload = B64
            .decode(payload_b64)
            .map_err(|_| TokenError::Malformed("payload is not base64url"))?;
        let claims: C = serde_json::from_slice(&payload)
            .map_err(|e| TokenError::InvalidClaims(e.to_string()))?;
        if claims.version() != CLAIMS_VERSION {
            return Err(TokenError::UnsupportedVersion(claims.version()));
        }
        let (nbf, exp) = (claims.nbf(), claims.exp());
        if exp <= nbf || exp - nbf > MAX_LIFETIME_SECS {
            return Err(TokenError::BadLifetime);
        }
        if now.saturating_add(self.leeway_secs) < nbf {
            return Err(TokenError::NotYetValid);
        }
        let expired = now >= exp.saturating_add(self.leeway_secs);
        Ok((claims, expired))
    }
}
