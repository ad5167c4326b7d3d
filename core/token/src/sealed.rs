//! Credentials sealed to a gateway's X25519 key (an ECIES construction).
//!
//! `seal`: a fresh ephemeral X25519 key agrees a secret with the gateway's
//! public key; HKDF-SHA256 (salt = ephemeral public ‖ recipient public) turns
//! it into a one-time ChaCha20-Poly1305 key; the associated data binds the
//! box to its session. Output: base64url of `0x01 ‖ ephemeral public (32) ‖
//! ciphertext ‖ tag (16)`. Only the holder of the gateway's private key can
//! open it; the control plane cannot even read back what it sealed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, KeyType, Salt};
use ring::rand::{SecureRandom as _, SystemRandom};
use serde::{Deserialize, Serialize};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

const VERSION: u8 = 1;
const INFO: &[u8] = b"oriel sealed credentials v1";
/// Largest sealed box accepted (sealed credentials are small).
pub const MAX_SEALED_LEN: usize = 4096;

/// Why a box could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// Not base64url, too short, too long or of an unknown version.
    #[error("malformed sealed box")]
    Malformed,
    /// Wrong key, tampered box or wrong associated data.
    #[error("sealed box does not open with this key")]
    Open,
    /// The system gave no randomness.
    #[error("no randomness available")]
    Random,
    /// The content is not credentials.
    #[error("sealed content is not valid credentials")]
    Content,
}

/// A gateway's public sealing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealingPublicKey(pub [u8; 32]);

/// A gateway's private sealing key.
pub struct SealingKey {
    secret: StaticSecret,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingKey")
            .field("public", &self.public_key())
            .finish_non_exhaustive()
    }
}

fn random32() -> Result<Zeroizing<[u8; 32]>, SealError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    SystemRandom::new()
        .fill(bytes.as_mut())
        .map_err(|_| SealError::Random)?;
    Ok(bytes)
}

struct Len32;
impl KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

fn box_key(
    shared: &[u8; 32],
    eph: &[u8; 32],
    recipient: &[u8; 32],
) -> Result<LessSafeKey, SealError> {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(eph);
    salt[32..].copy_from_slice(recipient);
    let prk = Salt::new(HKDF_SHA256, &salt).extract(shared);
    let mut key = Zeroizing::new([0u8; 32]);
    prk.expand(&[INFO], Len32)
        .and_then(|okm| okm.fill(key.as_mut()))
        .map_err(|_| SealError::Open)?;
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, key.as_ref()).map_err(|_| SealError::Open)?;
    Ok(LessSafeKey::new(unbound))
}

impl SealingKey {
    /// A key from its 32 secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SealingKey {
            secret: StaticSecret::from(bytes),
        }
    }

    /// A fresh random key.
    pub fn generate() -> Result<Self, SealError> {
        Ok(Self::from_bytes(*random32()?))
    }

    /// The secret bytes, for storing the key.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// The public half, for whoever seals.
    pub fn public_key(&self) -> SealingPublicKey {
        SealingPublicKey(PublicKey::from(&self.secret).to_bytes())
    }

    /// Opens a box sealed to this key with associated data `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if sealed.len() > MAX_SEALED_LEN {
            return Err(SealError::Malformed);
        }
        let raw = B64.decode(sealed).map_err(|_| SealError::Malformed)?;
        if raw.len() < 1 + 32 + 16 || raw[0] != VERSION {
            return Err(SealError::Malformed);
        }
        let mut eph = [0u8; 32];
        eph.copy_from_slice(&raw[1..33]);
        let shared = Zeroizing::new(self.secret.diffie_hellman(&PublicKey::from(eph)).to_bytes());
        let key = box_key(&shared, &eph, &self.public_key().0)?;
        let mut body = Zeroizing::new(raw[33..].to_vec());
        let plain_len = key
            .open_in_place(
                Nonce::assume_unique_for_key([0; 12]),
                Aad::from(aad),
                &mut body,
            )
            .map_err(|_| SealError::Open)?
            .len();
        body.truncate(plain_len);
        Ok(body)
    }
}

impl SealingPublicKey {
    /// Seals `plaintext` so only the holder of the private key can read it.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, SealError> {
        let eph_secret = StaticSecret::from(*random32()?);
        let eph_public = PublicKey::from(&eph_secret).to_bytes();
        let shared = Zeroizing::new(
            eph_secret
                .diffie_hellman(&PublicKey::from(self.0))
                .to_bytes(),
        );
        let key = box_key(&shared, &eph_public, &self.0)?;
        let mut body = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::from(aad),
            &mut body,
        )
        .map_err(|_| SealError::Open)?;
        let mut raw = Vec::with_capacity(1 + 32 + body.len());
        raw.push(VERSION);
        raw.extend_from_slice(&eph_public);
        raw.extend_from_slice(&body);
        body.zeroize();
        Ok(B64.encode(raw))
    }
}

/// Credentials for a target. `Debug` never shows the secret; the memory is
/// wiped on drop.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(description = "Write-only: stored encrypted, never returned.")
)]
pub struct Credentials {
    /// User name, if the target needs one (VNC does not); at most 256 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 256))]
    pub username: Option<String>,
    /// Password; at most 1024 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 1024))]
    pub password: Option<String>,
    /// OpenSSH or PEM private key (ssh), at most 16384 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 16384))]
    pub private_key: Option<String>,
    /// Windows domain (rdp), at most 256 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 256))]
    pub domain: Option<String>,
}

impl Drop for Credentials {
    fn drop(&mut self) {
        if let Some(p) = self.password.as_mut() {
            p.zeroize();
        }
        if let Some(k) = self.private_key.as_mut() {
            k.zeroize();
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field(
                "private_key",
                &self.private_key.as_ref().map(|_| "<redacted>"),
            )
            .field("domain", &self.domain)
            .finish()
    }
}

impl Credentials {
    /// Seals these credentials for a session (`aad` = the session id).
    pub fn seal(&self, to: &SealingPublicKey, session_id: &str) -> Result<String, SealError> {
        let json = Zeroizing::new(serde_json::to_vec(self).map_err(|_| SealError::Content)?);
        to.seal(&json, session_id.as_bytes())
    }

    /// Opens credentials sealed for `session_id`.
    pub fn open(key: &SealingKey, sealed: &str, session_id: &str) -> Result<Self, SealError> {
        let json = key.open(sealed, session_id.as_bytes())?;
        serde_json::from_slice(&json).map_err(|_| SealError::Content)
    }
}
