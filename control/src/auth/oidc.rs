//! The OpenID Connect relying party (OpenID Connect Core 1.0, authorization
//! code flow with PKCE S256, RFC 7636), free of HTTP handling: the
//! configured provider ([`OidcSettings`], [`Oidc`]), discovery, the key
//! cache and the token exchange ([`provider`]), the sealed flow cookie's
//! content ([`flow`]) and claims → user name, groups and role ([`claims`]).
//! The endpoints that drive it are `crate::api::oidc`.
//!
//! Users who log in this way are not asked for Oriel's TOTP: the provider
//! owns their authentication, second factor included (docs/security.md).

pub(crate) mod claims;
pub(crate) mod flow;
pub(crate) mod provider;

use provider::Provider;
use std::time::Duration;
use zeroize::Zeroizing;

/// The OpenID provider the control plane trusts, and how its claims map.
#[derive(Clone)]
pub struct OidcSettings {
    /// Issuer URL, exactly as the provider's discovery document says it
    /// (`https://…`; plain `http://` only on a loopback address).
    pub issuer: String,
    /// Client id registered at the provider.
    pub client_id: String,
    /// Client secret (already opened; never logged).
    pub client_secret: Zeroizing<String>,
    /// Name of the login button.
    pub display_name: String,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// Claim holding the login name; `sub` when absent.
    pub username_claim: String,
    /// Claim holding the provider's group names.
    pub groups_claim: String,
    /// Provider groups whose members are admins.
    pub admin_groups: Vec<String>,
    /// Provider groups whose members are auditors (unless admins).
    pub auditor_groups: Vec<String>,
    /// How far the provider's clock may be from ours.
    pub clock_skew: Duration,
    /// PEM CA certificates the provider's HTTPS certificate chains to;
    /// empty: the WebPKI roots.
    pub ca_pem: Vec<u8>,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("display_name", &self.display_name)
            .field("scopes", &self.scopes)
            .field("username_claim", &self.username_claim)
            .field("groups_claim", &self.groups_claim)
            .field("admin_groups", &self.admin_groups)
            .field("auditor_groups", &self.auditor_groups)
            .field("clock_skew", &self.clock_skew)
            .finish_non_exhaustive()
    }
}

impl OidcSettings {
    /// Checks what can be checked without the provider: the issuer's
    /// scheme (https, or http on loopback), the client, the claims, the
    /// skew (at most 10 minutes) and the CA file.
    pub fn validate(&self) -> Result<(), String> {
        provider::check_url("issuer", &self.issuer)?;
        if self.client_id.is_empty() {
            return Err("client_id is empty".into());
        }
        if self.client_secret.is_empty() {
            return Err("the client secret is empty".into());
        }
        if self.username_claim.is_empty() || self.groups_claim.is_empty() {
            return Err("username_claim and groups_claim must name claims".into());
        }
        if self.clock_skew > Duration::from_secs(600) {
            return Err("clock_skew_secs must be at most 600".into());
        }
        if !self.ca_pem.is_empty() {
            provider::agent(&self.ca_pem).map(drop)?;
        }
        Ok(())
    }
}

/// The configured provider at run time.
pub(crate) struct Oidc {
    pub(crate) settings: OidcSettings,
    pub(crate) provider: Provider,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Oidc {
    pub(crate) fn new(settings: OidcSettings) -> Oidc {
        let provider = Provider::new(
            &settings.issuer,
            &settings.client_id,
            &settings.client_secret,
            &settings.scopes,
            settings.clock_skew,
            &settings.ca_pem,
        );
        Oidc { settings, provider }
    }
}
