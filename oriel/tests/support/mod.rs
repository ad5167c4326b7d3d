//! Fixtures for the end-to-end tests: the real `oriel` binary on a free
//! loopback port with a temporary data directory, and a small API client.
//! `databases.rs` runs a scenario on SQLite and PostgreSQL; `web.rs` drives
//! the web client in Chromium; `admin.rs` is the logged-in-admin fixture.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use anyhow::{Context as _, bail};
use oriel_testkit::{ChildGuard, ScratchDir, wait_until};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

#[macro_use]
mod databases;
pub mod admin;
pub mod contract;
pub mod replay;
pub mod web;

#[allow(unused_imports)]
pub use databases::{Backend, Deployment};

pub const ADMIN_PASSWORD: &str = "admin-test-password";

/// A running `oriel` process.
pub struct Oriel {
    pub guard: ChildGuard,
    pub dir: ScratchDir,
    pub base: String,
    pub port: u16,
}

impl Oriel {
    /// `oriel up` with extra environment (`ORIEL_...` overrides).
    pub async fn up(env: &[(&str, &str)]) -> anyhow::Result<Oriel> {
        Self::start("up", &[], env).await
    }

    /// `oriel <role> <args>`, listening on 127.0.0.1:0.
    pub async fn start(role: &str, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Oriel> {
        let dir = ScratchDir::new("oriel")?;
        let data = dir.path().join("data");
        Self::start_in(role, args, env, dir, data).await
    }

    pub async fn start_in(
        role: &str,
        args: &[&str],
        env: &[(&str, &str)],
        dir: ScratchDir,
        data: PathBuf,
    ) -> anyhow::Result<Oriel> {
        Self::start_at(role, args, env, dir, data, "127.0.0.1:0").await
    }

    /// Like [`Self::start_in`] on a given listen address (e.g. to restart
    /// on the same port with the same data directory).
    pub async fn start_at(
        role: &str,
        args: &[&str],
        env: &[(&str, &str)],
        dir: ScratchDir,
        data: PathBuf,
        listen: &str,
    ) -> anyhow::Result<Oriel> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oriel"));
        cmd.arg(role)
            .arg("--data-dir")
            .arg(&data)
            .arg("--listen")
            .arg(listen)
            .args(args)
            .env("ORIEL_ADMIN_PASSWORD", ADMIN_PASSWORD)
            // No agent in the process unless a test asks for one (container
            // tests do, with an agent id of their own): the others need no
            // Docker, and agents sharing the id `local` would reconcile
            // each other's containers away.
            .env("ORIEL_AGENT__ENABLED", "false")
            .env(
                "RUST_LOG",
                "info,oriel_gateway=debug,oriel_protocols_vnc=debug",
            );
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut guard = ChildGuard::spawn(cmd, &format!("oriel-{role}"), &dir)?;
        let find = |log: &str| {
            log.lines().find_map(|l| {
                l.split(" ready at ")
                    .nth(1)
                    .map(|u| u.trim().trim_end_matches('/').to_owned())
            })
        };
        wait_until(Duration::from_secs(30), "oriel to be ready", || {
            let ready = find(&guard.log()).is_some() || !guard.is_running();
            async move { ready }
        })
        .await
        .with_context(|| format!("oriel did not start:\n{}", guard.log_tail(30)))?;
        let Some(base) = find(&guard.log()) else {
            bail!("oriel exited:\n{}", guard.log_tail(30));
        };
        let port = base.rsplit(':').next().unwrap().parse()?;
        Ok(Oriel {
            guard,
            dir,
            base,
            port,
        })
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn cert(&self) -> PathBuf {
        self.data_dir().join("tls/tls.crt")
    }

    pub fn stream_url(&self) -> String {
        format!("wss://localhost:{}/stream", self.port)
    }

    pub fn origin(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    pub fn api(&self) -> Api {
        Api::new(&format!("https://localhost:{}", self.port), &self.cert())
    }

    /// An API client logged in as the initial administrator.
    pub async fn admin_api(&self) -> anyhow::Result<Api> {
        let mut api = self.api();
        blocking(move || api.login_admin().map(|()| api)).await
    }

    pub fn log_tail(&self, n: usize) -> String {
        self.guard.log_tail(n)
    }
}

/// A JSON API client trusting the server's self-signed certificate.
#[derive(Clone)]
pub struct Api {
    agent: ureq::Agent,
    base: String,
    pub token: Option<String>,
}

/// Status and JSON body of a response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl Api {
    pub fn new(base: &str, cert: &std::path::Path) -> Api {
        let pem = std::fs::read(cert).expect("certificate");
        let roots: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|i| match i {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .new_agent();
        Api {
            agent,
            base: base.to_owned(),
            token: None,
        }
    }

    /// A request with optional JSON body and extra headers, blocking (run it
    /// from `spawn_blocking` or plain sync code).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Reply> {
        let url = format!("{}{path}", self.base);
        let mut req = http::Request::builder().method(method).uri(&url);
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = match body {
            Some(b) => {
                let req = req
                    .header("content-type", "application/json")
                    .body(b.to_string())?;
                self.agent.run(req)?
            }
            None => self.agent.run(req.body(())?)?,
        };
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let text = resp.into_body().read_to_string()?;
        let reply_body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        let reply = Reply {
            status,
            body: reply_body,
            headers,
        };
        contract::observe(method, path, body, &reply);
        Ok(reply)
    }

    /// POSTs a text body (a signed token to the gateway's `/gateway/v1/`
    /// endpoints, outside the API and its OpenAPI document), blocking.
    #[allow(dead_code)]
    pub fn post_text(&self, path: &str, body: &str) -> anyhow::Result<(u16, Value)> {
        let req = http::Request::builder()
            .method("POST")
            .uri(format!("{}{path}", self.base))
            .header("content-type", "text/plain")
            .body(body.to_owned())?;
        let resp = self.agent.run(req)?;
        let status = resp.status().as_u16();
        let text = resp.into_body().read_to_string()?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// GETs a binary body (a recording file), blocking: status, bytes and
    /// the content type. Outside the JSON contract check.
    pub fn get_bytes(&self, path: &str) -> anyhow::Result<(u16, Vec<u8>, String)> {
        let mut req = http::Request::builder()
            .method("GET")
            .uri(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = self.agent.run(req.body(())?)?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = resp
            .into_body()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()?;
        Ok((status, bytes, content_type))
    }

    /// [`Api::call`] off the async runtime, with an owned body.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Reply> {
        let (api, method, path) = (self.clone(), method.to_owned(), path.to_owned());
        blocking(move || api.call(&method, &path, body.as_ref(), &[])).await
    }

    pub fn login(&mut self, username: &str, password: &str) -> anyhow::Result<Reply> {
        let r = self.call(
            "POST",
            "/api/v1/auth/login",
            Some(&json!({"username": username, "password": password})),
            &[],
        )?;
        if r.status == 200 {
            self.token = r.body["token"].as_str().map(str::to_owned);
        }
        Ok(r)
    }

    pub fn login_admin(&mut self) -> anyhow::Result<()> {
        let r = self.login("admin", ADMIN_PASSWORD)?;
        if r.status != 200 {
            bail!("admin login failed: {r:?}");
        }
        Ok(())
    }

    /// Creates a VNC workspace and returns its JSON.
    pub fn vnc_workspace(
        &self,
        name: &str,
        port: u16,
        password: Option<&str>,
        policy: Value,
    ) -> anyhow::Result<Value> {
        let mut body = json!({
            "name": name,
            "kind": "vnc",
            "target": {"host": "127.0.0.1", "port": port},
            "policy": policy,
        });
        if let Some(p) = password {
            body["credentials"] = json!({"password": p});
        }
        let r = self.call("POST", "/api/v1/workspaces", Some(&body), &[])?;
        if r.status != 201 {
            bail!("create workspace failed: {r:?}");
        }
        Ok(r.body)
    }

    /// `POST /api/v1/sessions` for `workspace`, whatever the answer.
    pub fn try_launch(&self, workspace: &str) -> anyhow::Result<Reply> {
        self.call(
            "POST",
            "/api/v1/sessions",
            Some(&json!({"workspace": workspace})),
            &[],
        )
    }

    /// Asks for a session's token until it comes: a container session
    /// answers 202 while its agent starts the desktop. Fails on any other
    /// answer, or after `timeout`.
    pub fn wait_token(&self, id: &str, timeout: Duration) -> anyhow::Result<Value> {
        let started = std::time::Instant::now();
        loop {
            let r = self.call("POST", &format!("/api/v1/sessions/{id}/token"), None, &[])?;
            match r.status {
                200 => return Ok(r.body),
                202 if started.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                _ => bail!("no token for session {id}: {r:?}"),
            }
        }
    }

    /// Launches a session; returns its JSON (id, token, stream_url, ...).
    pub fn launch(&self, workspace: &str) -> anyhow::Result<Value> {
        let r = self.try_launch(workspace)?;
        if r.status != 201 {
            bail!("launch failed: {r:?}");
        }
        Ok(r.body)
    }
}

/// Runs blocking API code off the async runtime.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

/// SHA-256 (hex) of a PEM certificate, as routes, tokens and zones pin it.
pub fn cert_sha256(cert: &std::path::Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl x509 -in '{}' -outform der | sha256sum",
            cert.display()
        ))
        .output()
        .expect("openssl");
    let hex = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(hex.len(), 64, "no certificate in {}", cert.display());
    hex
}

/// A viewer of a launched session (the API's answer: `stream_url`,
/// `token`) offering `capabilities`, after its HELLO exchange: look at its
/// `hello` (or `end`) for how it went.
pub async fn open_viewer(
    cert: &std::path::Path,
    origin: &str,
    launched: &Value,
    capabilities: u32,
) -> oriel_testkit::StreamViewer {
    let mut v = oriel_testkit::StreamViewer::connect(
        launched["stream_url"].as_str().expect("a stream_url"),
        cert,
        Some(origin),
    )
    .await
    .expect("the stream connects");
    v.capabilities = capabilities;
    v.hello(
        launched["token"].as_str().expect("a token"),
        Duration::from_secs(20),
    )
    .await
    .expect("the HELLO exchange");
    v
}
