//! A small blocking client of the REST API (one connection per client).

use anyhow::{Context as _, bail};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client of `base` (`https://host:port`) trusting the PEM certificates in `ca`.
    /// The control plane's URL: the origin of its web app, from which a
    /// browser opens its streams.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn new(base: &str, ca: &Path) -> anyhow::Result<Client> {
        let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
        let roots: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|i| match i {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if roots.is_empty() {
            bail!("no certificate in {}", ca.display());
        }
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        Ok(Client {
            agent,
            base: base.trim_end_matches('/').to_owned(),
            token: None,
        })
    }

    /// A request; returns the status and the JSON body (`Null` when empty).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = match body {
            Some(b) => self.agent.run(
                req.header("content-type", "application/json")
                    .body(b.to_string())?,
            )?,
            None => self.agent.run(req.body(())?)?,
        };
        let status = resp.status().as_u16();
        let text = resp.into_body().read_to_string()?;
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, json))
    }

    /// Posts and insists on `want`; returns the body.
    pub fn expect(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        want: u16,
    ) -> anyhow::Result<Value> {
        let (status, json) = self.call(method, path, body)?;
        if status != want {
            bail!("{method} {path}: {status} {json}");
        }
        Ok(json)
    }

    /// Logs in; keeps the token. Returns the status.
    pub fn login(&mut self, username: &str, password: &str) -> anyhow::Result<u16> {
        let body = serde_json::json!({ "username": username, "password": password });
        let (status, json) = self.call("POST", "/api/v1/auth/login", Some(&body))?;
        if status == 200 {
            self.token = json["token"].as_str().map(str::to_owned);
        }
        Ok(status)
    }
}
