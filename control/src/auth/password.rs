//! Passwords: argon2id hashing and the password policy.

use super::CryptoError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use ring::rand::{SecureRandom as _, SystemRandom};
use zeroize::Zeroizing;

/// Passwords that are refused whatever their length (the most common ones
/// long enough to pass the length rule).
const COMMON: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "password1234",
    "passwordpassword",
    "qwertyuiopasdf",
    "qwertyuiop123",
    "iloveyou1234",
    "administrator",
    "administrator1",
    "changemechangeme",
    "letmeinletmein",
    "welcome12345",
    "password12345",
    "password123456",
    "000000000000",
    "111111111111",
    "abcdefghijkl",
    "abc123abc123",
    "trustno1trustno1",
];

/// Longest password accepted, bytes.
pub(crate) const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks a new password against the policy: at least `min_len` characters,
/// at most [`MAX_PASSWORD_BYTES`] bytes, not containing the user name, not a
/// well-known password nor one character repeated. The error is the reason,
/// for people.
pub(crate) fn check_policy(password: &str, username: &str, min_len: usize) -> Result<(), String> {
    if password.chars().count() < min_len {
        return Err(format!(
            "the password must have at least {min_len} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err("the password is too long (1024 bytes at most)".into());
    }
    let lower = password.to_lowercase();
    if !username.is_empty() && lower.contains(&username.to_lowercase()) {
        return Err("the password must not contain the user name".into());
    }
    if COMMON.contains(&lower.as_str())
        || lower
            .chars()
            .all(|c| c == lower.chars().next().unwrap_or(' '))
    {
        return Err("this password is too common".into());
    }
    Ok(())
}

/// Hashes a password with argon2id (default parameters: 19 MiB, 2 passes).
pub(crate) fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| argon2::password_hash::Error::Crypto)?;
    let salt = SaltString::encode_b64(&salt)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Checks a password against a PHC hash string.
pub(crate) fn verify_blocking(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Hashes on the blocking pool: argon2 takes tens of milliseconds of CPU.
pub(crate) async fn hash(password: &str) -> Result<String, CryptoError> {
    let password = Zeroizing::new(password.to_owned());
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| CryptoError(e.to_string()))?
        .map_err(|e| CryptoError(e.to_string()))
}

/// Verifies on the blocking pool.
pub(crate) async fn verify(password: &str, hash: String) -> Result<bool, CryptoError> {
    let password = Zeroizing::new(password.to_owned());
    tokio::task::spawn_blocking(move || verify_blocking(&password, &hash))
        .await
        .map_err(|e| CryptoError(e.to_string()))
}

/// Base64url of `n` random bytes.
pub(crate) fn random_token(n: usize) -> Result<Zeroizing<String>, CryptoError> {
    use base64::Engine as _;
    let mut bytes = Zeroizing::new(vec![0u8; n]);
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CryptoError("no system randomness".into()))?;
    Ok(Zeroizing::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&*bytes),
    ))
}

/// SHA-256 of a secret (login token, API token, recovery code), hex: what
/// the database stores.
pub(crate) fn secret_hash(secret: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_blocking("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_blocking("correct horse", &h));
        assert!(!verify_blocking("wrong", &h));
        assert!(!verify_blocking("x", "not a hash"));
        assert_ne!(hash_blocking("correct horse").unwrap(), h, "salted");
    }

    #[test]
    fn policy_refuses_short_common_and_name_based_passwords() {
        assert!(check_policy("correct horse battery", "alice", 12).is_ok());
        assert!(check_policy("short", "alice", 12).is_err());
        assert!(check_policy("alice-is-the-best", "alice", 12).is_err());
        assert!(check_policy("Password12345", "bob", 12).is_err());
        assert!(check_policy("aaaaaaaaaaaaaaaa", "bob", 12).is_err());
        assert!(check_policy(&"x".repeat(1025), "bob", 12).is_err());
    }

    #[test]
    fn tokens_are_long_distinct_and_hash_stably() {
        let a = random_token(32).unwrap();
        let b = random_token(32).unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(*a, *b);
        assert_eq!(secret_hash("abc").len(), 64);
        assert_eq!(secret_hash("abc"), secret_hash("abc"));
    }
}
