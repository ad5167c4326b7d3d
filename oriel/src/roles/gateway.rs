//! The gateway role: keys, adapters, encode pool, settings.

use super::{Process, keys_dir};
use crate::config::duration;
use crate::keys;
use anyhow::{Context as _, bail};
use oriel_core_token::{SealingKey, TokenVerifier};
use oriel_encoders_codecs::EncodePool;
use oriel_encoders_damage::PlanSettings;
use oriel_gateway::{
    Gateway, GatewayKeys, GatewaySettings, HttpReporter, LossyCodec, NoReports, SessionReporter,
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

fn verifier(p: &Process) -> anyhow::Result<TokenVerifier> {
    let paths: Vec<PathBuf> = if p.raw.gateway.control_public_keys.is_empty() {
        vec![keys_dir(&p.raw).join("signing.pub")]
    } else {
        p.raw
            .gateway
            .control_public_keys
            .iter()
            .map(PathBuf::from)
            .collect()
    };
    let mut keys = Vec::new();
    for path in &paths {
        let key: Zeroizing<[u8; 32]> = keys::read32(path).with_context(|| {
            format!(
                "the gateway needs the control plane's public key (signing.pub): copy it to {} or set gateway.control_public_keys",
                path.display()
            )
        })?;
        keys.push(*key);
    }
    Ok(TokenVerifier::new(keys))
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

/// Where a stand-alone gateway reports stream starts and ends.
pub(super) fn remote_reporter(p: &Process) -> anyhow::Result<Arc<dyn SessionReporter>> {
    let g = &p.raw.gateway;
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
    let keys = GatewayKeys {
        verifier: verifier(p)?,
        sealing,
    };
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
    let gw = Gateway::new(settings(p)?, keys, connectors, pool, reporter, &p.registry)?;
    p.health.register("gateway").set(true);
    Ok(gw)
}
