//! Metrics of the session plane (`oriel_gateway_*`).

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Session-plane metrics, registered in the process registry.
#[derive(Debug, Clone)]
pub struct GatewayMetrics {
    pub(crate) sessions_active: IntGauge,
    pub(crate) websocket_connections: IntGauge,
    pub(crate) streams: IntCounterVec,
    pub(crate) frames_sent: IntCounter,
    pub(crate) keyframes: IntCounter,
    pub(crate) sinks_behind: IntCounter,
    pub(crate) input_refused: IntCounter,
    pub(crate) upstreams_active: IntGauge,
    pub(crate) bytes_sent: IntCounter,
    pub(crate) tiles: IntCounterVec,
    pub(crate) encode_seconds: Histogram,
    pub(crate) frame_latency_seconds: Histogram,
    pub(crate) clipboard: IntCounterVec,
    pub(crate) file_transfers: IntCounterVec,
    pub(crate) file_bytes: IntCounterVec,
    pub(crate) token_refusals: IntCounterVec,
    pub(crate) revocation_seq: IntGauge,
    pub(crate) relayed_streams: IntGauge,
}

impl GatewayMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let sessions_active = IntGauge::new(
            "oriel_gateway_sessions_active",
            "Sessions with at least one live stream on this gateway",
        )?;
        let websocket_connections = IntGauge::new(
            "oriel_gateway_websocket_connections",
            "Open stream WebSockets",
        )?;
        let streams = IntCounterVec::new(
            Opts::new(
                "oriel_gateway_streams_total",
                "Streams ended, by result (ok or an error kind) and class",
            ),
            &["result", "class"],
        )?;
        let frames_sent =
            IntCounter::new("oriel_gateway_frames_sent_total", "FRAME messages sent")?;
        let keyframes = IntCounter::new(
            "oriel_gateway_keyframes_total",
            "Keyframes sent: the whole picture for a viewer that joined a running session, fell behind or asked for a refresh",
        )?;
        let sinks_behind = IntCounter::new(
            "oriel_gateway_sinks_behind_total",
            "Times a viewer fell so far behind the others that its waiting frames were dropped for a keyframe",
        )?;
        let input_refused = IntCounter::new(
            "oriel_gateway_input_refused_total",
            "Input, clipboard or resize messages dropped because the viewer may only watch",
        )?;
        let upstreams_active = IntGauge::new(
            "oriel_gateway_upstreams_active",
            "Sessions whose target is connected on this gateway (one connection per session, whatever its viewers)",
        )?;
        let bytes_sent = IntCounter::new(
            "oriel_gateway_bytes_sent_total",
            "Bytes of stream messages sent to viewers",
        )?;
        let tiles = IntCounterVec::new(
            Opts::new(
                "oriel_gateway_tiles_total",
                "Tiles encoded, by encoding (once per session, whatever its viewers)",
            ),
            &["encoding"],
        )?;
        let encode_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "oriel_gateway_encode_seconds",
                "Time to encode one frame on the shared pool",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256,
            ]),
        )?;
        let frame_latency_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "oriel_gateway_frame_latency_seconds",
                "From the oldest change in a frame to the viewer's acknowledgement",
            )
            .buckets(vec![
                0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.0,
            ]),
        )?;
        let clipboard = IntCounterVec::new(
            Opts::new(
                "oriel_gateway_clipboard_total",
                "Clipboard transfers, by direction and decision",
            ),
            &["direction", "decision"],
        )?;
        let file_transfers = IntCounterVec::new(
            Opts::new(
                "oriel_gateway_file_transfers_total",
                "File transfers ended, by direction and outcome (done or a file error code)",
            ),
            &["direction", "outcome"],
        )?;
        let file_bytes = IntCounterVec::new(
            Opts::new(
                "oriel_gateway_file_bytes_total",
                "Bytes of files passed between viewers and targets, by direction",
            ),
            &["direction"],
        )?;
        let token_refusals = IntCounterVec::new(
            Opts::new(
                "oriel_gateway_token_refusals_total",
                "Session tokens refused, by reason (bad_signature, unknown_key, expired, \
                 replay_address, replay_window, replay_limit, revoked, wrong_zone, wrong_gateway, …)",
            ),
            &["reason"],
        )?;
        let revocation_seq = IntGauge::new(
            "oriel_gateway_revocation_list_seq",
            "Sequence number of the revocation list held (0: none yet)",
        )?;
        let relayed_streams = IntGauge::new(
            "oriel_gateway_relayed_streams",
            "Streams passed on to another gateway right now (relay and dedicated proxy)",
        )?;
        for c in [
            Box::new(sessions_active.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(websocket_connections.clone()),
            Box::new(streams.clone()),
            Box::new(frames_sent.clone()),
            Box::new(keyframes.clone()),
            Box::new(sinks_behind.clone()),
            Box::new(input_refused.clone()),
            Box::new(upstreams_active.clone()),
            Box::new(bytes_sent.clone()),
            Box::new(tiles.clone()),
            Box::new(encode_seconds.clone()),
            Box::new(frame_latency_seconds.clone()),
            Box::new(file_transfers.clone()),
            Box::new(file_bytes.clone()),
            Box::new(clipboard.clone()),
            Box::new(token_refusals.clone()),
            Box::new(revocation_seq.clone()),
            Box::new(relayed_streams.clone()),
        ] {
            registry.register(c)?;
        }
        Ok(GatewayMetrics {
            sessions_active,
            websocket_connections,
            streams,
            frames_sent,
            keyframes,
            sinks_behind,
            input_refused,
            upstreams_active,
            bytes_sent,
            tiles,
            encode_seconds,
            frame_latency_seconds,
            clipboard,
            file_transfers,
            file_bytes,
            token_refusals,
            revocation_seq,
            relayed_streams,
        })
    }
}
