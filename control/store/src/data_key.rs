//! Encryption of secrets at rest (target credentials; later TOTP seeds and
//! the OIDC client secret): ChaCha20-Poly1305 with a random nonce per value
//! and the row id as associated data, so a ciphertext copied into another
//! row does not decrypt.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};
use zeroize::Zeroizing;

/// Why a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataKeyError {
    /// The key is not 32 bytes.
    #[error("data key must be 32 bytes")]
    BadKey,
    /// No randomness.
    #[error("no randomness available")]
    Random,
    /// Not base64, too short, or does not authenticate with this key and id.
    #[error("stored secret does not decrypt with this data key")]
    Open,
}

/// The key for secrets at rest.
pub struct DataKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl DataKey {
    /// A key from 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DataKeyError> {
        let unbound =
            UnboundKey::new(&CHACHA20_POLY1305, bytes).map_err(|_| DataKeyError::BadKey)?;
        Ok(DataKey {
            key: LessSafeKey::new(unbound),
        })
    }

    /// 32 fresh random bytes for a new key.
    pub fn generate_bytes() -> Result<Zeroizing<[u8; 32]>, DataKeyError> {
        let mut b = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(b.as_mut())
            .map_err(|_| DataKeyError::Random)?;
        Ok(b)
    }

    /// Encrypts `plain` for the row `id`; base64 of nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, plain: &[u8], id: &str) -> Result<String, DataKeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| DataKeyError::Random)?;
        let mut body = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(id.as_bytes()),
                &mut body,
            )
            .map_err(|_| DataKeyError::Open)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&body);
        Ok(B64.encode(out))
    }

    /// Decrypts what [`Self::seal`] made for the row `id`.
    pub fn open(&self, sealed: &str, id: &str) -> Result<Zeroizing<Vec<u8>>, DataKeyError> {
        let raw = B64.decode(sealed).map_err(|_| DataKeyError::Open)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(DataKeyError::Open);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&raw[..NONCE_LEN]);
        let mut body = Zeroizing::new(raw[NONCE_LEN..].to_vec());
        let len = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(id.as_bytes()),
                &mut body,
            )
            .map_err(|_| DataKeyError::Open)?
            .len();
        body.truncate(len);
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_are_bound_to_their_row() {
        let key = DataKey::from_bytes(DataKey::generate_bytes().unwrap().as_ref()).unwrap();
        let sealed = key.seal(b"hunter2", "ws-1").unwrap();
        assert!(!sealed.contains("hunter2"));
        assert_eq!(key.open(&sealed, "ws-1").unwrap().as_slice(), b"hunter2");
        assert_eq!(key.open(&sealed, "ws-2").unwrap_err(), DataKeyError::Open);
        let other = DataKey::from_bytes(&[7; 32]).unwrap();
        assert_eq!(other.open(&sealed, "ws-1").unwrap_err(), DataKeyError::Open);
        assert_ne!(
            key.seal(b"hunter2", "ws-1").unwrap(),
            sealed,
            "nonces differ"
        );
        assert!(DataKey::from_bytes(&[0; 31]).is_err());
    }
}
