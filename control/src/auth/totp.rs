//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 6 digits, 30 s
//! steps) and their enrolment QR code, on ring and qrcodegen.

use ring::hmac;

/// Seconds per step.
pub(crate) const STEP: u64 = 30;
/// Steps of clock skew accepted either way.
pub(crate) const SKEW: u64 = 1;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding (what authenticator apps expect).
pub(crate) fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The code for a secret at counter `counter` (RFC 4226 HOTP).
pub(crate) fn hotp(secret: &[u8], counter: u64) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let h = tag.as_ref();
    let offset = (h[h.len() - 1] & 0x0f) as usize;
    let bin = (u32::from(h[offset]) & 0x7f) << 24
        | u32::from(h[offset + 1]) << 16
        | u32::from(h[offset + 2]) << 8
        | u32::from(h[offset + 3]);
    bin % 1_000_000
}

/// Checks a 6-digit code at Unix time `now`, accepting [`SKEW`] steps either way.
/// Returns the matching step (to refuse its reuse).
pub(crate) fn verify(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let want: u32 = code.parse().ok()?;
    let step = now / STEP;
    (step.saturating_sub(SKEW)..=step + SKEW).find(|&s| {
        // Constant-time enough: one comparison per candidate step, all of them tried.
        hotp(secret, s) == want
    })
}

/// The `otpauth://` URI authenticator apps read from the QR code.
pub(crate) fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period={STEP}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

/// The QR code of `text` as a standalone SVG (black modules on white, with
/// the 4-module quiet zone).
pub(crate) fn qr_svg(text: &str) -> Option<String> {
    let qr = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium).ok()?;
    let size = qr.size();
    let border = 4;
    let dim = size + 2 * border;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\" shape-rendering=\"crispEdges\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_test_vectors() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890" (8-digit
        // codes there; the last 6 digits are the 6-digit codes).
        let secret = b"12345678901234567890";
        for (time, code8) in [
            (59u64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
        ] {
            assert_eq!(hotp(secret, time / STEP), code8 % 1_000_000, "t={time}");
        }
    }

    #[test]
    fn codes_verify_within_the_skew_only() {
        let secret = b"0123456789abcdef0123";
        let now = 1_800_000_000;
        let code = format!("{:06}", hotp(secret, now / STEP));
        assert_eq!(verify(secret, &code, now), Some(now / STEP));
        assert!(
            verify(secret, &code, now + STEP).is_some(),
            "one step late is fine"
        );
        assert!(verify(secret, &code, now + 3 * STEP).is_none());
        assert!(verify(secret, "12345", now).is_none());
        assert!(verify(secret, "abcdef", now).is_none());
    }

    #[test]
    fn base32_and_uri_and_qr() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        let uri = otpauth_uri(b"foobar", "Oriel", "alice@example");
        assert!(
            uri.starts_with("otpauth://totp/Oriel:alice%40example?secret=MZXW6YTBOI"),
            "{uri}"
        );
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<path"));
    }
}
