//! The agent protocol over HTTPS (`oriel agent`): JSON bodies, the join
//! token as bearer, the control plane's certificate checked against the
//! configured CA. ureq is blocking, so each call runs on tokio's blocking
//! pool.

use std::sync::Arc;
use std::time::Duration;

use oriel_core_agent_protocol::{
    AgentHello, AgentOrders, AgentPoll, AgentReport, AgentWelcome, MAX_POLL_WAIT_MS, POLL_PATH,
    REGISTER_PATH, REPORT_PATH, ReportOutcome, ReportReply, UNREGISTERED,
};

use super::{ControlLink, LinkError};

/// Why an HTTPS link cannot be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpsLinkError {
    /// The CA file is not PEM.
    #[error("the control plane's CA is not valid PEM: {0}")]
    InvalidCa(String),
    /// The CA file holds no certificate.
    #[error("the control plane's CA file holds no certificate")]
    NoCertificate,
    /// The base URL is not `https://`.
    #[error("the control plane's URL must start with https://")]
    NotHttps,
}

/// A control plane over HTTPS.
#[derive(Clone)]
pub struct HttpsLink {
    base: String,
    join_token: String,
    http: ureq::Agent,
}

impl std::fmt::Debug for HttpsLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsLink")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl HttpsLink {
    /// A control plane at `base` (`https://host:port`) whose certificate
    /// chains to a certificate of `ca_pem`; calls carry `join_token`.
    pub fn new(base: &str, join_token: String, ca_pem: &[u8]) -> Result<HttpsLink, HttpsLinkError> {
        if !base.starts_with("https://") {
            return Err(HttpsLinkError::NotHttps);
        }
        let mut roots = Vec::new();
        for item in ureq::tls::parse_pem(ca_pem) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(cert)) => roots.push(cert),
                Ok(_) => {}
                Err(e) => return Err(HttpsLinkError::InvalidCa(e.to_string())),
            }
        }
        if roots.is_empty() {
            return Err(HttpsLinkError::NoCertificate);
        }
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let http = ureq::Agent::config_builder()
            .tls_config(tls)
            // A held poll answers within MAX_POLL_WAIT_MS.
            .timeout_global(Some(Duration::from_millis(MAX_POLL_WAIT_MS + 10_000)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Ok(HttpsLink {
            base: base.trim_end_matches('/').to_owned(),
            join_token,
            http,
        })
    }

    async fn post<B, R>(&self, path: &'static str, body: &B) -> Result<R, LinkError>
    where
        B: serde::Serialize,
        R: serde::de::DeserializeOwned + Send + 'static,
    {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.join_token);
        let body = serde_json::to_vec(body).map_err(|e| LinkError::Failed(e.to_string()))?;
        let http = self.http.clone();
        tokio::task::spawn_blocking(move || {
            let mut resp = http
                .post(&url)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .send(&body[..])
                .map_err(|e| LinkError::Failed(format!("{url}: {e}")))?;
            let status = resp.status().as_u16();
            let value: serde_json::Value = resp
                .body_mut()
                .read_json()
                .map_err(|e| LinkError::Failed(format!("{url}: HTTP {status}: {e}")))?;
            if status == 409 && value["error"]["code"] == UNREGISTERED {
                return Err(LinkError::Unregistered);
            }
            if !(200..300).contains(&status) {
                return Err(LinkError::Refused(format!(
                    "{url}: HTTP {status}: {}",
                    value["error"]["message"].as_str().unwrap_or("no message")
                )));
            }
            serde_json::from_value(value).map_err(|e| LinkError::Failed(format!("{url}: {e}")))
        })
        .await
        .map_err(|e| LinkError::Failed(e.to_string()))?
    }
}

impl ControlLink for HttpsLink {
    async fn register(&self, hello: &AgentHello) -> Result<AgentWelcome, LinkError> {
        self.post(REGISTER_PATH, hello).await
    }

    async fn poll(&self, poll: &AgentPoll) -> Result<AgentOrders, LinkError> {
        self.post(POLL_PATH, poll).await
    }

    async fn report(&self, report: &AgentReport) -> Result<ReportOutcome, LinkError> {
        let reply: ReportReply = self.post(REPORT_PATH, report).await?;
        Ok(reply.outcome)
    }
}
