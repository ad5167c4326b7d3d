//! The JSON on the wire, field by field, and the rules of validation.
#![allow(clippy::unwrap_used)]

use crate::*;
use serde_json::json;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; // 0..32

fn hello() -> AgentHello {
    serde_json::from_value(json!({
        "id": "node-1", "max_sessions": 4, "cpus": 2.5, "memory_mb": 8192,
    }))
    .unwrap()
}

fn node_gateway() -> NodeGatewayHello {
    NodeGatewayHello {
        url: "https://node-1.example:8443".into(),
        sealing_key: KEY.into(),
        signing_key: format!(" {KEY}\n"),
        cert_sha256: "ab".repeat(32),
    }
}

#[test]
fn a_hello_takes_its_defaults_and_keeps_its_field_names() {
    let h = hello();
    assert_eq!(h.zone, "default");
    assert!(h.labels.is_empty() && h.gateway.is_none());
    let mut h = h;
    h.labels.insert("gpu".into(), "no".into());
    h.gateway = Some(node_gateway());
    let v = serde_json::to_value(&h).unwrap();
    assert_eq!(
        v,
        json!({
            "id": "node-1", "zone": "default", "labels": {"gpu": "no"},
            "max_sessions": 4, "cpus": 2.5, "memory_mb": 8192,
            "gateway": {
                "url": "https://node-1.example:8443", "sealing_key": KEY,
                "signing_key": format!(" {KEY}\n"), "cert_sha256": "ab".repeat(32),
            },
        })
    );
    assert_eq!(serde_json::from_value::<AgentHello>(v).unwrap(), h);
}

#[test]
fn requests_refuse_unknown_fields_and_answers_accept_them() {
    let e = serde_json::from_value::<AgentHello>(json!({
        "id": "a", "max_sessions": 1, "cpus": 1.0, "memory_mb": 1, "zones": "x",
    }))
    .unwrap_err();
    assert!(e.to_string().contains("unknown field `zones`"), "{e}");
    assert!(
        serde_json::from_value::<AgentPoll>(json!({"id": "a", "running": [], "extra": 1})).is_err()
    );
    assert!(
        serde_json::from_value::<AgentReport>(
            json!({"id": "a", "session": "s", "failed": "x", "why": "y"})
        )
        .is_err()
    );
    let welcome: AgentWelcome = serde_json::from_value(
        json!({"heartbeat_ms": 3000, "lost_after_ms": 30000, "newer": true}),
    )
    .unwrap();
    assert_eq!(
        welcome,
        AgentWelcome {
            heartbeat_ms: 3000,
            lost_after_ms: 30000
        }
    );
}

#[test]
fn a_poll_and_its_orders_round_trip() {
    let poll: AgentPoll =
        serde_json::from_value(json!({"id": "node-1", "running": ["s1"]})).unwrap();
    assert_eq!(poll.wait_ms, 0, "wait_ms defaults to an immediate answer");
    assert_eq!(
        serde_json::to_value(&poll).unwrap(),
        json!({"id": "node-1", "running": ["s1"], "wait_ms": 0})
    );
    let orders = AgentOrders {
        sessions: vec![
            WantedSession {
                id: "s1".into(),
                launched: true,
                container: Some(ContainerSettings {
                    image: "oriel/desktop:1".into(),
                    cpus: 1.5,
                    memory_mb: 2048,
                    pids: 512,
                    egress: "internet".into(),
                    width: 1280,
                    height: 800,
                }),
            },
            WantedSession {
                id: "s2".into(),
                launched: false,
                container: None,
            },
        ],
    };
    let v = serde_json::to_value(&orders).unwrap();
    assert_eq!(
        v,
        json!({"sessions": [
            {"id": "s1", "launched": true, "container": {
                "image": "oriel/desktop:1", "cpus": 1.5, "memory_mb": 2048, "pids": 512,
                "egress": "internet", "width": 1280, "height": 800,
            }},
            {"id": "s2", "launched": false, "container": null},
        ]})
    );
    assert_eq!(serde_json::from_value::<AgentOrders>(v).unwrap(), orders);
    let c = orders.sessions[0].container.as_ref().unwrap();
    assert!(c.internet_egress());
    let mut c = c.clone();
    for other in ["none", "Internet", "allowlist", ""] {
        c.egress = other.into();
        assert!(!c.internet_egress(), "{other:?} is no egress");
    }
}

#[test]
fn reports_and_their_reply_round_trip() {
    let ready = AgentReport::ready(
        "node-1",
        "s1",
        ReadyDesktop {
            host: "172.18.0.2".into(),
            port: 5900,
            password: "secret12".into(),
        },
    );
    let v = serde_json::to_value(&ready).unwrap();
    assert_eq!(
        v,
        json!({"id": "node-1", "session": "s1", "failed": null,
               "ready": {"host": "172.18.0.2", "port": 5900, "password": "secret12"}})
    );
    assert_eq!(serde_json::from_value::<AgentReport>(v).unwrap(), ready);
    assert!(
        !format!("{ready:?}").contains("secret12"),
        "Debug leaves the password out"
    );
    let failed: AgentReport =
        serde_json::from_value(json!({"id": "node-1", "session": "s1", "failed": "no image"}))
            .unwrap();
    assert_eq!(failed, AgentReport::failed("node-1", "s1", "no image"));

    for (outcome, word) in [
        (ReportOutcome::Accepted, "accepted"),
        (ReportOutcome::NotWanted, "not_wanted"),
    ] {
        let reply = ReportReply { outcome };
        let v = serde_json::to_value(reply).unwrap();
        assert_eq!(v, json!({ "outcome": word }));
        assert_eq!(serde_json::from_value::<ReportReply>(v).unwrap(), reply);
    }
    assert!(serde_json::from_value::<ReportReply>(json!({"outcome": "maybe"})).is_err());
}

#[test]
fn agent_ids() {
    for good in ["a", "node-1", "0", "a-", &"x".repeat(24)] {
        assert!(valid_agent_id(good), "{good:?}");
    }
    for bad in ["", "-a", "Node", "a_b", "a.b", "é", &"x".repeat(25)] {
        assert!(!valid_agent_id(bad), "{bad:?}");
    }
}

#[test]
fn a_hello_is_checked_field_by_field() {
    assert_eq!(hello().validate(), Ok(()));
    let mut with_gateway = hello();
    with_gateway.gateway = Some(node_gateway());
    assert_eq!(with_gateway.validate(), Ok(()));

    let field_of = |change: &dyn Fn(&mut AgentHello)| {
        let mut h = with_gateway.clone();
        change(&mut h);
        h.validate().map_err(|e| (e.field, e.to_string()))
    };
    type Change = Box<dyn Fn(&mut AgentHello)>;
    let cases: Vec<(Change, Option<&str>)> = vec![
        (Box::new(|h| h.id = "Bad".into()), Some("id")),
        (Box::new(|h| h.id = String::new()), Some("id")),
        (Box::new(|h| h.zone = String::new()), Some("zone")),
        (Box::new(|h| h.zone = "z".repeat(65)), Some("zone")),
        (Box::new(|h| h.max_sessions = 0), Some("max_sessions")),
        (Box::new(|h| h.max_sessions = 10_001), Some("max_sessions")),
        (Box::new(|h| h.cpus = 0.0), None),
        (Box::new(|h| h.cpus = f64::NAN), None),
        (Box::new(|h| h.cpus = 4096.5), None),
        (Box::new(|h| h.memory_mb = 0), None),
        (
            Box::new(|h| h.gateway.as_mut().unwrap().url = "http://node".into()),
            Some("gateway.url"),
        ),
        (
            Box::new(|h| h.gateway.as_mut().unwrap().url = format!("https://{}", "a".repeat(505))),
            Some("gateway.url"),
        ),
        (
            Box::new(|h| h.gateway.as_mut().unwrap().sealing_key = "AAEC".into()),
            None,
        ),
        (
            Box::new(|h| h.gateway.as_mut().unwrap().signing_key = "not base64!".into()),
            None,
        ),
        (
            Box::new(|h| h.gateway.as_mut().unwrap().cert_sha256 = "ab".repeat(31)),
            Some("gateway.cert_sha256"),
        ),
        (
            Box::new(|h| h.gateway.as_mut().unwrap().cert_sha256 = "zz".repeat(32)),
            Some("gateway.cert_sha256"),
        ),
    ];
    for (i, (change, field)) in cases.iter().enumerate() {
        let (got, message) = field_of(change.as_ref()).expect_err("refused");
        assert_eq!(got, *field, "case {i}: {message}");
        assert!(!message.is_empty());
    }
    // Limits themselves are fine.
    assert_eq!(
        field_of(&|h| {
            h.max_sessions = 10_000;
            h.cpus = 4096.0;
            h.zone = "z".repeat(64);
            h.id = "a".repeat(24);
        }),
        Ok(())
    );
}

#[test]
fn keys_are_32_bytes_of_base64() {
    let key = decode_key32(&format!("  {KEY}\n")).unwrap();
    assert_eq!(key.to_vec(), (0..32).collect::<Vec<u8>>());
    assert_eq!(decode_key32("AAEC"), None);
    assert_eq!(decode_key32(""), None);
    assert_eq!(decode_key32("%%%%"), None);
}

#[test]
fn a_report_says_one_thing_and_its_reason_is_cut() {
    let desktop = ReadyDesktop {
        host: "h".into(),
        port: 1,
        password: "p".into(),
    };
    assert_eq!(
        AgentReport::ready("a", "s", desktop.clone()).validate(),
        Ok(())
    );
    assert_eq!(AgentReport::failed("a", "s", "x").validate(), Ok(()));
    let mut both = AgentReport::failed("a", "s", "x");
    both.ready = Some(desktop);
    let neither = AgentReport {
        ready: None,
        failed: None,
        ..both.clone()
    };
    for r in [both, neither] {
        let e = r.validate().unwrap_err();
        assert_eq!(e.field, None);
        assert_eq!(e.to_string(), "a report is either ready or failed");
    }
    let long = AgentReport::failed("a", "s", &"é".repeat(400));
    assert_eq!(
        long.failure_reason().unwrap().chars().count(),
        MAX_FAILURE_REASON
    );
    assert_eq!(
        AgentReport::failed("a", "s", "short")
            .failure_reason()
            .as_deref(),
        Some("short")
    );
}

/// With `openapi`, the schemas name the same fields as the JSON.
#[cfg(feature = "openapi")]
#[test]
fn schemas_name_the_wire_fields() {
    use utoipa::PartialSchema as _;
    let props = |schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>| {
        let v = serde_json::to_value(schema).unwrap();
        let mut names: Vec<String> = v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        props(AgentHello::schema()),
        [
            "cpus",
            "gateway",
            "id",
            "labels",
            "max_sessions",
            "memory_mb",
            "zone"
        ]
    );
    assert_eq!(props(AgentPoll::schema()), ["id", "running", "wait_ms"]);
    assert_eq!(
        props(AgentReport::schema()),
        ["failed", "id", "ready", "session"]
    );
    assert_eq!(props(ReportReply::schema()), ["outcome"]);
    let outcome = serde_json::to_value(ReportOutcome::schema()).unwrap();
    assert_eq!(outcome["enum"], json!(["accepted", "not_wanted"]));
}
