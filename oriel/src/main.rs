//! `oriel`: one binary for every role. `oriel up` runs the control plane and
//! the gateway in one process; `oriel control` and `oriel gateway` run one
//! each. Cargo features pick the roles compiled in (`control`, `gateway`).

mod cli;
mod config;
mod keys;
mod roles;
mod telemetry;

use clap::Parser as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    // One TLS provider for the whole process, installed before anything
    // builds a TLS configuration.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = cli::Cli::parse();
    let outcome = match cli.command {
        cli::Invocation::Role(command) => roles::run(command),
        cli::Invocation::SealSecret(args) => seal_secret(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oriel: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `oriel seal-secret`: the secret on stdin, sealed with the data key of the
/// data directory (made if missing), printed as `sealed:…` on stdout.
#[cfg(feature = "control")]
fn seal_secret(args: &cli::SealSecretArgs) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::Read as _;
    use std::os::unix::fs::DirBuilderExt as _;
    if !config::SEALED_KEYS.contains(&args.for_key.as_str()) {
        anyhow::bail!(
            "--for {:?}: sealed values are read only for {}",
            args.for_key,
            config::SEALED_KEYS.join(", ")
        );
    }
    // Only the data directory and the data key are read: the rest of the
    // configuration may still lack the secret being sealed.
    let loaded = config::RawConfig::load(args.config.as_deref())?;
    loaded.refused()?;
    let mut raw = loaded.raw;
    if let Some(dir) = &args.data_dir {
        raw.general.data_dir.clone_from(dir);
    }
    let data_dir = std::path::PathBuf::from(&raw.general.data_dir);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let data_key_file = (!raw.control.data_key_file.is_empty())
        .then(|| std::path::PathBuf::from(&raw.control.data_key_file));
    let key = keys::data_key(data_key_file.as_deref(), &keys::dir(&data_dir), || {
        Ok(oriel_control_store::DataKey::generate_bytes()?)
    })?;
    let key = oriel_control_store::DataKey::from_bytes(key.as_ref())?;
    let mut input = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut input)
        .context("cannot read the secret from standard input")?;
    let secret = input.strip_suffix('\n').unwrap_or(&input);
    let secret = secret.strip_suffix('\r').unwrap_or(secret);
    if secret.is_empty() {
        anyhow::bail!("no secret on standard input");
    }
    let sealed = config::seal_secret(secret, &args.for_key, &key)?;
    #[allow(clippy::print_stdout)]
    {
        println!("{sealed}");
    }
    Ok(())
}

#[cfg(not(feature = "control"))]
fn seal_secret(_args: &cli::SealSecretArgs) -> anyhow::Result<()> {
    anyhow::bail!("this build of oriel has no control plane (built without the `control` feature)")
}
