//! The control plane as a user and an administrator meet it, through the
//! REST API of the real binary, on both databases: every scenario runs once
//! on the embedded SQLite and once on a PostgreSQL cluster started for it.
//! Sessions are driven through the real gateway and a real VNC server, so
//! their states come from the gateway's signed reports. Every response (and
//! every request the server accepts) is checked against the OpenAPI
//! document (`support::contract`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use oriel_core_wire::{NoticeKind, caps, policy_bits};
use oriel_testkit::{Postgres, StreamViewer, ViewerEvent, VncDisplay, VncOptions};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::{Api, Backend, Deployment, Oriel, Reply, blocking};

const PASSWORD: &str = "correct horse battery";

on_both_databases!(
    accounts_groups_and_what_users_see,
    second_factor_and_throttling,
    api_tokens_and_scopes,
    sessions_follow_the_gateway,
    share_links_and_shadowing,
);

fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.body["error"]["code"], code, "{r:?}");
    let message = r.body["error"]["message"].as_str().unwrap_or("");
    assert!(!message.is_empty(), "{r:?}");
    for internal in ["sqlx", "SQLITE", "syntax error", "panicked", "src/"] {
        assert!(!message.contains(internal), "leaks internals: {r:?}");
    }
}

fn header<'a>(r: &'a Reply, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn ok(r: Reply, status: u16) -> Value {
    assert_eq!(r.status, status, "{r:?}");
    r.body
}

fn post(api: &Api, path: &str, body: Value) -> Reply {
    api.call("POST", path, Some(&body), &[]).unwrap()
}

fn get(api: &Api, path: &str) -> Reply {
    api.call("GET", path, None, &[]).unwrap()
}

fn create_user(admin: &Api, name: &str, role: &str, groups: &[&str]) -> String {
    let r = post(
        admin,
        "/api/v1/users",
        json!({"username": name, "password": PASSWORD, "role": role, "groups": groups}),
    );
    ok(r, 201)["id"].as_str().unwrap().to_owned()
}

fn create_workspace(admin: &Api, name: &str, port: u16, policy: Value) -> String {
    admin.vnc_workspace(name, port, None, policy).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn create_group(admin: &Api, body: Value) -> String {
    ok(post(admin, "/api/v1/groups", body), 201)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A new login of `name` (an anonymous copy of `api`, logged in).
fn login_as(api: &Api, name: &str) -> Api {
    let mut fresh = api.clone();
    fresh.token = None;
    let r = fresh.login(name, PASSWORD).unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    fresh
}

/// Follows `next` through a listing, `limit` at a time; returns every item.
fn all_pages(api: &Api, path: &str, limit: u32) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let url = match &after {
            Some(c) => format!("{path}{sep}limit={limit}&after={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let page = ok(get(api, &url), 200);
        let got = page["items"].as_array().unwrap();
        assert!(got.len() <= limit as usize, "{page}");
        items.extend(got.iter().cloned());
        match page["next"].as_str() {
            Some(c) => after = Some(percent(c)),
            None => return items,
        }
    }
    panic!("listing {path} never ended");
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn names(items: &[Value], field: &str) -> BTreeSet<String> {
    items
        .iter()
        .map(|i| i[field].as_str().unwrap().to_owned())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Audit entries matching a query string (newest first).
fn audit(api: &Api, query: &str) -> Vec<Value> {
    all_pages(api, &format!("/api/v1/audit?{query}"), 100)
}

async fn accounts_groups_and_what_users_see(backend: Backend) {
    support::contract::enforce();
    let d = Deployment::start(backend, &[]).await;
    let admin = d.admin();
    let oriel = d.oriel.api();
    // Its own connections: the front answers a body over the limit without
    // reading it, and the connection it came on is not to be used again.
    let mut oversize = d.oriel.api();
    blocking(move || {
        // Users: validation (naming the field at fault), conflicts, strict
        // bodies.
        let short = post(
            &admin,
            "/api/v1/users",
            json!({"username": "x", "password": "short"}),
        );
        assert_error(&short, 422, "validation_failed");
        assert_eq!(short.body["error"]["field"], "password", "{short:?}");
        let bad_port = post(
            &admin,
            "/api/v1/workspaces",
            json!({"name": "p", "kind": "vnc", "target": {"host": "127.0.0.1", "port": 0}}),
        );
        assert_error(&bad_port, 422, "validation_failed");
        assert_eq!(
            bad_port.body["error"]["field"], "target.port",
            "{bad_port:?}"
        );
        let ghosts = post(
            &admin,
            "/api/v1/groups",
            json!({"name": "no such member", "members": ["no-such-user"]}),
        );
        assert!(ghosts.body["error"].get("field").is_none(), "{ghosts:?}");
        assert_error(
            &post(
                &admin,
                "/api/v1/users",
                json!({"username": "x", "password": PASSWORD, "role": "superuser"}),
            ),
            400,
            "bad_request",
        );
        assert_error(
            &post(
                &admin,
                "/api/v1/users",
                json!({"username": "x", "password": PASSWORD, "is_admin": true}),
            ),
            400,
            "bad_request",
        );
        let r = admin
            .call(
                "POST",
                "/api/v1/users",
                None,
                &[("content-type", "application/json")],
            )
            .unwrap();
        assert!(r.status == 400, "{r:?}");
        // A body far over the limit is refused before it is parsed.
        let huge = json!({"username": "x", "password": "p".repeat(2 << 20)});
        oversize.token = admin.token.clone();
        let r = post(&oversize, "/api/v1/users", huge);
        assert_eq!(r.status, 413, "{r:?}");
        assert_eq!(r.body["error"]["code"], "payload_too_large", "{r:?}");

        let w1 = create_workspace(&admin, "alpha", 5901, json!({"clipboard_up": false}));
        let w2 = create_workspace(&admin, "beta", 5902, json!({}));
        let w3 = create_workspace(&admin, "gamma", 5903, json!({}));
        let alice = create_user(&admin, "alice", "user", &[]);
        let bob = create_user(&admin, "bob", "user", &[]);
        let audrey = create_user(&admin, "audrey", "auditor", &[]);
        assert_error(
            &post(
                &admin,
                "/api/v1/users",
                json!({"username": "alice", "password": PASSWORD}),
            ),
            409,
            "conflict",
        );
        // Groups grant workspaces; one group loosens alpha's clipboard.
        let engineering = create_group(
            &admin,
            json!({
                "name": "engineering",
                "members": [alice],
                "workspaces": [w1, w2],
                "settings": {"policy": {"clipboard_up": true, "clipboard_max_bytes": 4096}},
            }),
        );
        let _support = create_group(
            &admin,
            json!({"name": "support", "members": [bob], "workspaces": [w3]}),
        );
        assert_error(
            &post(
                &admin,
                "/api/v1/groups",
                json!({"name": "ghosts", "members": ["no-such-user"]}),
            ),
            422,
            "validation_failed",
        );
        assert_error(
            &post(&admin, "/api/v1/groups", json!({"name": "engineering"})),
            409,
            "conflict",
        );
        let g = ok(get(&admin, &format!("/api/v1/groups/{engineering}")), 200);
        assert_eq!(
            names(g["members"].as_array().unwrap(), "username"),
            set(&["alice"])
        );
        assert_eq!(
            names(g["workspaces"].as_array().unwrap(), "name"),
            set(&["alpha", "beta"])
        );

        // Each user sees exactly the workspaces of their groups.
        let alice_api = login_as(&oriel, "alice");
        let bob_api = login_as(&oriel, "bob");
        let audrey_api = login_as(&oriel, "audrey");
        let seen = |api: &Api| names(&all_pages(api, "/api/v1/workspaces", 1), "name");
        assert_eq!(seen(&alice_api), set(&["alpha", "beta"]));
        assert_eq!(seen(&bob_api), set(&["gamma"]));
        assert_eq!(seen(&admin), set(&["alpha", "beta", "gamma"]));
        assert_error(
            &get(&alice_api, &format!("/api/v1/workspaces/{w3}")),
            404,
            "not_found",
        );
        assert_error(
            &post(&alice_api, "/api/v1/sessions", json!({"workspace": w3})),
            404,
            "not_found",
        );
        let me = ok(get(&alice_api, "/api/v1/auth/me"), 200);
        assert_eq!(
            names(me["groups"].as_array().unwrap(), "name"),
            set(&["engineering"])
        );

        // Roles: users administer nothing; auditors read but change nothing.
        assert_error(&get(&alice_api, "/api/v1/users"), 403, "forbidden");
        assert_error(&get(&alice_api, "/api/v1/audit"), 403, "forbidden");
        assert_error(
            &get(&alice_api, "/api/v1/sessions?scope=all"),
            403,
            "forbidden",
        );
        assert_error(
            &post(
                &alice_api,
                "/api/v1/workspaces",
                json!({"name": "mine", "kind": "vnc", "target": {"host": "127.0.0.1", "port": 1}}),
            ),
            403,
            "forbidden",
        );
        assert_eq!(get(&audrey_api, "/api/v1/users").status, 200);
        assert_eq!(get(&audrey_api, "/api/v1/audit").status, 200);
        assert_eq!(get(&audrey_api, "/api/v1/sessions?scope=all").status, 200);
        assert_error(
            &post(
                &audrey_api,
                "/api/v1/users",
                json!({"username": "y", "password": PASSWORD}),
            ),
            403,
            "forbidden",
        );
        assert_error(
            &post(&audrey_api, "/api/v1/sessions", json!({"workspace": w1})),
            403,
            "forbidden",
        );
        assert_error(
            &audrey_api
                .call("DELETE", &format!("/api/v1/users/{bob}"), None, &[])
                .unwrap(),
            403,
            "forbidden",
        );

        // The effective policy: alpha's, loosened by engineering.
        let launched = ok(
            post(&alice_api, "/api/v1/sessions", json!({"workspace": w1})),
            201,
        );
        let sid = launched["id"].as_str().unwrap();
        let entry = audit(&admin, &format!("action=session.launch&target_id={sid}"));
        assert_eq!(entry.len(), 1, "{entry:?}");
        let policy = &entry[0]["details"]["policy"];
        assert_eq!(policy["clipboard_up"], true, "{policy}");
        assert_eq!(policy["clipboard_max_bytes"], 4096, "{policy}");
        assert_eq!(entry[0]["actor"], "alice");
        // Bob cannot see or end Alice's session; the admin can see it.
        assert_error(
            &get(&bob_api, &format!("/api/v1/sessions/{sid}")),
            404,
            "not_found",
        );
        assert_error(
            &bob_api
                .call("DELETE", &format!("/api/v1/sessions/{sid}"), None, &[])
                .unwrap(),
            404,
            "not_found",
        );
        assert_eq!(
            ok(get(&admin, &format!("/api/v1/sessions/{sid}")), 200)["username"],
            "alice"
        );

        // Revoking a grant takes effect at once.
        let r = admin
            .call(
                "PUT",
                &format!("/api/v1/groups/{engineering}"),
                Some(&json!({"name": "engineering", "workspaces": [w2]})),
                &[],
            )
            .unwrap();
        ok(r, 200);
        assert_eq!(seen(&alice_api), set(&["beta"]));
        assert_error(
            &alice_api
                .call("POST", &format!("/api/v1/sessions/{sid}/token"), None, &[])
                .unwrap(),
            409,
            "workspace_gone",
        );

        // Disabling a user ends their logins and refuses new ones.
        let r = admin
            .call(
                "PUT",
                &format!("/api/v1/users/{alice}"),
                Some(&json!({"role": "user", "disabled": true})),
                &[],
            )
            .unwrap();
        ok(r, 200);
        assert_error(&get(&alice_api, "/api/v1/auth/me"), 401, "unauthorized");
        let mut again = oriel.clone();
        assert_error(
            &again.login("alice", PASSWORD).unwrap(),
            401,
            "invalid_credentials",
        );

        // Pagination: every list pages with a cursor and loses nothing.
        for i in 0..7 {
            create_user(&admin, &format!("user{i:02}"), "user", &[]);
        }
        let users = all_pages(&admin, "/api/v1/users", 3);
        assert_eq!(users.len(), 1 + 3 + 7, "{users:?}");
        assert_eq!(names(&users, "username").len(), users.len());
        assert_eq!(all_pages(&admin, "/api/v1/groups", 1).len(), 2);
        assert_eq!(all_pages(&admin, "/api/v1/workspaces", 2).len(), 3);
        assert_error(
            &get(&admin, "/api/v1/users?limit=0"),
            422,
            "validation_failed",
        );
        assert_error(&get(&admin, "/api/v1/users?limit=abc"), 400, "bad_request");
        assert_error(&get(&admin, "/api/v1/users?colour=red"), 400, "bad_request");

        // Deleting: a user, then their group membership is gone too.
        let r = admin
            .call("DELETE", &format!("/api/v1/users/{bob}"), None, &[])
            .unwrap();
        assert_eq!(r.status, 204, "{r:?}");
        assert_error(
            &get(&admin, &format!("/api/v1/users/{bob}")),
            404,
            "not_found",
        );
        let _ = audrey;

        // The audit trail has who did what, from where.
        let created = audit(&admin, "action=user.create");
        assert_eq!(created.len(), 3 + 7, "{created:?}");
        assert!(
            created
                .iter()
                .all(|e| e["actor"] == "admin" && e["outcome"] == "success")
        );
        assert!(
            created.iter().all(|e| e["source"] == "127.0.0.1"),
            "{created:?}"
        );
        let logins = audit(&admin, "action=auth.login&actor=alice");
        assert!(
            logins.iter().any(|e| e["outcome"] == "failure"),
            "{logins:?}"
        );
        assert!(
            logins.iter().any(|e| e["outcome"] == "success"),
            "{logins:?}"
        );
        for action in [
            "group.create",
            "group.update",
            "workspace.create",
            "user.update",
            "user.delete",
        ] {
            assert!(
                !audit(&admin, &format!("action={action}")).is_empty(),
                "no {action} entry"
            );
        }
        let exported = admin
            .call("GET", "/api/v1/audit/export?action=user.create", None, &[])
            .unwrap();
        assert_eq!(exported.status, 200);
        let text = exported.body.as_str().unwrap().to_owned();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), created.len());
        assert_eq!(lines[0]["id"], created[0]["id"]);
    })
    .await;
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A TOTP code for the current 30 s step, waiting for a fresh step when the
/// current one was already used (the server refuses a replayed step).
fn fresh_code(secret: &str, used_step: &mut u64) -> String {
    loop {
        let now = unix_now();
        let step = now / 30;
        if step > *used_step {
            *used_step = step;
            return oriel_testkit::totp::code_for_base32(secret, step).unwrap();
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

async fn second_factor_and_throttling(backend: Backend) {
    support::contract::enforce();
    let d = Deployment::start(backend, &[]).await;
    let admin = d.admin();
    blocking(move || {
        let carol = create_user(&admin, "carol", "user", &[]);
        let w = create_workspace(&admin, "desk", 5901, json!({}));
        create_group(
            &admin,
            json!({"name": "secure", "members": [carol], "workspaces": [w],
                   "settings": {"require_totp": true}}),
        );
        // A group that requires TOTP: the login only allows enrolment.
        let carol_api = login_as(&admin, "carol");
        let me = ok(get(&carol_api, "/api/v1/auth/me"), 200);
        assert_eq!(me["stage"], "totp_enroll", "{me}");
        assert_eq!(me["totp_required"], true, "{me}");
        let r = get(&carol_api, "/api/v1/workspaces");
        assert_eq!(r.status, 403, "{r:?}");
        assert_error(
            &post(&carol_api, "/api/v1/sessions", json!({"workspace": w})),
            403,
            r.body["error"]["code"].as_str().unwrap(),
        );
        let enrolment = ok(
            carol_api
                .call("POST", "/api/v1/auth/totp/enroll", None, &[])
                .unwrap(),
            200,
        );
        let secret = enrolment["secret"].as_str().unwrap().to_owned();
        assert!(
            enrolment["otpauth_uri"]
                .as_str()
                .unwrap()
                .starts_with("otpauth://totp/")
        );
        assert!(enrolment["qr_svg"].as_str().unwrap().starts_with("<svg"));
        assert_error(
            &post(
                &carol_api,
                "/api/v1/auth/totp/confirm",
                json!({"code": "000000"}),
            ),
            422,
            "validation_failed",
        );
        let mut step = 0;
        let code = fresh_code(&secret, &mut step);
        let confirmed = ok(
            post(
                &carol_api,
                "/api/v1/auth/totp/confirm",
                json!({"code": code}),
            ),
            200,
        );
        let recovery: Vec<String> = confirmed["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert!(recovery.len() >= 8, "{confirmed}");
        // The same login is now full.
        assert_eq!(ok(get(&carol_api, "/api/v1/auth/me"), 200)["stage"], "full");
        assert_eq!(get(&carol_api, "/api/v1/workspaces").status, 200);

        // Next logins need the code; a replayed step is refused.
        let mut fresh = carol_api.clone();
        fresh.token = None;
        assert_error(
            &fresh.login("carol", PASSWORD).unwrap(),
            401,
            "totp_required",
        );
        let with = |api: &mut Api, code: &str| {
            let r = post(
                api,
                "/api/v1/auth/login",
                json!({"username": "carol", "password": PASSWORD, "totp": code}),
            );
            if r.status == 200 {
                api.token = r.body["token"].as_str().map(str::to_owned);
            }
            r
        };
        assert_error(&with(&mut fresh, &code), 401, "invalid_credentials");
        let code = fresh_code(&secret, &mut step);
        let r = with(&mut fresh, &code);
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["stage"], "full");
        // A recovery code works once.
        let mut other = fresh.clone();
        other.token = None;
        assert_eq!(with(&mut other, &recovery[0]).status, 200);
        assert_error(&with(&mut other, &recovery[0]), 401, "invalid_credentials");
        assert_eq!(with(&mut other, &recovery[1]).status, 200);
        // The seed never comes back from the API.
        let listed = ok(get(&admin, &format!("/api/v1/users/{carol}")), 200);
        assert_eq!(listed["totp_enabled"], true);
        assert!(!listed.to_string().contains(&secret));

        // Throttling per user name: 5 free failures, then 429 with
        // Retry-After, even with the right password.
        let mut dave_api = admin.clone();
        dave_api.token = None;
        create_user(&admin, "dave", "user", &[]);
        for _ in 0..5 {
            assert_error(
                &dave_api.login("dave", "wrong password!").unwrap(),
                401,
                "invalid_credentials",
            );
        }
        let r = dave_api.login("dave", "wrong password!").unwrap();
        assert_error(&r, 401, "invalid_credentials");
        let r = dave_api.login("dave", PASSWORD).unwrap();
        assert_error(&r, 429, "too_many_attempts");
        let retry: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
        assert!((1..=30).contains(&retry), "{r:?}");
        // Other users are not affected by Dave's lock.
        create_user(&admin, "erin", "user", &[]);
        login_as(&admin, "erin");
        // Per source address: 20 failures over many names lock the address.
        let mut fails = 0;
        for i in 0..40 {
            let r = dave_api
                .login(&format!("nobody{i}"), "wrong password!")
                .unwrap();
            if r.status == 429 {
                break;
            }
            assert_error(&r, 401, "invalid_credentials");
            fails += 1;
        }
        assert!(
            fails <= 21,
            "address never throttled after {fails} failures"
        );
        let r = dave_api.login("admin", support::ADMIN_PASSWORD).unwrap();
        assert_error(&r, 429, "too_many_attempts");
        assert!(!audit(&admin, "action=auth.login&outcome=failure").is_empty());
    })
    .await;
}

async fn api_tokens_and_scopes(backend: Backend) {
    support::contract::enforce();
    let d = Deployment::start(backend, &[]).await;
    let admin = d.admin();
    blocking(move || {
        let hank = create_user(&admin, "hank", "user", &[]);
        let w = create_workspace(&admin, "desk", 5901, json!({}));
        create_group(
            &admin,
            json!({"name": "ops", "members": [hank], "workspaces": [w]}),
        );
        let hank_api = login_as(&admin, "hank");
        assert_error(
            &post(
                &hank_api,
                "/api/v1/tokens",
                json!({"name": "ci", "scopes": ["admin"]}),
            ),
            403,
            "forbidden",
        );
        assert_error(
            &post(
                &hank_api,
                "/api/v1/tokens",
                json!({"name": "ci", "scopes": []}),
            ),
            422,
            "validation_failed",
        );
        assert_error(
            &post(
                &hank_api,
                "/api/v1/tokens",
                json!({"name": "ci", "scopes": ["root"]}),
            ),
            400,
            "bad_request",
        );
        let read = ok(
            post(
                &hank_api,
                "/api/v1/tokens",
                json!({"name": "reader", "scopes": ["read"], "expires_in_days": 1}),
            ),
            201,
        );
        let launcher = ok(
            post(
                &hank_api,
                "/api/v1/tokens",
                json!({"name": "launcher", "scopes": ["sessions"]}),
            ),
            201,
        );
        let read_secret = read["token"].as_str().unwrap().to_owned();
        assert!(read_secret.starts_with("oriel_pat_"), "{read}");
        // Shown once: listings never carry the secret.
        let listed = ok(get(&hank_api, "/api/v1/tokens"), 200);
        assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");
        // Paged like every list: one per page, then the end.
        let first = ok(get(&hank_api, "/api/v1/tokens?limit=1"), 200);
        let cursor = first["next"].as_str().unwrap().to_owned();
        let second = ok(
            get(&hank_api, &format!("/api/v1/tokens?limit=1&after={cursor}")),
            200,
        );
        assert!(second["next"].is_null(), "{second}");
        assert_eq!(
            [&first["items"][0]["name"], &second["items"][0]["name"]],
            [&json!("launcher"), &json!("reader")],
            "newest first"
        );
        assert_error(
            &get(&hank_api, "/api/v1/tokens?limit=0"),
            422,
            "validation_failed",
        );
        assert_error(
            &get(&hank_api, "/api/v1/tokens?scope=all"),
            403,
            "forbidden",
        );
        assert_error(
            &get(&hank_api, "/api/v1/tokens?after=nonsense"),
            400,
            "bad_request",
        );
        assert!(!listed.to_string().contains(&read_secret));
        assert!(
            listed["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t.get("token").is_none())
        );

        let bearer = |secret: &str| {
            let mut a = admin.clone();
            a.token = Some(secret.to_owned());
            a
        };
        let reader = bearer(&read_secret);
        assert_eq!(ok(get(&reader, "/api/v1/auth/me"), 200)["username"], "hank");
        assert_eq!(get(&reader, "/api/v1/workspaces").status, 200);
        assert_error(
            &post(&reader, "/api/v1/sessions", json!({"workspace": w})),
            403,
            "forbidden",
        );
        // An API token cannot mint more tokens or change the password.
        assert_error(
            &post(
                &reader,
                "/api/v1/tokens",
                json!({"name": "more", "scopes": ["read"]}),
            ),
            403,
            "forbidden",
        );
        let sessions = bearer(launcher["token"].as_str().unwrap());
        let launched = ok(
            post(&sessions, "/api/v1/sessions", json!({"workspace": w})),
            201,
        );
        assert!(launched["token"].as_str().unwrap().starts_with("s1."));
        // No cookie, no CSRF check needed, and still only Hank's own things.
        assert_error(&get(&sessions, "/api/v1/users"), 403, "forbidden");
        // Tokens cannot take the account over.
        assert_error(
            &post(
                &sessions,
                "/api/v1/auth/password",
                json!({"current": PASSWORD, "new": "another long password"}),
            ),
            403,
            "forbidden",
        );
        assert_error(
            &sessions
                .call("POST", "/api/v1/auth/totp/enroll", None, &[])
                .unwrap(),
            403,
            "forbidden",
        );

        // An admin's token limited to read cannot administer.
        let admin_read = ok(
            post(
                &admin,
                "/api/v1/tokens",
                json!({"name": "audit-export", "scopes": ["read"]}),
            ),
            201,
        );
        let admin_reader = bearer(admin_read["token"].as_str().unwrap());
        // Admins see their own tokens by default, everyone's on request.
        assert_eq!(
            names(&all_pages(&admin, "/api/v1/tokens", 1), "name"),
            set(&["audit-export"])
        );
        assert_eq!(
            names(&all_pages(&admin, "/api/v1/tokens?scope=all", 2), "name"),
            set(&["audit-export", "launcher", "reader"])
        );
        assert_eq!(get(&admin_reader, "/api/v1/audit").status, 200);
        assert_error(
            &post(
                &admin_reader,
                "/api/v1/users",
                json!({"username": "z", "password": PASSWORD}),
            ),
            403,
            "forbidden",
        );

        // Revoked: refused at once; a forged one is refused the same way.
        let id = read["id"].as_str().unwrap();
        let r = hank_api
            .call("DELETE", &format!("/api/v1/tokens/{id}"), None, &[])
            .unwrap();
        assert_eq!(r.status, 204, "{r:?}");
        assert_error(&get(&reader, "/api/v1/auth/me"), 401, "unauthorized");
        assert_error(
            &get(&bearer(&format!("{read_secret}x")), "/api/v1/auth/me"),
            401,
            "unauthorized",
        );
        let listed = ok(get(&hank_api, "/api/v1/tokens"), 200);
        let revoked = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap()
            .clone();
        assert!(revoked["revoked_at"].is_string(), "{revoked}");
        assert!(
            ok(get(&hank_api, "/api/v1/tokens"), 200)["items"][0]["last_used_at"].is_string()
                || ok(get(&hank_api, "/api/v1/tokens"), 200)["items"][1]["last_used_at"]
                    .is_string()
        );
        // Someone else's token cannot be revoked (or even found).
        let other = admin_read["id"].as_str().unwrap();
        assert_error(
            &hank_api
                .call("DELETE", &format!("/api/v1/tokens/{other}"), None, &[])
                .unwrap(),
            404,
            "not_found",
        );
        let log = audit(&admin, "action=token.create");
        assert_eq!(log.len(), 3, "{log:?}");
        assert!(!log.iter().any(|e| e.to_string().contains("oriel_pat_")));
    })
    .await;
}

/// Polls a session until it reaches `state`.
fn wait_state(api: &Api, id: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = ok(get(api, &format!("/api/v1/sessions/{id}")), 200);
        if s["state"] == state {
            return s;
        }
        assert!(Instant::now() < deadline, "session never {state}: {s}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn connect(oriel: &Oriel, launched: &Value) -> StreamViewer {
    let v = support::open_viewer(&oriel.cert(), &oriel.origin(), launched, 0).await;
    assert!(v.hello.is_some(), "{:?}\n{}", v.end, oriel.log_tail(30));
    v
}

async fn sessions_follow_the_gateway(backend: Backend) {
    support::contract::enforce();
    let display = VncDisplay::start(VncOptions::new(320, 240)).await.unwrap();
    let port = display.rfb_port();
    let d = Deployment::start(backend, &[]).await;
    let admin = d.admin();
    let a = admin.clone();
    let (ivy, ids) = blocking(move || {
        let ivy = create_user(&a, "ivy", "user", &[]);
        let limited = create_workspace(&a, "limited", port, json!({"max_sessions_per_user": 2}));
        let idle = create_workspace(&a, "idle", port, json!({"idle_timeout_secs": 2}));
        let short = create_workspace(&a, "short", port, json!({"max_session_secs": 3}));
        create_group(
            &a,
            json!({"name": "desk", "members": [ivy], "workspaces": [limited, idle, short]}),
        );
        (login_as(&a, "ivy"), [limited, idle, short])
    })
    .await;
    let [limited, idle, short] = ids;

    // Racing launches: exactly the limit gets through.
    let mut racers = Vec::new();
    for _ in 0..8 {
        let api = ivy.clone();
        let w = limited.clone();
        racers.push(std::thread::spawn(move || {
            post(&api, "/api/v1/sessions", json!({"workspace": w}))
        }));
    }
    let results: Vec<Reply> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    let launched: Vec<Value> = results
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.body.clone())
        .collect();
    assert_eq!(launched.len(), 2, "{results:?}");
    for r in results.iter().filter(|r| r.status != 201) {
        assert_error(r, 409, "session_limit");
    }
    let first = launched[0]["id"].as_str().unwrap().to_owned();
    let second = launched[1]["id"].as_str().unwrap().to_owned();
    let api = ivy.clone();
    let s = blocking(move || ok(get(&api, &format!("/api/v1/sessions/{first}")), 200)).await;
    assert_eq!(s["state"], "starting", "{s}");

    // A viewer connects: the gateway's report makes it running.
    let mut v = connect(&d.oriel, &launched[0]).await;
    let api = ivy.clone();
    let id = launched[0]["id"].as_str().unwrap().to_owned();
    let running = blocking(move || wait_state(&api, &id, "running")).await;
    assert!(running["running_at"].is_string(), "{running}");
    let api = admin.clone();
    let active =
        blocking(move || all_pages(&api, "/api/v1/sessions?scope=all&state=active", 1)).await;
    assert_eq!(active.len(), 2, "{active:?}");

    // The user ends it: the stream closes, the session is ended.
    let api = ivy.clone();
    let id = launched[0]["id"].as_str().unwrap().to_owned();
    let r = blocking(move || {
        api.call("DELETE", &format!("/api/v1/sessions/{id}"), None, &[])
            .unwrap()
    })
    .await;
    assert_eq!(r.status, 204, "{r:?}");
    let (_, code) = v.wait_closed(Duration::from_secs(10)).await.unwrap();
    assert_eq!(code, Some(4000));
    let api = ivy.clone();
    let id = launched[0]["id"].as_str().unwrap().to_owned();
    let ended = blocking(move || wait_state(&api, &id, "ended")).await;
    assert!(ended["ended_at"].is_string(), "{ended}");
    // An ended session gets no new token.
    let api = ivy.clone();
    let id = launched[0]["id"].as_str().unwrap().to_owned();
    let r = blocking(move || post(&api, &format!("/api/v1/sessions/{id}/token"), json!({}))).await;
    assert_error(&r, 409, "session_ended");
    // One slot is free again.
    let api = ivy.clone();
    let w = limited.clone();
    let r = blocking(move || post(&api, "/api/v1/sessions", json!({"workspace": w}))).await;
    assert_eq!(r.status, 201, "{r:?}");
    let _ = second;

    // Idle timeout and maximum length are enforced by the gateway, and
    // the sessions end in the database.
    for (w, code) in [(idle, 4015), (short, 4016)] {
        let api = ivy.clone();
        let launched =
            blocking(move || ok(post(&api, "/api/v1/sessions", json!({"workspace": w})), 201))
                .await;
        let mut v = connect(&d.oriel, &launched).await;
        let (end, got) = v.wait_closed(Duration::from_secs(20)).await.unwrap();
        assert_eq!(got, Some(code), "{end:?}");
        let api = ivy.clone();
        let id = launched["id"].as_str().unwrap().to_owned();
        blocking(move || wait_state(&api, &id, "ended")).await;
    }
    let api = admin.clone();
    blocking(move || {
        let starts = audit(&api, "action=session.start");
        assert_eq!(starts.len(), 3, "{starts:?}");
        // A session is `ended` a moment before its end is audited (the
        // reaper ends it, then writes the entry): wait for the entries.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ends = audit(&api, "action=session.end");
            if ends.len() >= 3 {
                break;
            }
            assert!(Instant::now() < deadline, "{ends:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let limit = audit(&api, "action=session.launch&outcome=failure");
        assert_eq!(limit.len(), 6, "{limit:?}");
    })
    .await;
}

/// A viewer of `token` at `url` that is told who watches (PRESENCE).
async fn watch(oriel: &Oriel, url: &str, token: &str) -> StreamViewer {
    let mut v = StreamViewer::connect(url, &oriel.cert(), Some(&oriel.origin()))
        .await
        .unwrap();
    v.capabilities = caps::PRESENCE;
    v.hello(token, Duration::from_secs(20)).await.unwrap();
    assert!(v.hello.is_some(), "{:?}\n{}", v.end, oriel.log_tail(30));
    v
}

/// Waits until a viewer is told a list of watchers that names `name`.
async fn watchers_told(v: &mut StreamViewer, name: &str) -> String {
    match v
        .wait_for(
            Duration::from_secs(10),
            "a watchers notice",
            |e| matches!(e, ViewerEvent::Notice(NoticeKind::Watchers, line) if line.contains(name)),
        )
        .await
        .unwrap()
    {
        ViewerEvent::Notice(_, line) => line,
        _ => unreachable!(),
    }
}

/// `POST /api/v1/shares/{link}/join` (no body).
fn join_link(api: &Api, path: &str) -> Reply {
    api.call("POST", path, None, &[]).unwrap()
}

fn view_only(v: &StreamViewer) -> bool {
    v.hello.as_ref().unwrap().policy & policy_bits::VIEW_ONLY != 0
}

/// Share links and shadowing through the API, streamed by the real
/// gateway: every refusal, the link's control handed over and taken back,
/// a revoked link's viewer closed while the owner streams on, the audit.
async fn share_links_and_shadowing(backend: Backend) {
    support::contract::enforce();
    let display = VncDisplay::start(VncOptions::new(320, 240)).await.unwrap();
    let port = display.rfb_port();
    let d = Deployment::start(backend, &[]).await;
    let admin = d.admin();
    let a = admin.clone();
    let (ann, bob, carl, dave, anon, ids, watchers) = blocking(move || {
        let ann = create_user(&a, "ann", "user", &[]);
        let bob = create_user(&a, "bob", "user", &[]);
        create_user(&a, "carl", "user", &[]);
        let dave = create_user(&a, "dave", "user", &[]);
        let closed = create_workspace(&a, "closed", port, json!({}));
        let shared = create_workspace(&a, "shared", port, json!({"share_links": true}));
        let steer = create_workspace(
            &a,
            "steer",
            port,
            json!({"share_links": true, "share_links_control": true, "silent_monitoring": true}),
        );
        create_group(
            &a,
            json!({"name": "desk", "members": [ann], "workspaces": [closed, shared, steer]}),
        );
        let watchers = create_group(&a, json!({"name": "watchers", "members": [bob]}));
        create_group(
            &a,
            json!({"name": "shadowers", "members": [dave], "settings": {"shadow_sessions": true}}),
        );
        // Groups cannot grant sharing: it is the workspace's alone.
        let r = post(
            &a,
            "/api/v1/groups",
            json!({"name": "g", "settings": {"policy": {"share_links": true}}}),
        );
        assert_error(&r, 400, "bad_request");
        let mut anon = a.clone();
        anon.token = None;
        (
            login_as(&a, "ann"),
            login_as(&a, "bob"),
            login_as(&a, "carl"),
            login_as(&a, "dave"),
            anon,
            [closed, shared, steer],
            watchers,
        )
    })
    .await;
    let [closed, shared, steer] = ids;
    let launch =
        |api: &Api, w: &str| ok(post(api, "/api/v1/sessions", json!({"workspace": w})), 201);

    // A workspace whose policy does not allow share links: refused, audited.
    let (api, w) = (ann.clone(), closed.clone());
    blocking(move || {
        let s = launch(&api, &w);
        let id = s["id"].as_str().unwrap();
        let r = post(&api, &format!("/api/v1/sessions/{id}/shares"), json!({}));
        assert_error(&r, 403, "sharing_disabled");
    })
    .await;

    // The owner streams a workspace that allows view-only links.
    let api = ann.clone();
    let launched = blocking(move || launch(&api, &shared)).await;
    let sid = launched["id"].as_str().unwrap().to_owned();
    let mut owner = watch(
        &d.oriel,
        launched["stream_url"].as_str().unwrap(),
        launched["token"].as_str().unwrap(),
    )
    .await;
    let (api, other, id) = (ann.clone(), carl.clone(), sid.clone());
    let (link, ws_link) = blocking(move || {
        let shares = format!("/api/v1/sessions/{id}/shares");
        // Control is not for this workspace; bad bodies are refused.
        assert_error(
            &post(&api, &shares, json!({"control": true})),
            403,
            "share_control_disabled",
        );
        for bad in [
            json!({"expires_in_secs": 0}),
            json!({"expires_in_secs": 604_801}),
            json!({"groups": []}),
            json!({"groups": ["no-such-group"]}),
        ] {
            assert_error(&post(&api, &shares, bad.clone()), 422, "validation_failed");
        }
        // Someone else's session is not found, for them.
        assert_error(&post(&other, &shares, json!({})), 404, "not_found");
        assert_error(&get(&other, &shares), 404, "not_found");
        let l = ok(post(&api, &shares, json!({"expires_in_secs": 600})), 201);
        let link = l["link"].as_str().unwrap().to_owned();
        assert_eq!(link.len(), 22, "128 bits, base64url: {l}");
        assert!(
            link.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(
            (l["state"].as_str(), l["control"].as_bool()),
            (Some("active"), Some(false))
        );
        assert!(
            l["url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/share.html#{link}")),
            "{l}"
        );
        assert!(l["groups"].is_null());
        // A link for one group's signed-in members.
        let g = ok(post(&api, &shares, json!({"groups": [watchers]})), 201);
        let ws_link = g["link"].as_str().unwrap().to_owned();
        let list = ok(get(&api, &shares), 200);
        assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
        (link, ws_link)
    })
    .await;

    // Anyone holding the link joins, view only; the owner is told.
    let (api, l) = (anon.clone(), link.clone());
    let guest_token =
        blocking(move || ok(join_link(&api, &format!("/api/v1/shares/{l}/join")), 200)).await;
    assert_eq!(guest_token["control"], false, "{guest_token}");
    assert_eq!(guest_token["owner"], "ann");
    let mut guest = watch(
        &d.oriel,
        guest_token["stream_url"].as_str().unwrap(),
        guest_token["token"].as_str().unwrap(),
    )
    .await;
    assert!(view_only(&guest) && !view_only(&owner));
    watchers_told(&mut owner, "guest").await;

    // The group's link: sign in, and be a member.
    let (a0, b0, c0, wl) = (anon.clone(), bob.clone(), carl.clone(), ws_link.clone());
    blocking(move || {
        let join = format!("/api/v1/shares/{wl}/join");
        assert_error(&join_link(&a0, &join), 401, "sign_in_required");
        assert_error(&join_link(&c0, &join), 403, "not_in_group");
        let t = ok(join_link(&b0, &join), 200);
        assert_eq!(t["control"], false);
        assert_error(
            &join_link(&a0, "/api/v1/shares/not-a-link/join"),
            404,
            "not_found",
        );
        // Bad credentials are not taken for none.
        let mut forged = a0.clone();
        forged.token = Some("forged".into());
        assert_eq!(join_link(&forged, &join).status, 401);
    })
    .await;

    // An expired link is refused.
    let (api, a0, id) = (ann.clone(), anon.clone(), sid.clone());
    blocking(move || {
        let l = ok(
            post(
                &api,
                &format!("/api/v1/sessions/{id}/shares"),
                json!({"expires_in_secs": 1}),
            ),
            201,
        );
        std::thread::sleep(Duration::from_millis(2100));
        let link = l["link"].as_str().unwrap();
        assert_error(
            &join_link(&a0, &format!("/api/v1/shares/{link}/join")),
            410,
            "share_link_expired",
        );
        let list = ok(get(&api, &format!("/api/v1/sessions/{id}/shares")), 200);
        let states: BTreeSet<String> = names(list["items"].as_array().unwrap(), "state");
        assert_eq!(states, set(&["active", "expired"]), "{list}");
        // No control through a view-only workspace's links.
        assert_error(
            &post(
                &api,
                &format!("/api/v1/sessions/{id}/shares/{link}/control"),
                json!({"control": true}),
            ),
            409,
            "share_link_inactive",
        );
    })
    .await;

    // Revoked: the guest's stream closes (4003), the owner streams on, the
    // link is refused after.
    let (api, id, l) = (ann.clone(), sid.clone(), link.clone());
    let revoked = blocking(move || {
        let r = api
            .call(
                "DELETE",
                &format!("/api/v1/sessions/{id}/shares/{l}"),
                None,
                &[],
            )
            .unwrap();
        ok(r, 200)
    })
    .await;
    assert_eq!(revoked["state"], "revoked", "{revoked}");
    let (_, code) = guest.wait_closed(Duration::from_secs(10)).await.unwrap();
    assert_eq!(code, Some(4003));
    let closed = owner.pump(Duration::from_millis(500)).await.unwrap();
    assert!(!closed, "the owner's stream ended");
    let (api, l) = (anon.clone(), link.clone());
    blocking(move || {
        assert_error(
            &join_link(&api, &format!("/api/v1/shares/{l}/join")),
            410,
            "share_link_revoked",
        );
    })
    .await;

    // A workspace whose links may give control: handed over, taken back.
    let api = ann.clone();
    let steered = blocking(move || launch(&api, &steer)).await;
    let steer_id = steered["id"].as_str().unwrap().to_owned();
    let mut steer_owner = watch(
        &d.oriel,
        steered["stream_url"].as_str().unwrap(),
        steered["token"].as_str().unwrap(),
    )
    .await;
    let (api, a0, id) = (ann.clone(), anon.clone(), steer_id.clone());
    let (ctl_link, t) = blocking(move || {
        let l = ok(
            post(&api, &format!("/api/v1/sessions/{id}/shares"), json!({})),
            201,
        );
        let link = l["link"].as_str().unwrap().to_owned();
        let t = ok(join_link(&a0, &format!("/api/v1/shares/{link}/join")), 200);
        (link, t)
    })
    .await;
    let mut steer_guest = watch(
        &d.oriel,
        t["stream_url"].as_str().unwrap(),
        t["token"].as_str().unwrap(),
    )
    .await;
    assert!(view_only(&steer_guest));
    watchers_told(&mut steer_owner, "guest").await;
    for (control, notice) in [
        (true, NoticeKind::ControlGranted),
        (false, NoticeKind::ControlTaken),
    ] {
        let (api, id, l) = (ann.clone(), steer_id.clone(), ctl_link.clone());
        let r = blocking(move || {
            ok(
                post(
                    &api,
                    &format!("/api/v1/sessions/{id}/shares/{l}/control"),
                    json!({"control": control}),
                ),
                200,
            )
        })
        .await;
        assert_eq!(
            (
                r["share"]["control"].as_bool(),
                r["viewers_changed"].as_u64()
            ),
            (Some(control), Some(1)),
            "{r}"
        );
        steer_guest
            .wait_for(
                Duration::from_secs(10),
                "the control notice",
                |e| matches!(e, ViewerEvent::Notice(k, _) if *k == notice),
            )
            .await
            .unwrap();
    }

    // Shadowing: admins and the shadowers' members; nobody else.
    let (c0, d0, adm, id, sid2) = (
        carl.clone(),
        dave.clone(),
        admin.clone(),
        sid.clone(),
        steer_id.clone(),
    );
    let (by_admin, by_dave) = blocking(move || {
        assert_error(
            &post(&c0, &format!("/api/v1/sessions/{id}/shadow"), json!({})),
            403,
            "forbidden",
        );
        // Who may shadow is told so, and lists the live sessions (only
        // those: ended ones stay the readers').
        assert_eq!(ok(get(&c0, "/api/v1/auth/me"), 200)["may_shadow"], false);
        assert_eq!(ok(get(&d0, "/api/v1/auth/me"), 200)["may_shadow"], true);
        assert_eq!(ok(get(&adm, "/api/v1/auth/me"), 200)["may_shadow"], true);
        let live = ok(get(&d0, "/api/v1/sessions?scope=all&state=active"), 200);
        let listed: Vec<&str> = live["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert!(listed.contains(&id.as_str()), "{live}");
        assert!(listed.contains(&sid2.as_str()), "{live}");
        assert_error(&get(&d0, "/api/v1/sessions?scope=all"), 403, "forbidden");
        assert_error(
            &get(&c0, "/api/v1/sessions?scope=all&state=active"),
            403,
            "forbidden",
        );
        let by_admin = ok(
            post(&adm, &format!("/api/v1/sessions/{id}/shadow"), json!({})),
            200,
        );
        assert_eq!(
            (
                by_admin["control"].as_bool(),
                by_admin["notified"].as_bool()
            ),
            (Some(false), Some(true))
        );
        // Silent monitoring where the workspace allows it.
        let by_dave = ok(
            post(
                &d0,
                &format!("/api/v1/sessions/{sid2}/shadow"),
                json!({"control": true}),
            ),
            200,
        );
        assert_eq!(
            (by_dave["control"].as_bool(), by_dave["notified"].as_bool()),
            (Some(true), Some(false))
        );
        (by_admin, by_dave)
    })
    .await;
    let mut shadow = watch(
        &d.oriel,
        by_admin["stream_url"].as_str().unwrap(),
        by_admin["token"].as_str().unwrap(),
    )
    .await;
    assert!(view_only(&shadow));
    watchers_told(&mut owner, "admin").await;
    let silent = watch(
        &d.oriel,
        by_dave["stream_url"].as_str().unwrap(),
        by_dave["token"].as_str().unwrap(),
    )
    .await;
    assert!(!view_only(&silent));
    drop(silent);
    let closed = shadow.pump(Duration::from_millis(200)).await.unwrap();
    assert!(!closed, "the admin's stream ended");

    // The session ends: its links are refused.
    let (api, a0, id, l) = (
        ann.clone(),
        anon.clone(),
        steer_id.clone(),
        ctl_link.clone(),
    );
    blocking(move || {
        let r = api
            .call("DELETE", &format!("/api/v1/sessions/{id}"), None, &[])
            .unwrap();
        assert_eq!(r.status, 204, "{r:?}");
        assert_error(
            &join_link(&a0, &format!("/api/v1/shares/{l}/join")),
            409,
            "session_ended",
        );
    })
    .await;

    let api = admin.clone();
    blocking(move || {
        for (action, n) in [
            ("share_link.created&outcome=success", 4),
            ("share_link.created&outcome=failure", 2),
            ("share_link.revoked", 1),
            ("share_link.control", 2),
            ("session.shadow_started", 2),
        ] {
            let got = audit(&api, &format!("action={action}"));
            assert_eq!(got.len(), n, "{action}: {got:?}");
        }
        let joined = audit(&api, "action=share_link.joined&outcome=success");
        assert_eq!(joined.len(), 3, "{joined:?}");
        // The audit names links by reference, never the secret itself.
        let all = audit(&api, "action=share_link.");
        assert!(
            all.iter().all(|e| !e.to_string().contains(&link)),
            "{all:?}"
        );
        let refused = audit(&api, "action=share_link.joined&outcome=failure");
        let reasons: BTreeSet<String> = refused
            .iter()
            .map(|e| e["details"]["reason"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            reasons,
            set(&[
                "not in the link's groups",
                "not signed in",
                "expired",
                "revoked",
                "session over"
            ]),
            "{refused:?}"
        );
        assert_eq!(refused.len(), 5, "{refused:?}");
        // The guests' stream ends (the revoked link's, the ended
        // session's), reported by the gateway, with how long they watched.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = audit(&api, "action=share_link.left");
            if left.len() >= 2 {
                for e in &left {
                    assert_eq!(e["actor"], "guest", "{e}");
                    assert!(e["details"]["duration_secs"].is_u64(), "{e}");
                    assert!(e["details"]["link_ref"].is_string(), "{e}");
                    assert!(e["details"]["reason"].is_string(), "{e}");
                }
                break;
            }
            assert!(Instant::now() < deadline, "{left:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await;
}

/// Two `oriel up` processes on one PostgreSQL database, as behind a load
/// balancer: logins, limits and ends hold across them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_control_planes_share_one_postgres() {
    support::contract::enforce();
    let pg = Postgres::start().await.unwrap();
    let url = pg.database("oriel").await.unwrap();
    // Secrets at rest: one data key in a file both servers read (as from a
    // mounted secret); it must be private to its owner.
    let shared = oriel_testkit::ScratchDir::new("oriel-shared").unwrap();
    let key_file = shared.path().join("data.key");
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&key_file)
            .unwrap();
        std::io::Write::write_all(&mut f, b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=\n")
            .unwrap();
    }
    let key_path = key_file.display().to_string();
    let env = [
        ("ORIEL_CONTROL__DATABASE", url.as_str()),
        ("ORIEL_CONTROL__DATA_KEY_FILE", key_path.as_str()),
    ];
    let refused = Oriel::up(&env).await;
    let err = format!(
        "{:#}",
        refused
            .err()
            .expect("a key file others can read is refused")
    );
    assert!(err.contains("chmod 600"), "{err}");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let a = Oriel::up(&env).await.unwrap();
    assert!(
        !a.data_dir().join("keys/data.key").exists(),
        "the configured key file is used, no other is made"
    );
    // The second server shares the first's token keys, as servers of one
    // deployment do.
    let dir = oriel_testkit::ScratchDir::new("oriel-b").unwrap();
    let data = dir.path().join("data");
    copy_dir(&a.data_dir().join("keys"), &data.join("keys"));
    let b = Oriel::start_in("up", &[], &env, dir, data).await.unwrap();

    let admin_a = {
        let mut api = a.api();
        blocking(move || {
            api.login_admin().unwrap();
            api
        })
        .await
    };
    let b_anon = b.api();
    blocking(move || {
        let jo = create_user(&admin_a, "jo", "user", &[]);
        // Credentials sealed by A with the shared data key; B opens them
        // to seal them to its gateway at every launch.
        let w = admin_a
            .vnc_workspace(
                "shared",
                5901,
                Some("vnc-secret"),
                json!({"max_sessions_per_user": 3}),
            )
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        create_group(
            &admin_a,
            json!({"name": "team", "members": [jo], "workspaces": [w]}),
        );
        // A login made on A works on B (sessions live in the database).
        let jo_a = login_as(&admin_a, "jo");
        let mut jo_b = b_anon.clone();
        jo_b.token = jo_a.token.clone();
        assert_eq!(ok(get(&jo_b, "/api/v1/auth/me"), 200)["username"], "jo");
        assert_eq!(
            names(&all_pages(&jo_b, "/api/v1/workspaces", 10), "name"),
            set(&["shared"])
        );

        for round in 0..2 {
            // 20 launches racing over both servers: exactly 3 get through.
            let racers: Vec<_> = (0..20)
                .map(|i| {
                    let api = if i % 2 == 0 {
                        jo_a.clone()
                    } else {
                        jo_b.clone()
                    };
                    let w = w.clone();
                    std::thread::spawn(move || {
                        post(&api, "/api/v1/sessions", json!({"workspace": w}))
                    })
                })
                .collect();
            let results: Vec<Reply> = racers.into_iter().map(|t| t.join().unwrap()).collect();
            let ids: Vec<String> = results
                .iter()
                .filter(|r| r.status == 201)
                .map(|r| r.body["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(ids.len(), 3, "round {round}: {results:?}");
            for r in results.iter().filter(|r| r.status != 201) {
                assert_error(r, 409, "session_limit");
            }
            // Each session ended on both servers at once: each end lands
            // once, none is lost.
            let enders: Vec<_> = ids
                .iter()
                .flat_map(|id| [(jo_a.clone(), id.clone()), (jo_b.clone(), id.clone())])
                .map(|(api, id)| {
                    std::thread::spawn(move || {
                        api.call("DELETE", &format!("/api/v1/sessions/{id}"), None, &[])
                            .unwrap()
                    })
                })
                .collect();
            for e in enders {
                let r = e.join().unwrap();
                assert_eq!(r.status, 204, "{r:?}");
            }
            for id in &ids {
                let s = ok(get(&jo_a, &format!("/api/v1/sessions/{id}")), 200);
                assert_eq!(s["state"], "ended", "{s}");
                assert!(s["ended_at"].is_string(), "{s}");
            }
            let active = all_pages(&jo_b, "/api/v1/sessions?state=active", 10);
            assert!(active.is_empty(), "{active:?}");
        }
        // Six sessions in all, each launched once and ended once.
        let all = all_pages(&jo_b, "/api/v1/sessions", 4);
        assert_eq!(all.len(), 6, "{all:?}");
        let launches = audit(&admin_a, "action=session.launch&outcome=success");
        assert_eq!(launches.len(), 6, "{launches:?}");
    })
    .await;
    drop((a, b, pg));
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(e.path()).unwrap().permissions().mode();
                std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
    }
}
