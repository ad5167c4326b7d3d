//! A session's one upstream: the first viewer's token says where the target
//! is and with what credentials; the gateway connects it, starts the
//! session's task and joins it. Later viewers of the same session join what
//! is running. Viewers arriving while the target connects wait for it.

use super::{Join, SessionHandle, SinkEnd};
use crate::registry::UpstreamSlot;
use crate::sinks::Outgoing;
use crate::sinks::recorder::{self as recording, Recorder};
use crate::{Clock, Gateway};
use oriel_core_model::{SessionError, SessionErrorKind, Size};
use oriel_core_recording::Header;
use oriel_core_stream::{SessionCore, SessionStart, SinkId, SinkKind, SinkSpec, WatermarkSpec};
use oriel_core_token::{Credentials, SealError, SessionClaims};
use oriel_protocols_session::{ConnectRequest, RemoteSession, TargetTrust};
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument as _, info, info_span};

/// A sink in a running session.
pub(crate) struct Joined {
    pub(crate) handle: SessionHandle,
    pub(crate) id: SinkId,
    /// How the session ended this sink, if it does.
    pub(crate) ended: oneshot::Receiver<SinkEnd>,
}

/// Joins the session of `claims`, connecting its target first if it is
/// not running here yet.
pub(crate) async fn join_or_connect(
    gw: &Arc<Gateway>,
    claims: &SessionClaims,
    viewport: Size,
    client: Option<IpAddr>,
    slot: &UpstreamSlot,
    spec: SinkSpec,
    out: &mpsc::Sender<Outgoing>,
) -> Result<Joined, SessionError> {
    // A session that ends while a viewer joins it is connected again.
    for _ in 0..3 {
        let mut held = slot.lock().await;
        if let Some(handle) = held.as_ref().filter(|h| !h.is_closed()).cloned() {
            drop(held);
            if let Some((id, ended)) = handle.join(spec.clone(), out.clone()).await {
                return Ok(Joined { handle, id, ended });
            }
            continue;
        }
        let remote = connect(gw, claims, viewport).await?;
        info!(
            width = remote.info.size.width,
            height = remote.info.size.height,
            "target connected"
        );
        let clock = Clock::start();
        let start = SessionStart {
            session_id: claims.sid.clone(),
            name: if remote.info.name.is_empty() {
                claims.ws.clone()
            } else {
                remote.info.name.clone()
            },
            size: remote.info.size,
            files: remote.files.is_some(),
            watermark: claims.policy.watermark.then(|| WatermarkSpec {
                template: claims.policy.watermark_text.clone(),
                user: claims.owner().1.to_owned(),
                client: client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
                opacity: claims.policy.watermark_opacity,
                angle: claims.policy.watermark_angle,
            }),
        };
        // Fail closed: a session to record does not start unrecorded.
        let recorder = match claims.policy.recording {
            true => Some(recorder(gw, claims, clock.now_us()).await?),
            false => None,
        };
        let core = SessionCore::new(gw.settings.core(), start, clock.now_us());
        let (joined, joined_rx) = oneshot::channel();
        let (ended, ended_rx) = oneshot::channel();
        let first = Join {
            spec,
            out: out.clone(),
            joined,
            ended,
        };
        let span = info_span!(
            parent: None,
            "session",
            session_id = %claims.sid,
            protocol = %claims.target.kind,
        );
        let handle = span.in_scope(|| super::start(gw, core, clock, remote, first, recorder));
        *held = Some(handle.clone());
        drop(held);
        let id = joined_rx
            .instrument(span)
            .await
            .map_err(|_| SessionError::new(SessionErrorKind::Internal, "the session stopped"))?;
        return Ok(Joined {
            handle,
            id,
            ended: ended_rx,
        });
    }
    Err(SessionError::new(
        SessionErrorKind::Internal,
        "the session kept ending while the viewer joined it",
    ))
}

/// Opens the credentials sealed to this gateway and connects the target
/// with the adapter for the workspace's kind.
async fn connect(
    gw: &Gateway,
    claims: &SessionClaims,
    viewport: Size,
) -> Result<RemoteSession, SessionError> {
    let connector = gw.connectors.get(&claims.target.kind).ok_or_else(|| {
        SessionError::new(
            SessionErrorKind::UnsupportedTarget,
            format!("no adapter for workspace kind {:?}", claims.target.kind),
        )
    })?;
    let credentials = match &claims.creds {
        None => None,
        Some(sealed) => Some(
            Credentials::open(&gw.keys.sealing, sealed, &claims.sid).map_err(|e| match e {
                SealError::Open => SessionError::new(
                    SessionErrorKind::Forbidden,
                    "the credentials are sealed for another gateway",
                ),
                other => SessionError::new(SessionErrorKind::TokenInvalid, other.to_string()),
            })?,
        ),
    };
    let desired = Some(viewport).filter(|s| s.width > 0 && s.height > 0);
    connector
        .connect(ConnectRequest {
            session_id: claims.sid.clone(),
            host: claims.target.host.clone(),
            port: claims.target.port,
            credentials,
            trust: match &claims.target.identity {
                Some(fingerprint) => TargetTrust::Pinned(fingerprint.clone()),
                None => TargetTrust::FirstUse,
            },
            desired_size: desired,
            timeout: gw.settings.connect_timeout,
        })
        .await
}

/// Opens the session's recording, and the spec its recorder joins with.
async fn recorder(
    gw: &Gateway,
    claims: &SessionClaims,
    started_us: u64,
) -> Result<(Recorder, SinkSpec), SessionError> {
    let settings = &gw.settings.recordings;
    let (Some(dir), Some(signer)) = (&settings.dir, &gw.keys.signing) else {
        return Err(SessionError::new(
            SessionErrorKind::FeatureUnavailable,
            "the workspace requires session recording, and this gateway has no recordings directory",
        ));
    };
    let header = Header {
        session_id: claims.sid.clone(),
        user_id: claims.owner().0.to_owned(),
        user: claims.owner().1.to_owned(),
        workspace: claims.ws.clone(),
        kind: claims.target.kind.clone(),
        gateway: gw.settings.identity.id.clone(),
        key_id: signer.kid().as_str().to_owned(),
        started_us,
        keystrokes: claims.policy.recording_keystrokes,
    };
    let recorder = recording::open(dir, header, Arc::clone(signer)).await?;
    let spec = SinkSpec {
        // Playback is in a browser, which decodes WebP.
        capabilities: oriel_core_wire::caps::WEBP,
        policy: oriel_core_token::Policy {
            clipboard_up: false,
            clipboard_down: false,
            upload: false,
            download: false,
            ..claims.policy.clone()
        },
        control: false,
        deadline_us: None,
        kind: SinkKind::Recorder {
            keyframe_every_us: settings.keyframe_every.as_micros() as u64,
            keystrokes: claims.policy.recording_keystrokes,
        },
        watcher: None,
    };
    Ok((recorder, spec))
}
