//! WebSocket handshake checks (RFC 6455 §4.2.1) and the `Origin` policy.

/// Which browser origins may open a WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPolicy {
    /// The origin must be `https://` + the request's `Host` (same origin).
    SameHost,
    /// The origin must be one of these (normalized with [`normalize_origin`]).
    Allowed(Vec<String>),
}

/// `scheme://host[:port]` in lower case, default port and trailing slash and
/// path removed; `None` when it is not an http(s) origin.
pub fn normalize_origin(url: &str) -> Option<String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let authority = authority
        .strip_suffix(default_port)
        .unwrap_or(&authority)
        .to_owned();
    Some(format!("{scheme}://{authority}"))
}

impl OriginPolicy {
    /// Whether a request with this `Origin` (if any) and `Host` may upgrade.
    ///
    /// A request without `Origin` does not come from a browser page, so no
    /// other site can be riding on the user's browser: it is allowed (it still
    /// needs a valid session token to get anywhere).
    pub fn allows(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        let Some(origin) = normalize_origin(origin) else {
            return false;
        };
        match self {
            OriginPolicy::SameHost => host
                .and_then(|h| normalize_origin(&format!("https://{h}")))
                .is_some_and(|expected| expected == origin),
            OriginPolicy::Allowed(list) => list.contains(&origin),
        }
    }
}

/// Why a WebSocket handshake was refused (answered with 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HandshakeError {
    #[error("websocket upgrade must use GET")]
    Method,
    #[error("missing or wrong Upgrade/Connection headers")]
    UpgradeHeaders,
    #[error("unsupported websocket version (need 13)")]
    Version,
    #[error("missing or malformed Sec-WebSocket-Key")]
    Key,
}

fn header_has_token(
    headers: &http::HeaderMap,
    name: http::header::HeaderName,
    token: &str,
) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

/// Checks the client's handshake and returns its key.
pub(crate) fn check_handshake(
    method: &http::Method,
    headers: &http::HeaderMap,
) -> Result<String, HandshakeError> {
    if method != http::Method::GET {
        return Err(HandshakeError::Method);
    }
    if !header_has_token(headers, http::header::UPGRADE, "websocket")
        || !header_has_token(headers, http::header::CONNECTION, "upgrade")
    {
        return Err(HandshakeError::UpgradeHeaders);
    }
    if headers
        .get(http::header::SEC_WEBSOCKET_VERSION)
        .map(|v| v.as_bytes())
        != Some(b"13")
    {
        return Err(HandshakeError::Version);
    }
    let key = headers
        .get(http::header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .ok_or(HandshakeError::Key)?;
    // A 16-byte nonce in base64 is 24 characters ending in "==".
    if key.len() != 24 || !key.ends_with("==") {
        return Err(HandshakeError::Key);
    }
    Ok(key.to_owned())
}

/// Whether the client offered this subprotocol.
pub(crate) fn offers_subprotocol(headers: &http::HeaderMap, name: &str) -> bool {
    header_has_token(headers, http::header::SEC_WEBSOCKET_PROTOCOL, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_normalize() {
        assert_eq!(
            normalize_origin("HTTPS://Example.com:443/").as_deref(),
            Some("https://example.com")
        );
        assert_eq!(
            normalize_origin("https://example.com:8443/app?x").as_deref(),
            Some("https://example.com:8443")
        );
        assert_eq!(normalize_origin("null"), None);
        assert_eq!(normalize_origin("file:///x"), None);
        assert_eq!(normalize_origin("https://user@evil.com"), None);
    }

    #[test]
    fn same_host_policy() {
        let p = OriginPolicy::SameHost;
        assert!(p.allows(Some("https://oriel.local:8443"), Some("oriel.local:8443")));
        assert!(!p.allows(Some("https://evil.example"), Some("oriel.local:8443")));
        assert!(!p.allows(Some("http://oriel.local:8443"), Some("oriel.local:8443")));
        assert!(!p.allows(Some("https://oriel.local:8443"), None));
        assert!(p.allows(None, Some("oriel.local:8443")));
    }

    #[test]
    fn allowed_list_policy() {
        let p = OriginPolicy::Allowed(vec!["https://oriel.example.com".into()]);
        assert!(p.allows(Some("https://oriel.example.com"), Some("gw.example.com")));
        assert!(p.allows(Some("https://ORIEL.example.com:443"), None));
        assert!(!p.allows(Some("https://oriel.example.com.evil.io"), None));
    }

    #[test]
    fn handshake_checks() {
        let mut h = http::HeaderMap::new();
        h.insert("upgrade", "websocket".parse().unwrap());
        h.insert("connection", "keep-alive, Upgrade".parse().unwrap());
        h.insert("sec-websocket-version", "13".parse().unwrap());
        h.insert(
            "sec-websocket-key",
            "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap(),
        );
        h.insert("sec-websocket-protocol", "foo, oriel.v1".parse().unwrap());
        assert_eq!(
            check_handshake(&http::Method::GET, &h).unwrap(),
            "dGhlIHNhbXBsZSBub25jZQ=="
        );
        assert!(offers_subprotocol(&h, "oriel.v1"));
        assert_eq!(
            check_handshake(&http::Method::POST, &h),
            Err(HandshakeError::Method)
        );
        h.insert("sec-websocket-version", "8".parse().unwrap());
        assert_eq!(
            check_handshake(&http::Method::GET, &h),
            Err(HandshakeError::Version)
        );
    }
}
