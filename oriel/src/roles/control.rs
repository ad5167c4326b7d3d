//! The control-plane role: keys, database, first admin. The settings come
//! typed from `crate::config` and are only wired here.

use super::Process;
use crate::config::{Config, oidc_settings, redact};
use crate::keys;
use anyhow::{Context as _, bail};
use oriel_control::{
    ControlKeys, ControlPlane, ControlSettings, GatewayLink, RecordingStoreSettings, RemoteGateways,
};
use oriel_control_store::{DataKey, Store};
use oriel_core_token::{SealingPublicKey, TokenSigner, TokenVerifier};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

fn signing_seed(config: &Config) -> anyhow::Result<zeroize::Zeroizing<[u8; 32]>> {
    keys::load_or_create(
        &config.general.keys_dir(),
        "signing",
        || Ok(TokenSigner::generate_seed()?),
        |s| Ok(Some(TokenSigner::from_seed(s)?.public_key())),
    )
}

fn data_key(config: &Config) -> anyhow::Result<zeroize::Zeroizing<[u8; 32]>> {
    keys::data_key(
        config.control.data_key_file.as_deref(),
        &config.general.keys_dir(),
        || Ok(DataKey::generate_bytes()?),
    )
}

/// Makes the control plane's own keys if missing (signing key, data key
/// and join token unless configured as files), before anything that may
/// stop a first start: an operator copies `signing.pub` meanwhile.
pub(super) fn ensure_keys(config: &Config) -> anyhow::Result<()> {
    signing_seed(config)?;
    if config.control.data_key_file.is_none() {
        data_key(config)?;
    }
    if config.control.agent_join_token_file.is_none() {
        join_token(config)?;
    }
    Ok(())
}

/// The control plane's keys. In `oriel up` (`same_process`) the gateway's
/// sealing key is made here too if missing; alone, its public half must be
/// provided.
pub(super) fn keys(config: &Config, same_process: bool) -> anyhow::Result<ControlKeys> {
    let dir = config.general.keys_dir();
    let signer = TokenSigner::from_seed(&*signing_seed(config)?)?;
    let data = data_key(config)?;
    let sealing_path = config
        .control
        .gateway_sealing_key
        .clone()
        .unwrap_or_else(|| dir.join("gateway-sealing.pub"));
    if same_process && !sealing_path.exists() {
        keys::load_or_create(
            &dir,
            "gateway-sealing",
            || Ok(oriel_core_token::SealingKey::generate()?.to_bytes()),
            |s| {
                Ok(Some(
                    oriel_core_token::SealingKey::from_bytes(*s).public_key().0,
                ))
            },
        )?;
    }
    let gateway_sealing = keys::read32(&sealing_path).with_context(|| {
        format!(
            "the control plane needs the gateway's public sealing key: copy the gateway's gateway-sealing.pub to {} or set control.gateway_sealing_key",
            sealing_path.display()
        )
    })?;
    let mut retired_public = Vec::new();
    for path in &config.control.retired_public_keys {
        retired_public.push(*keys::read32(path).with_context(|| {
            format!(
                "control.retired_public_keys: cannot read {}",
                path.display()
            )
        })?);
    }
    Ok(ControlKeys {
        signer,
        gateway_sealing: SealingPublicKey(*gateway_sealing),
        data: DataKey::from_bytes(data.as_ref())?,
        retired_public,
    })
}

/// The gateways a stand-alone control plane commands.
pub(super) fn remote_gateways(
    config: &Config,
    keys: &ControlKeys,
) -> anyhow::Result<Arc<dyn GatewayLink>> {
    let c = &config.control;
    if c.gateway_urls.is_empty() {
        warn!("control.gateway_urls is empty: ending a session cannot close its streams");
    }
    let ca = match &c.gateway_ca {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("cannot read control.gateway_ca {}", path.display()))?,
        None => Vec::new(),
    };
    if !c.gateway_urls.is_empty() && ca.is_empty() {
        bail!(
            "control.gateway_ca must name the PEM certificate (or CA) of the gateways in control.gateway_urls"
        );
    }
    // The link signs with its own copy of the signing key.
    let seed = keys::read32(&config.general.keys_dir().join("signing.key"))?;
    let signer = Arc::new(TokenSigner::from_seed(&seed)?);
    debug_assert_eq!(signer.public_key(), keys.signer.public_key());
    if c.gateway_urls.is_empty() {
        return Ok(Arc::new(NoGateways));
    }
    Ok(Arc::new(
        RemoteGateways::new(
            c.gateway_urls
                .iter()
                .map(|u| u.as_str().to_owned())
                .collect(),
            signer,
            &ca,
        )
        .map_err(anyhow::Error::msg)?,
    ))
}

struct NoGateways;

impl GatewayLink for NoGateways {
    fn end_session(
        &self,
        _: &str,
        _: u64,
    ) -> oriel_gateway_http::BoxFuture<'_, Result<usize, String>> {
        Box::pin(async { Err("no gateway configured (control.gateway_urls)".into()) })
    }

    fn push_revocations(&self, _: &str) -> oriel_gateway_http::BoxFuture<'_, Result<(), String>> {
        // Gateways fetch the list themselves.
        Box::pin(async { Ok(()) })
    }

    fn set_link_control(
        &self,
        _: &str,
        _: &str,
        _: bool,
    ) -> oriel_gateway_http::BoxFuture<'_, Result<usize, String>> {
        Box::pin(async { Err("no gateway configured (control.gateway_urls)".into()) })
    }
}

/// The gateway keys whose recordings are believed: the remote gateways'
/// (`control.gateway_report_keys`) and, under `oriel up`, this process's
/// gateway (`keys/gateway-signing.pub`, made before the control plane).
fn recording_keys(
    config: &Config,
    remote: Option<&TokenVerifier>,
) -> anyhow::Result<TokenVerifier> {
    let mut pubs: Vec<[u8; 32]> = remote
        .map(|v| v.keys().map(|(_, k)| *k).collect())
        .unwrap_or_default();
    if config.role == crate::config::Role::Up {
        let path = config.general.keys_dir().join("gateway-signing.pub");
        pubs.push(
            *keys::read32(&path)
                .with_context(|| format!("cannot read this gateway's key {}", path.display()))?,
        );
    }
    Ok(TokenVerifier::new(pubs))
}

/// Under `oriel up`: stores a recording the gateway of this process
/// finished, then deletes the gateway's copy. Retried while the control
/// plane cannot take it (not built yet, its database or disk away); a
/// file it refuses (not a recording, another file of the name) stays.
#[cfg(feature = "gateway")]
pub(super) async fn take_recording(
    cell: Arc<std::sync::OnceLock<Arc<ControlPlane>>>,
    path: std::path::PathBuf,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        if let Some(cp) = cell.get() {
            match cp.store_recording_file(&path).await {
                Ok(id) => {
                    info!(path = %path.display(), recording_id = %id, "recording stored by the control plane");
                    oriel_gateway::handover::remove_handed_over(&path);
                    return;
                }
                Err(
                    e @ (oriel_control::ServiceError::Invalid { .. }
                    | oriel_control::ServiceError::Conflict { .. }),
                ) => {
                    warn!(path = %path.display(), error = %e, "the control plane refused a recording; it stays in the gateway's directory");
                    return;
                }
                Err(e) => {
                    warn!(path = %path.display(), error = %e, "cannot store a recording now; retrying");
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

/// Verifier of remote gateways' reports (their `gateway-signing.pub` files).
pub(super) fn report_verifier(config: &Config) -> anyhow::Result<Option<TokenVerifier>> {
    let c = &config.control;
    if c.gateway_report_keys.is_empty() {
        return Ok(None);
    }
    let mut pubs = Vec::new();
    for path in &c.gateway_report_keys {
        pubs.push(*keys::read32(path).with_context(|| {
            format!(
                "control.gateway_report_keys: cannot read the gateway's gateway-signing.pub {}",
                path.display()
            )
        })?);
    }
    Ok(Some(TokenVerifier::new(pubs)))
}

pub(super) async fn build(
    p: &Process,
    keys: ControlKeys,
    link: Arc<dyn GatewayLink>,
    report_verifier: Option<TokenVerifier>,
    kinds: Vec<String>,
) -> anyhow::Result<Arc<ControlPlane>> {
    let config = &p.config;
    let c = &config.control;
    let store = Store::open(&c.database, c.database_max_connections)
        .await
        .with_context(|| format!("cannot open the database ({})", redact(&c.database)))?;
    info!(backend = ?store.backend(), "database ready");
    let settings = ControlSettings {
        token_ttl: c.token_ttl,
        login_ttl: c.login_ttl,
        public_url: config
            .http
            .public_url
            .as_ref()
            .map(|u| u.as_str().to_owned()),
        gateway_url: c.gateway_public_url.as_ref().map(|u| u.as_str().to_owned()),
        workspace_kinds: if c.workspace_kinds.is_empty() {
            kinds.into_iter().chain(["container".to_owned()]).collect()
        } else {
            c.workspace_kinds.clone()
        },
        password_min_len: c.password_min_len,
        oidc: c
            .oidc
            .as_ref()
            .map(|o| oidc_settings(o, &keys.data))
            .transpose()?,
        agent_join_token: Some(join_token(config)?),
        agent_lost_after: c.agent_lost_after,
        container_start_timeout: c.container_start_timeout,
        agent_streams: c.agent_streams,
        reconnect: c.reconnect,
        recordings: RecordingStoreSettings {
            dir: Some(c.recordings_dir.clone()),
            keys: recording_keys(config, report_verifier.as_ref())?,
            encrypt: c.recordings_encrypt,
            ..RecordingStoreSettings::default()
        },
    };
    if let Some(o) = &settings.oidc {
        info!(issuer = %o.issuer, client_id = %o.client_id, "single sign-on with an OpenID provider");
    }
    let admin_password = std::env::var("ORIEL_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let (cp, boot) = ControlPlane::new(
        store,
        keys,
        settings,
        link,
        report_verifier,
        admin_password.as_deref(),
    )
    .await?;
    if let Some(pw) = boot.generated_admin_password {
        #[allow(clippy::print_stdout)]
        {
            println!(
                "oriel: created the first admin user: username \"admin\", password \"{}\" (shown only this once)",
                pw.as_str()
            );
        }
    }
    // Often enough to notice a lost agent within seconds of its timeout.
    cp.spawn_reaper(Duration::from_secs(5));
    cp.spawn_recording_sweep();
    p.health.register("control").set(true);
    Ok(cp)
}

/// The token agents join with: `control.agent_join_token_file`, or
/// `keys/agent-join.key` in the data directory (made on first start; copy
/// it to the agents).
pub(super) fn join_token(config: &Config) -> anyhow::Result<oriel_control::JoinToken> {
    let path = match &config.control.agent_join_token_file {
        Some(path) => path.clone(),
        None => {
            let dir = config.general.keys_dir();
            keys::load_or_create(
                &dir,
                "agent-join",
                || Ok(oriel_core_token::SealingKey::generate()?.to_bytes()),
                |_| Ok(None),
            )?;
            dir.join("agent-join.key")
        }
    };
    let token = keys::read_private_token(&path, "control.agent_join_token_file")?;
    Ok(oriel_control::JoinToken(token.to_string()))
}
