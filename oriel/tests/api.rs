//! The REST API of the real `oriel up`: authentication, workspaces,
//! sessions, errors, limits, CSRF, OpenAPI and metrics, and features a
//! policy asks for that are not built (refused). The scenarios that touch
//! storage run on the embedded SQLite and on PostgreSQL, and every
//! response they get (and every request the server accepts) is checked
//! against the OpenAPI document (`support::contract`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{ADMIN_PASSWORD, Backend, Deployment, Oriel, blocking};

fn header<'a>(r: &'a support::Reply, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn assert_error(r: &support::Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.body["error"]["code"], code, "{r:?}");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{r:?}"
    );
}

on_both_databases!(
    login_logout_and_identity,
    workspaces_crud_validation_and_secrets,
    sessions_tokens_csrf_limits_openapi_and_metrics,
    recording_and_watermark_fail_closed,
);

async fn login_logout_and_identity(backend: Backend) {
    support::contract::enforce();
    let oriel = Deployment::start(backend, &[]).await;
    let api = oriel.api();
    blocking(move || {
        let mut api = api;
        let anon = api.call("GET", "/api/v1/auth/me", None, &[]).unwrap();
        assert_error(&anon, 401, "unauthorized");

        let r = api.login("admin", ADMIN_PASSWORD).unwrap();
        assert_eq!(r.status, 200);
        let cookie = header(&r, "set-cookie").unwrap();
        for attr in [
            "oriel_session=",
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/",
        ] {
            assert!(cookie.contains(attr), "{cookie}");
        }
        assert_eq!(r.body["user"]["role"], "admin");
        let me = api.call("GET", "/api/v1/auth/me", None, &[]).unwrap();
        assert_eq!(me.body["username"], "admin");

        // Wrong password and unknown user: the same answer…
        let mut other = api.clone();
        other.token = None;
        let wrong = other.login("admin", "nope").unwrap();
        let unknown = other.login("nobody", "nope").unwrap();
        assert_error(&wrong, 401, "invalid_credentials");
        assert_eq!(wrong.body, unknown.body);
        // …and the same work (both run argon2). Compared as a ratio of medians
        // measured in the same run, with a wide margin: a user lookup that
        // skipped hashing would be ~100× faster.
        let mut time = |user: &str| {
            let mut v: Vec<Duration> = (0..5)
                .map(|_| {
                    let t = Instant::now();
                    other.login(user, "nope").unwrap();
                    t.elapsed()
                })
                .collect();
            v.sort();
            v[2]
        };
        let a = time("admin");
        let b = time("nobody");
        let ratio = a.as_secs_f64() / b.as_secs_f64();
        assert!(
            (0.2..5.0).contains(&ratio),
            "wrong password {a:?} vs unknown user {b:?}"
        );

        let out = api.call("POST", "/api/v1/auth/logout", None, &[]).unwrap();
        assert_eq!(out.status, 204);
        assert_error(
            &api.call("GET", "/api/v1/auth/me", None, &[]).unwrap(),
            401,
            "unauthorized",
        );
    })
    .await;
}

async fn workspaces_crud_validation_and_secrets(backend: Backend) {
    support::contract::enforce();
    let oriel = Deployment::start(backend, &[]).await;
    let mut api = oriel.api();
    let data_dir = oriel.data_dir();
    blocking(move || {
        api.login_admin().unwrap();
        let body = json!({
            "name": "Linux desk",
            "kind": "vnc",
            "target": {"host": "127.0.0.1", "port": 5901},
            "credentials": {"password": "vnc-secret-xyz"},
            "policy": {"clipboard_up": true},
        });
        let created = api
            .call("POST", "/api/v1/workspaces", Some(&body), &[])
            .unwrap();
        assert_eq!(created.status, 201, "{created:?}");
        let w = &created.body;
        assert_eq!(w["has_credentials"], true);
        assert_eq!(w["policy"]["clipboard_up"], true);
        assert_eq!(w["policy"]["clipboard_down"], false);
        assert!(!created.body.to_string().contains("vnc-secret-xyz"));
        let id = w["id"].as_str().unwrap().to_owned();

        let got = api
            .call("GET", &format!("/api/v1/workspaces/{id}"), None, &[])
            .unwrap();
        assert_eq!(got.body, created.body);
        assert_error(
            &api.call("POST", "/api/v1/workspaces", Some(&body), &[])
                .unwrap(),
            409,
            "conflict",
        );

        // Validation (422), malformed bodies (400), wrong media type (415).
        let mut bad = body.clone();
        bad["target"]["port"] = json!(0);
        assert_error(
            &api.call("POST", "/api/v1/workspaces", Some(&bad), &[])
                .unwrap(),
            422,
            "validation_failed",
        );
        let mut bad = body.clone();
        bad["kind"] = json!("telnet");
        assert_error(
            &api.call("POST", "/api/v1/workspaces", Some(&bad), &[])
                .unwrap(),
            422,
            "validation_failed",
        );
        let mut bad = body.clone();
        bad["name"] = json!("../etc");
        assert_error(
            &api.call("POST", "/api/v1/workspaces", Some(&bad), &[])
                .unwrap(),
            422,
            "validation_failed",
        );
        let mut bad = body.clone();
        bad["admin"] = json!(true);
        assert_error(
            &api.call("POST", "/api/v1/workspaces", Some(&bad), &[])
                .unwrap(),
            400,
            "bad_request",
        );
        let mut bad = body.clone();
        bad["policy"]["teleport"] = json!(true);
        assert_error(
            &api.call("POST", "/api/v1/workspaces", Some(&bad), &[])
                .unwrap(),
            400,
            "bad_request",
        );
        let r = api
            .call(
                "POST",
                "/api/v1/workspaces",
                None,
                &[("content-type", "text/plain")],
            )
            .unwrap();
        assert_eq!(r.status, 415, "{r:?}");

        // PUT: absent credentials are kept, null clears them.
        let mut put = body.clone();
        put.as_object_mut().unwrap().remove("credentials");
        put["target"]["port"] = json!(5902);
        let r = api
            .call("PUT", &format!("/api/v1/workspaces/{id}"), Some(&put), &[])
            .unwrap();
        assert_eq!(
            (r.status, r.body["has_credentials"].clone()),
            (200, json!(true))
        );
        assert_eq!(r.body["target"]["port"], 5902);
        put["credentials"] = Value::Null;
        let r = api
            .call("PUT", &format!("/api/v1/workspaces/{id}"), Some(&put), &[])
            .unwrap();
        assert_eq!(r.body["has_credentials"], false);
        assert_error(
            &api.call("PUT", "/api/v1/workspaces/nope", Some(&put), &[])
                .unwrap(),
            404,
            "not_found",
        );

        // Paging.
        for name in ["b-desk", "c-desk", "d-desk"] {
            let mut b = body.clone();
            b["name"] = json!(name);
            assert_eq!(
                api.call("POST", "/api/v1/workspaces", Some(&b), &[])
                    .unwrap()
                    .status,
                201
            );
        }
        let p1 = api
            .call("GET", "/api/v1/workspaces?limit=2", None, &[])
            .unwrap();
        assert_eq!(p1.body["items"].as_array().unwrap().len(), 2);
        let next = p1.body["next"].as_str().unwrap().to_owned();
        let p2 = api
            .call(
                "GET",
                &format!(
                    "/api/v1/workspaces?limit=2&after={}",
                    next.replace(' ', "%20")
                ),
                None,
                &[],
            )
            .unwrap();
        assert_eq!(p2.body["items"].as_array().unwrap().len(), 2);
        assert!(p2.body["next"].is_null());
        assert_error(
            &api.call("GET", "/api/v1/workspaces?limit=0", None, &[])
                .unwrap(),
            422,
            "validation_failed",
        );
        assert_error(
            &api.call("GET", "/api/v1/workspaces?bogus=1", None, &[])
                .unwrap(),
            400,
            "bad_request",
        );

        assert_eq!(
            api.call("DELETE", &format!("/api/v1/workspaces/{id}"), None, &[])
                .unwrap()
                .status,
            204
        );
        assert_error(
            &api.call("DELETE", &format!("/api/v1/workspaces/{id}"), None, &[])
                .unwrap(),
            404,
            "not_found",
        );
        assert_error(
            &api.call("GET", "/api/v1/nothing", None, &[]).unwrap(),
            404,
            "not_found",
        );
        assert_eq!(
            api.call("PATCH", "/api/v1/workspaces", None, &[])
                .unwrap()
                .status,
            405
        );
    })
    .await;

    // The secret never reached the database in clear.
    let stored = match &oriel.pg {
        Some(pg) => pg.dump("oriel").await.unwrap(),
        None => ["oriel.db", "oriel.db-wal"]
            .iter()
            .flat_map(|f| std::fs::read(data_dir.join(f)).unwrap_or_default())
            .collect(),
    };
    assert!(stored.len() > 1000, "nothing read from the database");
    assert!(!stored.windows(14).any(|w| w == b"vnc-secret-xyz"));
}

async fn sessions_tokens_csrf_limits_openapi_and_metrics(backend: Backend) {
    support::contract::enforce();
    let oriel = Deployment::start(backend, &[]).await;
    let mut api = oriel.api();
    // Its own connections: the front answers a body over the limit without
    // reading it, and the connection it came on is not to be used again.
    let mut oversize = oriel.api();
    let origin = oriel.origin();
    let port = oriel.port;
    blocking(move || {
        api.login_admin().unwrap();
        api.vnc_workspace("desk", 5999, None, json!({})).unwrap();
        let s = api.launch("desk").unwrap();
        let id = s["id"].as_str().unwrap().to_owned();
        assert_eq!(s["stream_url"], format!("wss://localhost:{port}/stream"));
        assert!(
            s["viewer_url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/viewer.html?session={id}"))
        );
        assert!(s["token"].as_str().unwrap().starts_with("s1."));
        assert_error(
            &api.call(
                "POST",
                "/api/v1/sessions",
                Some(&json!({"workspace": "nope"})),
                &[],
            )
            .unwrap(),
            404,
            "not_found",
        );

        let list = api.call("GET", "/api/v1/sessions", None, &[]).unwrap();
        assert_eq!(list.body["items"][0]["id"], id);
        assert_eq!(
            list.body["items"][0]["state"], "starting",
            "no viewer has connected yet"
        );
        let one = api
            .call("GET", &format!("/api/v1/sessions/{id}"), None, &[])
            .unwrap();
        assert_eq!(one.body["workspace_name"], "desk");
        let t = api
            .call("POST", &format!("/api/v1/sessions/{id}/token"), None, &[])
            .unwrap();
        assert_eq!(t.status, 200, "{t:?}");
        assert_ne!(t.body["token"], s["token"]);
        assert_eq!(
            api.call("DELETE", &format!("/api/v1/sessions/{id}"), None, &[])
                .unwrap()
                .status,
            204
        );
        assert_eq!(
            api.call("DELETE", &format!("/api/v1/sessions/{id}"), None, &[])
                .unwrap()
                .status,
            204,
            "idempotent"
        );
        assert_error(
            &api.call("POST", &format!("/api/v1/sessions/{id}/token"), None, &[])
                .unwrap(),
            409,
            "session_ended",
        );
        let one = api
            .call("GET", &format!("/api/v1/sessions/{id}"), None, &[])
            .unwrap();
        assert_eq!(one.body["state"], "ended");
        assert!(one.body["ended_at"].is_string());

        // Cookie-authenticated writes need our own Origin.
        let token = api.token.take().unwrap();
        let cookie = format!("oriel_session={token}");
        let launch = json!({"workspace": "desk"});
        let r = api
            .call(
                "POST",
                "/api/v1/sessions",
                Some(&launch),
                &[("cookie", &cookie)],
            )
            .unwrap();
        assert_error(&r, 403, "forbidden");
        let r = api
            .call(
                "POST",
                "/api/v1/sessions",
                Some(&launch),
                &[("cookie", &cookie), ("origin", "https://evil.example")],
            )
            .unwrap();
        assert_error(&r, 403, "forbidden");
        let r = api
            .call(
                "POST",
                "/api/v1/sessions",
                Some(&launch),
                &[("cookie", &cookie), ("origin", &origin)],
            )
            .unwrap();
        assert_eq!(r.status, 201, "{r:?}");
        let r = api
            .call("GET", "/api/v1/sessions", None, &[("cookie", &cookie)])
            .unwrap();
        assert_eq!(r.status, 200, "reads need no Origin");
        api.token = Some(token);

        // Body limit (1 MiB by default).
        let huge = json!({"workspace": "x".repeat(2 << 20)});
        oversize.token = api.token.clone();
        assert_eq!(
            oversize
                .call("POST", "/api/v1/sessions", Some(&huge), &[])
                .unwrap()
                .status,
            413
        );

        // OpenAPI, public.
        let mut anon = api.clone();
        anon.token = None;
        let doc = anon.call("GET", "/api/v1/openapi.json", None, &[]).unwrap();
        assert_eq!(doc.status, 200);
        assert!(doc.body["paths"]["/api/v1/sessions/{id}/token"]["post"].is_object());
        // The served document is the one the contract checks against.
        assert_eq!(doc.body, oriel_control::openapi::document());

        // Health and metrics.
        let h = anon.call("GET", "/healthz", None, &[]).unwrap();
        assert_eq!(h.body["status"], "ok");
        let m = anon.call("GET", "/metrics", None, &[]).unwrap();
        let text = m.body.as_str().unwrap();
        for name in [
            "oriel_http_requests_total",
            "oriel_http_request_duration_seconds",
            "oriel_gateway_sessions_active",
            "oriel_gateway_websocket_connections",
            "oriel_gateway_frames_sent_total",
            "oriel_gateway_bytes_sent_total",
            "oriel_gateway_encode_seconds",
        ] {
            assert!(text.contains(name), "{name} missing from /metrics");
        }
        assert!(
            text.contains("route=\"/api/v1/sessions/{id}\""),
            "routes are labelled by pattern, not id"
        );
    })
    .await;
}

/// Recording and the watermark are policy like any other: a workspace
/// whose policy asks for them launches (the gateway applies them, and
/// refuses a session it cannot record), the watermark's settings are
/// validated with the field named, and they are returned with defaults.
async fn recording_and_watermark_fail_closed(backend: Backend) {
    support::contract::enforce();
    let oriel = Deployment::start(backend, &[]).await;
    let api = oriel.admin();
    blocking(move || {
        let workspace = |name: &str, policy: Value| {
            json!({
                "name": name,
                "kind": "vnc",
                "target": {"host": "127.0.0.1", "port": 5901},
                "policy": policy,
            })
        };
        for (field, value) in [
            ("watermark_opacity", json!(0)),
            ("watermark_opacity", json!(101)),
            ("watermark_angle", json!(-91)),
            ("watermark_text", json!("  ")),
            ("watermark_text", json!("a\nb")),
        ] {
            let mut policy = json!({"watermark": true});
            policy[field] = value;
            let r = api
                .call("POST", "/api/v1/workspaces", Some(&workspace("bad", policy)), &[])
                .unwrap();
            assert_error(&r, 422, "validation_failed");
            let message = r.body["error"]["message"].as_str().unwrap();
            assert!(message.contains(&format!("policy.{field}")), "{message}");
        }
        let controlled = api
            .call(
                "POST",
                "/api/v1/workspaces",
                Some(&workspace(
                    "controlled",
                    json!({"recording": true, "watermark": true, "watermark_text": "{user} {time}"}),
                )),
                &[],
            )
            .unwrap();
        assert_eq!(controlled.status, 201, "{controlled:?}");
        let policy = &controlled.body["policy"];
        assert_eq!(policy["recording"], true);
        assert_eq!(policy["watermark_text"], "{user} {time}");
        assert_eq!(policy["watermark_opacity"], 25);
        assert_eq!(policy["watermark_angle"], 30);
        let launched = api.launch("controlled").unwrap();
        assert!(launched["token"].is_string(), "{launched}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_on_the_tls_port_is_not_served() {
    let oriel = Oriel::up(&[]).await.unwrap();
    // Plain HTTP on the TLS port gets nothing useful.
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", oriel.port))
        .await
        .unwrap();
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert!(!String::from_utf8_lossy(&buf[..n]).contains("200 OK"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_does_not_decode_is_a_json_error_on_every_operation() {
    let oriel = Oriel::up(&[]).await.unwrap();
    let api = oriel.admin_api().await.unwrap();
    blocking(move || {
        let doc = api
            .call("GET", "/api/v1/openapi.json", None, &[])
            .unwrap()
            .body;
        let mut tried = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            if !path.contains('{') {
                continue;
            }
            // Every path parameter as bytes that are not UTF-8.
            let bad: String = path
                .split('/')
                .map(|s| if s.starts_with('{') { "%FF" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            for method in item.as_object().unwrap().keys() {
                let method = method.to_uppercase();
                let body = (method != "GET" && method != "DELETE").then(|| json!({}));
                let r = api.call(&method, &bad, body.as_ref(), &[]).unwrap();
                assert_error(&r, 400, "bad_request");
                assert!(
                    header(&r, "content-type").is_some_and(|t| t.starts_with("application/json")),
                    "{method} {bad}: {r:?}"
                );
                tried += 1;
            }
        }
        assert!(tried >= 13, "{tried} operations with path parameters");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_behind_a_token_file_answer_only_its_bearer() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.token");
    std::fs::write(&path, "e2e-metrics-token-0123456789\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let oriel = Oriel::up(&[("ORIEL_HTTP__METRICS_TOKEN_FILE", path.to_str().unwrap())])
        .await
        .unwrap();
    let api = oriel.api();
    blocking(move || {
        let refused = api.call("GET", "/metrics", None, &[]).unwrap();
        assert_error(&refused, 401, "unauthorized");
        let wrong = api
            .call("GET", "/metrics", None, &[("authorization", "Bearer nope")])
            .unwrap();
        assert_eq!(wrong.status, 401);
        let r = api
            .call(
                "GET",
                "/metrics",
                None,
                &[("authorization", "Bearer e2e-metrics-token-0123456789")],
            )
            .unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        let health = api.call("GET", "/healthz", None, &[]).unwrap();
        assert_eq!(health.status, 200);
    })
    .await;
}
