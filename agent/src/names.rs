//! Session ids, resource names and per-session secrets.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};

/// An id that cannot be used in Docker names, labels or firewall comments.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid {what} {value:?}: use 1 to 64 of [A-Za-z0-9_.-], starting with a letter or digit")]
pub struct InvalidName {
    what: &'static str,
    value: String,
}

pub(crate) fn validate(what: &'static str, value: &str) -> Result<(), InvalidName> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(InvalidName {
            what,
            value: value.to_owned(),
        })
    }
}

/// A session's id as the control plane names it; safe in container and
/// network names and firewall rule comments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(String);

impl SessionId {
    /// Checks the id: 1 to 64 of `[A-Za-z0-9_.-]`, starting alphanumeric.
    pub fn new(id: impl Into<String>) -> Result<SessionId, InvalidName> {
        let id = id.into();
        validate("session id", &id)?;
        Ok(SessionId(id))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // SystemRandom only fails if the OS has no random source at all; the
    // bytes stay zero then, which still yields a valid name (a clash makes
    // the network creation fail cleanly), and the password refuses that case.
    let _ = SystemRandom::new().fill(&mut buf);
    buf
}

/// A Linux interface name for a session bridge: `orl` and 12 hex digits (15
/// characters, the kernel's limit).
pub(crate) fn bridge_name() -> String {
    let bytes: [u8; 6] = random_bytes();
    let mut s = String::from("orl");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/// An 8-character VNC password (VncAuth uses at most 8 bytes) from the OS
/// random source, without bias; `None` if the OS has no random source.
pub(crate) fn vnc_password() -> Option<String> {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(8);
    let limit = 256 - (256 % PASSWORD_ALPHABET.len());
    while out.len() < 8 {
        let mut b = [0u8; 16];
        rng.fill(&mut b).ok()?;
        for &x in &b {
            if (x as usize) < limit && out.len() < 8 {
                out.push(PASSWORD_ALPHABET[x as usize % PASSWORD_ALPHABET.len()] as char);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_checked() {
        assert!(SessionId::new("s-1_a.b").is_ok());
        for bad in ["", "-x", "a b", "a/b", "a\"b", &"x".repeat(65)] {
            assert!(SessionId::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bridge_names_fit_the_kernel_limit() {
        let a = bridge_name();
        assert_eq!(a.len(), 15);
        assert_ne!(a, bridge_name());
    }

    #[test]
    fn passwords_are_eight_random_characters() {
        let a = vnc_password().unwrap();
        assert_eq!(a.len(), 8);
        assert!(a.bytes().all(|c| PASSWORD_ALPHABET.contains(&c)));
        assert_ne!(Some(a), vnc_password());
    }
}
