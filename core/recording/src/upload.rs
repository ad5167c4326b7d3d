//! What a stand-alone gateway signs when it uploads a finished recording
//! to the control plane (`POST /api/v1/gateway/recordings`,
//! `docs/recording.md`): the file's name, its SHA-256 and the time, with
//! the key its reports and checkpoints are signed with.

/// Signature domain of an upload ([`oriel_core_token::TokenSigner::sign_bytes`]).
pub const UPLOAD_DOMAIN: &str = "oriel-recording-upload-1";

/// Headers of an upload: the signing key's id, the time of signing (Unix
/// s), the file's SHA-256 and the Ed25519 signature (both lowercase hex).
pub const UPLOAD_HEADERS: [&str; 4] = [
    "x-oriel-key-id",
    "x-oriel-signed-at",
    "x-oriel-sha256",
    "x-oriel-signature",
];

/// How far the signing time may be from the control plane's clock, seconds.
pub const UPLOAD_SKEW_SECS: u64 = 300;

/// The bytes signed: `file_name ‖ 0 ‖ sha256 (hex) ‖ 0 ‖ time (decimal)`.
pub fn upload_signed_bytes(file_name: &str, sha256: &str, time_s: u64) -> Vec<u8> {
    format!("{file_name}\0{sha256}\0{time_s}").into_bytes()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of lowercase or uppercase hex; `None` when not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(unhex("00AB10"), Some(vec![0, 0xab, 0x10]));
        for bad in ["0", "zz", "+1", "é1"] {
            assert_eq!(unhex(bad), None, "{bad}");
        }
        assert_eq!(
            upload_signed_bytes("1.orec", "ab", 7),
            b"1.orec\0ab\x007".to_vec()
        );
    }
}
