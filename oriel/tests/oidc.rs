//! Single sign-on with a real OpenID provider (django-oidc-provider, started
//! by the test) through a real headless Chromium against the real `oriel up`,
//! on SQLite and on PostgreSQL: the login page's button, the provider's own
//! login form, just-in-time users keyed by issuer and subject, groups and
//! roles from the `groups` claim, replayed and tampered callbacks, the
//! provider's key rotation and clock skew, validly signed ID tokens meant
//! for another client, login or issuer, the audit log, and a client
//! secret that is sealed at rest and never logged or returned.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use oriel_testkit::oidc::{LOGIN_PASSWORD, LOGIN_SUBMIT, LOGIN_USERNAME};
use oriel_testkit::{Browser, OidcProvider, OidcProviderOptions, Page, ScratchDir};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use support::admin::AdminUi;
use support::web::{expect_logged_in, goto_index, js};
use support::{Api, Backend, Deployment, blocking};

const CLIENT_ID: &str = "oriel-test";
const CLIENT_SECRET: &str = "oidc-client-secret-7f3a9c2e51b8";
const IDP_PASSWORD: &str = "provider-password-1";
const LOCAL_PASSWORD: &str = "correct horse battery";
const CALLBACK: &str = "/api/v1/auth/oidc/callback";
const WAIT: Duration = Duration::from_secs(20);

on_both_databases!(single_sign_on);

/// `oriel seal-secret` run as a process on the data directory `oriel up`
/// will use: the sealed value for `control.oidc.client_secret`.
fn seal_secret(data: &Path, secret: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oriel"))
        .arg("seal-secret")
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{secret}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let sealed = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(sealed.starts_with("sealed:"), "{sealed}");
    assert!(!sealed.contains(secret));
    sealed
}

/// The provider, `oriel up` configured for it (on SQLite or PostgreSQL), an
/// admin API client and a browser tab. Fields drop in order: the tab
/// before its browser.
struct Sso {
    /// The provider puts the claims in the ID token (on PostgreSQL), or
    /// Oriel must ask its userinfo endpoint for them (on SQLite).
    claims_in_id_token: bool,
    page: Page,
    browser: Browser,
    admin: Api,
    oriel: Deployment,
    provider: OidcProvider,
}

impl Sso {
    async fn start(backend: Backend) -> Sso {
        let claims_in_id_token = matches!(backend, Backend::Postgres);
        let provider = OidcProvider::start_with(OidcProviderOptions { claims_in_id_token })
            .await
            .unwrap();
        let dir = ScratchDir::new("oriel").unwrap();
        let data = dir.path().join("data");
        let sealed = seal_secret(&data, CLIENT_SECRET);
        let issuer = provider.issuer();
        let env = [
            ("ORIEL_CONTROL__OIDC__ISSUER", issuer.as_str()),
            ("ORIEL_CONTROL__OIDC__CLIENT_ID", CLIENT_ID),
            ("ORIEL_CONTROL__OIDC__CLIENT_SECRET", sealed.as_str()),
            ("ORIEL_CONTROL__OIDC__DISPLAY_NAME", "Test IdP"),
            (
                "ORIEL_CONTROL__OIDC__SCOPES",
                r#"["openid", "profile", "email", "groups"]"#,
            ),
            ("ORIEL_CONTROL__OIDC__ADMIN_GROUPS", r#"["oriel-admins"]"#),
            ("ORIEL_CONTROL__OIDC__AUDITOR_GROUPS", r#"["auditors"]"#),
        ];
        let oriel = Deployment::start_in(backend, &env, dir, data).await;
        let redirect = format!("{}{CALLBACK}", oriel.origin());
        provider
            .client(CLIENT_ID, CLIENT_SECRET, &[&redirect])
            .await
            .unwrap();
        let AdminUi {
            page,
            browser,
            api: admin,
            oriel,
        } = AdminUi::on(oriel).await.unwrap();
        Sso {
            claims_in_id_token,
            page,
            browser,
            admin,
            oriel,
            provider,
        }
    }

    /// Context for failure messages: both servers' logs.
    fn logs(&self) -> String {
        format!(
            "oriel log:\n{}\nprovider log:\n{}",
            self.oriel.log_tail(25),
            self.provider.log_tail(15)
        )
    }

    /// Opens the login page and clicks the single sign-on button.
    async fn click_sso(&self) {
        goto_index(&self.page, &self.oriel).await.unwrap();
        self.page
            .wait_for(
                "!document.getElementById('login-view').hidden \
                 && !document.getElementById('sso-area').hidden \
                 && document.querySelector('#sso-buttons .sso-button') !== null",
                WAIT,
            )
            .await
            .expect("the login page shows the single sign-on button");
        let label = self.page.text("#sso-buttons .sso-button").await.unwrap();
        assert!(label.contains("Test IdP"), "{label}");
        self.page.click("#sso-buttons .sso-button").await.unwrap();
    }

    /// Fills the provider's own login form (once the browser is there).
    async fn provider_form(&self, username: &str) {
        let provider = format!("http://127.0.0.1:{}/", self.provider.port());
        self.page
            .wait_for(
                &format!(
                    "location.href.startsWith({}) && document.querySelector('{LOGIN_USERNAME}') !== null",
                    js(&provider)
                ),
                WAIT,
            )
            .await
            .unwrap_or_else(|e| panic!("no provider login form: {e:#}\n{}", self.logs()));
        self.page.fill(LOGIN_USERNAME, username).await.unwrap();
        self.page.fill(LOGIN_PASSWORD, IDP_PASSWORD).await.unwrap();
        self.page.click(LOGIN_SUBMIT).await.unwrap();
    }

    /// A whole login: the button, the provider's form when `form` (else the
    /// provider still knows the browser), back to Oriel as `expect`.
    async fn login(&self, username: &str, form: bool, expect: &str) {
        self.click_sso().await;
        if form {
            self.provider_form(username).await;
        }
        self.expect_user(expect).await;
    }

    async fn expect_user(&self, username: &str) {
        expect_logged_in(&self.page, username)
            .await
            .unwrap_or_else(|e| panic!("not logged in as {username}: {e:#}\n{}", self.logs()));
    }

    /// Waits until the browser is back on the login page with `code`, and
    /// the page explains it.
    async fn expect_refused(&self, code: &str) {
        self.page
            .wait_for(
                &format!(
                    "location.hash.includes('error={code}') \
                     && !document.getElementById('login-view').hidden"
                ),
                WAIT,
            )
            .await
            .unwrap_or_else(|e| panic!("no refusal {code}: {e:#}\n{}", self.logs()));
        let shown = self.page.text("#login-error").await.unwrap();
        assert!(
            !shown.trim().is_empty(),
            "the login page says nothing about {code}"
        );
    }

    /// A same-origin JSON request from the page (with its session cookie).
    async fn fetch(&self, method: &str, path: &str) -> (u16, Value) {
        let (status, text) = self.page.fetch(method, path, None).await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn me(&self) -> Value {
        let (status, me) = self.fetch("GET", "/api/v1/auth/me").await;
        assert_eq!(status, 200, "{me}");
        me
    }

    /// The workspaces the logged-in user sees, by name.
    async fn workspaces(&self) -> BTreeSet<String> {
        let (status, list) = self.fetch("GET", "/api/v1/workspaces?limit=100").await;
        assert_eq!(status, 200, "{list}");
        names(&list["items"], "name")
    }

    async fn logout(&self) {
        let (status, body) = self.fetch("POST", "/api/v1/auth/logout").await;
        assert_eq!(status, 204, "{body}");
    }

    /// Forgets every cookie (Oriel's and the provider's session).
    async fn forget_cookies(&self) {
        self.page
            .call("Network.clearBrowserCookies", json!({}))
            .await
            .unwrap();
    }

    /// Clicks the button and holds the browser's request to the callback:
    /// returns its URL and the flow cookie it carries. Finish with
    /// [`Sso::release`].
    async fn hold_callback(&self, username: Option<&str>) -> Held {
        let mut events = self.browser.cdp().subscribe();
        self.page
            .call(
                "Fetch.enable",
                json!({"patterns": [{"urlPattern": format!("*{CALLBACK}*"), "requestStage": "Request"}]}),
            )
            .await
            .unwrap();
        self.click_sso().await;
        if let Some(u) = username {
            self.provider_form(u).await;
        }
        let session = self.page.session_id().to_owned();
        let paused = tokio::time::timeout(WAIT, async {
            loop {
                match events.recv().await {
                    Ok(e)
                        if e.method == "Fetch.requestPaused"
                            && e.session_id.as_deref() == Some(&session) =>
                    {
                        return e.params;
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(e) => panic!("browser events: {e}"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the browser never reached the callback\n{}", self.logs()));
        let url = paused["request"]["url"].as_str().unwrap().to_owned();
        let cookies = self
            .page
            .call("Network.getCookies", json!({"urls": [url]}))
            .await
            .unwrap();
        let flow = cookies["cookies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "oriel_oidc_flow")
            .expect("the callback carries the flow cookie")
            .clone();
        assert_eq!(flow["httpOnly"], true, "{flow}");
        assert_eq!(flow["secure"], true, "{flow}");
        assert_eq!(flow["path"], "/api/v1/auth/oidc", "{flow}");
        Held {
            request_id: paused["requestId"].as_str().unwrap().to_owned(),
            url,
            flow: flow["value"].as_str().unwrap().to_owned(),
        }
    }

    /// Lets the held request go (to `url` when given) and stops holding.
    async fn release(&self, held: &Held, url: Option<&str>) {
        let mut params = json!({"requestId": held.request_id});
        if let Some(u) = url {
            params["url"] = json!(u);
        }
        self.page
            .call("Fetch.continueRequest", params)
            .await
            .unwrap();
        self.page.call("Fetch.disable", json!({})).await.unwrap();
    }

    /// Replaces the flow cookie's value in the browser.
    async fn set_flow_cookie(&self, value: &str) {
        let r = self
            .page
            .call(
                "Network.setCookie",
                json!({
                    "name": "oriel_oidc_flow",
                    "value": value,
                    "url": format!("{}{CALLBACK}", self.oriel.origin()),
                    "path": "/api/v1/auth/oidc",
                    "secure": true,
                    "httpOnly": true,
                    "sameSite": "Lax",
                }),
            )
            .await
            .unwrap();
        assert_ne!(r["success"], false, "{r}");
    }
}

/// A callback request the browser is holding.
struct Held {
    request_id: String,
    url: String,
    flow: String,
}

fn names(items: &Value, field: &str) -> BTreeSet<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[field].as_str().unwrap().to_owned())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// A client for the callback that follows no redirects: status, `Location`
/// and whether it set a login cookie.
fn callback_once(cert: &Path, url: &str, flow_cookie: Option<&str>) -> (u16, String, bool) {
    let pem = std::fs::read(cert).unwrap();
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
        .max_redirects(0)
        .timeout_global(Some(WAIT))
        .build()
        .new_agent();
    let mut req = http::Request::get(url);
    if let Some(c) = flow_cookie {
        req = req.header("cookie", format!("oriel_oidc_flow={c}"));
    }
    let resp = agent.run(req.body(()).unwrap()).unwrap();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let logged_in = resp.headers().get_all("set-cookie").iter().any(|v| {
        v.to_str().unwrap_or("").starts_with("oriel_session=")
            && !v.to_str().unwrap_or("").starts_with("oriel_session=;")
    });
    (resp.status().as_u16(), location, logged_in)
}

fn post(api: &Api, path: &str, body: Value) -> Value {
    let r = api.call("POST", path, Some(&body), &[]).unwrap();
    assert_eq!(r.status, 201, "{r:?}");
    r.body
}

fn get(api: &Api, path: &str) -> Value {
    let r = api.call("GET", path, None, &[]).unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

async fn single_sign_on(backend: Backend) {
    support::contract::enforce();
    let sso = Sso::start(backend).await;
    let admin = sso.admin.clone();

    // The login page learns of the provider; nothing secret is said.
    let methods = blocking(move || {
        admin
            .call("GET", "/api/v1/auth/methods", None, &[])
            .unwrap()
    })
    .await;
    assert_eq!(methods.status, 200, "{methods:?}");
    assert_eq!(
        methods.body,
        json!({"password": true, "oidc": [{"id": "default", "name": "Test IdP", "start": "/api/v1/auth/oidc/start"}]})
    );

    // Groups in Oriel named like the provider's groups grant workspaces.
    let admin = sso.admin.clone();
    blocking(move || {
        let ws = |name: &str, port: u16| {
            admin.vnc_workspace(name, port, None, json!({})).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let alpha = ws("alpha", 5901);
        let beta = ws("beta", 5902);
        let _gamma = ws("gamma", 5903);
        post(
            &admin,
            "/api/v1/groups",
            json!({"name": "eng", "workspaces": [alpha]}),
        );
        post(
            &admin,
            "/api/v1/groups",
            json!({"name": "ops", "workspaces": [beta]}),
        );
        post(&admin, "/api/v1/groups", json!({"name": "oriel-admins"}));
        // A local user whose name a provider user will also claim.
        post(
            &admin,
            "/api/v1/users",
            json!({"username": "carol", "password": LOCAL_PASSWORD}),
        );
    })
    .await;
    sso.provider
        .user("alice", IDP_PASSWORD, &["eng", "ops", "not-in-oriel"])
        .await
        .unwrap();
    sso.provider
        .user("bob", IDP_PASSWORD, &["oriel-admins"])
        .await
        .unwrap();
    sso.provider.user("carol", IDP_PASSWORD, &[]).await.unwrap();

    // First login: the button, the provider's form, back logged in as a
    // user made just now, in the groups the claim names that exist here.
    sso.login("alice", true, "alice").await;
    let me = sso.me().await;
    assert_eq!(me["origin"], "oidc", "{me}");
    assert_eq!(me["role"], "user", "{me}");
    assert_eq!(me["stage"], "full", "{me}");
    assert_eq!(names(&me["groups"], "name"), set(&["eng", "ops"]), "{me}");
    let alice_id = me["id"].as_str().unwrap().to_owned();
    assert_eq!(sso.workspaces().await, set(&["alpha", "beta"]));
    // A user made by single sign-on has no password here.
    let mut anonymous = sso.oriel.api();
    let r = blocking(move || anonymous.login("alice", IDP_PASSWORD).unwrap()).await;
    assert_eq!(r.status, 401, "{r:?}");
    // The authorization request used PKCE S256, a nonce and a state.
    let authorize = sso
        .provider
        .log()
        .lines()
        .find(|l| l.contains("/openid/authorize?"))
        .unwrap_or_default()
        .to_owned();
    for param in [
        "code_challenge_method=S256",
        "code_challenge=",
        "nonce=",
        "state=",
        "response_type=code",
        "groups",
    ] {
        assert!(authorize.contains(param), "{param} missing: {authorize}");
    }

    // Second login, after the provider renamed alice and took her out of
    // ops: the same Oriel user (issuer and subject, not the name), renamed,
    // with the new groups.
    sso.logout().await;
    sso.provider.rename_user("alice", "alice.w").await.unwrap();
    sso.provider.set_groups("alice.w", &["eng"]).await.unwrap();
    sso.login("alice.w", false, "alice.w").await;
    let me = sso.me().await;
    assert_eq!(me["id"], alice_id.as_str(), "{me}");
    assert_eq!(names(&me["groups"], "name"), set(&["eng"]), "{me}");
    assert_eq!(sso.workspaces().await, set(&["alpha"]));

    // A replayed callback is refused, with or without the flow cookie.
    sso.logout().await;
    let held = sso.hold_callback(None).await;
    assert!(
        held.url.contains("code=") && held.url.contains("state="),
        "{}",
        held.url
    );
    sso.release(&held, None).await;
    sso.expect_user("alice.w").await;
    let (url, flow, cert) = (held.url.clone(), held.flow.clone(), sso.oriel.cert());
    let (replayed, unflowed) = blocking(move || {
        (
            callback_once(&cert, &url, Some(&flow)),
            callback_once(&cert, &url, None),
        )
    })
    .await;
    assert_eq!(
        replayed,
        (302, "/#/login?error=oidc_replayed".into(), false)
    );
    assert_eq!(
        unflowed,
        (302, "/#/login?error=oidc_invalid_state".into(), false)
    );

    // A tampered flow cookie, and a tampered state, are refused.
    sso.logout().await;
    let held = sso.hold_callback(None).await;
    let mut tampered = held.flow.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    sso.set_flow_cookie(&String::from_utf8(tampered).unwrap())
        .await;
    sso.release(&held, None).await;
    sso.expect_refused("oidc_invalid_state").await;
    let held = sso.hold_callback(None).await;
    let state = held
        .url
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("state="))
        .unwrap()
        .to_owned();
    let forged = held
        .url
        .replace(&format!("state={state}"), "state=forged-state");
    sso.release(&held, Some(&forged)).await;
    sso.expect_refused("oidc_invalid_state").await;

    // The admin group gives the admin role; leaving it takes it away.
    sso.forget_cookies().await;
    sso.login("bob", true, "bob").await;
    let me = sso.me().await;
    assert_eq!(me["role"], "admin", "{me}");
    assert_eq!(sso.fetch("GET", "/api/v1/users").await.0, 200);
    sso.logout().await;
    sso.provider.set_groups("bob", &[]).await.unwrap();
    sso.login("bob", false, "bob").await;
    assert_eq!(sso.me().await["role"], "user");
    assert_eq!(sso.fetch("GET", "/api/v1/users").await.0, 403);

    // The provider rotates its signing key: the next login still works
    // (Oriel fetches the key set again for the unknown key id).
    sso.logout().await;
    let before = sso.provider.key_ids().await.unwrap();
    let kid = sso.provider.rotate_key().await.unwrap();
    assert!(!before.contains(&kid), "{before:?} {kid}");
    assert_eq!(sso.provider.key_ids().await.unwrap(), [kid]);
    sso.login("bob", false, "bob").await;
    assert!(
        sso.oriel
            .guard
            .log()
            .contains("fetched the provider's keys again"),
        "{}",
        sso.logs()
    );

    // Clock skew: a provider 30 s ahead is within the allowed minute; one
    // five minutes ahead signs tokens "issued in the future".
    sso.logout().await;
    sso.provider.set_clock_offset(30).unwrap();
    sso.login("bob", false, "bob").await;
    sso.logout().await;
    sso.provider.set_clock_offset(300).unwrap();
    sso.click_sso().await;
    sso.expect_refused("oidc_invalid_token").await;
    sso.provider.set_clock_offset(0).unwrap();

    // Validly signed ID tokens that are not for this login: another
    // client's, another login's (nonce), another issuer's.
    for (claims, code) in [
        (json!({"aud": "another-client"}), "oidc_invalid_token"),
        (
            json!({"aud": [CLIENT_ID, "another-client"]}),
            "oidc_invalid_token",
        ),
        (json!({"nonce": "another-login"}), "oidc_nonce_mismatch"),
        (
            json!({"iss": "http://127.0.0.1:1/openid"}),
            "oidc_invalid_token",
        ),
    ] {
        sso.provider.set_id_token_overrides(&claims).unwrap();
        sso.click_sso().await;
        sso.expect_refused(code).await;
    }
    sso.provider.set_id_token_overrides(&json!({})).unwrap();
    sso.login("bob", false, "bob").await;
    sso.logout().await;

    // A provider user whose name a local user has is not let in as them.
    sso.forget_cookies().await;
    sso.click_sso().await;
    sso.provider_form("carol").await;
    sso.expect_refused("oidc_username_taken").await;

    // The audit log has every outcome; the user list shows who came how.
    let admin = sso.admin.clone();
    let issuer = sso.provider.issuer();
    blocking(move || {
        let entries = get(&admin, "/api/v1/audit?action=auth.login&limit=200")["items"]
            .as_array()
            .unwrap()
            .clone();
        let oidc: Vec<&Value> = entries
            .iter()
            .filter(|e| e["details"]["method"] == "oidc")
            .collect();
        assert!(
            oidc.iter()
                .all(|e| e["details"]["issuer"] == issuer.as_str())
        );
        let ok = |actor: &str| {
            oidc.iter()
                .filter(|e| e["outcome"] == "success" && e["actor"] == actor)
                .count()
        };
        assert!(ok("alice") + ok("alice.w") >= 3, "{oidc:#?}");
        assert!(ok("bob") >= 5, "{oidc:#?}");
        let created: Vec<_> = oidc
            .iter()
            .filter(|e| e["details"]["created"] == true)
            .map(|e| e["actor"].as_str().unwrap())
            .collect();
        assert_eq!(created.len(), 2, "{created:?}");
        let reasons: BTreeSet<String> = oidc
            .iter()
            .filter(|e| e["outcome"] == "failure")
            .map(|e| e["details"]["reason"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            reasons,
            set(&[
                "oidc_replayed",
                "oidc_invalid_state",
                "oidc_invalid_token",
                "oidc_nonce_mismatch",
                "oidc_username_taken"
            ])
        );
        let users = get(&admin, "/api/v1/users?limit=100")["items"]
            .as_array()
            .unwrap()
            .clone();
        let origin = |name: &str| {
            users
                .iter()
                .find(|u| u["username"] == name)
                .map(|u| u["origin"].as_str().unwrap().to_owned())
        };
        assert_eq!(origin("alice.w").as_deref(), Some("oidc"));
        assert_eq!(origin("alice"), None);
        assert_eq!(origin("bob").as_deref(), Some("oidc"));
        assert_eq!(origin("carol").as_deref(), Some("local"));
    })
    .await;

    // The claims came from the ID token, or else from userinfo.
    let userinfo_calls = sso
        .provider
        .log()
        .lines()
        .filter(|l| l.contains("/openid/userinfo"))
        .count();
    if sso.claims_in_id_token {
        assert_eq!(userinfo_calls, 0, "{}", sso.logs());
    } else {
        assert!(userinfo_calls >= 6, "{userinfo_calls}\n{}", sso.logs());
    }

    // The client secret was never logged; at rest it is sealed.
    let log = sso.oriel.guard.log();
    assert!(
        !log.contains(CLIENT_SECRET),
        "the client secret is in the log"
    );
    assert!(!log.contains("sealed:"), "the sealed secret is in the log");
}

/// `oriel up` with the OIDC section and `extra` environment: must stop at
/// once; returns what it printed.
fn up_fails(data: &Path, extra: &[(&str, &str)]) -> String {
    let mut cmd = Command::new("timeout");
    cmd.arg("60")
        .arg(env!("CARGO_BIN_EXE_oriel"))
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("ORIEL_ADMIN_PASSWORD", support::ADMIN_PASSWORD)
        .env("ORIEL_CONTROL__OIDC__ISSUER", "http://127.0.0.1:9/openid")
        .env("ORIEL_CONTROL__OIDC__CLIENT_ID", CLIENT_ID)
        .stdin(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(!text.contains("ready at"), "{text}");
    text
}

/// The client secret is taken sealed with this installation's data key, or
/// from a file only its owner can read; anything else stops the start with
/// a message that says what to do, and never echoes the secret.
#[test]
fn the_client_secret_must_be_sealed_or_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = ScratchDir::new("oidc-secrets").unwrap();
    let data = dir.path().join("data");
    let other = dir.path().join("other");

    // seal-secret wants a secret, and only for the keys that take one.
    let seal = |args: &[&str], input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_oriel"))
            .arg("seal-secret")
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = seal(&[], "");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no secret"),
        "{out:?}"
    );
    let out = seal(&["--for", "control.database"], CLIENT_SECRET);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--for"),
        "{out:?}"
    );
    // Sealing twice gives different values that both open.
    let a = seal_secret(&data, CLIENT_SECRET);
    let b = seal_secret(&data, CLIENT_SECRET);
    assert_ne!(a, b);

    let text = up_fails(
        &data,
        &[("ORIEL_CONTROL__OIDC__CLIENT_SECRET", CLIENT_SECRET)],
    );
    assert!(text.contains("must be sealed"), "{text}");
    assert!(!text.contains(CLIENT_SECRET), "{text}");
    let foreign = seal_secret(&other, CLIENT_SECRET);
    let text = up_fails(&data, &[("ORIEL_CONTROL__OIDC__CLIENT_SECRET", &foreign)]);
    assert!(text.contains("does not open"), "{text}");
    let text = up_fails(&data, &[]);
    assert!(text.contains("seal-secret"), "{text}");
    let file = dir.path().join("client-secret");
    std::fs::write(&file, format!("{CLIENT_SECRET}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let path = file.display().to_string();
    let text = up_fails(&data, &[("ORIEL_CONTROL__OIDC__CLIENT_SECRET_FILE", &path)]);
    assert!(text.contains("chmod 600"), "{text}");
    assert!(!text.contains(CLIENT_SECRET), "{text}");
    let text = up_fails(
        &data,
        &[
            ("ORIEL_CONTROL__OIDC__CLIENT_SECRET_FILE", &path),
            ("ORIEL_CONTROL__OIDC__CLIENT_SECRET", &a),
        ],
    );
    assert!(text.contains("not both"), "{text}");
    // A provider that is not on loopback must be reached over https.
    let text = up_fails(
        &data,
        &[
            ("ORIEL_CONTROL__OIDC__CLIENT_SECRET", &b),
            ("ORIEL_CONTROL__OIDC__ISSUER", "http://idp.example/"),
        ],
    );
    assert!(text.contains("https://"), "{text}");
}
