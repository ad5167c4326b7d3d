//! Key files in `<data_dir>/keys/` (base64, private ones mode 0600):
//!
//! | file | who needs it |
//! |---|---|
//! | `signing.key` / `signing.pub` | control plane signs tokens; gateways verify with the `.pub` |
//! | `gateway-sealing.key` / `.pub` | gateways open credentials; the control plane seals with the `.pub` |
//! | `gateway-signing.key` / `.pub` | gateways sign their reports; the control plane verifies with the `.pub` |
//! | `data.key` | control plane, secrets at rest (or `control.data_key_file`) |
//! | `agent-join.key` | control plane, the agents' join token (or `control.agent_join_token_file`) |
//!
//! Missing private keys are generated on first start; public keys of the
//! other role must be copied (or configured) when roles run apart.

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys")
}

fn write_file(path: &Path, contents: &str, mode: u32) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(contents.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a base64 file of exactly 32 bytes.
pub fn read32(path: &Path) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read key file {}", path.display()))?,
    );
    let bytes = Zeroizing::new(
        B64.decode(text.trim())
            .with_context(|| format!("{} is not base64", path.display()))?,
    );
    if bytes.len() != 32 {
        bail!(
            "{} must hold 32 bytes, holds {}",
            path.display(),
            bytes.len()
        );
    }
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&bytes);
    Ok(out)
}

#[cfg(feature = "control")]
/// The data key (secrets at rest): `control.data_key_file` when set (it
/// must exist and be readable by its owner only: it is never made here, so
/// several control planes can share one), else `<keys_dir>/data.key`, made
/// on first start.
pub fn data_key(
    data_key_file: Option<&Path>,
    keys_dir: &Path,
    generate: impl FnOnce() -> anyhow::Result<Zeroizing<[u8; 32]>>,
) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let Some(path) = data_key_file else {
        return load_or_create(keys_dir, "data", generate, |_| Ok(None));
    };
    let meta = std::fs::metadata(path).with_context(|| {
        format!(
            "control.data_key_file {}: cannot read it (make one with: (umask 077; head -c 32 /dev/urandom | base64 > {}))",
            path.display(),
            path.display()
        )
    })?;
    check_private(path, &meta, "control.data_key_file")?;
    read32(path).context("control.data_key_file")
}

/// Refuses a secret file others may read.
#[cfg(feature = "control")]
fn check_private(path: &Path, meta: &std::fs::Metadata, key: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "{key} {} may be read by others (mode {:o}): chmod 600 it",
            path.display(),
            mode & 0o777
        );
    }
    Ok(())
}

#[cfg(feature = "control")]
/// Reads a token file (a join token): private to its owner, at least 16
/// characters once trimmed. `key` names the configuration key in messages.
pub fn read_private_token(path: &Path, key: &str) -> anyhow::Result<Zeroizing<String>> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("{key}: cannot read {}", path.display()))?;
    check_private(path, &meta, key)?;
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("{key}: cannot read {}", path.display()))?,
    );
    let token = Zeroizing::new(text.trim().to_owned());
    if token.len() < 16 {
        bail!(
            "{key}: {} holds no token (at least 16 characters)",
            path.display()
        );
    }
    Ok(token)
}

/// Loads the private key `name.key` (and keeps `name.pub` beside it), making
/// both with `generate` when missing. `public` derives the public half.
pub fn load_or_create(
    keys_dir: &Path,
    name: &str,
    generate: impl FnOnce() -> anyhow::Result<Zeroizing<[u8; 32]>>,
    public: impl FnOnce(&[u8; 32]) -> anyhow::Result<Option<[u8; 32]>>,
) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    std::fs::create_dir_all(keys_dir)
        .with_context(|| format!("cannot create {}", keys_dir.display()))?;
    let private = keys_dir.join(format!("{name}.key"));
    let secret = if private.exists() {
        read32(&private)?
    } else {
        let secret = generate()?;
        write_file(
            &private,
            &format!("{}\n", B64.encode(secret.as_ref())),
            0o600,
        )?;
        tracing::info!(file = %private.display(), "generated a new key");
        secret
    };
    if let Some(pub_bytes) = public(&secret)? {
        let pub_path = keys_dir.join(format!("{name}.pub"));
        let text = format!("{}\n", B64.encode(pub_bytes));
        if std::fs::read_to_string(&pub_path).ok().as_deref() != Some(text.as_str()) {
            let _ = std::fs::remove_file(&pub_path);
            write_file(&pub_path, &text, 0o644)?;
        }
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_key_file_is_read_never_made_and_must_be_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let file = dir.path().join("shared.key");
        let never = || -> anyhow::Result<Zeroizing<[u8; 32]>> { panic!("must not generate") };
        let err = format!("{:#}", data_key(Some(&file), &keys, never).unwrap_err());
        assert!(err.contains("head -c 32"), "{err}");
        std::fs::write(&file, format!("{}\n", B64.encode([9u8; 32]))).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = format!("{:#}", data_key(Some(&file), &keys, never).unwrap_err());
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let key = data_key(Some(&file), &keys, never).unwrap();
        assert_eq!(*key, [9u8; 32]);
        assert!(!keys.join("data.key").exists());
        // Unset: made once in the keys directory, then reloaded.
        let made = data_key(None, &keys, || Ok(Zeroizing::new([3u8; 32]))).unwrap();
        assert_eq!(*made, [3u8; 32]);
        assert_eq!(*data_key(None, &keys, never).unwrap(), [3u8; 32]);
    }

    #[test]
    fn keys_are_created_once_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("keys");
        let a = load_or_create(
            &k,
            "test",
            || Ok(Zeroizing::new([7u8; 32])),
            |s| Ok(Some(*s)),
        )
        .unwrap();
        let b = load_or_create(
            &k,
            "test",
            || panic!("must not regenerate"),
            |s| Ok(Some(*s)),
        )
        .unwrap();
        assert_eq!(*a, *b);
        let mode = std::fs::metadata(k.join("test.key")).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        assert_eq!(*read32(&k.join("test.pub")).unwrap(), [7u8; 32]);
        std::fs::write(k.join("bad.key"), "AAAA").unwrap();
        assert!(format!("{:#}", read32(&k.join("bad.key")).unwrap_err()).contains("32 bytes"));
    }
}
