//! The browser client, embedded (adapter tier).
//!
//! `static/` holds plain ES modules, HTML and CSS with no build step; the
//! build script embeds them and [`WebClient`] serves them over the HTTPS
//! front with a strict Content-Security-Policy (no inline script or style,
//! connections only to our own origin and WebSockets) and ETags.

use bytes::Bytes;
use oriel_gateway_http::{BoxFuture, HttpHandler, RequestContext, RouteLabel};
use std::collections::HashMap;

include!(concat!(env!("OUT_DIR"), "/files.rs"));

/// Content-Security-Policy of every page.
pub const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; connect-src 'self' wss: ws:; \
     style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

struct Asset {
    body: Bytes,
    content_type: &'static str,
    etag: String,
}

/// Serves the embedded client.
pub struct WebClient {
    assets: HashMap<&'static str, Asset>,
}

impl std::fmt::Debug for WebClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebClient")
            .field("files", &self.assets.len())
            .finish()
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

impl Default for WebClient {
    fn default() -> Self {
        Self::new()
    }
}

impl WebClient {
    /// The client with every embedded file.
    pub fn new() -> Self {
        let assets = FILES
            .iter()
            .map(|(path, bytes)| {
                let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
                let etag: String = digest.as_ref()[..12]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                (
                    *path,
                    Asset {
                        body: Bytes::from_static(bytes),
                        content_type: content_type(path),
                        etag: format!("\"{etag}\""),
                    },
                )
            })
            .collect();
        WebClient { assets }
    }

    /// Embedded paths.
    pub fn paths(&self) -> Vec<&'static str> {
        let mut p: Vec<_> = self.assets.keys().copied().collect();
        p.sort_unstable();
        p
    }

    fn respond(&self, req: &http::Request<Bytes>) -> http::Response<Bytes> {
        let mut resp = http::Response::new(Bytes::new());
        resp.extensions_mut().insert(RouteLabel("/static".into()));
        if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
            *resp.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
            return resp;
        }
        let path = match req.uri().path() {
            "/" => "/index.html",
            p => p,
        };
        let Some(asset) = self.assets.get(path) else {
            *resp.status_mut() = http::StatusCode::NOT_FOUND;
            *resp.body_mut() = Bytes::from_static(b"not found");
            return resp;
        };
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(asset.content_type),
        );
        if let Ok(v) = http::HeaderValue::from_str(&asset.etag) {
            h.insert(http::header::ETAG, v);
        }
        // Revalidate every time: ETags make that cheap, and an upgraded
        // binary is picked up at once.
        h.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-cache"),
        );
        h.insert(
            http::header::CONTENT_SECURITY_POLICY,
            http::HeaderValue::from_static(CSP),
        );
        let not_modified = req
            .headers()
            .get(http::header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == asset.etag));
        if not_modified {
            *resp.status_mut() = http::StatusCode::NOT_MODIFIED;
        } else {
            *resp.body_mut() = asset.body.clone();
        }
        resp
    }
}

impl HttpHandler for WebClient {
    fn handle(
        &self,
        req: http::Request<Bytes>,
        _ctx: RequestContext,
    ) -> BoxFuture<'_, http::Response<Bytes>> {
        let resp = self.respond(&req);
        Box::pin(async move { resp })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(web: &WebClient, path: &str, etag: Option<&str>) -> http::Response<Bytes> {
        let mut b = http::Request::builder().uri(path);
        if let Some(e) = etag {
            b = b.header("if-none-match", e);
        }
        web.respond(&b.body(Bytes::new()).unwrap())
    }

    #[test]
    fn serves_pages_with_csp_and_etags() {
        let web = WebClient::new();
        assert!(web.paths().contains(&"/viewer.html"));
        assert!(web.paths().contains(&"/js/wire.js"));
        let index = get(&web, "/", None);
        assert_eq!(index.status(), 200);
        assert!(
            index.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(
            index.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
        let etag = index.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(get(&web, "/index.html", Some(&etag)).status(), 304);
        assert_eq!(get(&web, "/nope.js", None).status(), 404);
        assert_eq!(get(&web, "/../Cargo.toml", None).status(), 404);
        let js = get(&web, "/js/wire.js", None);
        assert!(
            js.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
    }
}
