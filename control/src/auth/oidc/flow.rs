//! The state of one OIDC login between `/start` and `/callback`, kept by the
//! browser rather than by the process: a short-lived cookie sealed with the
//! data key (ChaCha20-Poly1305, bound to its purpose), so any control-plane
//! process behind a load balancer can finish a login another one started,
//! and nobody can read or forge it. It holds `state`, `nonce`, the PKCE
//! verifier, the redirect URI, the page to return to and its expiry.

use oriel_control_store::{DataKey, DataKeyError};
use ring::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};

/// Name of the flow cookie.
pub(crate) const FLOW_COOKIE: &str = "oriel_oidc_flow";

/// The cookie is sent to the OIDC routes only.
pub(crate) const FLOW_PATH: &str = "/api/v1/auth/oidc";

/// How long a login may take at the provider.
pub(crate) const FLOW_TTL_MS: i64 = 10 * 60_000;

/// Associated data of the sealed cookie: a value sealed for anything else
/// with the same key does not open as a flow.
const SEAL_PURPOSE: &str = "oriel-oidc-flow-v1";

/// Longest return path kept.
const MAX_RETURN_PATH: usize = 512;

/// One login in progress.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Flow {
    /// The `state` sent to the provider (CSRF).
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier (S256).
    pub verifier: String,
    /// The redirect URI sent to the provider (the token request repeats it).
    pub redirect_uri: String,
    /// The issuer the login started with.
    pub issuer: String,
    /// A same-origin path to land on afterwards.
    pub return_to: String,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub expires_at: i64,
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flow")
            .field("issuer", &self.issuer)
            .field("return_to", &self.return_to)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Flow {
    /// The cookie value: the flow as JSON, sealed with the data key.
    pub(crate) fn seal(&self, key: &DataKey) -> Result<String, DataKeyError> {
        let json = serde_json::to_vec(self).map_err(|_| DataKeyError::Open)?;
        key.seal(&json, SEAL_PURPOSE)
    }

    /// Opens a cookie value; `None` when it was not sealed by this key for
    /// this purpose, or was altered.
    pub(crate) fn open(sealed: &str, key: &DataKey) -> Option<Flow> {
        let plain = key.open(sealed, SEAL_PURPOSE).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    pub(crate) fn is_expired(&self, now_ms: i64) -> bool {
        now_ms >= self.expires_at
    }

    /// Whether `state` from the callback is this flow's (compared through
    /// SHA-256, so the time taken says nothing about the value).
    pub(crate) fn state_matches(&self, state: &str) -> bool {
        digest(&SHA256, self.state.as_bytes()).as_ref()
            == digest(&SHA256, state.as_bytes()).as_ref()
    }

    /// The key under which the handled callback is remembered (never the
    /// state itself).
    pub(crate) fn replay_key(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(digest(&SHA256, self.state.as_bytes()).as_ref())
    }
}

/// `Set-Cookie` for a sealed flow.
pub(crate) fn set_cookie(sealed: &str) -> String {
    format!(
        "{FLOW_COOKIE}={sealed}; Path={FLOW_PATH}; HttpOnly; Secure; SameSite=Lax; Max-Age={}",
        FLOW_TTL_MS / 1000
    )
}

/// `Set-Cookie` that removes the flow cookie.
pub(crate) fn clear_cookie() -> String {
    format!("{FLOW_COOKIE}=; Path={FLOW_PATH}; HttpOnly; Secure; SameSite=Lax; Max-Age=0")
}

/// The flow cookie's value in the request, if any.
pub(crate) fn cookie_value(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(name, value)| *name == FLOW_COOKIE && !value.is_empty())
        .map(|(_, value)| value)
}

/// The page to return to after login: a path of this site, or `/`.
/// Refused: anything not starting with exactly one `/` (`//host` and
/// `/\host` are other sites to a browser), backslashes, control characters
/// and whitespace, and overlong values.
pub(crate) fn safe_return_path(raw: Option<&str>) -> String {
    match raw {
        Some(p)
            if p.len() <= MAX_RETURN_PATH
                && p.starts_with('/')
                && !p.starts_with("//")
                && !p
                    .chars()
                    .any(|c| c == '\\' || c.is_control() || c.is_whitespace()) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> Flow {
        Flow {
            state: "st".into(),
            nonce: "no".into(),
            verifier: "ve".into(),
            redirect_uri: "https://oriel.example/api/v1/auth/oidc/callback".into(),
            issuer: "https://idp.example".into(),
            return_to: "/#/workspaces".into(),
            created_at: 1_000,
            expires_at: 1_000 + FLOW_TTL_MS,
        }
    }

    #[test]
    fn the_sealed_cookie_round_trips_and_hides_its_secrets() {
        let key = DataKey::from_bytes(&[3; 32]).unwrap();
        let sealed = flow().seal(&key).unwrap();
        for secret in ["\"st\"", "\"no\"", "\"ve\"", "idp.example"] {
            assert!(!sealed.contains(secret), "{secret} in {sealed}");
        }
        assert_eq!(Flow::open(&sealed, &key), Some(flow()));
        // Another key, a tampered value, a value sealed for another purpose.
        assert_eq!(
            Flow::open(&sealed, &DataKey::from_bytes(&[4; 32]).unwrap()),
            None
        );
        let mut bytes = sealed.clone().into_bytes();
        let i = bytes.len() / 2;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        assert_eq!(Flow::open(&String::from_utf8(bytes).unwrap(), &key), None);
        let other = key.seal(br#"{"state":"x"}"#, "ws-1").unwrap();
        assert_eq!(Flow::open(&other, &key), None);
        assert_eq!(Flow::open("not base64!", &key), None);
        assert!(!format!("{:?}", flow()).contains("\"st\""), "Debug redacts");
    }

    #[test]
    fn flows_expire_and_match_only_their_state() {
        let f = flow();
        assert!(!f.is_expired(f.expires_at - 1));
        assert!(f.is_expired(f.expires_at));
        assert!(f.state_matches("st"));
        assert!(!f.state_matches("st2"));
        assert!(!f.state_matches(""));
        assert!(!f.replay_key().contains("st"));
        assert_eq!(f.replay_key().len(), 43);
    }

    #[test]
    fn the_cookie_is_scoped_to_the_oidc_routes() {
        let c = set_cookie("abc");
        for attr in [
            "oriel_oidc_flow=abc;",
            "Path=/api/v1/auth/oidc;",
            "HttpOnly",
            "Secure",
            "SameSite=Lax",
            "Max-Age=600",
        ] {
            assert!(c.contains(attr), "{attr} missing in {c}");
        }
        assert!(clear_cookie().contains("Max-Age=0"));
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::COOKIE,
            "oriel_session=x; oriel_oidc_flow=a+b/c=".parse().unwrap(),
        );
        assert_eq!(cookie_value(&h), Some("a+b/c="));
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::COOKIE,
            "xoriel_oidc_flow=a; oriel_oidc_flow=".parse().unwrap(),
        );
        assert_eq!(cookie_value(&h), None);
    }

    #[test]
    fn return_paths_stay_on_this_site() {
        for ok in [
            "/",
            "/#/workspaces",
            "/viewer.html?session=1",
            "/a/b%2F%2Fc",
        ] {
            assert_eq!(safe_return_path(Some(ok)), ok);
        }
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "/\t/evil.example",
            "/ok\r\nSet-Cookie: x=y",
            "relative/path",
            &format!("/{}", "a".repeat(600)),
        ] {
            assert_eq!(safe_return_path(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_return_path(None), "/");
    }
}
