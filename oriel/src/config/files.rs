//! The files a role reads at start, checked before it starts (and by
//! `--check-config`): the TLS certificate and key parse and match, CA files
//! hold PEM certificates, key files hold 32-byte keys, secret files are
//! readable by their owner only. Every problem is collected under the key
//! that names the file; files the role makes itself on first start (its
//! own keys, the self-signed certificate) are only checked when present.

use super::Config;
use super::problems::Problems;
use crate::keys;
use std::path::Path;

impl Config {
    /// Checks every file the role would read at start; all problems at once.
    pub fn check_files(&self) -> Result<(), super::ConfigErrors> {
        let mut p = Problems::default();
        self.check_common(&mut p);
        #[cfg(feature = "gateway")]
        if self.role.runs_gateway() {
            self.check_gateway(&mut p);
        }
        #[cfg(feature = "control")]
        if self.role.runs_control() {
            self.check_control(&mut p);
        }
        #[cfg(feature = "agent")]
        if self.role == super::Role::Agent {
            self.check_agent(&mut p);
        }
        p.into_result(())
    }

    fn check_common(&self, p: &mut Problems) {
        if let Some(path) = &self.http.metrics_token_file
            && let Err(e) = super::general::read_metrics_token(path)
        {
            p.push("http.metrics_token_file", format!("{e:#}"));
        }
        let dir = &self.general.data_dir;
        if dir.exists() && !dir.is_dir() {
            p.push(
                "general.data_dir",
                format!("{} is not a directory", dir.display()),
            );
        }
        match &self.http.tls {
            super::Tls::Files(files) => {
                if let Err(e) = oriel_gateway_http::load_identity(files) {
                    p.push(
                        "http.tls_cert",
                        format!("the certificate and key do not load: {e}"),
                    );
                }
            }
            super::Tls::SelfSigned { .. } => {
                let files = self_signed_files(dir);
                if files.cert.exists()
                    && files.key.exists()
                    && let Err(e) = oriel_gateway_http::load_identity(&files)
                {
                    p.push(
                        "http.tls_cert",
                        format!(
                            "unset, and the self-signed certificate made earlier does not load: {e} (remove {} and {} to make new ones)",
                            files.cert.display(),
                            files.key.display()
                        ),
                    );
                }
            }
        }
    }

    #[cfg(feature = "gateway")]
    fn check_gateway(&self, p: &mut Problems) {
        let g = &self.gateway;
        if let Some(link) = &g.control {
            pem_certificates(p, link.ca_key, &link.ca);
        }
        for (i, path) in g.control_public_keys.iter().enumerate() {
            key32(p, &format!("gateway.control_public_keys[{i}]"), path);
        }
        let default = self.general.keys_dir().join("signing.pub");
        // Under `oriel up` the control plane of the process makes it.
        let must_exist = g.control.is_none() && self.role != super::Role::Up;
        if g.control_public_keys.is_empty()
            && (must_exist || default.exists())
            && let Err(e) = keys::read32(&default)
        {
            p.push(
                "gateway.control_public_keys",
                format!(
                    "unset, and the control plane's public key is not in the data directory ({e:#}): copy its signing.pub to {}, set gateway.control_public_keys, or set gateway.control_url to fetch it",
                    default.display()
                ),
            );
        }
    }

    #[cfg(feature = "control")]
    fn check_control(&self, p: &mut Problems) {
        let c = &self.control;
        let keys_dir = self.general.keys_dir();
        if let Some(ca) = &c.gateway_ca {
            pem_certificates(p, "control.gateway_ca", ca);
        }
        match &c.gateway_sealing_key {
            Some(path) => key32(p, "control.gateway_sealing_key", path),
            None => {
                let default = keys_dir.join("gateway-sealing.pub");
                // Under `oriel up` the gateway of the process makes it.
                if (self.role == super::Role::Control || default.exists())
                    && let Err(e) = keys::read32(&default)
                {
                    p.push(
                        "control.gateway_sealing_key",
                        format!(
                            "unset, and the gateway's public sealing key is not in the data directory ({e:#}): copy the gateway's gateway-sealing.pub to {} or set control.gateway_sealing_key",
                            default.display()
                        ),
                    );
                }
            }
        }
        for (i, path) in c.gateway_report_keys.iter().enumerate() {
            key32(p, &format!("control.gateway_report_keys[{i}]"), path);
        }
        for (i, path) in c.retired_public_keys.iter().enumerate() {
            key32(p, &format!("control.retired_public_keys[{i}]"), path);
        }
        let data_key = match &c.data_key_file {
            Some(path) => match keys::data_key(Some(path), &keys_dir, || {
                anyhow::bail!("never made: it is a file of control.data_key_file")
            }) {
                Ok(key) => Some(key),
                Err(e) => {
                    p.push("control.data_key_file", format!("{e:#}"));
                    None
                }
            },
            None => {
                let default = keys_dir.join("data.key");
                match default.exists().then(|| keys::read32(&default)) {
                    Some(Err(e)) => {
                        p.push("control.data_key_file", format!("unset, and {e:#}"));
                        None
                    }
                    Some(Ok(key)) => Some(key),
                    None => None,
                }
            }
        };
        if let Some(path) = &c.agent_join_token_file
            && let Err(e) = keys::read_private_token(path, "control.agent_join_token_file")
        {
            p.push("control.agent_join_token_file", format!("{e:#}"));
        }
        if let Some(o) = &c.oidc {
            self.check_oidc(o, data_key.as_deref(), p);
        }
    }

    /// The OIDC CA file and client secret file; with the data key at hand,
    /// the client secret is opened too.
    #[cfg(feature = "control")]
    fn check_oidc(&self, o: &super::control::Oidc, data_key: Option<&[u8; 32]>, p: &mut Problems) {
        use super::control::OidcSecret;
        if let Some(ca) = &o.ca_file {
            pem_certificates(p, "control.oidc.ca_file", ca);
        }
        if let OidcSecret::File(path) = &o.client_secret
            && let Err(e) = super::secrets::read_secret_file(path)
        {
            p.push("control.oidc.client_secret_file", format!("{e:#}"));
            return;
        }
        let Some(bytes) = data_key else { return };
        let opened = oriel_control_store::DataKey::from_bytes(bytes)
            .map_err(anyhow::Error::from)
            .and_then(|key| super::secrets::oidc_settings(o, &key));
        if let Err(e) = opened {
            p.push("control.oidc", format!("{e:#}"));
        }
    }

    #[cfg(feature = "agent")]
    fn check_agent(&self, p: &mut Problems) {
        use super::agent::JoinToken;
        let a = &self.agent;
        if let Some(link) = &a.control {
            pem_certificates(p, link.ca_key, &link.ca);
        }
        if let Some(JoinToken::File(path)) = &a.join_token {
            match std::fs::read_to_string(path) {
                Ok(text) if text.trim().is_empty() => p.push(
                    "agent.join_token_file",
                    format!("{} is empty", path.display()),
                ),
                Ok(_) => {}
                Err(e) => p.push(
                    "agent.join_token_file",
                    format!("cannot read {}: {e}", path.display()),
                ),
            }
        }
        if !a.docker_socket.exists() {
            p.push(
                "agent.docker_socket",
                format!(
                    "{} does not exist (is the Docker engine installed and running?)",
                    a.docker_socket.display()
                ),
            );
        }
    }
}

/// Where the self-signed certificate of a data directory is.
pub fn self_signed_files(data_dir: &Path) -> oriel_gateway_http::TlsFiles {
    let dir = data_dir.join("tls");
    oriel_gateway_http::TlsFiles {
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
    }
}

/// `path` holds at least one PEM certificate.
#[cfg(any(feature = "gateway", feature = "control"))]
fn pem_certificates(p: &mut Problems, key: &str, path: &Path) {
    match std::fs::read(path) {
        Err(e) => p.push(key, format!("cannot read {}: {e}", path.display())),
        Ok(bytes) => {
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject as _;
            let certs = CertificateDer::pem_slice_iter(&bytes)
                .filter(Result::is_ok)
                .count();
            if certs == 0 {
                p.push(key, format!("{} holds no PEM certificate", path.display()));
            }
        }
    }
}

/// `path` holds a 32-byte key in base64.
fn key32(p: &mut Problems, key: &str, path: &Path) {
    if let Err(e) = keys::read32(path) {
        p.push(key, format!("{e:#}"));
    }
}
