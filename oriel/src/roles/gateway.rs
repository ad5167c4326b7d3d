//! The gateway role: keys, adapters, encode pool, settings.

use super::{Process, keys_dir};
use crate::config::duration;
use crate::keys;
use anyhow::{Context as _, bail};
use oriel_core_token::Reuse;
use oriel_core_token::{SealingKey, TokenVerifier};
use oriel_encoders_codecs::EncodePool;
use oriel_encoders_damage::PlanSettings;
use oriel_gateway::{
    ControlSync, Gateway, GatewayIdentity, GatewayKeys, GatewayRole, GatewaySettings, HttpReporter,
    LossyCodec, NoReports, SessionReporter,
};
use oriel_gateway_http::OriginPolicy;
use oriel_protocols_rdp::{RdpConnector, RdpSettings};
use oriel_protocols_session::Connectors;
use oriel_protocols_ssh::{SshConnector, SshSettings};
use oriel_protocols_vnc::{Encoding, VncConnector, VncSettings};
use std::path::PathBuf;
use std::sync::Arc;
use tracing::info;
use zeroize::Zeroizing;

fn sealing_key(p: &Process) -> anyhow::Result<SealingKey> {
    let bytes = keys::load_or_create(
        &keys_dir(&p.raw),
        "gateway-sealing",
        || Ok(SealingKey::generate()?.to_bytes()),
        |s| Ok(Some(SealingKey::from_bytes(*s).public_key().0)),
    )?;
    Ok(SealingKey::from_bytes(*bytes))
}

/// Key files always trusted: `gateway.control_public_keys`, or else this
/// data directory's `signing.pub` (required unless keys are fetched from
/// `gateway.control_url`).
fn static_keys(p: &Process) -> anyhow::Result<Vec<[u8; 32]>> {
    let fetched = !p.raw.gateway.control_url.is_empty();
    let default = keys_dir(&p.raw).join("signing.pub");
    let paths: Vec<PathBuf> = if !p.raw.gateway.control_public_keys.is_empty() {
        p.raw
            .gateway
            .control_public_keys
            .iter()
            .map(PathBuf::from)
            .collect()
    } else if fetched && !default.exists() {
        Vec::new()
    } else {
        vec![default]
    };
    let mut keys = Vec::new();
    for path in &paths {
        let key: Zeroizing<[u8; 32]> = keys::read32(path).with_context(|| {
            format!(
                "the gateway needs the control plane's public key (signing.pub): copy it to {}, set gateway.control_public_keys, or set gateway.control_url to fetch it",
                path.display()
            )
        })?;
        keys.push(*key);
    }
    Ok(keys)
}

/// Fetching keys and revocations from, and reporting session lists to, a
/// remote control plane (`gateway.control_url`).
fn control_sync(p: &Process) -> anyhow::Result<Option<ControlSync>> {
    let g = &p.raw.gateway;
    if g.control_url.is_empty() {
        return Ok(None);
    }
    let ca_pem = std::fs::read(&g.control_ca).with_context(|| {
        format!(
            "gateway.control_ca must name the control plane's PEM certificate (or CA), got {:?}",
            g.control_ca
        )
    })?;
    Ok(Some(ControlSync {
        control_url: g.control_url.clone(),
        ca_pem,
        static_keys: static_keys(p)?,
        cache_dir: keys_dir(&p.raw),
        keys_every: duration("gateway.keys_refresh", &g.keys_refresh)?,
        revocations_every: duration("gateway.revocations_refresh", &g.revocations_refresh)?,
        sessions_every: duration("gateway.sessions_report", &g.sessions_report)?,
    }))
}

/// Who this gateway is: role, id (default: the host name) and zone.
fn identity(p: &Process) -> anyhow::Result<GatewayIdentity> {
    let g = &p.raw.gateway;
    let role = GatewayRole::parse(&g.role).with_context(|| {
        format!(
            "gateway.role must be gateway, connection-proxy or dedicated-proxy, not {:?}",
            g.role
        )
    })?;
    let id = if g.id.is_empty() {
        std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "gateway".into())
    } else {
        g.id.clone()
    };
    if g.zone.is_empty() {
        bail!("gateway.zone must not be empty");
    }
    Ok(GatewayIdentity {
        id,
        zone: g.zone.clone(),
        role,
    })
}

/// The protocol adapters compiled in.
pub(super) fn connectors(p: &Process) -> anyhow::Result<Connectors> {
    Ok(Connectors::new()
        .with(VncConnector::new(vnc_settings(p)?))
        .with(RdpConnector::new(RdpSettings {
            graphics_pipeline: p.raw.gateway.rdp_graphics_pipeline,
            remotefx: p.raw.gateway.rdp_remotefx,
            ..RdpSettings::default()
        }))
        .with(SshConnector::new(SshSettings::default())))
}

pub(super) fn vnc_settings(p: &Process) -> anyhow::Result<VncSettings> {
    let mut encodings = Vec::new();
    for e in &p.raw.gateway.vnc_encodings {
        encodings.push(match e.as_str() {
            "tight" => Encoding::Tight,
            "zrle" => Encoding::Zrle,
            "trle" => Encoding::Trle,
            "raw" => Encoding::Raw,
            other => {
                bail!("gateway.vnc_encodings: unknown encoding {other:?} (tight, zrle, trle, raw)")
            }
        });
    }
    if encodings.is_empty() {
        bail!("gateway.vnc_encodings must name at least one encoding");
    }
    Ok(VncSettings {
        encodings,
        max_update_rate: p.raw.gateway.vnc_max_update_rate.clamp(1, 240),
    })
}

fn settings(p: &Process) -> anyhow::Result<GatewaySettings> {
    let g = &p.raw.gateway;
    if !(1..=100).contains(&g.jpeg_quality) {
        bail!("gateway.jpeg_quality must be 1-100");
    }
    let lossy_codec = match g.lossy_codec.as_str() {
        "jpeg" => LossyCodec::Jpeg,
        "webp" => LossyCodec::Webp,
        "auto" if g.webp_cpu_budget.is_finite() && g.webp_cpu_budget >= 0.0 => LossyCodec::Auto {
            cpu_budget: g.webp_cpu_budget,
        },
        "auto" => bail!("gateway.webp_cpu_budget must be a number of cores, 0 or more"),
        other => bail!("gateway.lossy_codec must be auto, jpeg or webp, not {other:?}"),
    };
    if !(1..=100).contains(&g.motion_quality) {
        bail!("gateway.motion_quality must be 1-100");
    }
    if !(16..=256).contains(&g.tile_size) {
        bail!("gateway.tile_size must be 16-256");
    }
    if g.max_frames_in_flight == 0 {
        bail!("gateway.max_frames_in_flight must be at least 1");
    }
    let mut allowed: Vec<String> = Vec::new();
    for o in &g.allowed_origins {
        allowed.push(
            oriel_gateway_http::normalize_origin(o).with_context(|| {
                format!("gateway.allowed_origins: {o:?} is not an https origin")
            })?,
        );
    }
    if let Some(url) = p.raw.public_url()? {
        allowed.extend(oriel_gateway_http::normalize_origin(&url));
    }
    let origins = if allowed.is_empty() {
        OriginPolicy::SameHost
    } else {
        OriginPolicy::Allowed(allowed)
    };
    Ok(GatewaySettings {
        max_frames_in_flight: g.max_frames_in_flight,
        tile_size: g.tile_size,
        plan: PlanSettings {
            jpeg_quality: g.jpeg_quality,
            lossless_max_colors: g.lossless_max_colors,
            settle_us: duration("gateway.settle", &g.settle)?.as_micros() as u64,
            motion_quality: g.motion_quality,
            motion_half_life_us: duration("gateway.motion_half_life", &g.motion_half_life)?
                .as_micros() as u64,
            max_merged_pixels: g.max_merged_pixels,
            detect_scroll: g.detect_scroll,
            ..PlanSettings::default()
        },
        hello_timeout: duration("gateway.hello_timeout", &g.hello_timeout)?,
        connect_timeout: duration("gateway.connect_timeout", &g.connect_timeout)?,
        origins,
        lossy_codec,
        identity: identity(p)?,
        reuse: Reuse {
            window: duration("gateway.reconnect_window", &g.reconnect_window)?
                .as_secs()
                .min(u64::from(u32::MAX)) as u32,
            max: g.reconnect_max,
        },
        ..GatewaySettings::default()
    })
}

/// The gateway's own signing key, for its reports to the control plane.
fn signing_key(p: &Process) -> anyhow::Result<oriel_core_token::TokenSigner> {
    let seed = keys::load_or_create(
        &keys_dir(&p.raw),
        "gateway-signing",
        || Ok(oriel_core_token::TokenSigner::generate_seed()?),
        |s| {
            Ok(Some(
                oriel_core_token::TokenSigner::from_seed(s)?.public_key(),
            ))
        },
    )?;
    Ok(oriel_core_token::TokenSigner::from_seed(&seed)?)
}

/// Makes the gateway's own keys if missing, before anything that may stop
/// a first start (a missing control plane certificate, say): an operator
/// copies their public halves to the control plane meanwhile.
pub(super) fn ensure_keys(p: &Process) -> anyhow::Result<()> {
    signing_key(p)?;
    sealing_key(p)?;
    Ok(())
}

/// Where a stand-alone gateway reports stream starts and ends.
pub(super) fn remote_reporter(p: &Process) -> anyhow::Result<Arc<dyn SessionReporter>> {
    let g = &p.raw.gateway;
    if g.role == GatewayRole::DedicatedProxy.as_str() {
        // The gateway each stream is passed on to reports it.
        return Ok(Arc::new(NoReports));
    }
    if g.control_url.is_empty() {
        tracing::warn!(
            "gateway.control_url is empty: the control plane will not hear when streams start and end"
        );
        return Ok(Arc::new(NoReports));
    }
    let ca = std::fs::read(&g.control_ca).with_context(|| {
        format!(
            "gateway.control_ca must name the control plane's PEM certificate (or CA), got {:?}",
            g.control_ca
        )
    })?;
    let signer = Arc::new(signing_key(p)?);
    Ok(Arc::new(
        HttpReporter::new(&g.control_url, &ca, signer).map_err(anyhow::Error::msg)?,
    ))
}

pub(super) fn build(
    p: &Process,
    reporter: Arc<dyn SessionReporter>,
    connectors: Connectors,
) -> anyhow::Result<Arc<Gateway>> {
    // Made on every start so an operator can copy gateway-signing.pub.
    signing_key(p)?;
    // The sealing key first: a first run that stops for lack of the control
    // plane's key still leaves gateway-sealing.pub for the operator to copy.
    let sealing = sealing_key(p)?;
    let sync = control_sync(p)?;
    let trusted = match &sync {
        Some(sync) => sync.initial_keys(),
        None => static_keys(p)?,
    };
    if trusted.is_empty() {
        tracing::warn!(
            "no control plane key yet: every token is refused until the key set is fetched from gateway.control_url"
        );
    }
    let keys = GatewayKeys::new(TokenVerifier::new(trusted), sealing);
    let threads = match p.raw.gateway.encode_threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let queue = match p.raw.gateway.encode_queue {
        0 => threads * 4,
        n => n,
    };
    let pool = EncodePool::new(threads, queue).context("cannot start the encode pool")?;
    info!(threads, queue, kinds = ?connectors.kinds(), "gateway ready");
    let settings = settings(p)?;
    let identity = settings.identity.clone();
    let gw = Gateway::new(settings, keys, connectors, pool, reporter, &p.registry)?;
    if let Some(sync) = sync {
        sync.start(Arc::clone(&gw)).map_err(anyhow::Error::msg)?;
    }
    info!(role = identity.role.as_str(), id = %identity.id, zone = %identity.zone, "gateway identity");
    p.health.register("gateway").set(true);
    Ok(gw)
}
