//! The target's identity: the TLS upgrade of the RDP connection
//! ([MS-RDPBCGR] 5.4.5.1, Enhanced RDP Security) and the check of the server
//! certificate against a pinned fingerprint or trust on first use.
//!
//! RDP servers nearly always present self-signed certificates, so there is no
//! chain to a root to check. Instead the certificate's key is compared with the
//! one recorded for the workspace: `SHA256:` + unpadded base64 of the SHA-256
//! of the SubjectPublicKeyInfo DER (the format OpenSSH prints for host keys).
//! The handshake signatures are still verified, so a peer that merely replays
//! a pinned certificate without its private key cannot complete the handshake.
//!
//! [MS-RDPBCGR]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use oriel_core_model::{SessionError, SessionErrorKind};
use oriel_protocols_session::TargetTrust;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use x509_parser::prelude::{FromDer as _, X509Certificate};

/// What the target's certificate says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerIdentity {
    /// `SHA256:<base64>` of the SubjectPublicKeyInfo.
    pub fingerprint: String,
    /// The `subjectPublicKey` bit string's bytes, which CredSSP binds the
    /// authentication to ([MS-CSSP] 3.1.5).
    ///
    /// [MS-CSSP]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-cssp/
    pub public_key: Vec<u8>,
}

impl ServerIdentity {
    /// Parses a DER certificate.
    pub fn from_certificate(der: &[u8]) -> Result<Self, SessionError> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| {
            SessionError::new(
                SessionErrorKind::TargetIdentity,
                format!("the target's tls certificate cannot be parsed: {e}"),
            )
        })?;
        let spki = &cert.tbs_certificate.subject_pki;
        Ok(ServerIdentity {
            fingerprint: fingerprint(spki.raw),
            public_key: spki.subject_public_key.data.to_vec(),
        })
    }
}

/// `SHA256:` + unpadded standard base64 of the SHA-256 of `spki_der`.
pub fn fingerprint(spki_der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, spki_der);
    format!("SHA256:{}", STANDARD_NO_PAD.encode(digest.as_ref()))
}

/// Checks an identity against the workspace's trust setting.
pub fn check_trust(identity: &ServerIdentity, trust: &TargetTrust) -> Result<(), SessionError> {
    match trust {
        TargetTrust::Pinned(expected) if normalize(expected) == identity.fingerprint => Ok(()),
        TargetTrust::Pinned(expected) => Err(SessionError::new(
            SessionErrorKind::TargetIdentity,
            format!(
                "the target's tls certificate key is {} but {} is recorded for this workspace; \
                 refusing to connect (the server was reinstalled, or someone is intercepting)",
                identity.fingerprint,
                expected.trim()
            ),
        )),
        TargetTrust::FirstUse => Ok(()),
        // RDP always has a certificate: treating "not applicable" as "anything goes"
        // would silently ignore it, so it is refused like a mismatch.
        TargetTrust::NotApplicable => Err(SessionError::new(
            SessionErrorKind::TargetIdentity,
            "an rdp target always presents a tls certificate: pin its fingerprint or allow first use",
        )),
    }
}

/// Accepts `SHA256:` in any case and tolerates base64 padding in a pin.
fn normalize(pin: &str) -> String {
    let pin = pin.trim();
    let body = match pin.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("sha256:") => &pin[7..],
        _ => pin,
    };
    format!("SHA256:{}", body.trim_end_matches('='))
}

/// Records the certificate the server presents; chain and name are not
/// checked (see the module docs), handshake signatures are.
#[derive(Debug)]
struct RecordingVerifier {
    provider: Arc<CryptoProvider>,
    seen: Mutex<Option<Vec<u8>>>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(end_entity.as_ref().to_vec());
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Runs the TLS handshake on `stream`, then checks the server's certificate
/// against `trust`. Nothing but the handshake has been sent when this fails.
pub async fn upgrade<S>(
    stream: S,
    host: &str,
    trust: &TargetTrust,
) -> Result<(TlsStream<S>, ServerIdentity), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(RecordingVerifier {
        provider: Arc::clone(&provider),
        seen: Mutex::new(None),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| SessionError::new(SessionErrorKind::Internal, format!("tls setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone() as Arc<dyn ServerCertVerifier>)
        .with_no_client_auth();
    // CredSSP binds to this connection's key; a resumed session would skip
    // the certificate, so never resume.
    config.resumption = rustls::client::Resumption::disabled();
    // The name only goes into SNI; an address or odd name gets a placeholder.
    let name = ServerName::try_from(host.to_owned())
        .or_else(|_| ServerName::try_from("rdp.invalid"))
        .map_err(|e| SessionError::new(SessionErrorKind::Internal, format!("tls name: {e}")))?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
        .map_err(|e| {
            let kind = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                SessionErrorKind::TargetClosed
            } else {
                SessionErrorKind::TargetProtocol
            };
            SessionError::new(kind, format!("tls handshake with the target failed: {e}"))
        })?;
    let der = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|c| c.as_ref().to_vec())
        .or_else(|| verifier.seen.lock().ok().and_then(|s| s.clone()))
        .ok_or_else(|| {
            SessionError::new(
                SessionErrorKind::TargetIdentity,
                "the target presented no tls certificate",
            )
        })?;
    let identity = ServerIdentity::from_certificate(&der)?;
    check_trust(&identity, trust)?;
    Ok((tls, identity))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(fp: &str) -> ServerIdentity {
        ServerIdentity {
            fingerprint: fp.to_owned(),
            public_key: Vec::new(),
        }
    }

    #[test]
    fn fingerprints_are_openssh_style() {
        // SHA-256 of the empty input, unpadded standard base64.
        assert_eq!(
            fingerprint(b""),
            "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }

    #[test]
    fn pins_are_compared_after_normalising() {
        let id = identity("SHA256:abc");
        assert!(check_trust(&id, &TargetTrust::Pinned("SHA256:abc".into())).is_ok());
        assert!(check_trust(&id, &TargetTrust::Pinned(" sha256:abc= ".into())).is_ok());
        assert!(check_trust(&id, &TargetTrust::FirstUse).is_ok());
        let err = check_trust(&id, &TargetTrust::Pinned("SHA256:abd".into())).unwrap_err();
        assert_eq!(err.kind, SessionErrorKind::TargetIdentity);
        assert!(err.detail.contains("SHA256:abc") && err.detail.contains("SHA256:abd"));
        let err = check_trust(&id, &TargetTrust::NotApplicable).unwrap_err();
        assert_eq!(err.kind, SessionErrorKind::TargetIdentity);
    }

    #[test]
    fn garbage_certificates_are_identity_errors() {
        let err = ServerIdentity::from_certificate(&[0x30, 0x03, 0x02, 0x01]).unwrap_err();
        assert_eq!(err.kind, SessionErrorKind::TargetIdentity);
    }
}
