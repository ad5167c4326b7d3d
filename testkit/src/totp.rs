//! Time-based one-time passwords for tests that log in with a second factor
//! (RFC 6238: HMAC-SHA1, 6 digits, 30 s steps, on RFC 4226 HOTP), and the
//! RFC 4648 base32 that authenticator apps are given the secret in.
//!
//! Written independently of the control plane's implementation, so that a
//! test computing codes with it checks the server against the RFC rather
//! than against itself.

use anyhow::{Result, bail};
use ring::hmac;

/// Seconds per step.
pub const STEP_SECS: u64 = 30;

/// Decodes RFC 4648 base32 (upper or lower case; spaces, dashes and `=`
/// padding ignored), as shown next to an enrolment QR code.
pub fn base32_decode(text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for c in text.chars() {
        let value = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u32 - 'A' as u32,
            c @ '2'..='7' => c as u32 - '2' as u32 + 26,
            ' ' | '-' | '=' => continue,
            other => bail!("{other:?} is not a base32 character"),
        };
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// The RFC 4226 HOTP value of `secret` at `counter`, before the modulo.
fn truncated(secret: &[u8], counter: u64) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let h = tag.as_ref();
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    u32::from_be_bytes([
        h[offset] & 0x7f,
        h[offset + 1],
        h[offset + 2],
        h[offset + 3],
    ])
}

/// The 6-digit code of `secret` for step `step` (`unix_secs / 30`), zero-padded.
pub fn code_at_step(secret: &[u8], step: u64) -> String {
    format!("{:06}", truncated(secret, step) % 1_000_000)
}

/// The 6-digit code of `secret` at Unix time `unix_secs`.
pub fn code_at(secret: &[u8], unix_secs: u64) -> String {
    code_at_step(secret, unix_secs / STEP_SECS)
}

/// The step (`unix_secs / 30`) the clock is in now.
pub fn current_step() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        / STEP_SECS
}

/// The 6-digit code for step `step` of a base32 secret.
pub fn code_for_base32(secret_base32: &str, step: u64) -> Result<String> {
    Ok(code_at_step(&base32_decode(secret_base32)?, step))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows: the secret is the ASCII
    /// "12345678901234567890"; the table gives 8 digits, whose last 6 are
    /// the 6-digit code.
    #[test]
    fn totp_matches_the_rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, code8) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(secret, time), code8[2..], "T = {time}");
            let eight = truncated(secret, time / STEP_SECS) % 100_000_000;
            assert_eq!(format!("{eight:08}"), code8, "8 digits at T = {time}");
        }
    }

    /// RFC 4226 appendix D: HOTP of the same secret for counters 0–9.
    #[test]
    fn hotp_matches_the_rfc_4226_test_vectors() {
        let want = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in want.iter().enumerate() {
            assert_eq!(code_at_step(b"12345678901234567890", counter as u64), *code);
        }
    }

    #[test]
    fn base32_decodes_rfc_4648_vectors_and_enrolment_secrets() {
        // RFC 4648 section 10.
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY======"),
            ("fo", "MZXQ===="),
            ("foo", "MZXW6==="),
            ("foob", "MZXW6YQ="),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI======"),
        ] {
            assert_eq!(base32_decode(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base32_decode("mzxw 6ytb-oi").unwrap(), b"foobar");
        // The RFC 6238 secret as an app would be given it.
        assert_eq!(
            base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap(),
            b"12345678901234567890"
        );
        assert_eq!(
            code_for_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59 / 30).unwrap(),
            "287082"
        );
        assert!(base32_decode("MZ1W").is_err());
    }
}
