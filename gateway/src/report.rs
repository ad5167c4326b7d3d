//! Telling the control plane what happens to streams (so it can move
//! sessions through their state machine): in process under `oriel up`, or
//! as reports signed with the gateway's own key and POSTed over HTTPS.
//! Reporting never blocks or fails a stream: reports go through a bounded
//! queue, in order, each retried until the control plane takes it (it may
//! be away for a while: reports sent after a partition are how it learns
//! what ended meanwhile).

use oriel_core_token::{CLAIMS_VERSION, Report, ReportClaims, TokenSigner};
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info, warn};

/// Receives the gateway's reports.
pub trait SessionReporter: Send + Sync + std::fmt::Debug + 'static {
    /// Queues a report; never blocks.
    fn report(&self, report: Report);
}

/// Reports go nowhere.
#[derive(Debug, Default)]
pub struct NoReports;

impl SessionReporter for NoReports {
    fn report(&self, _: Report) {}
}

/// Reports are handed to a function (the control plane in the same process).
pub struct ReportFn(Box<dyn Fn(Report) + Send + Sync>);

impl ReportFn {
    /// Calls `f` with every report.
    pub fn new(f: impl Fn(Report) + Send + Sync + 'static) -> Self {
        ReportFn(Box::new(f))
    }
}

impl std::fmt::Debug for ReportFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReportFn")
    }
}

impl SessionReporter for ReportFn {
    fn report(&self, report: Report) {
        (self.0)(report);
    }
}

/// Path of the control plane's report endpoint.
pub const REPORT_PATH: &str = "/api/v1/gateway/reports";

/// Reports signed with the gateway's key and POSTed to a remote control plane.
pub struct HttpReporter {
    queue: std::sync::mpsc::SyncSender<Report>,
}

impl std::fmt::Debug for HttpReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpReporter")
    }
}

impl HttpReporter {
    /// Reports to `control_url` (`https://…`), whose certificate must chain
    /// to `ca_pem`; signed with `signer`. Starts one background thread.
    pub fn new(control_url: &str, ca_pem: &[u8], signer: Arc<TokenSigner>) -> Result<Self, String> {
        let agent = control_agent(ca_pem)?;
        let url = format!("{}{REPORT_PATH}", control_url.trim_end_matches('/'));
        let (queue, rx) = std::sync::mpsc::sync_channel::<Report>(1024);
        std::thread::Builder::new()
            .name("oriel-reports".into())
            .spawn(move || {
                while let Ok(report) = rx.recv() {
                    send_with_retries(&agent, &url, &signer, &report);
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(HttpReporter { queue })
    }
}

/// An HTTPS client for the control plane, whose certificate must chain to
/// `ca_pem`.
pub(crate) fn control_agent(ca_pem: &[u8]) -> Result<ureq::Agent, String> {
    let mut roots = Vec::new();
    for item in ureq::tls::parse_pem(ca_pem) {
        if let ureq::tls::PemItem::Certificate(c) = item.map_err(|e| e.to_string())? {
            roots.push(c);
        }
    }
    if roots.is_empty() {
        return Err("no certificate found for the control plane's CA".into());
    }
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    let agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .new_agent();
    Ok(agent)
}

/// Longest wait between two attempts to deliver a report.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Delivers one report, retrying (signed afresh each time) until the
/// control plane takes it: a report must survive the control plane being
/// away (a partition, a restart), or the sessions it ends stay open there.
/// Only a refusal that retrying cannot fix (a 4xx other than 408 and 429:
/// an unknown gateway key, a malformed report) drops it.
fn send_with_retries(agent: &ureq::Agent, url: &str, signer: &TokenSigner, report: &Report) {
    let mut backoff = Duration::from_millis(500);
    let mut failing_since: Option<std::time::Instant> = None;
    for attempt in 0u64.. {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = ReportClaims {
            v: CLAIMS_VERSION,
            jti: format!(
                "{now}-{attempt}-{}",
                report.session_id().unwrap_or("sessions")
            ),
            iat: now,
            nbf: now,
            exp: now + 300,
            report: report.clone(),
        };
        let Ok(token) = signer.sign(&claims) else {
            warn!("cannot sign a report");
            return;
        };
        match agent
            .post(url)
            .header("content-type", "text/plain")
            .send(token.as_str())
        {
            Ok(_) => {
                if let Some(since) = failing_since {
                    info!(
                        after_secs = since.elapsed().as_secs(),
                        attempts = attempt + 1,
                        "a report reached the control plane again"
                    );
                }
                debug!(
                    session_id = report.session_id().unwrap_or("-"),
                    "report delivered"
                );
                return;
            }
            Err(ureq::Error::StatusCode(code))
                if (400..500).contains(&code) && code != 408 && code != 429 =>
            {
                warn!(status = code, "the control plane refused a report; dropped");
                return;
            }
            Err(e) => {
                if failing_since.is_none() {
                    warn!(error = %e, "cannot deliver a report to the control plane; retrying until it answers");
                    failing_since = Some(std::time::Instant::now());
                } else {
                    debug!(error = %e, attempt, "still cannot deliver a report");
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

impl SessionReporter for HttpReporter {
    fn report(&self, report: Report) {
        if self.queue.try_send(report).is_err() {
            warn!("report queue full: a report to the control plane was dropped");
        }
    }
}
