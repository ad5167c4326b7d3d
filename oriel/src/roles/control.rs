//! The control-plane role: keys, database, first admin.

use super::{Process, keys_dir};
use crate::config::{duration, gateway_public_url, oidc_settings};
use crate::keys;
use anyhow::{Context as _, bail};
use oriel_control::{ControlKeys, ControlPlane, ControlSettings, GatewayLink, RemoteGateways};
use oriel_control_store::{DataKey, Store};
use oriel_core_token::{SealingPublicKey, TokenSigner, TokenVerifier};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// The control plane's keys. In `oriel up` (`same_process`) the gateway's
/// sealing key is made here too if missing; alone, its public half must be
/// provided.
pub(super) fn keys(
    raw: &crate::config::RawConfig,
    same_process: bool,
) -> anyhow::Result<ControlKeys> {
    let dir = keys_dir(raw);
    let seed = keys::load_or_create(
        &dir,
        "signing",
        || Ok(TokenSigner::generate_seed()?),
        |s| Ok(Some(TokenSigner::from_seed(s)?.public_key())),
    )?;
    let signer = TokenSigner::from_seed(&seed)?;
    let data = keys::data_key(&raw.control.data_key_file, &dir, || {
        Ok(DataKey::generate_bytes()?)
    })?;
    let sealing_path = if raw.control.gateway_sealing_key.is_empty() {
        dir.join("gateway-sealing.pub")
    } else {
        PathBuf::from(&raw.control.gateway_sealing_key)
    };
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
    for path in &raw.control.retired_public_keys {
        retired_public.push(
            *keys::read32(std::path::Path::new(path))
                .with_context(|| format!("control.retired_public_keys: cannot read {path}"))?,
        );
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
    raw: &crate::config::RawConfig,
    keys: &ControlKeys,
) -> anyhow::Result<Arc<dyn GatewayLink>> {
    let c = &raw.control;
    if c.gateway_urls.is_empty() {
        warn!("control.gateway_urls is empty: ending a session cannot close its streams");
    }
    let ca = if c.gateway_ca.is_empty() {
        Vec::new()
    } else {
        std::fs::read(&c.gateway_ca)
            .with_context(|| format!("cannot read control.gateway_ca {}", c.gateway_ca))?
    };
    if !c.gateway_urls.is_empty() && ca.is_empty() {
        bail!(
            "control.gateway_ca must name the PEM certificate (or CA) of the gateways in control.gateway_urls"
        );
    }
    // The link signs with its own copy of the signing key.
    let seed = keys::read32(&keys_dir(raw).join("signing.key"))?;
    let signer = Arc::new(TokenSigner::from_seed(&seed)?);
    debug_assert_eq!(signer.public_key(), keys.signer.public_key());
    if c.gateway_urls.is_empty() {
        return Ok(Arc::new(NoGateways));
    }
    Ok(Arc::new(
        RemoteGateways::new(c.gateway_urls.clone(), signer, &ca).map_err(anyhow::Error::msg)?,
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
}

/// Verifier of remote gateways' reports (their `gateway-signing.pub` files).
pub(super) fn report_verifier(
    raw: &crate::config::RawConfig,
) -> anyhow::Result<Option<TokenVerifier>> {
    if raw.control.gateway_report_keys.is_empty() {
        return Ok(None);
    }
    let mut pubs = Vec::new();
    for path in &raw.control.gateway_report_keys {
        pubs.push(*keys::read32(std::path::Path::new(path)).with_context(|| {
            format!(
                "control.gateway_report_keys: cannot read the gateway's gateway-signing.pub {path}"
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
    let raw = &p.raw;
    let url = raw.database_url();
    let store = Store::open(&url, raw.control.database_max_connections)
        .await
        .with_context(|| format!("cannot open the database ({})", redact(&url)))?;
    info!(backend = ?store.backend(), "database ready");
    let settings = ControlSettings {
        token_ttl: duration("control.token_ttl", &raw.control.token_ttl)?,
        login_ttl: duration("control.login_ttl", &raw.control.login_ttl)?,
        public_url: raw.public_url()?,
        gateway_url: gateway_public_url(raw)?,
        workspace_kinds: if raw.control.workspace_kinds.is_empty() {
            kinds.into_iter().chain(["container".to_owned()]).collect()
        } else {
            raw.control.workspace_kinds.clone()
        },
        password_min_len: raw.control.password_min_len.clamp(8, 128),
        oidc: oidc_settings(raw, &keys.data)?,
        agent_join_token: Some(join_token(raw)?),
        agent_lost_after: duration("control.agent_lost_after", &raw.control.agent_lost_after)?,
        container_start_timeout: duration(
            "control.container_start_timeout",
            &raw.control.container_start_timeout,
        )?,
        agent_streams: match raw.control.agent_streams.as_str() {
            "direct" => oriel_control::AgentStreams::Direct,
            "relay" => oriel_control::AgentStreams::Relay,
            other => bail!("control.agent_streams must be direct or relay, not {other:?}"),
        },
        reconnect: oriel_core_token::Reuse {
            window: duration("control.reconnect_window", &raw.control.reconnect_window)?
                .as_secs()
                .min(u64::from(u32::MAX)) as u32,
            max: raw.control.reconnect_max,
        },
    };
    if let Some(o) = &settings.oidc {
        info!(issuer = %o.issuer, client_id = %o.client_id, "single sign-on with an OpenID provider");
    }
    if settings.token_ttl < Duration::from_secs(10)
        || settings.token_ttl > Duration::from_secs(3600)
    {
        bail!(
            "control.token_ttl must be between 10s and 1h (tokens are connect tokens: keep them short)"
        );
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
    p.health.register("control").set(true);
    Ok(cp)
}

/// The token agents join with: `control.agent_join_token_file`, or
/// `keys/agent-join.key` in the data directory (made on first start; copy
/// it to the agents).
pub(super) fn join_token(
    raw: &crate::config::RawConfig,
) -> anyhow::Result<oriel_control::JoinToken> {
    let path = if raw.control.agent_join_token_file.is_empty() {
        let dir = keys_dir(raw);
        keys::load_or_create(
            &dir,
            "agent-join",
            || Ok(oriel_core_token::SealingKey::generate()?.to_bytes()),
            |_| Ok(None),
        )?;
        dir.join("agent-join.key")
    } else {
        PathBuf::from(&raw.control.agent_join_token_file)
    };
    read_join_token(&path, "control.agent_join_token_file")
}

/// Reads a join token file (private to its owner, at least 16 characters).
pub(super) fn read_join_token(
    path: &std::path::Path,
    key: &str,
) -> anyhow::Result<oriel_control::JoinToken> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("{key}: cannot read {}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "{key}: {} may be read by others: chmod 600 it",
            path.display()
        );
    }
    let token = std::fs::read_to_string(path)
        .with_context(|| format!("{key}: cannot read {}", path.display()))?
        .trim()
        .to_owned();
    if token.len() < 16 {
        bail!(
            "{key}: {} holds no join token (at least 16 characters)",
            path.display()
        );
    }
    Ok(oriel_control::JoinToken(token))
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}
