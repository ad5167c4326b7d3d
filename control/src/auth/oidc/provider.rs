//! Talking to the OpenID provider: discovery, the JSON Web Key Set and its
//! rotation, the authorization URL (code flow, PKCE S256), the code exchange
//! and the ID token's validation (OpenID Connect Core 1.0 §3.1.3.7;
//! discovery per OpenID Connect Discovery 1.0; PKCE per RFC 7636).
//!
//! The `openidconnect` crate does the protocol; its HTTP goes through a
//! small client of our own on `ureq`, run on the blocking pool, that follows
//! no redirects (SSRF), reads at most 1 MiB and gives up after 10 s.
//!
//! Discovery and the key set are cached. An ID token signed with a key the
//! cache does not know (a `kid` it has not seen: the provider rotated its
//! keys) fetches the key set again, at most once per [`JWKS_MIN_REFETCH`]:
//! a login that arrives sooner waits for that moment instead of failing,
//! and concurrent logins share the one fetch.

use super::flow::Flow;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreTokenResponse,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    HttpRequest, HttpResponse, IdTokenVerifier, IssuerUrl, JsonWebKeySet, Nonce,
    OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError, TokenResponse as _,
};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, RwLock};
use tracing::{info, warn};

/// What the HTTP client handed to openidconnect returns.
type HttpFuture = std::pin::Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send>>;

/// Discovery is fetched again after this long.
const METADATA_TTL: Duration = Duration::from_secs(3600);

/// The key set is fetched at most this often for unknown `kid`s.
pub(crate) const JWKS_MIN_REFETCH: Duration = Duration::from_secs(10);

/// Every request to the provider gives up after this long.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest response read from the provider.
const MAX_BODY: u64 = 1 << 20;

/// Why talking to the provider failed. The messages go to the log only.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProviderError {
    /// Discovery, the key set or the userinfo endpoint cannot be had.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The token endpoint refused the code (used, expired, wrong verifier).
    #[error("token request failed: {0}")]
    TokenExchange(String),
    /// The ID token's nonce is not the flow's.
    #[error("id token nonce: {0}")]
    Nonce(String),
    /// The ID token is missing, badly signed, expired, for someone else...
    #[error("id token invalid: {0}")]
    InvalidToken(String),
}

/// An HTTP failure (what `openidconnect` gets from our client).
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// The request could not be sent or its answer read.
    #[error("http: {0}")]
    Request(String),
    /// The blocking task died.
    #[error("http worker stopped")]
    Worker,
}

/// An agent for the provider: the given CA certificates (PEM), or the
/// WebPKI roots when none; no redirects; errors are responses, not `Err`.
pub(crate) fn agent(ca_pem: &[u8]) -> Result<ureq::Agent, String> {
    let roots = if ca_pem.is_empty() {
        ureq::tls::RootCerts::WebPki
    } else {
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(ca_pem) {
            if let ureq::tls::PemItem::Certificate(c) = item.map_err(|e| e.to_string())? {
                certs.push(c);
            }
        }
        if certs.is_empty() {
            return Err("no certificate in the CA file".into());
        }
        ureq::tls::RootCerts::new_with_certs(&certs)
    };
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(roots)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    Ok(ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(HTTP_TIMEOUT))
        .build()
        .new_agent())
}

/// One request on the blocking pool.
async fn send(agent: ureq::Agent, req: HttpRequest) -> Result<HttpResponse, HttpError> {
    tokio::task::spawn_blocking(move || {
        let (parts, body) = req.into_parts();
        let resp = if body.is_empty() && parts.method == http::Method::GET {
            agent.run(http::Request::from_parts(parts, ()))
        } else {
            agent.run(http::Request::from_parts(parts, body))
        }
        .map_err(|e| HttpError::Request(e.to_string()))?;
        let (parts, body) = resp.into_parts();
        let bytes = body
            .into_with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| HttpError::Request(e.to_string()))?;
        Ok(http::Response::from_parts(parts, bytes))
    })
    .await
    .map_err(|_| HttpError::Worker)?
}

/// An error and its causes on one line, for the log.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// Only providers reached over HTTPS, or plain HTTP on this machine.
pub(crate) fn check_url(what: &str, url: &str) -> Result<(), String> {
    let parsed = openidconnect::url::Url::parse(url).map_err(|e| format!("{what} {url:?}: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match parsed.host() {
                Some(openidconnect::url::Host::Ipv4(a)) => a.is_loopback(),
                Some(openidconnect::url::Host::Ipv6(a)) => a.is_loopback(),
                Some(openidconnect::url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(format!(
                    "{what} {url:?} must be https:// (plain http:// only on a loopback address)"
                ))
            }
        }
        other => Err(format!("{what} {url:?}: unsupported scheme {other}")),
    }
}

/// What discovery found, with the key set.
struct Discovered {
    metadata: CoreProviderMetadata,
    fetched_at: Instant,
    jwks_fetched_at: Instant,
}

/// What the provider vouched for: the verified ID token's issuer, subject
/// and every claim (merged with userinfo's when asked).
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    pub issuer: String,
    pub subject: String,
    pub claims: Map<String, Value>,
}

/// The start of a login: where to send the browser, and what to remember.
pub(crate) struct Authorization {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

/// The configured provider, with its cached discovery and keys.
pub(crate) struct Provider {
    issuer: String,
    client_id: ClientId,
    client_secret: ClientSecret,
    scopes: Vec<String>,
    skew: Duration,
    agent: Option<ureq::Agent>,
    cache: RwLock<Option<Arc<Discovered>>>,
    /// Serialises fetches (one discovery or key-set fetch at a time).
    fetching: Mutex<()>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// The algorithms an ID token may be signed with: public-key signatures
/// only (an HMAC with the client secret would prove nothing a leaked secret
/// cannot forge, and is not what key rotation is about).
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

impl Provider {
    /// A provider; an unusable CA is logged and then refuses every login.
    pub(crate) fn new(
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        scopes: &[String],
        skew: Duration,
        ca_pem: &[u8],
    ) -> Provider {
        let agent = match agent(ca_pem) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::error!(error = %e, "oidc: cannot build the HTTP client");
                None
            }
        };
        Provider {
            issuer: issuer.to_owned(),
            client_id: ClientId::new(client_id.to_owned()),
            client_secret: ClientSecret::new(client_secret.to_owned()),
            scopes: scopes
                .iter()
                .filter(|s| s.as_str() != "openid")
                .cloned()
                .collect(),
            skew,
            agent,
            cache: RwLock::new(None),
            fetching: Mutex::new(()),
        }
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    fn http(&self) -> Result<impl Fn(HttpRequest) -> HttpFuture, ProviderError> {
        let agent = self
            .agent
            .clone()
            .ok_or_else(|| ProviderError::Unavailable("no HTTP client (bad CA file)".into()))?;
        Ok(move |req: HttpRequest| -> HttpFuture { Box::pin(send(agent.clone(), req)) })
    }

    /// Discovery (cached for [`METADATA_TTL`]; a stale copy is used while
    /// the provider cannot be reached).
    async fn discovered(&self) -> Result<Arc<Discovered>, ProviderError> {
        if let Some(d) = self.cache.read().await.as_ref()
            && d.fetched_at.elapsed() < METADATA_TTL
        {
            return Ok(Arc::clone(d));
        }
        let _one = self.fetching.lock().await;
        let stale = self.cache.read().await.clone();
        if let Some(d) = &stale
            && d.fetched_at.elapsed() < METADATA_TTL
        {
            return Ok(Arc::clone(d));
        }
        match self.discover().await {
            Ok(d) => {
                let d = Arc::new(d);
                *self.cache.write().await = Some(Arc::clone(&d));
                Ok(d)
            }
            Err(e) => match stale {
                Some(d) => {
                    warn!(error = %e, "oidc: cannot refresh discovery; using the cached copy");
                    Ok(d)
                }
                None => Err(e),
            },
        }
    }

    async fn discover(&self) -> Result<Discovered, ProviderError> {
        let issuer = IssuerUrl::new(self.issuer.clone())
            .map_err(|e| ProviderError::Unavailable(format!("issuer url: {e}")))?;
        let http = self.http()?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| ProviderError::Unavailable(format!("discovery: {}", chain(&e))))?;
        check_url(
            "authorization_endpoint",
            metadata.authorization_endpoint().as_str(),
        )
        .and_then(|()| check_url("jwks_uri", metadata.jwks_uri().as_str()))
        .and_then(|()| match metadata.token_endpoint() {
            Some(t) => check_url("token_endpoint", t.as_str()),
            None => Err("discovery has no token_endpoint".into()),
        })
        .and_then(|()| match metadata.userinfo_endpoint() {
            Some(u) => check_url("userinfo_endpoint", u.as_str()),
            None => Ok(()),
        })
        .map_err(ProviderError::Unavailable)?;
        info!(issuer = %self.issuer, keys = metadata.jwks().keys().len(), "oidc: provider discovered");
        let now = Instant::now();
        Ok(Discovered {
            metadata,
            fetched_at: now,
            jwks_fetched_at: now,
        })
    }

    /// The key set again, because an ID token named a key `seen` lacks.
    /// If another login already fetched it since `seen`, that copy is used;
    /// otherwise waits until [`JWKS_MIN_REFETCH`] after the last fetch.
    async fn refetch_jwks(&self, seen: &Arc<Discovered>) -> Result<Arc<Discovered>, ProviderError> {
        let _one = self.fetching.lock().await;
        if let Some(current) = self.cache.read().await.as_ref()
            && !Arc::ptr_eq(current, seen)
        {
            return Ok(Arc::clone(current));
        }
        let since = seen.jwks_fetched_at.elapsed();
        if since < JWKS_MIN_REFETCH {
            tokio::time::sleep(JWKS_MIN_REFETCH - since).await;
        }
        let http = self.http()?;
        let jwks = JsonWebKeySet::fetch_async(seen.metadata.jwks_uri(), &http)
            .await
            .map_err(|e| ProviderError::Unavailable(format!("key set: {}", chain(&e))))?;
        info!(issuer = %self.issuer, keys = jwks.keys().len(), "oidc: fetched the provider's keys again (unknown key id)");
        let d = Arc::new(Discovered {
            metadata: seen.metadata.clone().set_jwks(jwks),
            fetched_at: seen.fetched_at,
            jwks_fetched_at: Instant::now(),
        });
        *self.cache.write().await = Some(Arc::clone(&d));
        Ok(d)
    }

    fn client(
        &self,
        d: &Discovered,
        redirect_uri: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        ProviderError,
    > {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| ProviderError::Unavailable(format!("redirect uri: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            d.metadata.clone(),
            self.client_id.clone(),
            Some(self.client_secret.clone()),
        )
        .set_redirect_uri(redirect))
    }

    /// Where to send the browser: the authorization endpoint with a fresh
    /// `state`, `nonce` and PKCE S256 challenge.
    pub(crate) async fn authorize(
        &self,
        redirect_uri: &str,
    ) -> Result<Authorization, ProviderError> {
        let d = self.discovered().await?;
        let client = self.client(&d, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for s in &self.scopes {
            req = req.add_scope(Scope::new(s.clone()));
        }
        let (url, state, nonce) = req.url();
        Ok(Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code (with the flow's PKCE verifier) and validates the
    /// ID token: signature with the provider's keys (fetched again once for
    /// an unknown key), `iss`, `aud`, `exp` and `iat` within the clock skew,
    /// `iat` not before the login began, the flow's `nonce`, and `at_hash`.
    pub(crate) async fn complete(
        &self,
        code: &str,
        flow: &Flow,
        userinfo_claims: &[&str],
    ) -> Result<Verified, ProviderError> {
        let d = self.discovered().await?;
        let client = self.client(&d, &flow.redirect_uri)?;
        let http = self.http()?;
        let token: CoreTokenResponse = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
            .request_async(&http)
            .await
            .map_err(|e| ProviderError::TokenExchange(chain(&e)))?;
        let id_token = token.id_token().ok_or_else(|| {
            ProviderError::InvalidToken("no id_token in the token response".into())
        })?;
        let verified = match self.verify(&d, id_token, &token, flow) {
            Err(Rejected::UnknownKey) => {
                let fresh = self.refetch_jwks(&d).await?;
                self.verify(&fresh, id_token, &token, flow)
            }
            other => other,
        };
        let mut verified = verified.map_err(|e| match e {
            Rejected::UnknownKey => ProviderError::InvalidToken(
                "signed with a key the provider does not publish".into(),
            ),
            Rejected::Nonce(m) => ProviderError::Nonce(m),
            Rejected::Invalid(m) => ProviderError::InvalidToken(m),
        })?;
        let missing = userinfo_claims
            .iter()
            .any(|c| !verified.claims.contains_key(*c));
        if missing && let Some(url) = d.metadata.userinfo_endpoint() {
            let extra = self
                .userinfo(
                    url.as_str(),
                    token.access_token().secret(),
                    &verified.subject,
                )
                .await?;
            for (k, v) in extra {
                verified.claims.entry(k).or_insert(v);
            }
        }
        Ok(verified)
    }

    fn verify(
        &self,
        d: &Discovered,
        id_token: &CoreIdToken,
        token: &CoreTokenResponse,
        flow: &Flow,
    ) -> Result<Verified, Rejected> {
        let skew = chrono::Duration::from_std(self.skew).unwrap_or(chrono::Duration::seconds(60));
        let now = chrono::Utc::now();
        let began = chrono::DateTime::from_timestamp_millis(flow.created_at).unwrap_or(now);
        let verifier = IdTokenVerifier::new_public_client(
            self.client_id.clone(),
            d.metadata.issuer().clone(),
            d.metadata.jwks().clone(),
        )
        .set_allowed_algs(ALLOWED_ALGS)
        // `exp` may have passed by at most the skew...
        .set_time_fn(move || now - skew)
        // ...and `iat` lies between the start of the login and now, give or
        // take the skew.
        .set_issue_time_verifier_fn(move |iat| {
            if iat > now + skew {
                Err(format!("issued in the future ({iat})"))
            } else if iat < began - skew {
                Err(format!("issued before the login began ({iat})"))
            } else {
                Ok(())
            }
        });
        let nonce = Nonce::new(flow.nonce.clone());
        let claims = id_token.claims(&verifier, &nonce).map_err(|e| match e {
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            ) => Rejected::UnknownKey,
            ClaimsVerificationError::InvalidNonce(m) => Rejected::Nonce(m),
            other => Rejected::Invalid(chain(&other)),
        })?;
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(|e| Rejected::Invalid(e.to_string()))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| Rejected::Invalid(e.to_string()))?;
            let actual = AccessTokenHash::from_token(token.access_token(), alg, key)
                .map_err(|e| Rejected::Invalid(e.to_string()))?;
            if actual != *expected {
                return Err(Rejected::Invalid(
                    "at_hash does not match the access token".into(),
                ));
            }
        }
        let raw = payload(&id_token.to_string())
            .ok_or_else(|| Rejected::Invalid("unreadable id token payload".into()))?;
        Ok(Verified {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            claims: raw,
        })
    }

    /// The userinfo endpoint's claims (JSON answers only), which must be
    /// about the ID token's subject.
    async fn userinfo(
        &self,
        url: &str,
        access_token: &str,
        subject: &str,
    ) -> Result<Map<String, Value>, ProviderError> {
        let req = http::Request::get(url)
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {access_token}"),
            )
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| ProviderError::Unavailable(format!("userinfo request: {e}")))?;
        let agent = self
            .agent
            .clone()
            .ok_or_else(|| ProviderError::Unavailable("no HTTP client".into()))?;
        let resp = send(agent, req)
            .await
            .map_err(|e| ProviderError::Unavailable(format!("userinfo: {e}")))?;
        if resp.status() != http::StatusCode::OK {
            return Err(ProviderError::Unavailable(format!(
                "userinfo answered {}",
                resp.status()
            )));
        }
        let claims: Map<String, Value> = serde_json::from_slice(resp.body()).map_err(|e| {
            ProviderError::Unavailable(format!("userinfo is not a JSON object: {e}"))
        })?;
        if claims.get("sub").and_then(Value::as_str) != Some(subject) {
            return Err(ProviderError::InvalidToken(
                "userinfo is about another subject".into(),
            ));
        }
        Ok(claims)
    }
}

/// Why one validation attempt failed.
enum Rejected {
    UnknownKey,
    Nonce(String),
    Invalid(String),
}

/// The claims of a compact JWS whose signature has been checked.
fn payload(jwt: &str) -> Option<Map<String, Value>> {
    use base64::Engine as _;
    let part = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "https://idp.example.com/realms/x",
            "http://127.0.0.1:8080/openid",
            "http://127.9.9.9/",
            "http://[::1]:9000/",
            "http://localhost:5556/dex",
        ] {
            assert!(check_url("issuer", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://idp.example.com/",
            "http://10.0.0.1/",
            "http://localhost.evil.example/",
            "ftp://idp.example.com/",
            "idp.example.com",
        ] {
            assert!(check_url("issuer", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn payloads_are_read_from_the_middle_part() {
        use base64::Engine as _;
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwt = format!(
            "{}.{}.sig",
            b.encode(br#"{"alg":"RS256"}"#),
            b.encode(br#"{"sub":"1","groups":["a"]}"#)
        );
        let claims = payload(&jwt).unwrap();
        assert_eq!(claims["groups"][0], "a");
        assert!(payload("nodots").is_none());
        assert!(payload("a.!!!.c").is_none());
    }

    #[test]
    fn a_bad_ca_file_is_reported() {
        assert!(agent(b"not a certificate").is_err());
        assert!(agent(b"").is_ok());
    }
}
