//! Token tests: every way a token can be wrong is refused with its reason.

use super::*;
use proptest::prelude::*;

const NOW: u64 = 1_800_000_000;

fn signer(seed: u8) -> TokenSigner {
    TokenSigner::from_seed(&[seed; 32]).expect("valid seed")
}

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

/// Arbitrary JSON signed as a session token, to test claim parsing.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
struct Raw(serde_json::Value);

impl Claims for Raw {
    const PREFIX: &'static str = "s1";
    fn version(&self) -> u8 {
        1
    }
    fn nbf(&self) -> u64 {
        0
    }
    fn exp(&self) -> u64 {
        1
    }
}

#[test]
fn valid_token_round_trips() {
    let s = signer(1);
    let token = s.sign(&claims()).unwrap();
    assert!(token.starts_with("s1."));
    let v = TokenVerifier::new([s.public_key()]);
    let got: SessionClaims = v.verify(&token, NOW + 10).unwrap();
    assert_eq!(got, claims());
}

#[test]
fn tampered_signature_is_refused() {
    let s = signer(1);
    let mut token = s.sign(&claims()).unwrap();
    let last = token.pop().unwrap();
    token.push(if last == 'A' { 'B' } else { 'A' });
    let v = TokenVerifier::new([s.public_key()]);
    let err = v.verify::<SessionClaims>(&token, NOW).unwrap_err();
    assert!(
        matches!(err, TokenError::BadSignature | TokenError::Malformed(_)),
        "{err}"
    );
}

#[test]
fn tampered_payload_is_refused() {
    let s = signer(1);
    let token = s.sign(&claims()).unwrap();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut other = claims();
    other.target.host = "10.0.0.1".into();
    let forged = s.sign(&other).unwrap();
    parts[2] = forged.split('.').nth(2).unwrap().to_owned();
    let v = TokenVerifier::new([s.public_key()]);
    assert_eq!(
        v.verify::<SessionClaims>(&parts.join("."), NOW)
            .unwrap_err(),
        TokenError::BadSignature
    );
}

#[test]
fn wrong_key_is_refused() {
    let token = signer(1).sign(&claims()).unwrap();
    let v = TokenVerifier::new([signer(2).public_key()]);
    assert_eq!(
        v.verify::<SessionClaims>(&token, NOW).unwrap_err(),
        TokenError::UnknownKey
    );
    // Same kid text but another key: a kid collision must still fail on the signature.
    let s1 = signer(1);
    let s2 = signer(2);
    let t2 = s2.sign(&claims()).unwrap();
    let relabelled = t2.replacen(s2.kid().as_str(), s1.kid().as_str(), 1);
    let v1 = TokenVerifier::new([s1.public_key()]);
    assert_eq!(
        v1.verify::<SessionClaims>(&relabelled, NOW).unwrap_err(),
        TokenError::BadSignature
    );
}

#[test]
fn expiry_and_not_before_are_enforced_with_leeway() {
    let s = signer(1);
    let token = s.sign(&claims()).unwrap();
    let v = TokenVerifier::new([s.public_key()]).with_leeway(30);
    assert!(v.verify::<SessionClaims>(&token, NOW + 329).is_ok());
    assert_eq!(
        v.verify::<SessionClaims>(&token, NOW + 330).unwrap_err(),
        TokenError::Expired
    );
    assert!(v.verify::<SessionClaims>(&token, NOW - 30).is_ok());
    assert_eq!(
        v.verify::<SessionClaims>(&token, NOW - 31).unwrap_err(),
        TokenError::NotYetValid
    );
    assert_eq!(
        TokenError::Expired.kind(),
        oriel_core_model::SessionErrorKind::TokenExpired
    );
}

#[test]
fn unknown_fields_are_refused() {
    let s = signer(1);
    let mut value = serde_json::to_value(claims()).unwrap();
    value["admin"] = serde_json::Value::Bool(true);
    let token = s.sign(&Raw(value)).unwrap();
    let v = TokenVerifier::new([s.public_key()]);
    assert!(matches!(
        v.verify::<SessionClaims>(&token, NOW).unwrap_err(),
        TokenError::InvalidClaims(_)
    ));
    // Also inside nested objects.
    let mut value = serde_json::to_value(claims()).unwrap();
    value["policy"]["teleport"] = serde_json::Value::Bool(true);
    let token = s.sign(&Raw(value)).unwrap();
    assert!(matches!(
        v.verify::<SessionClaims>(&token, NOW).unwrap_err(),
        TokenError::InvalidClaims(_)
    ));
}

#[test]
fn version_and_lifetime_are_checked() {
    let s = signer(1);
    let v = TokenVerifier::new([s.public_key()]);
    let mut c = claims();
    c.v = 2;
    let token = s.sign(&c).unwrap();
    assert_eq!(
        v.verify::<SessionClaims>(&token, NOW).unwrap_err(),
        TokenError::UnsupportedVersion(2)
    );
    let mut c = claims();
    c.exp = c.nbf + MAX_LIFETIME_SECS + 1;
    let token = s.sign(&c).unwrap();
    assert_eq!(
        v.verify::<SessionClaims>(&token, NOW).unwrap_err(),
        TokenError::BadLifetime
    );
}

#[test]
fn oversized_and_malformed_tokens_are_refused() {
    let s = signer(1);
    let v = TokenVerifier::new([s.public_key()]);
    let huge = "a".repeat(MAX_TOKEN_LEN + 1);
    assert_eq!(
        v.verify::<SessionClaims>(&huge, NOW).unwrap_err(),
        TokenError::Oversized(MAX_TOKEN_LEN + 1)
    );
    for bad in ["", "abc", "s1.x.y", "s1.a.b.c.d", "..."] {
        assert!(v.verify::<SessionClaims>(bad, NOW).is_err(), "{bad:?}");
    }
    let mut c = claims();
    c.name = "x".repeat(MAX_TOKEN_LEN);
    assert!(matches!(s.sign(&c), Err(TokenError::Oversized(_))));
}

#[test]
fn a_command_is_not_a_session_token() {
    let s = signer(1);
    let cmd = CommandClaims {
        v: CLAIMS_VERSION,
        jti: "c-1".into(),
        iat: NOW,
        nbf: NOW,
        exp: NOW + 60,
        aud: None,
        cmd: Command::EndSession {
            sid: "sess-1".into(),
            until: NOW + 300,
        },
    };
    let token = s.sign(&cmd).unwrap();
    let v = TokenVerifier::new([s.public_key()]);
    assert_eq!(
        v.verify::<SessionClaims>(&token, NOW).unwrap_err(),
        TokenError::WrongKind
    );
    assert_eq!(v.verify::<CommandClaims>(&token, NOW).unwrap(), cmd);
}

#[test]
fn credentials_seal_to_the_gateway_only() {
    let gateway = SealingKey::generate().unwrap();
    let other = SealingKey::generate().unwrap();
    let creds = Credentials {
        username: None,
        password: Some("s3cret".into()),
        private_key: None,
        domain: None,
    };
    let sealed = creds.seal(&gateway.public_key(), "sess-1").unwrap();
    assert!(!sealed.contains("s3cret"));
    assert_eq!(
        Credentials::open(&gateway, &sealed, "sess-1").unwrap(),
        creds
    );
    assert_eq!(
        Credentials::open(&other, &sealed, "sess-1").unwrap_err(),
        SealError::Open
    );
    // Bound to its session: moving it into another session's token fails.
    assert_eq!(
        Credentials::open(&gateway, &sealed, "sess-2").unwrap_err(),
        SealError::Open
    );
    assert_eq!(
        Credentials::open(&gateway, "!!", "sess-1").unwrap_err(),
        SealError::Malformed
    );
    assert!(!format!("{creds:?}").contains("s3cret"));
    // Keys survive a save/load cycle.
    let reloaded = SealingKey::from_bytes(*gateway.to_bytes());
    assert_eq!(
        Credentials::open(&reloaded, &sealed, "sess-1").unwrap(),
        creds
    );
}

#[test]
fn debug_of_claims_hides_sealed_credentials() {
    let mut c = claims();
    c.creds = Some("SEALEDBOX".into());
    assert!(!format!("{c:?}").contains("SEALEDBOX"));
}

proptest! {
    #[test]
    fn any_single_character_change_is_refused(idx in 0usize..400, replacement in "[A-Za-z0-9_.-]") {
        let s = signer(3);
        let token = s.sign(&claims()).unwrap();
        let idx = idx % token.len();
        let mut chars: Vec<char> = token.chars().collect();
        let new = replacement.chars().next().unwrap();
        prop_assume!(chars[idx] != new);
        chars[idx] = new;
        let mutated: String = chars.into_iter().collect();
        let v = TokenVerifier::new([s.public_key()]);
        prop_assert!(v.verify::<SessionClaims>(&mutated, NOW).is_err());
    }

    #[test]
    fn arbitrary_strings_never_verify(s in ".{0,600}") {
        let v = TokenVerifier::new([signer(4).public_key()]);
        prop_assert!(v.verify::<SessionClaims>(&s, NOW).is_err());
    }

    #[test]
    fn claims_round_trip(sid in "[a-z0-9-]{1,40}", host in "[a-z0-9.]{1,60}", port in any::<u16>(),
                         up in any::<bool>(), down in any::<bool>(), ttl in 1u64..3600) {
        let s = signer(5);
        let mut c = claims();
        c.sid = sid;
        c.target.host = host;
        c.target.port = port;
        c.policy.clipboard_up = up;
        c.policy.clipboard_down = down;
        c.exp = c.nbf + ttl;
        let token = s.sign(&c).unwrap();
        let v = TokenVerifier::new([s.public_key()]);
        prop_assert_eq!(v.verify::<SessionClaims>(&token, NOW).unwrap(), c);
    }
}

#[test]
fn an_expired_token_is_told_apart_only_after_its_signature_holds() {
    let s = signer(1);
    let token = s.sign(&claims()).unwrap();
    let v = TokenVerifier::new([s.public_key()]).with_leeway(0);
    let (got, expired) = v
        .verify_allowing_expired::<SessionClaims>(&token, NOW + 300)
        .unwrap();
    assert!(expired);
    assert_eq!(got, claims());
    assert_eq!(
        v.verify::<SessionClaims>(&token, NOW + 300).unwrap_err(),
        TokenError::Expired
    );
    let other = TokenVerifier::new([signer(2).public_key()]);
    assert_eq!(
        other
            .verify_allowing_expired::<SessionClaims>(&token, NOW + 300)
            .unwrap_err(),
        TokenError::UnknownKey
    );
    assert_eq!(Kid::of_token(&token).as_ref(), Some(s.kid()));
}

#[test]
fn revocations_refuse_a_token_by_id_session_or_user_issued_before() {
    let s = signer(1);
    let mut list = RevocationClaims {
        seq: 1,
        iat: NOW,
        nbf: NOW,
        exp: NOW + 3600,
        ..RevocationClaims::empty()
    };
    let entry = |id: &str, at: u64| Revoked {
        id: id.into(),
        at,
        until: NOW + 600,
    };
    list.users.push(entry("user-1", NOW));
    let token = s.sign(&list).unwrap();
    assert!(token.starts_with("rv1."));
    let v = TokenVerifier::new([s.public_key()]);
    assert_eq!(
        v.verify::<SessionClaims>(&token, NOW).unwrap_err(),
        TokenError::WrongKind
    );
    let verified: RevocationClaims = v.verify(&token, NOW).unwrap();
    let mut held = RevocationList::new();
    held.apply(&verified, NOW).unwrap();
    let c = claims();
    assert_eq!(held.check(&c), Some(Revocation::User));
    // A token issued to the user after the revocation is not refused.
    let later = SessionClaims {
        iat: NOW + 1,
        ..claims()
    };
    assert_eq!(held.check(&later), None);

    let mut list = RevocationClaims { seq: 2, ..verified };
    list.users.clear();
    list.sessions.push(entry("sess-1", NOW));
    held.apply(&list, NOW).unwrap();
    assert_eq!(held.check(&later), Some(Revocation::Session));
    list.seq = 3;
    list.sessions.clear();
    list.tokens.push(entry("tok-1", NOW));
    held.apply(&list, NOW).unwrap();
    assert_eq!(held.check(&later), Some(Revocation::Token));
    let other_token = SessionClaims {
        jti: "tok-2".into(),
        ..later
    };
    assert_eq!(held.check(&other_token), None);

    // A share link revoked: its tokens are refused, the owner's are not.
    let guest = SessionClaims {
        jti: "tok-3".into(),
        control: Some(false),
        watcher: Some(Watcher {
            via: WatchedVia::Share,
            link: Some("link-1".into()),
            notify: true,
            owner_sub: String::new(),
            owner_name: String::new(),
        }),
        ..other_token.clone()
    };
    assert_eq!(held.check(&guest), None);
    list.seq = 4;
    list.tokens.clear();
    list.links.push(entry("link-1", NOW));
    let token = s.sign(&list).unwrap();
    let verified: RevocationClaims = v.verify(&token, NOW).unwrap();
    held.apply(&verified, NOW).unwrap();
    assert_eq!(held.check(&guest), Some(Revocation::Link));
    assert_eq!(held.check(&other_token), None);
    assert!(!guest.controls() && other_token.controls());
}

#[test]
fn a_list_without_links_is_the_list_older_gateways_read() {
    // `links` is left out when empty, so a gateway that predates share
    // links (deny_unknown_fields) still takes every other list.
    let json = serde_json::to_value(RevocationClaims::empty()).unwrap();
    assert!(json.get("links").is_none(), "{json}");
    let old: RevocationClaims =
        serde_json::from_str(r#"{"v":1,"seq":1,"iat":0,"nbf":0,"exp":1}"#).unwrap();
    assert!(old.links.is_empty());
}

#[test]
fn a_session_token_with_routing_and_reuse_round_trips() {
    let s = signer(1);
    let c = SessionClaims {
        zones: vec!["eu".into()],
        gws: vec!["node-1".into()],
        via: Some(Upstream {
            to: "wss://node-1:8443/stream".into(),
            cert_sha256: "ab".repeat(32),
        }),
        reuse: Some(Reuse {
            window: 300,
            max: 20,
        }),
        ..claims()
    };
    let token = s.sign(&c).unwrap();
    let v = TokenVerifier::new([s.public_key()]);
    assert_eq!(v.verify::<SessionClaims>(&token, NOW).unwrap(), c);
}

#[test]
fn a_watchers_token_names_the_sessions_owner() {
    let mut c = claims();
    assert_eq!(c.owner(), (c.sub.as_str(), c.name.as_str()));
    c.watcher = Some(Watcher {
        via: WatchedVia::Shadow,
        link: None,
        notify: true,
        owner_sub: String::new(),
        owner_name: String::new(),
    });
    // A token of before the owner was named: the holder's own.
    assert_eq!(c.owner(), (c.sub.as_str(), c.name.as_str()));
    let w = c.watcher.as_mut().expect("a watcher");
    w.owner_sub = "u-owner".into();
    w.owner_name = "owner".into();
    assert_eq!(c.owner(), ("u-owner", "owner"));
    // Signed and read back, the owner stays.
    let s = signer(1);
    let v = TokenVerifier::new([s.public_key()]);
    let back: SessionClaims = v.verify(&s.sign(&c).expect("sign"), NOW).expect("verify");
    assert_eq!(back.owner(), ("u-owner", "owner"));
}
