//! Every refusal, with its metric reason and close code, and what is admitted.

use super::*;
use oriel_core_token::{CLAIMS_VERSION, Policy, RevocationClaims, Revoked, TargetClaims, Upstream};
use oriel_core_wire::close_code;

const NOW: u64 = 1_800_000_000;
const HERE: [u8; 4] = [192, 0, 2, 1];
const THERE: [u8; 4] = [192, 0, 2, 2];
const REUSE: Reuse = Reuse { window: 60, max: 2 };

fn claims() -> SessionClaims {
    SessionClaims {
        v: CLAIMS_VERSION,
        sid: "sess-1".into(),
        jti: "tok-1".into(),
        sub: "user-1".into(),
        name: "alice".into(),
        ws: "desktop".into(),
        iat: NOW,
        nbf: NOW,
        exp: NOW + 300,
        target: TargetClaims {
            kind: "vnc".into(),
            host: "127.0.0.1".into(),
            port: 5901,
            identity: None,
        },
        policy: Policy::default(),
        creds: None,
        deadline: None,
        zones: Vec::new(),
        gws: Vec::new(),
        via: None,
        reuse: None,
        control: None,
        watcher: None,
    }
}

fn gateway(role: GatewayRole) -> GatewayIdentity {
    GatewayIdentity {
        id: "gw-1".into(),
        zone: "eu".into(),
        role,
    }
}

fn revoked(kind: &str) -> RevocationList {
    let entry = |id: &str| Revoked {
        id: id.into(),
        at: NOW,
        until: NOW + 3600,
    };
    let mut list = RevocationClaims {
        seq: 1,
        exp: NOW + 3600,
        ..RevocationClaims::empty()
    };
    match kind {
        "session" => list.sessions.push(entry("sess-1")),
        "token" => list.tokens.push(entry("tok-1")),
        "user" => list.users.push(entry("user-1")),
        _ => {}
    }
    let mut held = RevocationList::new();
    held.apply(&list, NOW).unwrap();
    held
}

/// A gateway that can record.
fn gate(me: &GatewayIdentity) -> Gate<'_> {
    Gate {
        identity: me,
        default_reuse: REUSE,
        can_record: true,
    }
}

/// One admission with a fresh cache unless given.
fn decide(
    c: SessionClaims,
    expired: bool,
    me: &GatewayIdentity,
    list: &RevocationList,
    cache: &mut ReplayCache,
    peer: [u8; 4],
    now: u64,
) -> Result<Admitted, Refusal> {
    let token = Verified { claims: c, expired };
    admit(token, gate(me), list, cache, Some(IpAddr::from(peer)), now)
}

/// The reason and close code of a refusal.
fn refused(r: Result<Admitted, Refusal>) -> (&'static str, u16) {
    let r = r.expect_err("refused");
    (r.reason, close_code(r.error.kind))
}

#[test]
fn zones_gateways_and_roles() {
    let gw = gateway(GatewayRole::Gateway);
    let none = RevocationList::new();
    let mut cache = ReplayCache::new(10);
    /// Claims, the gateway, and the refusal's reason and code if refused.
    type Case = (SessionClaims, GatewayIdentity, Option<(&'static str, u16)>);
    let cases: Vec<Case> = vec![
        (claims(), gw.clone(), None),
        (
            SessionClaims {
                zones: vec!["us".into()],
                ..claims()
            },
            gw.clone(),
            Some(("wrong_zone", 4003)),
        ),
        (
            SessionClaims {
                zones: vec!["us".into(), "eu".into()],
                ..claims()
            },
            gw.clone(),
            None,
        ),
        (
            SessionClaims {
                gws: vec!["gw-2".into()],
                ..claims()
            },
            gw.clone(),
            Some(("wrong_gateway", 4003)),
        ),
        (
            SessionClaims {
                gws: vec!["gw-1".into()],
                ..claims()
            },
            gw.clone(),
            None,
        ),
        // A connection proxy serves only the sessions placed on it.
        (
            claims(),
            gateway(GatewayRole::ConnectionProxy),
            Some(("wrong_gateway", 4003)),
        ),
        (
            SessionClaims {
                gws: vec!["gw-1".into()],
                ..claims()
            },
            gateway(GatewayRole::ConnectionProxy),
            None,
        ),
        // A dedicated proxy needs a route.
        (
            claims(),
            gateway(GatewayRole::DedicatedProxy),
            Some(("no_route", 4003)),
        ),
        (
            SessionClaims {
                via: Some(Upstream {
                    to: "wss://gw/stream".into(),
                    cert_sha256: "00".into(),
                }),
                ..claims()
            },
            gateway(GatewayRole::DedicatedProxy),
            None,
        ),
    ];
    for (i, (c, me, want)) in cases.into_iter().enumerate() {
        let c = SessionClaims {
            jti: format!("tok-{i}"),
            ..c
        };
        let got = decide(c, false, &me, &none, &mut cache, HERE, NOW);
        match want {
            None => assert!(got.is_ok(), "case {i}: {got:?}"),
            Some(want) => assert_eq!(refused(got), want, "case {i}"),
        }
    }
}

#[test]
fn revocations_of_a_session_a_token_or_a_user() {
    let gw = gateway(GatewayRole::Gateway);
    for (kind, code) in [("session", 4000), ("token", 4003), ("user", 4003)] {
        let mut cache = ReplayCache::new(10);
        let got = decide(claims(), false, &gw, &revoked(kind), &mut cache, HERE, NOW);
        assert_eq!(refused(got), ("revoked", code), "{kind}");
        assert!(cache.is_empty(), "a refused token is not remembered");
    }
    // A user's later tokens are not revoked.
    let mut cache = ReplayCache::new(10);
    let later = SessionClaims {
        iat: NOW + 1,
        ..claims()
    };
    assert!(
        decide(
            later,
            false,
            &gw,
            &revoked("user"),
            &mut cache,
            HERE,
            NOW + 1
        )
        .is_ok()
    );
}

#[test]
fn reconnections_replays_and_a_full_cache() {
    let gw = gateway(GatewayRole::Gateway);
    let none = RevocationList::new();
    let mut cache = ReplayCache::new(10);
    let admitted = decide(claims(), false, &gw, &none, &mut cache, HERE, NOW).unwrap();
    assert_eq!(admitted.token.jti, "tok-1");
    assert_eq!(admitted.token.sub, "user-1");
    assert_eq!(admitted.token.iat, NOW);
    // From another address: a replay.
    let got = decide(claims(), false, &gw, &none, &mut cache, THERE, NOW + 1);
    assert_eq!(refused(got), ("replay_address", 4003));
    // The same address reconnects, within the window, even expired, twice.
    assert!(decide(claims(), true, &gw, &none, &mut cache, HERE, NOW + 30).is_ok());
    assert!(decide(claims(), true, &gw, &none, &mut cache, HERE, NOW + 31).is_ok());
    let got = decide(claims(), true, &gw, &none, &mut cache, HERE, NOW + 32);
    assert_eq!(refused(got), ("replay_limit", 4003));
    // A token's own rules win over the gateway's.
    let mut cache = ReplayCache::new(10);
    let strict = SessionClaims {
        reuse: Some(Reuse { window: 5, max: 9 }),
        ..claims()
    };
    assert!(decide(strict.clone(), false, &gw, &none, &mut cache, HERE, NOW).is_ok());
    let got = decide(strict, true, &gw, &none, &mut cache, HERE, NOW + 6);
    assert_eq!(refused(got), ("replay_window", 4002));
    // Expired and never used here: nothing to reconnect to.
    let mut cache = ReplayCache::new(10);
    let got = decide(claims(), true, &gw, &none, &mut cache, HERE, NOW + 400);
    assert_eq!(refused(got), ("expired", 4002));
    // No address: every reuse counts as another's.
    let mut cache = ReplayCache::new(10);
    let fresh = || Verified {
        claims: claims(),
        expired: false,
    };
    assert!(admit(fresh(), gate(&gw), &none, &mut cache, None, NOW).is_ok());
    let got = admit(
        fresh(),
        gate(&gw),
        &none,
        &mut cache,
        Some(IpAddr::from(HERE)),
        NOW,
    );
    assert_eq!(refused(got), ("replay_address", 4003));
    // A full cache admits nothing new.
    let mut cache = ReplayCache::new(1);
    assert!(decide(claims(), false, &gw, &none, &mut cache, HERE, NOW).is_ok());
    let other = SessionClaims {
        jti: "tok-2".into(),
        ..claims()
    };
    let got = decide(other, false, &gw, &none, &mut cache, HERE, NOW);
    assert_eq!(refused(got), ("replay_full", 4010));
}

#[test]
fn token_errors_have_their_reasons_and_codes() {
    for (e, want) in [
        (TokenError::UnknownKey, ("unknown_key", 4001)),
        (TokenError::BadSignature, ("bad_signature", 4001)),
        (TokenError::NotYetValid, ("not_yet_valid", 4002)),
        (TokenError::Expired, ("expired", 4002)),
        (TokenError::Malformed("shape"), ("malformed", 4001)),
        (TokenError::WrongKind, ("malformed", 4001)),
        (TokenError::Oversized(9000), ("malformed", 4001)),
    ] {
        let r = refuse_token(&e);
        assert_eq!((r.reason, close_code(r.error.kind)), want, "{e:?}");
        assert_eq!(r.error.detail, e.to_string());
    }
}

#[test]
fn a_recording_the_gateway_cannot_make_or_an_impossible_watermark_is_refused_where_the_session_would_stream()
 {
    let none = RevocationList::new();
    let route = Upstream {
        to: "wss://gw/stream".into(),
        cert_sha256: "00".into(),
    };
    let cases = [
        // A gateway with a recordings directory records.
        (
            Policy {
                recording: true,
                ..Policy::default()
            },
            None,
        ),
        (
            Policy {
                watermark: true,
                watermark_opacity: 0,
                ..Policy::default()
            },
            Some("watermark_opacity"),
        ),
        (
            Policy {
                watermark: true,
                watermark_text: " ".into(),
                ..Policy::default()
            },
            Some("watermark_text"),
        ),
        (
            Policy {
                watermark: true,
                ..Policy::default()
            },
            None,
        ),
        // Settings of a watermark that is off do not matter.
        (
            Policy {
                watermark_angle: 500,
                ..Policy::default()
            },
            None,
        ),
    ];
    for (policy, refused_for) in cases {
        let c = SessionClaims {
            policy,
            via: Some(route.clone()),
            ..claims()
        };
        let mut cache = ReplayCache::new(10);
        let gw = gateway(GatewayRole::Gateway);
        let got = decide(c.clone(), false, &gw, &none, &mut cache, HERE, NOW);
        match refused_for {
            None => assert!(got.is_ok(), "{got:?}"),
            Some(what) => {
                let r = got.expect_err("refused");
                assert_eq!(
                    (r.reason, close_code(r.error.kind)),
                    ("feature_unavailable", 4017)
                );
                assert!(r.error.detail.contains(what), "{}", r.error.detail);
            }
        }
        // A dedicated proxy passes it on; the serving gateway decides.
        let mut cache = ReplayCache::new(10);
        let proxy = gateway(GatewayRole::DedicatedProxy);
        assert!(decide(c, false, &proxy, &none, &mut cache, HERE, NOW).is_ok());
    }
    // A gateway without a recordings directory cannot record.
    let c = SessionClaims {
        policy: Policy {
            recording: true,
            ..Policy::default()
        },
        ..claims()
    };
    let gw = gateway(GatewayRole::Gateway);
    let unable = Gate {
        can_record: false,
        ..gate(&gw)
    };
    let mut cache = ReplayCache::new(10);
    let r = admit(
        Verified {
            claims: c,
            expired: false,
        },
        unable,
        &none,
        &mut cache,
        None,
        NOW,
    )
    .expect_err("refused");
    assert_eq!(r.reason, "feature_unavailable");
    assert!(r.error.detail.contains("recording"), "{}", r.error.detail);
}
