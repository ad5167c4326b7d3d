//! The service layer driven directly, without HTTP: a control plane on an
//! in-memory SQLite store, its gateway in process, domain requests in and
//! domain results or `ServiceError`s out.

use super::*;
use crate::{ControlKeys, ControlPlane, ControlSettings, InProcessGateway};
use oriel_control_store::{AuditFilter, DataKey, LoginStage, NewWorkspace, Store, WorkspaceRecord};
use oriel_core_token::{Policy, SealingKey, SessionClaims, TokenSigner, TokenVerifier};
use std::sync::Arc;

struct Fixture {
    cp: Arc<ControlPlane>,
    admin: Authed,
    verifier: TokenVerifier,
}

async fn fixture() -> Fixture {
    let store = Store::open("sqlite::memory:", 1).await.unwrap();
    let seed = TokenSigner::generate_seed().unwrap();
    let signer = TokenSigner::from_seed(&seed).unwrap();
    let verifier = TokenVerifier::new([signer.public_key()]);
    let keys = ControlKeys {
        signer,
        gateway_sealing: SealingKey::generate().unwrap().public_key(),
        data: DataKey::from_bytes(&[7; 32]).unwrap(),
        retired_public: Vec::new(),
    };
    let gateways = Arc::new(InProcessGateway::new(|_, _| 0));
    let (cp, _) = ControlPlane::new(
        store,
        keys,
        ControlSettings::default(),
        gateways,
        None,
        Some("a long admin password"),
    )
    .await
    .unwrap();
    let user = cp.store.user_by_name("admin").await.unwrap().unwrap().user;
    let admin = Authed {
        user,
        via: Via::LoginToken,
        login_hash: None,
        stage: LoginStage::Full,
        source: Some("192.0.2.1".into()),
    };
    Fixture {
        cp,
        admin,
        verifier,
    }
}

async fn workspace(cp: &ControlPlane, name: &str, kind: &str, policy: Policy) -> WorkspaceRecord {
    let new = NewWorkspace {
        name: name.into(),
        kind: kind.into(),
        host: "127.0.0.1".into(),
        port: 5901,
        policy,
        spec: serde_json::json!({}),
        identity: None,
    };
    cp.store
        .create_workspace(&new, None, &cp.keys.data, 1)
        .await
        .unwrap()
}

fn launch<'a>(caller: &'a Authed, workspace: &'a str) -> LaunchRequest<'a> {
    LaunchRequest {
        caller,
        workspace,
        zone: None,
        host: Some("oriel.example:8443"),
    }
}

#[tokio::test]
async fn a_launch_signs_a_token_for_the_session_and_its_policy() {
    let f = fixture().await;
    let policy = Policy {
        clipboard_up: true,
        ..Policy::default()
    };
    let w = workspace(&f.cp, "desk", "vnc", policy).await;
    let launched = f.cp.launch(&launch(&f.admin, "desk")).await.unwrap();
    assert_eq!(launched.workspace.id, w.id);
    let issued = launched.token.expect("a token");
    assert_eq!(issued.stream_url, "wss://oriel.example:8443/stream");
    let claims: SessionClaims = f
        .verifier
        .verify(&issued.token, (crate::time::now_ms() / 1000) as u64)
        .unwrap();
    assert_eq!(claims.sid, launched.session_id);
    assert_eq!(claims.name, "admin");
    assert!(claims.policy.clipboard_up);
    assert_eq!(claims.target.port, 5901);
}

#[tokio::test]
async fn recorded_and_watermarked_workspaces_launch_and_an_undrawable_mark_is_refused() {
    let f = fixture().await;
    let controlled = Policy {
        recording: true,
        watermark: true,
        ..Policy::default()
    };
    workspace(&f.cp, "controlled", "vnc", controlled).await;
    let launched = f.cp.launch(&launch(&f.admin, "controlled")).await.unwrap();
    let issued = launched.token.expect("a token");
    let claims: SessionClaims = f
        .verifier
        .verify(&issued.token, (crate::time::now_ms() / 1000) as u64)
        .unwrap();
    assert!(claims.policy.recording && claims.policy.watermark);

    // A watermark whose stored settings cannot be drawn (a hand-edited
    // database: validation refuses them): no launch, no further token.
    let w = workspace(&f.cp, "plain", "vnc", Policy::default()).await;
    let running = f.cp.launch(&launch(&f.admin, "plain")).await.unwrap();
    let undrawable = NewWorkspace {
        name: w.name.clone(),
        kind: w.kind.clone(),
        host: w.host.clone(),
        port: w.port,
        policy: Policy {
            watermark: true,
            watermark_opacity: 0,
            ..Policy::default()
        },
        spec: w.spec.clone(),
        identity: None,
    };
    f.cp.store
        .update_workspace(
            &w.id,
            &undrawable,
            oriel_control_store::CredentialsUpdate::Keep,
            &f.cp.keys.data,
            2,
        )
        .await
        .unwrap();
    let e = f.cp.launch(&launch(&f.admin, "plain")).await.unwrap_err();
    assert!(
        matches!(e, ServiceError::FeatureUnavailable(Feature::Watermark)),
        "{e:?}"
    );
    let filter = AuditFilter {
        action: Some("session.launch"),
        outcome: Some("failure"),
        ..Default::default()
    };
    let audit = f.cp.store.query_audit(&filter, 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].details["feature"], "watermark");
    let token = TokenRequest {
        caller: &f.admin,
        session_id: &running.session_id,
        host: None,
    };
    let e = f.cp.session_token(&token).await.unwrap_err();
    assert!(
        matches!(e, ServiceError::FeatureUnavailable(Feature::Watermark)),
        "{e:?}"
    );
}

#[tokio::test]
async fn limits_placement_and_the_end_are_domain_errors() {
    let f = fixture().await;
    let one = Policy {
        max_sessions_per_user: 1,
        ..Policy::default()
    };
    workspace(&f.cp, "single", "vnc", one).await;
    let first = f.cp.launch(&launch(&f.admin, "single")).await.unwrap();
    let e = f.cp.launch(&launch(&f.admin, "single")).await.unwrap_err();
    assert!(
        matches!(e, ServiceError::SessionLimit { active: 1 }),
        "{e:?}"
    );

    // Container workspaces need agents; none may connect here.
    workspace(&f.cp, "box", "container", Policy::default()).await;
    let e = f.cp.launch(&launch(&f.admin, "box")).await.unwrap_err();
    assert!(matches!(e, ServiceError::NoAgent), "{e:?}");

    let e = f.cp.launch(&launch(&f.admin, "nothing")).await.unwrap_err();
    assert!(matches!(e, ServiceError::NotFound("workspace")), "{e:?}");

    // Ended: no more tokens, and the limit frees up.
    f.cp.end_by_request(&f.admin, &first.session_id)
        .await
        .unwrap();
    let token = TokenRequest {
        caller: &f.admin,
        session_id: &first.session_id,
        host: None,
    };
    let e = f.cp.session_token(&token).await.unwrap_err();
    assert!(matches!(e, ServiceError::SessionEnded), "{e:?}");
    assert!(f.cp.launch(&launch(&f.admin, "single")).await.is_ok());
}

#[tokio::test]
async fn auditors_cannot_launch() {
    let f = fixture().await;
    workspace(&f.cp, "desk", "vnc", Policy::default()).await;
    let mut auditor = f.admin.clone();
    auditor.user.role = oriel_control_store::Role::Auditor;
    let e = f.cp.launch(&launch(&auditor, "desk")).await.unwrap_err();
    assert!(matches!(e, ServiceError::Forbidden(_)), "{e:?}");
}
