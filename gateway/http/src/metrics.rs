//! Metrics of the HTTPS front.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// Request and upgrade metrics, registered in the process registry.
#[derive(Debug, Clone)]
pub struct FrontMetrics {
    pub(crate) requests: IntCounterVec,
    pub(crate) duration: HistogramVec,
    pub(crate) upgrades: IntCounterVec,
}

impl FrontMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let requests = IntCounterVec::new(
            Opts::new(
                "oriel_http_requests_total",
                "HTTP requests answered, by route and status",
            ),
            &["route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "oriel_http_request_duration_seconds",
                "Time to answer an HTTP request, by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["route"],
        )?;
        let upgrades = IntCounterVec::new(
            Opts::new(
                "oriel_http_websocket_upgrades_total",
                "WebSocket upgrade attempts, by result",
            ),
            &["result"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(upgrades.clone()))?;
        Ok(FrontMetrics {
            requests,
            duration,
            upgrades,
        })
    }
}
