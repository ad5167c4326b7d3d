//! TLS configuration: certificate files, or a self-signed certificate made on
//! first start.

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read or parsed.
    #[error("cannot load {what} from {path}: {detail}")]
    Load {
        /// "certificate" or "private key".
        what: &'static str,
        /// File.
        path: PathBuf,
        /// Cause.
        detail: String,
    },
    /// rustls refused the certificate/key pair (e.g. they do not match).
    #[error("certificate and key do not make a valid TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// A self-signed certificate could not be generated.
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
    /// Writing the generated files failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// Paths of a PEM certificate chain and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The certificate chain and key of these files, checked to match, ready
/// for the listener (TLS 1.2 and 1.3 with the ring provider, HTTP/1.1 over
/// ALPN only: WebSockets need HTTP/1.1).
pub fn load_identity(files: &TlsFiles) -> Result<Arc<CertifiedKey>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Load {
            what: "certificate",
            path: files.cert.clone(),
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Load {
            what: "certificate",
            path: files.cert.clone(),
            detail: "no certificate in file".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Load {
        what: "private key",
        path: files.key.clone(),
        detail: e.to_string(),
    })?;
    let provider = rustls::crypto::ring::default_provider();
    let certified = CertifiedKey::from_der(certs, key, &provider)?;
    certified.keys_match()?;
    Ok(Arc::new(certified))
}

/// Makes `dir/tls.crt` and `dir/tls.key` (self-signed, for `localhost`, the
/// host name and loopback addresses) unless they exist, and returns their paths.
pub fn ensure_self_signed(dir: &Path, extra_names: &[String]) -> Result<TlsFiles, TlsError> {
    let files = TlsFiles {
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
    };
    if files.cert.exists() && files.key.exists() {
        return Ok(files);
    }
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    for n in extra_names {
        if !n.is_empty() && !names.contains(n) {
            names.push(n.clone());
        }
    }
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(&files.key, certified.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&files.cert, certified.cert.pem()).map_err(|source| TlsError::Write {
        path: files.cert.clone(),
        source,
    })?;
    Ok(files)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| TlsError::Write {
            path: path.to_owned(),
            source,
        })?;
    f.write_all(bytes).map_err(|source| TlsError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_files_load_and_are_reused() {
        let dir = tempfile::tempdir().unwrap();
        let files = ensure_self_signed(dir.path(), &["oriel.test".into()]).unwrap();
        let first = std::fs::read(&files.cert).unwrap();
        assert!(load_identity(&files).is_ok());
        let again = ensure_self_signed(dir.path(), &[]).unwrap();
        assert_eq!(std::fs::read(&again.cert).unwrap(), first);
        let mode = std::fs::metadata(&files.key).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }

    #[test]
    fn missing_or_garbage_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            cert: dir.path().join("nope.crt"),
            key: dir.path().join("nope.key"),
        };
        let err = load_identity(&files).unwrap_err().to_string();
        assert!(err.contains("certificate"), "{err}");
        std::fs::write(&files.cert, "garbage").unwrap();
        assert!(load_identity(&files).is_err());
    }
}
