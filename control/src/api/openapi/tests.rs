//! The generated document: valid OpenAPI 3.1 with every reference
//! resolving, exactly the router's routes, rules the checker understands
//! and that hold, and backward compatible with the document served before
//! it was generated (`control/tests/fixtures/openapi-v1-before.json`).

use super::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

/// Every `$ref` in `v`, with where it was found.
fn refs(v: &Value, at: String, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(o) => {
            for (k, sub) in o {
                if k == "$ref"
                    && let Some(r) = sub.as_str()
                {
                    out.push((at.clone(), r.to_owned()));
                }
                refs(sub, format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, sub) in a.iter().enumerate() {
                refs(sub, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_document_is_openapi_3_1_and_every_reference_resolves() {
    let text = text();
    let doc: Value = serde_json::from_str(text).expect("the document is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let paths = doc["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    let mut operation_ids = BTreeSet::new();
    for (path, item) in paths {
        assert!(path.starts_with("/api/v1/"), "{path}");
        for (method, op) in item.as_object().expect("path item") {
            assert!(METHODS.contains(&method.as_str()), "{method} {path}");
            let id = op["operationId"].as_str().expect("operationId");
            assert!(
                operation_ids.insert(id.to_owned()),
                "operationId {id} twice"
            );
            let responses = op["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{method} {path} answers nothing");
            for (status, answer) in responses {
                assert!(
                    status.len() == 3 && status.parse::<u16>().is_ok(),
                    "{method} {path}: status {status}"
                );
                assert!(
                    answer.get("$ref").is_some() || answer["description"].is_string(),
                    "{method} {path} {status}: a response needs a description"
                );
            }
            // Path parameters are declared, each `{name}` of the path.
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(['{', '}']);
                let declared = op["parameters"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true)
                });
                assert!(declared, "{method} {path}: path parameter {name}");
            }
        }
    }
    let mut found = Vec::new();
    refs(&doc, String::new(), &mut found);
    assert!(found.len() > 50, "the document references its components");
    for (at, r) in found {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{at}: {r} is not local"));
        assert!(doc.pointer(pointer).is_some(), "{at}: {r} does not resolve");
    }
    // Every security requirement names a declared scheme.
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("schemes");
    let mut found = Vec::new();
    for item in paths.values() {
        for op in item.as_object().expect("item").values() {
            for req in op["security"].as_array().into_iter().flatten() {
                found.extend(req.as_object().expect("requirement").keys().cloned());
            }
        }
    }
    assert!(!found.is_empty());
    assert!(found.iter().all(|s| schemes.contains_key(s)), "{found:?}");
}

#[test]
fn document_lists_exactly_the_routes_of_the_router() {
    let doc = document();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let served: BTreeSet<_> = crate::api::ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, served);
}

/// Every operation but the public ones names its security and the
/// answers of a caller without a valid login.
#[test]
fn secured_operations_say_how_and_answer_401() {
    let doc = document();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let id = op["operationId"].as_str().unwrap_or_default();
            let secured = op.get("security").is_some();
            assert_eq!(secured, !PUBLIC.contains(&id), "{method} {path}");
            if secured {
                assert!(op["responses"].get("401").is_some(), "{method} {path}");
            }
            if op.get("requestBody").is_some() {
                assert!(op["responses"].get("413").is_some(), "{method} {path}");
            }
        }
    }
}

/// The document only uses what the contract checker understands, and its
/// rules refuse what the code refuses.
#[test]
fn the_document_is_checkable_and_its_rules_hold() {
    let doc = document();
    let schema = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    for (name, _) in doc["components"]["schemas"].as_object().expect("schemas") {
        let errors = validate(&doc, &schema(name), &Value::Null);
        assert!(
            errors
                .iter()
                .all(|e| !e.contains("does not know") && !e.contains("invalid pattern")),
            "{name}: {errors:?}"
        );
    }
    let ok = |name: &str, v: Value| validate(&doc, &schema(name), &v).is_empty();
    let ws = |name: &str| json!({"name": name, "kind": "vnc", "target": {"host": "10.0.0.1", "port": 5901}});
    assert!(ok("WorkspaceInput", ws("Linux desktop 1")));
    assert!(ok("WorkspaceInput", ws("bureau-é")));
    for bad in [" lead", "trail ", "a/b", "", "x".repeat(65).as_str()] {
        assert!(!ok("WorkspaceInput", ws(bad)), "{bad:?}");
    }
    let kind = |k: &str| json!({"name": "w", "kind": k, "target": {"host": "h", "port": 1}});
    assert!(!ok("WorkspaceInput", kind("telnet")));
    assert!(!ok(
        "WorkspaceInput",
        json!({"name": "w", "kind": "vnc", "target": {"host": "h", "port": 0}})
    ));
    assert!(!ok(
        "WorkspaceInput",
        json!({"name": "w", "kind": "rdp", "target": {"host": "h", "port": 1}, "identity": "MD5:aa"})
    ));
    assert!(!ok("GroupInput", json!({"name": "a", "members": [1]})));
    assert!(!ok(
        "GroupInput",
        json!({"name": "a", "description": "x".repeat(1025)})
    ));
    assert!(!ok(
        "NewUser",
        json!({"username": "al ice", "password": "x"})
    ));
    assert!(ok(
        "NewUser",
        json!({"username": "a.b-c_d@example.com", "password": "x"})
    ));
    assert!(!ok(
        "NewUser",
        json!({"username": "a", "password": "x".repeat(1025)})
    ));
    assert!(!ok(
        "LoginRequest",
        json!({"username": "", "password": "x"})
    ));
    assert!(!ok(
        "TokenInput",
        json!({"name": "   ", "scopes": ["read"]})
    ));
    assert!(!ok("TokenInput", json!({"name": "t", "scopes": []})));
    assert!(!ok("TokenInput", json!({"name": "t", "scopes": ["root"]})));
    assert!(!ok(
        "TokenInput",
        json!({"name": "t", "scopes": ["read"], "expires_in_days": 0})
    ));
    assert!(ok(
        "TokenInput",
        json!({"name": "t", "scopes": ["read"], "expires_in_days": null})
    ));
    assert!(!ok("ContainerSpec", json!({"image": "a", "cpus": 0})));
    assert!(!ok("ContainerSpec", json!({"image": "a b"})));
    assert!(!ok("ContainerSpec", json!({"image": "a", "egress": "all"})));
    assert!(!ok("ContainerSpec", json!({"image": "a", "width": 100})));
    assert!(!ok("Policy", json!({"idle_timeout_secs": 1.5})));
    assert!(!ok("Policy", json!({"clipboard_max_bytes": null})));
    assert!(!ok("Policy", json!({"clipboard_max_bytes": 1048577})));
    assert!(!ok("Policy", json!({"watermark_text": "   "})));
    assert!(!ok("Policy", json!({"watermark_opacity": 0})));
    assert!(!ok("Policy", json!({"watermark_angle": 91})));
    assert!(ok(
        "Policy",
        json!({"upload_max_bytes": null, "transfer_max_bytes": 5})
    ));
    assert!(ok("PolicyOverrides", json!({"clipboard_max_bytes": null})));
    assert!(!ok("PolicyOverrides", json!({"watermark_text": "x"})));
    assert!(!ok(
        "UpdateUser",
        json!({"role": "user", "zone": "a\u{7}b"})
    ));
    assert!(!ok("UpdateUser", json!({"role": "root"})));
    assert!(ok(
        "ZoneInput",
        json!({"name": "eu_west.1", "proxy_url": "https://p.example"})
    ));
    assert!(!ok("ZoneInput", json!({"name": "eu west"})));
    assert!(!ok(
        "ZoneInput",
        json!({"name": "eu", "proxy_url": "http://p.example"})
    ));
    let proxy = |cert: &str| {
        json!({"name": "eu", "connection_proxy": {"id": "p", "url": "https://p",
            "cert_sha256": cert, "sealing_key": format!("{}=", "A".repeat(43))}})
    };
    assert!(ok("ZoneInput", proxy(&"a".repeat(64))));
    assert!(!ok("ZoneInput", proxy("abc")));
    // The revocation body is inline in its operation.
    let revoke = doc
        .pointer("/paths/~1api~1v1~1revocations/post/requestBody/content/application~1json/schema")
        .expect("revoke body");
    assert!(validate(&doc, revoke, &json!({"kind": "user", "id": "u1"})).is_empty());
    assert!(!validate(&doc, revoke, &json!({"kind": "group", "id": "g1"})).is_empty());
    assert!(!validate(&doc, revoke, &json!({"kind": "user", "id": ""})).is_empty());
}

/// The agent endpoints are called by agents, not by the end-to-end
/// tests' API client: what their types send and take is checked here.
#[test]
fn agent_messages_match_their_schemas() {
    use oriel_core_agent_protocol::{AgentOrders, AgentWelcome, ContainerSettings, WantedSession};
    let doc = document();
    let schema = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    let errors = |name: &str, v: &Value| validate(&doc, &schema(name), v);
    let orders = AgentOrders {
        sessions: vec![
            WantedSession {
                id: "s1".into(),
                launched: false,
                container: Some(ContainerSettings {
                    image: "oriel/desktop".into(),
                    cpus: 1.5,
                    memory_mb: 2048,
                    pids: 512,
                    egress: "none".into(),
                    width: 1600,
                    height: 900,
                }),
            },
            WantedSession {
                id: "s2".into(),
                launched: true,
                container: None,
            },
        ],
    };
    let sent = serde_json::to_value(&orders).expect("serializes");
    assert_eq!(errors("AgentOrders", &sent), Vec::<String>::new());
    let welcome = AgentWelcome {
        heartbeat_ms: 2000,
        lost_after_ms: 15000,
    };
    let sent = serde_json::to_value(&welcome).expect("serializes");
    assert_eq!(errors("AgentWelcome", &sent), Vec::<String>::new());
    let hello = json!({"id": "node-1", "zone": "eu", "labels": {"rack": "a"}, "max_sessions": 4,
                       "cpus": 8.0, "memory_mb": 16384});
    assert_eq!(errors("AgentHello", &hello), Vec::<String>::new());
    serde_json::from_value::<oriel_core_agent_protocol::AgentHello>(hello.clone())
        .expect("the type reads it");
    for (field, bad) in [
        ("id", json!("-node")),
        ("id", json!("Node")),
        ("max_sessions", json!(0)),
        ("cpus", json!(0)),
        ("memory_mb", json!(0)),
        ("zone", json!("")),
    ] {
        let mut h = hello.clone();
        h[field] = bad.clone();
        assert!(!errors("AgentHello", &h).is_empty(), "{field}: {bad}");
    }
    let report = json!({"id": "node-1", "session": "s1", "ready": {"host": "10.0.0.2", "port": 5901, "password": "pw"}});
    assert_eq!(errors("AgentReport", &report), Vec::<String>::new());
    serde_json::from_value::<oriel_core_agent_protocol::AgentReport>(report)
        .expect("the type reads it");
    let answer = doc
        .pointer(
            "/paths/~1api~1v1~1agent~1report/post/responses/200/content/application~1json/schema",
        )
        .expect("report answer");
    assert!(validate(&doc, answer, &json!({"outcome": "not_wanted"})).is_empty());
    assert!(!validate(&doc, answer, &json!({"outcome": "maybe"})).is_empty());
}

/// The schema at `v`, references followed.
fn resolve<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match v
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        {
            Some(p) => v = doc.pointer(p).unwrap_or(&Value::Null),
            None => break,
        }
    }
    v
}

/// The JSON types a schema allows (`oneOf`/`anyOf` of a type and null, as
/// utoipa writes a nullable reference, included); empty: any.
fn types(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let s = resolve(doc, schema);
    let mut out = BTreeSet::new();
    match &s["type"] {
        Value::String(t) => {
            out.insert(t.clone());
        }
        Value::Array(ts) => out.extend(ts.iter().filter_map(Value::as_str).map(str::to_owned)),
        _ => {}
    }
    for key in ["oneOf", "anyOf"] {
        for sub in s[key].as_array().into_iter().flatten() {
            out.extend(types(doc, sub));
        }
    }
    if out.is_empty() && (s.get("properties").is_some()) {
        out.insert("object".into());
    }
    if out.is_empty() && s.get("enum").is_some() {
        out.insert("string".into());
    }
    out
}

/// The object schema among `schema`'s alternatives (a nullable reference
/// is `oneOf: [null, {$ref}]`).
fn object_of<'a>(doc: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    let s = resolve(doc, schema);
    if s.get("properties").is_some() {
        return Some(s);
    }
    ["oneOf", "anyOf"].iter().find_map(|k| {
        s[*k]
            .as_array()
            .and_then(|subs| subs.iter().find_map(|sub| object_of(doc, sub)))
    })
}

fn items_of<'a>(doc: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    let s = resolve(doc, schema);
    s.get("items").or_else(|| {
        ["oneOf", "anyOf"].iter().find_map(|k| {
            s[*k]
                .as_array()
                .and_then(|subs| subs.iter().find_map(|sub| items_of(doc, sub)))
        })
    })
}

fn enum_of(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let s = resolve(doc, schema);
    let mut out: BTreeSet<String> = s["enum"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    for key in ["oneOf", "anyOf"] {
        for sub in s[key].as_array().into_iter().flatten() {
            out.extend(enum_of(doc, sub));
        }
    }
    out
}

/// What a response schema promises (at `at`) and the new one no longer
/// does: a property removed, a type changed, an enum value the new
/// document does not list (a client may rely on all of them).
fn compare_response(old: (&Value, &Value), new: (&Value, &Value), at: &str, out: &mut Vec<String>) {
    let (od, os) = old;
    let (nd, ns) = new;
    let (ot, nt) = (types(od, os), types(nd, ns));
    // A reader is served nothing new if the new types are among the old
    // (an integer where a number was is one).
    let narrower =
        nt.is_subset(&ot) || (ot.contains("number") && nt.len() == 1 && nt.contains("integer"));
    if !ot.is_empty() && !nt.is_empty() && !narrower {
        out.push(format!("{at}: type {ot:?} became {nt:?}"));
    }
    if let (Some(oo), Some(no)) = (object_of(od, os), object_of(nd, ns)) {
        let oprops = oo["properties"].as_object().cloned().unwrap_or_default();
        let nprops = no["properties"].as_object().cloned().unwrap_or_default();
        for (name, osub) in &oprops {
            match nprops.get(name) {
                None => out.push(format!("{at}/{name}: property removed")),
                Some(nsub) => {
                    compare_response((od, osub), (nd, nsub), &format!("{at}/{name}"), out)
                }
            }
        }
    }
    if let (Some(oi), Some(ni)) = (items_of(od, os), items_of(nd, ns)) {
        compare_response((od, oi), (nd, ni), &format!("{at}/items"), out);
    }
}

/// The keywords that refuse values.
const RULES: &[&str] = &[
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
];

/// What a request schema accepted (at `at`) and the new one refuses in
/// shape: a field newly required, a property removed, an enum value
/// removed, a type narrowed; and a rule (length, pattern, range) stated,
/// changed or dropped.
fn compare_request(old: (&Value, &Value), new: (&Value, &Value), at: &str, out: &mut Vec<String>) {
    let (od, os) = old;
    let (nd, ns) = new;
    let (ot, nt) = (types(od, os), types(nd, ns));
    if !ot.is_empty() && !ot.is_subset(&nt) && !nt.is_empty() {
        out.push(format!("{at}: accepted {ot:?}, now {nt:?}"));
    }
    let (oe, ne) = (enum_of(od, os), enum_of(nd, ns));
    if !oe.is_empty() && !ne.is_empty() {
        for v in oe.difference(&ne) {
            out.push(format!("{at}: enum value {v:?} removed"));
        }
    }
    // A rule stated now that was not (or another one): the server refused
    // those values before too, but a client reading the old document
    // could not know. Each must be listed in DELIBERATE.
    let (or, nr) = (resolve(od, os), resolve(nd, ns));
    // And a rule no longer stated: the document would say less than the
    // code does.
    for rule in RULES {
        let (was, now) = (or.get(*rule), nr.get(*rule));
        if was != now {
            let show = |v: Option<&Value>| v.map_or("none".to_owned(), Value::to_string);
            out.push(format!("{at}: {rule} {} -> {}", show(was), show(now)));
        }
    }
    if let (Some(oo), Some(no)) = (object_of(od, os), object_of(nd, ns)) {
        let req = |o: &Value| -> BTreeSet<String> {
            o["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        for name in req(no).difference(&req(oo)) {
            out.push(format!("{at}/{name}: newly required"));
        }
        let oprops = oo["properties"].as_object().cloned().unwrap_or_default();
        let nprops = no["properties"].as_object().cloned().unwrap_or_default();
        for (name, osub) in &oprops {
            match nprops.get(name) {
                None => out.push(format!("{at}/{name}: property removed")),
                Some(nsub) => compare_request((od, osub), (nd, nsub), &format!("{at}/{name}"), out),
            }
        }
    }
    if let (Some(oi), Some(ni)) = (items_of(od, os), items_of(nd, ns)) {
        compare_request((od, oi), (nd, ni), &format!("{at}/items"), out);
    }
}

/// The parameters of an operation, path-level ones included, by
/// (in, name).
fn parameters<'a>(item: &'a Value, op: &'a Value) -> Vec<&'a Value> {
    item["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(op["parameters"].as_array().into_iter().flatten())
        .collect()
}

/// Differences from the document served before it was generated that are
/// deliberate, each with why; anything else [`breaks`] finds fails the
/// test. (Adding enum values to responses or requiring response
/// properties the server always sends breaks no client: not listed.)
const DELIBERATE: &[(&str, &str)] = &[
    (
        r#"post /api/v1/auth/totp/confirm request/code: pattern none -> "^\\s*[0-9]{6}\\s*$""#,
        "a rule now stated: the code was always checked as six digits, spaces around ignored (auth::totp::verify)",
    ),
    (
        r#"delete /api/v1/auth/totp request/code: pattern none -> "^\\s*[0-9]{6}\\s*$""#,
        "a rule now stated: the code was always checked as six digits, spaces around ignored (auth::totp::verify)",
    ),
];

/// Every way `new` breaks a client written for `old`: an operation, a
/// response status or media type, a response property or a parameter
/// removed; a response property's type changed; a request field or a
/// parameter newly required, or an enum value it took removed; and a
/// request rule stated, changed or dropped (see [`compare_request`]).
fn breaks(old: &Value, new: &Value) -> Vec<String> {
    let mut breaks = Vec::new();
    for (path, oitem) in old["paths"].as_object().expect("paths") {
        for (method, oop) in oitem.as_object().expect("item") {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let at = format!("{method} {path}");
            let Some(nop) = new["paths"].get(path).and_then(|i| i.get(method)) else {
                breaks.push(format!("{at}: operation removed"));
                continue;
            };
            let nitem = &new["paths"][path];
            if oop["operationId"] != nop["operationId"] {
                breaks.push(format!("{at}: operationId changed"));
            }
            // Responses: every documented status still documented, its
            // body's properties kept with their types.
            for (status, oans) in oop["responses"].as_object().expect("responses") {
                let Some(nans) = nop["responses"].get(status) else {
                    breaks.push(format!("{at} {status}: response removed"));
                    continue;
                };
                let (oans, nans) = (resolve(old, oans), resolve(new, nans));
                for (media, omedia) in oans["content"].as_object().into_iter().flatten() {
                    match nans["content"].get(media) {
                        None => breaks.push(format!("{at} {status}: {media} removed")),
                        Some(nmedia) => compare_response(
                            (old, &omedia["schema"]),
                            (new, &nmedia["schema"]),
                            &format!("{at} {status} {media}"),
                            &mut breaks,
                        ),
                    }
                }
            }
            // Requests: nothing newly required, no field or value removed.
            let obody = oop.pointer("/requestBody/content/application~1json/schema");
            let nbody = nop.pointer("/requestBody/content/application~1json/schema");
            match (obody, nbody) {
                (Some(o), Some(n)) => {
                    compare_request((old, o), (new, n), &format!("{at} request"), &mut breaks)
                }
                (Some(_), None) => breaks.push(format!("{at}: JSON request body removed")),
                (None, Some(_)) => breaks.push(format!("{at}: JSON request body added")),
                (None, None) => {}
            }
            // Parameters: none removed, none newly required.
            let nparams = parameters(nitem, nop);
            for op in parameters(oitem, oop) {
                let found = nparams
                    .iter()
                    .find(|np| np["name"] == op["name"] && np["in"] == op["in"]);
                match found {
                    None => breaks.push(format!("{at}: parameter {} removed", op["name"])),
                    Some(np) => {
                        if np["required"] == true && op["required"] != true {
                            breaks.push(format!("{at}: parameter {} newly required", op["name"]));
                        }
                        compare_request(
                            (old, &op["schema"]),
                            (new, &np["schema"]),
                            &format!("{at} parameter {}", op["name"]),
                            &mut breaks,
                        );
                    }
                }
            }
        }
    }
    breaks
}

fn before() -> Value {
    serde_json::from_str(include_str!(
        "../../../tests/fixtures/openapi-v1-before.json"
    ))
    .expect("the fixture is JSON")
}

#[test]
fn the_generated_document_is_backward_compatible() {
    let breaks = breaks(&before(), &document());
    let unexplained: Vec<&str> = breaks
        .iter()
        .map(String::as_str)
        .filter(|b| !DELIBERATE.iter().any(|(what, _)| b == what))
        .collect();
    assert!(
        unexplained.is_empty(),
        "incompatible with the document before:\n{}",
        unexplained.join("\n")
    );
    // Every deliberate difference is still one (the list stays honest).
    for (what, why) in DELIBERATE {
        assert!(
            breaks.iter().any(|b| b == what),
            "no longer a difference: {what} ({why})"
        );
    }
}

/// The comparison finds each kind of break it looks for (here made by
/// editing the old document).
#[test]
fn the_compatibility_check_finds_breaks() {
    let old = before();
    assert!(breaks(&old, &old).is_empty());
    let edited = |edit: &dyn Fn(&mut Value)| {
        let mut new = old.clone();
        edit(&mut new);
        breaks(&old, &new)
    };
    let has = |found: Vec<String>, what: &str| {
        assert!(
            found.iter().any(|b| b.contains(what)),
            "{what} not in {found:?}"
        );
    };
    let schemas = "/components/schemas";
    has(
        edited(&|d| {
            d["paths"].as_object_mut().unwrap().remove("/api/v1/zones");
        }),
        "get /api/v1/zones: operation removed",
    );
    has(
        edited(&|d| {
            d.pointer_mut(&format!("{schemas}/User/properties"))
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove("origin");
        }),
        "/origin: property removed",
    );
    has(
        edited(&|d| {
            *d.pointer_mut(&format!("{schemas}/Session/properties/failure"))
                .unwrap() = json!({"type": "integer"});
        }),
        "/failure: type",
    );
    has(
        edited(&|d| {
            d.pointer_mut(&format!("{schemas}/LoginRequest/required"))
                .unwrap()
                .as_array_mut()
                .unwrap()
                .push(json!("totp"));
        }),
        "request/totp: newly required",
    );
    has(
        edited(&|d| {
            *d.pointer_mut(&format!("{schemas}/NewUser/properties/role/enum"))
                .unwrap() = json!(["admin", "user"]);
        }),
        "enum value \"auditor\" removed",
    );
    has(
        edited(&|d| {
            d.pointer_mut("/paths/~1api~1v1~1sessions/get/parameters/0")
                .unwrap()["required"] = json!(true);
        }),
        "newly required",
    );
    has(
        edited(&|d| {
            *d.pointer_mut(&format!("{schemas}/TokenInput/properties/name/maxLength"))
                .unwrap() = json!(64);
        }),
        "request/name: maxLength 128 -> 64",
    );
    has(
        edited(&|d| {
            d.pointer_mut(&format!("{schemas}/ZoneInput/properties/name"))
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove("pattern");
        }),
        "request/name: pattern \"^[A-Za-z0-9._-]{1,64}$\" -> none",
    );
    has(
        edited(&|d| {
            d.pointer_mut("/paths/~1api~1v1~1users/post/responses")
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove("201");
        }),
        "201: response removed",
    );
}
