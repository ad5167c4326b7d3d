//! Encryption of secrets at rest (target credentials; later TOTP seeds and
//! the OIDC client secret) and, where configured, of stored recordings:
//! ChaCha20-Poly1305 with a random nonce per value and the row id as
//! associated data, so a ciphertext copied into another row does not
//! decrypt.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};
use std::sync::Arc;
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

/// The key for secrets at rest (cloned cheaply, to encrypt off the
/// async runtime).
#[derive(Clone)]
pub struct DataKey {
    key: Arc<LessSafeKey>,
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
            key: Arc::new(LessSafeKey::new(unbound)),
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
        Ok(B64.encode(self.seal_bytes(plain.to_vec(), id.as_bytes())?))
    }

    /// Decrypts what [`Self::seal`] made for the row `id`.
    pub fn open(&self, sealed: &str, id: &str) -> Result<Zeroizing<Vec<u8>>, DataKeyError> {
        let raw = B64.decode(sealed).map_err(|_| DataKeyError::Open)?;
        Ok(Zeroizing::new(self.open_bytes(raw, id.as_bytes())?))
    }

    /// Encrypts `plain` (in place, for large values such as recording
    /// files) bound to `aad`: nonce ‖ ciphertext ‖ tag.
    pub fn seal_bytes(&self, mut plain: Vec<u8>, aad: &[u8]) -> Result<Vec<u8>, DataKeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| DataKeyError::Random)?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut plain,
            )
            .map_err(|_| DataKeyError::Open)?;
        drop(plain.splice(0..0, nonce));
        Ok(plain)
    }

    /// Decrypts what [`Self::seal_bytes`] made for `aad`, in place.
    pub fn open_bytes(&self, mut sealed: Vec<u8>, aad: &[u8]) -> Result<Vec<u8>, DataKeyError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(DataKeyError::Open);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[..NONCE_LEN]);
        let len = self
            .key
            .open_within(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut sealed,
                NONCE_LEN..,
            )
            .map_err(|_| DataKeyError::Open)?
            .len();
        sealed.truncate(len);
        Ok(sealed)
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

    #[test]
    fn bytes_round_trip_bound_to_their_aad_and_any_change_is_refused() {
        let key = DataKey::from_bytes(&[9; 32]).unwrap();
        let plain: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let sealed = key.seal_bytes(plain.clone(), b"rec-1").unwrap();
        assert_eq!(sealed.len(), plain.len() + NONCE_LEN + 16);
        assert!(
            !sealed
                .windows(64)
                .any(|w| plain.windows(64).next() == Some(w))
        );
        assert_eq!(key.open_bytes(sealed.clone(), b"rec-1").unwrap(), plain);
        assert_eq!(
            key.open_bytes(sealed.clone(), b"rec-2"),
            Err(DataKeyError::Open)
        );
        for at in [0, NONCE_LEN, sealed.len() / 2, sealed.len() - 1] {
            let mut changed = sealed.clone();
            changed[at] ^= 1;
            assert_eq!(
                key.open_bytes(changed, b"rec-1"),
                Err(DataKeyError::Open),
                "{at}"
            );
        }
        for len in [0, NONCE_LEN + 15, sealed.len() - 1] {
            assert_eq!(
                key.open_bytes(sealed[..len].to_vec(), b"rec-1"),
                Err(DataKeyError::Open),
                "{len}"
            );
        }
        assert_eq!(
            key.open_bytes(key.seal_bytes(Vec::new(), b"").unwrap(), b"")
                .unwrap(),
            Vec::<u8>::new()
        );
    }
}
