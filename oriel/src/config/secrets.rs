//! Secrets in the configuration: values sealed with the installation's
//! data key (`oriel seal-secret` prints `sealed:…`), bound to the key they
//! are for, and the OIDC client secret opened into the control plane's
//! [`OidcSettings`]. Secret values never appear in messages.

use super::control::{Oidc, OidcSecret};
use anyhow::bail;
use oriel_control::OidcSettings;
use oriel_control_store::DataKey;
use std::path::Path;
use zeroize::Zeroizing;

/// Prefix of values sealed with the data key (`oriel seal-secret`).
pub const SEALED_PREFIX: &str = "sealed:";

/// Configuration keys whose values may be sealed (the key name is bound
/// into the ciphertext: a value sealed for one key opens for no other).
pub const SEALED_KEYS: &[&str] = &["control.oidc.client_secret"];

const CLIENT_SECRET: &str = "control.oidc.client_secret";

/// Seals `plain` with the data key for the configuration key `key`.
pub fn seal_secret(plain: &str, key: &str, data: &DataKey) -> anyhow::Result<String> {
    Ok(format!(
        "{SEALED_PREFIX}{}",
        data.seal(plain.as_bytes(), &format!("config:{key}"))?
    ))
}

/// Opens a `sealed:…` value of the configuration key `key`.
pub fn open_secret(value: &str, key: &str, data: &DataKey) -> anyhow::Result<Zeroizing<String>> {
    let Some(sealed) = value.trim().strip_prefix(SEALED_PREFIX) else {
        bail!(
            "{key} must be sealed (`oriel seal-secret` prints sealed:…); plain-text secrets are refused"
        );
    };
    let plain = data.open(sealed, &format!("config:{key}")).map_err(|_| {
        anyhow::anyhow!(
            "{key} does not open with this installation's data key (sealed elsewhere, or for another key?)"
        )
    })?;
    let text = String::from_utf8(plain.to_vec())
        .map_err(|_| anyhow::anyhow!("{key} is not UTF-8 once opened"))?;
    Ok(Zeroizing::new(text))
}

/// What `control.oidc.client_secret_file` holds: a sealed value, or a
/// plain secret in a file only its owner can read (refused otherwise).
pub enum SecretFile {
    Sealed(Zeroizing<String>),
    Plain(Zeroizing<String>),
}

/// Reads `control.oidc.client_secret_file` and checks it as far as can be
/// done without the data key.
pub fn read_secret_file(path: &Path) -> anyhow::Result<SecretFile> {
    use anyhow::Context as _;
    use std::os::unix::fs::PermissionsExt as _;
    let text = Zeroizing::new(std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read control.oidc.client_secret_file {}",
            path.display()
        )
    })?);
    let value = text.trim_end_matches(['\r', '\n']);
    if value.trim_start().starts_with(SEALED_PREFIX) {
        return Ok(SecretFile::Sealed(Zeroizing::new(value.to_owned())));
    }
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "control.oidc.client_secret_file {} holds a plain secret and others may read it (mode {:o}): chmod 600 it, or put a sealed value in it",
            path.display(),
            mode & 0o777
        );
    }
    if value.is_empty() {
        bail!(
            "control.oidc.client_secret_file {} is empty",
            path.display()
        );
    }
    Ok(SecretFile::Plain(Zeroizing::new(value.to_owned())))
}

/// The client secret of `[control.oidc]`, opened.
fn client_secret(secret: &OidcSecret, data: &DataKey) -> anyhow::Result<Zeroizing<String>> {
    match secret {
        OidcSecret::Sealed(value) => open_secret(value, CLIENT_SECRET, data),
        OidcSecret::File(path) => match read_secret_file(path)? {
            SecretFile::Sealed(value) => open_secret(&value, CLIENT_SECRET, data),
            SecretFile::Plain(value) => Ok(value),
        },
    }
}

/// The control plane's single sign-on settings: the secret opened, the CA
/// file read, then checked by the control plane itself.
pub fn oidc_settings(o: &Oidc, data: &DataKey) -> anyhow::Result<OidcSettings> {
    use anyhow::Context as _;
    let ca_pem = match &o.ca_file {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("cannot read control.oidc.ca_file {}", path.display()))?,
        None => Vec::new(),
    };
    let settings = OidcSettings {
        issuer: o.issuer.clone(),
        client_id: o.client_id.clone(),
        client_secret: client_secret(&o.client_secret, data)?,
        display_name: o.display_name.clone(),
        scopes: o.scopes.clone(),
        username_claim: o.username_claim.clone(),
        groups_claim: o.groups_claim.clone(),
        admin_groups: o.admin_groups.clone(),
        auditor_groups: o.auditor_groups.clone(),
        clock_skew: o.clock_skew,
        ca_pem,
    };
    settings
        .validate()
        .map_err(|e| anyhow::anyhow!("control.oidc: {e}"))?;
    Ok(settings)
}
