//! `[gateway]` typed: the session plane's settings as the gateway crate
//! and the protocol adapters take them (role, codec, VNC encodings, plan
//! settings, origins, reconnection rules), every value checked.

use super::problems::{HttpsUrl, Problems, SECOND, path, paths, reuse};
use super::raw;
use oriel_core_token::Reuse;
use oriel_encoders_damage::PlanSettings;
use oriel_gateway::{GatewayRole, LossyCodec};
use oriel_gateway_http::OriginPolicy;
use oriel_protocols_vnc::{Encoding, VncSettings};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A remote control plane: its URL and the PEM file its certificate
/// chains to.
#[derive(Debug, Clone)]
pub struct ControlLink {
    pub url: HttpsUrl,
    pub ca: PathBuf,
    /// The key that named the CA file (`gateway.control_ca`, or
    /// `agent.control_ca` on an agent's node), for messages.
    pub ca_key: &'static str,
}

/// `[gateway]`, checked.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub role: GatewayRole,
    /// `gateway.id`, else the host name (on an agent's node: the agent's id).
    pub id: String,
    pub zone: String,
    /// For tokens that carry no rules of their own.
    pub reuse: Reuse,
    pub keys_refresh: Duration,
    pub revocations_refresh: Duration,
    pub sessions_report: Duration,
    /// Empty: `<data_dir>/keys/signing.pub` (unless keys are fetched).
    pub control_public_keys: Vec<PathBuf>,
    /// `gateway.control_url` and `gateway.control_ca`.
    pub control: Option<ControlLink>,
    /// Who may open streams: `allowed_origins` and `http.public_url`.
    pub origins: OriginPolicy,
    pub max_frames_in_flight: u8,
    pub tile_size: u16,
    pub plan: PlanSettings,
    pub lossy_codec: LossyCodec,
    /// Resolved: 0 in the file is one per core.
    pub encode_threads: usize,
    /// Resolved: 0 in the file is four per thread.
    pub encode_queue: usize,
    pub hello_timeout: Duration,
    pub connect_timeout: Duration,
    pub vnc: VncSettings,
    pub rdp_graphics_pipeline: bool,
    pub rdp_remotefx: bool,
    /// Resolved: empty in the file is `<data_dir>/recordings`.
    pub recordings_dir: PathBuf,
    pub recording_checkpoint: Duration,
    pub recording_keyframe: Duration,
}

const ENCODINGS: &[(&str, Encoding)] = &[
    ("tight", Encoding::Tight),
    ("zrle", Encoding::Zrle),
    ("trle", Encoding::Trle),
    ("raw", Encoding::Raw),
];

impl Gateway {
    /// `public_url` is `http.public_url` (always an allowed origin); `used`:
    /// the role runs a gateway, so keys that go together must.
    pub(super) fn from_raw(
        g: &raw::Gateway,
        public_url: Option<&HttpsUrl>,
        data_dir: &Path,
        used: bool,
        p: &mut Problems,
    ) -> Gateway {
        let role = p
            .choice(
                "gateway.role",
                &g.role,
                &[
                    ("gateway", GatewayRole::Gateway),
                    ("connection-proxy", GatewayRole::ConnectionProxy),
                    ("dedicated-proxy", GatewayRole::DedicatedProxy),
                ],
            )
            .unwrap_or(GatewayRole::Gateway);
        if g.zone.trim().is_empty() {
            p.required("gateway.zone", "this gateway's zone");
        }
        let control_url = p.https_url("gateway.control_url", &g.control_url, false);
        let control = match (control_url, path(&g.control_ca)) {
            (Some(url), Some(ca)) => Some(ControlLink {
                url,
                ca,
                ca_key: "gateway.control_ca",
            }),
            (Some(_), None) if used => {
                p.required(
                    "gateway.control_ca",
                    "the PEM certificate (or CA) of gateway.control_url",
                );
                None
            }
            _ => None,
        };
        let mut allowed = Vec::new();
        for (i, o) in g.allowed_origins.iter().enumerate() {
            match oriel_gateway_http::normalize_origin(o) {
                Some(origin) => allowed.push(origin),
                None => p.push(
                    format!("gateway.allowed_origins[{i}]"),
                    format!("{o:?} is not an origin like https://host:port"),
                ),
            }
        }
        allowed.extend(public_url.and_then(|u| oriel_gateway_http::normalize_origin(u.as_str())));
        let origins = if allowed.is_empty() {
            OriginPolicy::SameHost
        } else {
            OriginPolicy::Allowed(allowed)
        };
        let jpeg_quality = p.within("gateway.jpeg_quality", g.jpeg_quality, 1..=100);
        let motion_quality = p.within("gateway.motion_quality", g.motion_quality, 1..=100);
        let lossless_max_colors = p.within(
            "gateway.lossless_max_colors",
            g.lossless_max_colors,
            0..=65_536,
        );
        let settle = p.duration(
            "gateway.settle",
            &g.settle,
            Duration::from_millis(10)..=60 * SECOND,
        );
        let motion_half_life = p.duration(
            "gateway.motion_half_life",
            &g.motion_half_life,
            Duration::from_millis(10)..=60 * SECOND,
        );
        let lossy_codec = match p.choice(
            "gateway.lossy_codec",
            &g.lossy_codec,
            &[
                ("auto", None),
                ("jpeg", Some(LossyCodec::Jpeg)),
                ("webp", Some(LossyCodec::Webp)),
            ],
        ) {
            Some(Some(fixed)) => fixed,
            _ => {
                if !(g.webp_cpu_budget.is_finite() && (0.0..=64.0).contains(&g.webp_cpu_budget)) {
                    p.push(
                        "gateway.webp_cpu_budget",
                        format!(
                            "{} is not a number of cores from 0 to 64",
                            g.webp_cpu_budget
                        ),
                    );
                }
                LossyCodec::Auto {
                    cpu_budget: g.webp_cpu_budget,
                }
            }
        };
        let encode_threads = match p.within("gateway.encode_threads", g.encode_threads, 0..=1024) {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let encode_queue = match p.within("gateway.encode_queue", g.encode_queue, 0..=1 << 20) {
            0 => encode_threads * 4,
            n => n,
        };
        let mut encodings = Vec::new();
        for (i, e) in g.vnc_encodings.iter().enumerate() {
            if let Some(e) = p.choice(&format!("gateway.vnc_encodings[{i}]"), e, ENCODINGS) {
                encodings.push(e);
            }
        }
        if g.vnc_encodings.is_empty() {
            p.required("gateway.vnc_encodings", "at least one encoding");
        }
        let timeout = SECOND / 10..=3600 * SECOND;
        Gateway {
            role,
            id: if g.id.trim().is_empty() {
                super::host_name().unwrap_or_else(|| "gateway".into())
            } else {
                g.id.trim().to_owned()
            },
            zone: g.zone.trim().to_owned(),
            reuse: reuse(
                "gateway.reconnect_window",
                &g.reconnect_window,
                g.reconnect_max,
                p,
            ),
            keys_refresh: p.duration(
                "gateway.keys_refresh",
                &g.keys_refresh,
                SECOND..=86_400 * SECOND,
            ),
            revocations_refresh: p.duration(
                "gateway.revocations_refresh",
                &g.revocations_refresh,
                SECOND / 10..=3600 * SECOND,
            ),
            sessions_report: p.duration(
                "gateway.sessions_report",
                &g.sessions_report,
                SECOND..=3600 * SECOND,
            ),
            control_public_keys: paths("gateway.control_public_keys", &g.control_public_keys, p),
            control,
            origins,
            max_frames_in_flight: p.within(
                "gateway.max_frames_in_flight",
                g.max_frames_in_flight,
                1..=u8::MAX,
            ),
            tile_size: p.within("gateway.tile_size", g.tile_size, 16..=256),
            plan: PlanSettings {
                jpeg_quality,
                lossless_max_colors,
                settle_us: micros(settle),
                motion_quality,
                motion_half_life_us: micros(motion_half_life),
                max_merged_pixels: p.within(
                    "gateway.max_merged_pixels",
                    g.max_merged_pixels,
                    0..=1 << 26,
                ),
                detect_scroll: g.detect_scroll,
                ..PlanSettings::default()
            },
            lossy_codec,
            encode_threads,
            encode_queue,
            hello_timeout: p.duration("gateway.hello_timeout", &g.hello_timeout, timeout.clone()),
            connect_timeout: p.duration("gateway.connect_timeout", &g.connect_timeout, timeout),
            vnc: VncSettings {
                encodings,
                max_update_rate: p.within(
                    "gateway.vnc_max_update_rate",
                    g.vnc_max_update_rate,
                    1..=240,
                ),
            },
            rdp_graphics_pipeline: g.rdp_graphics_pipeline,
            rdp_remotefx: g.rdp_remotefx,
            recordings_dir: match path(&g.recordings_dir) {
                Some(dir) => dir,
                None => data_dir.join("recordings"),
            },
            recording_checkpoint: p.duration(
                "gateway.recording_checkpoint",
                &g.recording_checkpoint,
                SECOND / 10..=600 * SECOND,
            ),
            recording_keyframe: p.duration(
                "gateway.recording_keyframe",
                &g.recording_keyframe,
                SECOND..=3600 * SECOND,
            ),
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
