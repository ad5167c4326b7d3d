//! How the control plane tells gateways to end a session and what is
//! revoked: in process (in `oriel up`), or with signed commands and lists
//! POSTed to each configured gateway (which also fetch the list themselves).

use oriel_core_token::{CLAIMS_VERSION, Command, CommandClaims, TokenSigner};
use oriel_gateway_http::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tracing::warn;

/// Path of the gateways' command endpoint.
pub const COMMAND_PATH: &str = "/gateway/v1/commands";
/// Path of the gateways' revocation list endpoint.
pub const REVOCATIONS_PATH: &str = "/gateway/v1/revocations";

/// A way to reach the gateways.
pub trait GatewayLink: Send + Sync + 'static {
    /// Ends every stream of `session_id` and refuses its tokens until
    /// `until_unix` (seconds). Returns the number of streams closed.
    fn end_session(
        &self,
        session_id: &str,
        until_unix: u64,
    ) -> BoxFuture<'_, Result<usize, String>>;

    /// Hands the gateways a signed revocation list (`rv1.…`).
    fn push_revocations(&self, list: &str) -> BoxFuture<'_, Result<(), String>>;

    /// Hands the control of `session_id` to the viewers of share link
    /// `link` (`control: true`) or takes it back. Returns how many viewers
    /// changed (0 when none is connected).
    fn set_link_control(
        &self,
        session_id: &str,
        link: &str,
        control: bool,
    ) -> BoxFuture<'_, Result<usize, String>>;
}

/// Several links told the same thing: the gateway of this process and
/// stand-alone ones (connection proxies) of an `oriel up`. An end counts the
/// streams all of them closed; it fails if one of them could not be told
/// (the reaper tells them again).
pub struct AllGateways(Vec<Arc<dyn GatewayLink>>);

impl std::fmt::Debug for AllGateways {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AllGateways({} links)", self.0.len())
    }
}

impl AllGateways {
    /// Tells every one of `links`.
    pub fn new(links: Vec<Arc<dyn GatewayLink>>) -> AllGateways {
        AllGateways(links)
    }
}

impl GatewayLink for AllGateways {
    fn end_session(
        &self,
        session_id: &str,
        until_unix: u64,
    ) -> BoxFuture<'_, Result<usize, String>> {
        let session_id = session_id.to_owned();
        Box::pin(async move {
            let mut closed = 0;
            let mut failures = Vec::new();
            for link in &self.0 {
                match link.end_session(&session_id, until_unix).await {
                    Ok(n) => closed += n,
                    Err(e) => failures.push(e),
                }
            }
            if failures.is_empty() {
                Ok(closed)
            } else {
                Err(failures.join("; "))
            }
        })
    }

    fn push_revocations(&self, list: &str) -> BoxFuture<'_, Result<(), String>> {
        let list = list.to_owned();
        Box::pin(async move {
            let mut failures = Vec::new();
            for link in &self.0 {
                if let Err(e) = link.push_revocations(&list).await {
                    failures.push(e);
                }
            }
            if failures.is_empty() {
                Ok(())
            } else {
                Err(failures.join("; "))
            }
        })
    }

    fn set_link_control(
        &self,
        session_id: &str,
        link: &str,
        control: bool,
    ) -> BoxFuture<'_, Result<usize, String>> {
        let (session_id, share) = (session_id.to_owned(), link.to_owned());
        Box::pin(async move {
            let mut changed = 0;
            let mut failures = Vec::new();
            for link in &self.0 {
                match link.set_link_control(&session_id, &share, control).await {
                    Ok(n) => changed += n,
                    Err(e) => failures.push(e),
                }
            }
            if failures.is_empty() {
                Ok(changed)
            } else {
                Err(failures.join("; "))
            }
        })
    }
}

type EndFn = Box<dyn Fn(&str, u64) -> usize + Send + Sync>;
type RevocationsFn = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;
type LinkControlFn = Box<dyn Fn(String, String, bool) -> BoxFuture<'static, usize> + Send + Sync>;

/// The gateway of this very process.
pub struct InProcessGateway {
    end: EndFn,
    revocations: Option<RevocationsFn>,
    link_control: Option<LinkControlFn>,
}

impl std::fmt::Debug for InProcessGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InProcessGateway")
    }
}

impl InProcessGateway {
    /// A link calling `end(session_id, until)` directly.
    pub fn new(end: impl Fn(&str, u64) -> usize + Send + Sync + 'static) -> Self {
        InProcessGateway {
            end: Box::new(end),
            revocations: None,
            link_control: None,
        }
    }

    /// Also hands share links' control over with `set(session_id, link,
    /// control)`, which answers how many viewers changed.
    pub fn with_link_control(
        mut self,
        set: impl Fn(String, String, bool) -> BoxFuture<'static, usize> + Send + Sync + 'static,
    ) -> Self {
        self.link_control = Some(Box::new(set));
        self
    }

    /// Also hands revocation lists to `apply`.
    pub fn with_revocations(
        mut self,
        apply: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.revocations = Some(Box::new(apply));
        self
    }
}

impl GatewayLink for InProcessGateway {
    fn end_session(
        &self,
        session_id: &str,
        until_unix: u64,
    ) -> BoxFuture<'_, Result<usize, String>> {
        let n = (self.end)(session_id, until_unix);
        Box::pin(async move { Ok(n) })
    }

    fn push_revocations(&self, list: &str) -> BoxFuture<'_, Result<(), String>> {
        let applied = self.revocations.as_ref().map_or(Ok(()), |f| f(list));
        Box::pin(async move { applied })
    }

    fn set_link_control(
        &self,
        session_id: &str,
        link: &str,
        control: bool,
    ) -> BoxFuture<'_, Result<usize, String>> {
        match &self.link_control {
            Some(set) => {
                let changed = set(session_id.to_owned(), link.to_owned(), control);
                Box::pin(async move { Ok(changed.await) })
            }
            None => Box::pin(async { Ok(0) }),
        }
    }
}

/// Gateways in other processes, reached over HTTPS with signed commands.
pub struct RemoteGateways {
    urls: Vec<String>,
    signer: Arc<TokenSigner>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for RemoteGateways {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteGateways")
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

impl RemoteGateways {
    /// Gateways at these base URLs (`https://host:port`), whose certificates
    /// must chain to one of the certificates in `ca_pem` (their self-signed
    /// certificates, or a private CA).
    pub fn new(urls: Vec<String>, signer: Arc<TokenSigner>, ca_pem: &[u8]) -> Result<Self, String> {
        let mut roots = Vec::new();
        for item in ureq::tls::parse_pem(ca_pem) {
            if let ureq::tls::PemItem::Certificate(cert) = item.map_err(|e| e.to_string())? {
                roots.push(cert);
            }
        }
        if roots.is_empty() {
            return Err("no certificate found for the gateways' CA".into());
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
        Ok(RemoteGateways {
            urls,
            signer,
            agent,
        })
    }
}

impl RemoteGateways {
    /// Signs `cmd` and POSTs it to every gateway; sums `field` of their
    /// answers. Fails if one of them could not be reached.
    fn command(&self, cmd: Command, field: &'static str) -> BoxFuture<'_, Result<usize, String>> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = CommandClaims {
            v: CLAIMS_VERSION,
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            nbf: now,
            exp: now + 60,
            aud: None,
            cmd,
        };
        let token = self.signer.sign(&claims);
        let urls = self.urls.clone();
        let agent = self.agent.clone();
        Box::pin(async move {
            let token = token.map_err(|e| e.to_string())?;
            tokio::task::spawn_blocking(move || {
                let mut total = 0usize;
                let mut failures = Vec::new();
                for url in urls {
                    let endpoint = format!("{}{COMMAND_PATH}", url.trim_end_matches('/'));
                    match agent
                        .post(&endpoint)
                        .header("content-type", "text/plain")
                        .send(token.as_str())
                    {
                        Ok(mut resp) => {
                            let body: serde_json::Value =
                                resp.body_mut().read_json().unwrap_or_default();
                            total += body[field].as_u64().unwrap_or(0) as usize;
                        }
                        Err(e) => {
                            warn!(gateway = %url, error = %e, "cannot reach a gateway with a command");
                            failures.push(format!("{url}: {e}"));
                        }
                    }
                }
                if failures.is_empty() {
                    Ok(total)
                } else {
                    Err(failures.join("; "))
                }
            })
            .await
            .map_err(|e| e.to_string())?
        })
    }
}

impl GatewayLink for RemoteGateways {
    fn set_link_control(
        &self,
        session_id: &str,
        link: &str,
        control: bool,
    ) -> BoxFuture<'_, Result<usize, String>> {
        self.command(
            Command::SetLinkControl {
                sid: session_id.to_owned(),
                link: link.to_owned(),
                control,
            },
            "viewers_changed",
        )
    }

    fn end_session(
        &self,
        session_id: &str,
        until_unix: u64,
    ) -> BoxFuture<'_, Result<usize, String>> {
        self.command(
            Command::EndSession {
                sid: session_id.to_owned(),
                until: until_unix,
            },
            "streams_closed",
        )
    }

    fn push_revocations(&self, list: &str) -> BoxFuture<'_, Result<(), String>> {
        let (urls, agent, list) = (self.urls.clone(), self.agent.clone(), list.to_owned());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut failures = Vec::new();
                for url in urls {
                    let endpoint = format!("{}{REVOCATIONS_PATH}", url.trim_end_matches('/'));
                    if let Err(e) = agent
                        .post(&endpoint)
                        .header("content-type", "text/plain")
                        .send(list.as_str())
                    {
                        failures.push(format!("{url}: {e}"));
                    }
                }
                if failures.is_empty() {
                    Ok(())
                } else {
                    Err(failures.join("; "))
                }
            })
            .await
            .map_err(|e| e.to_string())?
        })
    }
}
