//! The gateway role: keys, adapters, encode pool; the settings come typed
//! from `crate::config` and are only wired here.

use super::{Process, keys_dir};
use crate::keys;
use anyhow::Context as _;
use oriel_core_token::{SealingKey, TokenVerifier};
use oriel_encoders_codecs::EncodePool;
use oriel_gateway::handover::{HttpHandover, KeepRecordings, RecordingHandover};
use oriel_gateway::{
    ControlSync, Gateway, GatewayIdentity, GatewayKeys, GatewayRole, GatewaySettings, HttpReporter,
    NoReports, RecordingSettings, SessionReporter,
};
use oriel_protocols_rdp::{RdpConnector, RdpSettings};
use oriel_protocols_session::Connectors;
use oriel_protocols_ssh::{SshConnector, SshSettings};
use oriel_protocols_vnc::VncConnector;
use std::path::PathBuf;
use std::sync::Arc;
use tracing::info;
use zeroize::Zeroizing;

fn sealing_key(p: &Process) -> anyhow::Result<SealingKey> {
    let bytes = keys::load_or_create(
        &keys_dir(p),
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
    let g = &p.config.gateway;
    let default = keys_dir(p).join("signing.pub");
    let paths: Vec<PathBuf> = if !g.control_public_keys.is_empty() {
        g.control_public_keys.clone()
    } else if g.control.is_some() && !default.exists() {
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

/// The PEM file a remote control plane's certificate chains to.
fn control_ca(link: &crate::config::ControlLink) -> anyhow::Result<Vec<u8>> {
    std::fs::read(&link.ca)
        .with_context(|| format!("{}: cannot read {}", link.ca_key, link.ca.display()))
}

/// Fetching keys and revocations from, and reporting session lists to, a
/// remote control plane (`gateway.control_url`).
fn control_sync(p: &Process) -> anyhow::Result<Option<ControlSync>> {
    let g = &p.config.gateway;
    let Some(link) = &g.control else {
        return Ok(None);
    };
    Ok(Some(ControlSync {
        control_url: link.url.as_str().to_owned(),
        ca_pem: control_ca(link)?,
        static_keys: static_keys(p)?,
        cache_dir: keys_dir(p),
        keys_every: g.keys_refresh,
        revocations_every: g.revocations_refresh,
        sessions_every: g.sessions_report,
    }))
}

/// The protocol adapters compiled in.
pub(super) fn connectors(p: &Process) -> Connectors {
    let g = &p.config.gateway;
    Connectors::new()
        .with(VncConnector::new(g.vnc.clone()))
        .with(RdpConnector::new(RdpSettings {
            graphics_pipeline: g.rdp_graphics_pipeline,
            remotefx: g.rdp_remotefx,
            ..RdpSettings::default()
        }))
        .with(SshConnector::new(SshSettings::default()))
}

fn settings(p: &Process, handover: Arc<dyn RecordingHandover>) -> GatewaySettings {
    let g = &p.config.gateway;
    GatewaySettings {
        max_frames_in_flight: g.max_frames_in_flight,
        tile_size: g.tile_size,
        plan: g.plan.clone(),
        hello_timeout: g.hello_timeout,
        connect_timeout: g.connect_timeout,
        origins: g.origins.clone(),
        lossy_codec: g.lossy_codec,
        identity: GatewayIdentity {
            id: g.id.clone(),
            zone: g.zone.clone(),
            role: g.role,
        },
        reuse: g.reuse,
        recordings: RecordingSettings {
            // A dedicated proxy serves no session: it records nothing.
            dir: (g.role != GatewayRole::DedicatedProxy).then(|| g.recordings_dir.clone()),
            checkpoint_every: g.recording_checkpoint,
            keyframe_every: g.recording_keyframe,
            handover,
        },
        ..GatewaySettings::default()
    }
}

/// The gateway's own signing key, for its reports to the control plane.
fn signing_key(p: &Process) -> anyhow::Result<oriel_core_token::TokenSigner> {
    let seed = keys::load_or_create(
        &keys_dir(p),
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

/// Where a stand-alone gateway's finished recordings go: uploaded to
/// `gateway.control_url`, or kept in its directory without one.
pub(super) fn remote_handover(p: &Process) -> anyhow::Result<Arc<dyn RecordingHandover>> {
    let g = &p.config.gateway;
    let Some(link) = &g.control else {
        return Ok(Arc::new(KeepRecordings));
    };
    let ca = control_ca(link)?;
    let signer = Arc::new(signing_key(p)?);
    Ok(Arc::new(
        HttpHandover::new(link.url.as_str(), &ca, signer).map_err(anyhow::Error::msg)?,
    ))
}

/// Where a stand-alone gateway reports stream starts and ends.
pub(super) fn remote_reporter(p: &Process) -> anyhow::Result<Arc<dyn SessionReporter>> {
    let g = &p.config.gateway;
    if g.role == GatewayRole::DedicatedProxy {
        // The gateway each stream is passed on to reports it.
        return Ok(Arc::new(NoReports));
    }
    let Some(link) = &g.control else {
        tracing::warn!(
            "gateway.control_url is empty: the control plane will not hear when streams start and end"
        );
        return Ok(Arc::new(NoReports));
    };
    let ca = control_ca(link)?;
    let signer = Arc::new(signing_key(p)?);
    Ok(Arc::new(
        HttpReporter::new(link.url.as_str(), &ca, signer).map_err(anyhow::Error::msg)?,
    ))
}

pub(super) fn build(
    p: &Process,
    reporter: Arc<dyn SessionReporter>,
    handover: Arc<dyn RecordingHandover>,
    connectors: Connectors,
) -> anyhow::Result<Arc<Gateway>> {
    // Made on every start so an operator can copy gateway-signing.pub; it
    // also signs recordings.
    let signer = Arc::new(signing_key(p)?);
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
    let keys = GatewayKeys::new(TokenVerifier::new(trusted), sealing).with_signing(signer);
    let (threads, queue) = (
        p.config.gateway.encode_threads,
        p.config.gateway.encode_queue,
    );
    let pool = EncodePool::new(threads, queue).context("cannot start the encode pool")?;
    info!(threads, queue, kinds = ?connectors.kinds(), "gateway ready");
    let settings = settings(p, Arc::clone(&handover));
    // What a previous run left (a crash, a stop, a control plane away) is
    // handed over now, before any session records.
    if let Some(dir) = &settings.recordings.dir {
        for path in oriel_gateway::handover::leftover_recordings(dir) {
            info!(path = %path.display(), "handing over a recording left by a previous run");
            handover.finished(path);
        }
    }
    let identity = settings.identity.clone();
    let gw = Gateway::new(settings, keys, connectors, pool, reporter, &p.registry)?;
    if let Some(sync) = sync {
        sync.start(Arc::clone(&gw)).map_err(anyhow::Error::msg)?;
    }
    info!(role = identity.role.as_str(), id = %identity.id, zone = %identity.zone, "gateway identity");
    p.health.register("gateway").set(true);
    Ok(gw)
}
