//! Store tests, each run twice: on SQLite (a real file) and on a real
//! PostgreSQL cluster started for the test.

use super::*;
use oriel_core_token::{Credentials, Policy};
use std::future::Future;

/// A store on a fresh database of the given backend, and what keeps it alive.
struct Db {
    store: Store,
    url: String,
    _sqlite: Option<tempfile::TempDir>,
    _pg: Option<oriel_testkit::Postgres>,
}

async fn open(backend: Backend) -> Db {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/oriel.db", dir.path().display());
            Db {
                store: Store::open(&url, 8).await.unwrap(),
                url,
                _sqlite: Some(dir),
                _pg: None,
            }
        }
        Backend::Postgres => {
            let pg = oriel_testkit::Postgres::start().await.unwrap();
            let url = pg.database("oriel").await.unwrap();
            Db {
                store: Store::open(&url, 8).await.unwrap(),
                url,
                _sqlite: None,
                _pg: Some(pg),
            }
        }
    }
}

/// What a test body gets: the store and its URL.
struct Ctx {
    store: Store,
    url: String,
}

/// Runs the test body against one backend. The database's guards (temp dir,
/// PostgreSQL server) stay here, alive until the body is done: an `async
/// move` body would capture only the fields it uses.
async fn on<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = open(backend).await;
    body(Ctx {
        store: db.store.clone(),
        url: db.url.clone(),
    })
    .await;
    drop(db);
}

macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                on(Backend::Sqlite, $body).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                on(Backend::Postgres, $body).await;
            }
        }
    };
}

fn key() -> DataKey {
    DataKey::from_bytes(&[9; 32]).unwrap()
}

fn workspace(name: &str) -> NewWorkspace {
    NewWorkspace {
        name: name.into(),
        kind: "vnc".into(),
        host: "127.0.0.1".into(),
        port: 5901,
        policy: Policy::default(),
        spec: serde_json::json!({}),
        identity: None,
    }
}

both!(
    migrations_are_idempotent_and_data_survives_reopen,
    |db: Ctx| async move {
        db.store
            .create_user("alice", "hash", Role::Admin, 1)
            .await
            .unwrap();
        let url = db.url.clone();
        drop(db.store);
        let again = Store::open(&url, 2).await.unwrap();
        assert_eq!(again.count_users().await.unwrap(), 1);
        assert!(matches!(
            Store::open("mysql://x", 1).await,
            Err(StoreError::UnsupportedUrl)
        ));
    }
);

both!(users_logins_and_second_factor, |db: Ctx| async move {
    let s = &db.store;
    let u = s.create_user("bob", "h", Role::User, 10).await.unwrap();
    assert!(matches!(
        s.create_user("bob", "h2", Role::User, 11).await,
        Err(StoreError::Conflict("user"))
    ));
    let rec = s.user_by_name("bob").await.unwrap().unwrap();
    assert_eq!(rec.user, u);
    assert_eq!(rec.password_hash, "h");
    assert!(!format!("{rec:?}").contains("\"h\""));

    s.create_login(
        "tok",
        &u.id,
        100,
        200,
        Some("127.0.0.1"),
        LoginStage::TotpEnroll,
    )
    .await
    .unwrap();
    let l = s.login("tok", 150).await.unwrap().unwrap();
    assert_eq!(
        (l.user.id.as_str(), l.stage),
        (u.id.as_str(), LoginStage::TotpEnroll)
    );
    s.complete_login("tok").await.unwrap();
    assert_eq!(
        s.login("tok", 150).await.unwrap().unwrap().stage,
        LoginStage::Full
    );
    assert!(s.login("tok", 200).await.unwrap().is_none(), "expired");
    assert_eq!(s.purge_logins(300).await.unwrap(), 1);

    s.set_totp(&u.id, Some("sealed"), false, 20).await.unwrap();
    let rec = s.user(&u.id).await.unwrap().unwrap();
    assert!(!rec.user.totp_enabled, "not confirmed yet");
    assert_eq!(rec.sealed_totp.as_deref(), Some("sealed"));
    s.set_totp(&u.id, Some("sealed"), true, 21).await.unwrap();
    assert!(s.user(&u.id).await.unwrap().unwrap().user.totp_enabled);
    s.replace_recovery_codes(&u.id, &["a".into(), "b".into()])
        .await
        .unwrap();
    assert!(s.use_recovery_code(&u.id, "a", 30).await.unwrap());
    assert!(
        !s.use_recovery_code(&u.id, "a", 31).await.unwrap(),
        "single use"
    );
    assert!(!s.use_recovery_code(&u.id, "zz", 31).await.unwrap());
    assert_eq!(s.recovery_codes_left(&u.id).await.unwrap(), 1);

    let updated = s
        .update_user(&u.id, Role::Auditor, true, 40)
        .await
        .unwrap()
        .unwrap();
    assert!(updated.disabled);
    s.create_login("tok2", &u.id, 100, 1000, None, LoginStage::Full)
        .await
        .unwrap();
    assert!(
        s.login("tok2", 150).await.unwrap().is_none(),
        "disabled users are logged out"
    );
    assert_eq!(s.count_active_admins().await.unwrap(), 0);

    assert!(s.delete_user(&u.id).await.unwrap());
});

both!(
    external_identities_are_keyed_by_issuer_and_subject,
    |db: Ctx| async move {
        let s = &db.store;
        let local = s.create_user("Bob", "h", Role::Admin, 1).await.unwrap();
        let carol = |username, role| ExternalIdentity {
            issuer: "https://idp",
            subject: "sub-1",
            username,
            role,
        };
        let first = s
            .login_external_user(&carol("carol", Role::User), 50)
            .await
            .unwrap();
        assert!(first.created);
        assert_eq!(first.user.origin, OIDC_ORIGIN);
        assert_eq!(first.user.role, Role::User);
        assert!(
            s.user(&first.user.id)
                .await
                .unwrap()
                .unwrap()
                .password_hash
                .is_empty()
        );
        assert_eq!(
            s.external_identity_of(&first.user.id).await.unwrap(),
            Some(("https://idp".to_owned(), "sub-1".to_owned()))
        );
        let again = s
            .login_external_user(&carol("carol-renamed", Role::Auditor), 51)
            .await
            .unwrap();
        assert!(!again.created);
        assert_eq!(
            again.user.id, first.user.id,
            "found by subject, not by name"
        );
        assert_eq!(
            (again.user.username.as_str(), again.user.role),
            ("carol-renamed", Role::Auditor)
        );
        // A name taken by someone else is not taken over: the user keeps its name.
        let clash = s
            .login_external_user(&carol("bob", Role::User), 52)
            .await
            .unwrap();
        assert!(clash.username_taken);
        assert_eq!(clash.user.username, "carol-renamed");
        // A new identity never takes over an existing user of the same name
        // (compared without case), nor does the same subject of another issuer.
        for (issuer, name) in [
            ("https://idp", "bob"),
            ("https://other-idp", "CAROL-renamed"),
        ] {
            let other = ExternalIdentity {
                issuer,
                subject: if issuer == "https://idp" {
                    "sub-2"
                } else {
                    "sub-1"
                },
                username: name,
                role: Role::Admin,
            };
            assert!(matches!(
                s.login_external_user(&other, 53).await,
                Err(StoreError::Conflict("username"))
            ));
        }
        let other_issuer = ExternalIdentity {
            issuer: "https://other-idp",
            subject: "sub-1",
            username: "carol2",
            role: Role::User,
        };
        let c2 = s.login_external_user(&other_issuer, 54).await.unwrap();
        assert!(c2.created && c2.user.id != first.user.id);
        assert_eq!(s.list_users(None, 10).await.unwrap().len(), 3);

        // The last enabled admin keeps the role whatever the claims say.
        let admin = s
            .login_external_user(&carol("carol", Role::Admin), 55)
            .await
            .unwrap();
        assert_eq!(admin.user.role, Role::Admin);
        s.update_user(&local.id, Role::User, false, 56)
            .await
            .unwrap();
        let kept = s
            .login_external_user(&carol("carol", Role::User), 57)
            .await
            .unwrap();
        assert!(kept.kept_last_admin);
        assert_eq!(kept.user.role, Role::Admin);
        s.update_user(&local.id, Role::Admin, false, 58)
            .await
            .unwrap();
        let demoted = s
            .login_external_user(&carol("carol", Role::User), 59)
            .await
            .unwrap();
        assert_eq!(
            (demoted.user.role, demoted.kept_last_admin),
            (Role::User, false)
        );

        // Deleting the user forgets the identity: the next login makes a new user.
        assert!(s.delete_user(&first.user.id).await.unwrap());
        assert!(
            s.login_external_user(&carol("carol", Role::User), 60)
                .await
                .unwrap()
                .created
        );
    }
);

both!(
    external_users_groups_follow_the_claims,
    |db: Ctx| async move {
        let s = &db.store;
        let settings = serde_json::json!({});
        let eng = s
            .create_group("engineering", "", &settings, 1)
            .await
            .unwrap();
        let ops = s.create_group("ops", "", &settings, 1).await.unwrap();
        let ext = ExternalIdentity {
            issuer: "https://idp",
            subject: "s",
            username: "dave",
            role: Role::User,
        };
        let dave = s.login_external_user(&ext, 2).await.unwrap().user;
        let names = |gs: Vec<GroupRecord>| gs.into_iter().map(|g| g.name).collect::<Vec<_>>();
        let now = s
            .sync_groups_by_name(
                &dave.id,
                &[
                    "engineering".into(),
                    "no-such-group".into(),
                    "engineering".into(),
                ],
            )
            .await
            .unwrap();
        assert_eq!(names(now), ["engineering"]);
        assert_eq!(s.group_members(&eng.id).await.unwrap()[0].id, dave.id);
        let now = s
            .sync_groups_by_name(&dave.id, &["ops".into(), "Engineering".into()])
            .await
            .unwrap();
        assert_eq!(names(now), ["ops"], "exact names; left groups are left");
        assert!(s.group_members(&eng.id).await.unwrap().is_empty());
        assert_eq!(s.group_members(&ops.id).await.unwrap().len(), 1);
        assert!(
            s.sync_groups_by_name(&dave.id, &[])
                .await
                .unwrap()
                .is_empty()
        );
    }
);

both!(oidc_flows_are_used_once, |db: Ctx| async move {
    let s = &db.store;
    assert!(s.consume_oidc_flow("h1", 100, 10).await.unwrap());
    assert!(!s.consume_oidc_flow("h1", 100, 20).await.unwrap(), "replay");
    assert!(s.consume_oidc_flow("h2", 100, 20).await.unwrap());
    // Expired flows are forgotten (their cookie no longer opens anyway).
    assert!(s.consume_oidc_flow("h1", 300, 150).await.unwrap());
});

both!(
    workspaces_keep_credentials_encrypted,
    |db: Ctx| async move {
        let s = &db.store;
        let k = key();
        let creds = Credentials {
            username: None,
            password: Some("topsecret-pw".into()),
            private_key: None,
            domain: None,
        };
        let w = s
            .create_workspace(&workspace("desk"), Some(&creds), &k, 5)
            .await
            .unwrap();
        assert_eq!(s.workspace(&w.id).await.unwrap().unwrap(), w);
        assert_eq!(s.workspace("desk").await.unwrap().unwrap().id, w.id);
        assert_eq!(w.credentials(&k).unwrap(), Some(creds.clone()));
        let raw = s
            .workspace(&w.id)
            .await
            .unwrap()
            .unwrap()
            .sealed_credentials
            .unwrap();
        assert!(!raw.contains("topsecret"));
        assert!(matches!(
            s.create_workspace(&workspace("desk"), None, &k, 6).await,
            Err(StoreError::Conflict("workspace"))
        ));
        let mut changed = workspace("desk");
        changed.port = 5902;
        let u = s
            .update_workspace(&w.id, &changed, CredentialsUpdate::Keep, &k, 7)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u.port, 5902);
        assert_eq!(u.credentials(&k).unwrap(), Some(creds));
        let u = s
            .update_workspace(&w.id, &changed, CredentialsUpdate::Clear, &k, 8)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u.credentials(&k).unwrap(), None);
        assert!(
            s.record_workspace_identity(&w.id, "SHA256:first")
                .await
                .unwrap()
        );
        assert!(
            !s.record_workspace_identity(&w.id, "SHA256:second")
                .await
                .unwrap(),
            "first writer wins"
        );
        assert_eq!(
            s.workspace(&w.id)
                .await
                .unwrap()
                .unwrap()
                .identity
                .as_deref(),
            Some("SHA256:first")
        );
        assert!(s.delete_workspace(&w.id).await.unwrap());
        assert!(!s.delete_workspace(&w.id).await.unwrap());
    }
);

both!(groups_grant_workspaces_to_members, |db: Ctx| async move {
    let s = &db.store;
    let k = key();
    let alice = s.create_user("alice", "h", Role::User, 1).await.unwrap();
    let bob = s.create_user("bob", "h", Role::User, 1).await.unwrap();
    let w1 = s
        .create_workspace(&workspace("w1"), None, &k, 1)
        .await
        .unwrap();
    let w2 = s
        .create_workspace(&workspace("w2"), None, &k, 1)
        .await
        .unwrap();
    let _w3 = s
        .create_workspace(&workspace("w3"), None, &k, 1)
        .await
        .unwrap();
    let settings = serde_json::json!({"require_totp": true});
    let g = s
        .create_group("eng", "engineers", &settings, 2)
        .await
        .unwrap();
    let h = s
        .create_group("ops", "", &serde_json::json!({}), 2)
        .await
        .unwrap();
    assert!(matches!(
        s.create_group("eng", "", &settings, 3).await,
        Err(StoreError::Conflict("group"))
    ));
    s.set_group_members(&g.id, std::slice::from_ref(&alice.id))
        .await
        .unwrap();
    s.set_group_members(&h.id, &[alice.id.clone(), bob.id.clone()])
        .await
        .unwrap();
    s.set_group_workspaces(&g.id, std::slice::from_ref(&w1.id))
        .await
        .unwrap();
    s.set_group_workspaces(&h.id, &[w1.id.clone(), w2.id.clone()])
        .await
        .unwrap();
    assert!(matches!(
        s.set_group_members(&g.id, &["nobody".into()]).await,
        Err(StoreError::Missing("user"))
    ));
    assert_eq!(
        s.group_members(&g.id).await.unwrap()[0].username,
        "alice",
        "failed update left the old members"
    );

    let names = |ws: Vec<WorkspaceRecord>| ws.into_iter().map(|w| w.name).collect::<Vec<_>>();
    assert_eq!(
        names(s.workspaces_of_user(&alice.id, None, 10).await.unwrap()),
        ["w1", "w2"]
    );
    assert_eq!(
        names(s.workspaces_of_user(&bob.id, None, 10).await.unwrap()),
        ["w1", "w2"]
    );
    assert_eq!(
        names(
            s.workspaces_of_user(&alice.id, Some("w1"), 10)
                .await
                .unwrap()
        ),
        ["w2"]
    );
    let granting: Vec<_> = s
        .granting_groups(&alice.id, &w1.id)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(granting, ["eng", "ops"]);
    assert_eq!(s.groups_of_user(&bob.id).await.unwrap().len(), 1);
    assert_eq!(s.group(&g.id).await.unwrap().unwrap().settings, settings);
    let renamed = s
        .update_group(&g.id, "engineering", "", &settings, 4)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.name, "engineering");
    assert!(s.delete_group(&h.id).await.unwrap());
    assert_eq!(
        names(s.workspaces_of_user(&bob.id, None, 10).await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(s.list_groups(None, 10).await.unwrap().len(), 1);
});

both!(
    session_transitions_are_atomic_and_limits_hold_under_races,
    |db: Ctx| async move {
        let s = db.store.clone();
        let u = s.create_user("carol", "h", Role::User, 1).await.unwrap();
        let new = |max| NewSession {
            user_id: "",
            workspace_id: "w",
            workspace_name: "desk",
            state: SessionState::Starting,
            token_expires_at: 100,
            deadline: None,
            source: Some("127.0.0.1"),
            max_per_user: max,
            placement: None,
        };
        // 16 racing launches against a limit of 3: exactly 3 get through.
        let mut tasks = Vec::new();
        for i in 0..16 {
            let s = s.clone();
            let uid = u.id.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = new(Some(3));
                n.user_id = &uid;
                s.launch_session(&n, 10 + i).await.unwrap()
            }));
        }
        let mut launched = Vec::new();
        for t in tasks {
            if let Launch::Launched(id) = t.await.unwrap() {
                launched.push(id);
            }
        }
        assert_eq!(launched.len(), 3, "the limit held under racing launches");
        let id = launched[0].clone();
        let rec = s.session(&id).await.unwrap().unwrap();
        assert_eq!(
            (rec.state, rec.username.as_str()),
            (SessionState::Starting, "carol")
        );
        assert!(rec.starting_at.is_some());

        // starting → running → ending → ended; a second end loses the race.
        assert_eq!(
            s.transition(&id, SessionState::Running, 20, None)
                .await
                .unwrap()
                .unwrap()
                .running_at,
            Some(20)
        );
        assert!(
            s.transition(&id, SessionState::Running, 21, None)
                .await
                .unwrap()
                .is_none(),
            "no double start"
        );
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = s.clone();
            let id = id.clone();
            tasks.push(tokio::spawn(async move {
                s.transition(&id, SessionState::Ending, 30 + i, None)
                    .await
                    .unwrap()
            }));
        }
        let mut winners = 0;
        for t in tasks {
            winners += usize::from(t.await.unwrap().is_some());
        }
        assert_eq!(winners, 1);
        assert!(
            s.extend_session_tokens(&id, 500).await.unwrap(),
            "ending is still active"
        );
        assert_eq!(
            s.transition(&id, SessionState::Ended, 40, None)
                .await
                .unwrap()
                .unwrap()
                .state,
            SessionState::Ended
        );
        assert!(
            s.transition(&id, SessionState::Failed, 41, Some("x"))
                .await
                .unwrap()
                .is_none(),
            "final"
        );
        assert!(!s.extend_session_tokens(&id, 900).await.unwrap());

        // A failure records why; a slot frees when a session ends.
        let failed = s
            .transition(
                &launched[1],
                SessionState::Failed,
                50,
                Some("target refused"),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(failed.failure.as_deref(), Some("target refused"));
        let mut n = new(Some(3));
        n.user_id = &u.id;
        assert!(matches!(
            s.launch_session(&n, 60).await.unwrap(),
            Launch::Launched(_)
        ));
        assert!(matches!(
            s.launch_session(&n, 61).await.unwrap(),
            Launch::Launched(_)
        ));
        assert!(matches!(
            s.launch_session(&n, 62).await.unwrap(),
            Launch::LimitReached { active: 3 }
        ));

        let filter = SessionFilter {
            user_id: Some(&u.id),
            active_only: true,
            before: None,
        };
        assert_eq!(s.list_sessions(&filter, 100).await.unwrap().len(), 3);
        let all = SessionFilter::default();
        assert_eq!(s.list_sessions(&all, 100).await.unwrap().len(), 5);
        let counts = s.count_sessions_by_state().await.unwrap();
        assert!(
            counts.contains(&(SessionState::Ended, 1))
                && counts.contains(&(SessionState::Failed, 1))
        );
        assert_eq!(
            s.stale_sessions(SessionState::Starting, 1000)
                .await
                .unwrap()
                .len(),
            3
        );
    }
);

both!(
    api_tokens_are_scoped_revocable_and_expire,
    |db: Ctx| async move {
        let s = &db.store;
        let u = s.create_user("dave", "h", Role::User, 1).await.unwrap();
        let t = s
            .create_api_token(&u.id, "ci", "hash1", &["sessions".into()], Some(1000), 10)
            .await
            .unwrap();
        let (who, tok) = s.api_token_login("hash1", 20).await.unwrap().unwrap();
        assert_eq!(
            (who.id.as_str(), tok.scopes.as_slice()),
            (u.id.as_str(), ["sessions".to_owned()].as_slice())
        );
        assert_eq!(
            s.api_token(&t.id).await.unwrap().unwrap().last_used_at,
            Some(20)
        );
        assert!(
            s.api_token_login("hash1", 1000).await.unwrap().is_none(),
            "expired"
        );
        assert!(s.api_token_login("nope", 20).await.unwrap().is_none());
        assert!(s.revoke_api_token(&t.id, 30).await.unwrap());
        assert!(!s.revoke_api_token(&t.id, 31).await.unwrap());
        assert!(
            s.api_token_login("hash1", 20).await.unwrap().is_none(),
            "revoked"
        );
        assert_eq!(
            s.list_api_tokens(Some(&u.id), None, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        // Keyset pages, newest first, ties on created_at broken by id.
        for (i, at) in [40, 50, 50, 60].into_iter().enumerate() {
            s.create_api_token(&u.id, "n", &format!("h{i}"), &["read".into()], None, at)
                .await
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut cursor: Option<(i64, String)> = None;
        loop {
            let page = s
                .list_api_tokens(
                    Some(&u.id),
                    cursor.as_ref().map(|(at, id)| (*at, id.as_str())),
                    2,
                )
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            cursor = Some((last.created_at, last.id.clone()));
            seen.extend(page.iter().map(|t| (t.created_at, t.id.clone())));
        }
        assert_eq!(seen.len(), 5, "every token exactly once: {seen:?}");
        let mut sorted = seen.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(seen, sorted, "newest first");
        assert!(
            s.list_api_tokens(Some("nobody"), None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
);

both!(
    the_audit_log_is_append_only_and_queryable,
    |db: Ctx| async move {
        let s = &db.store;
        for (i, (actor, action, ok)) in [
            ("alice", "auth.login", true),
            ("mallory", "auth.login", false),
            ("alice", "session.launch", true),
            ("alice", "session.end", true),
        ]
        .into_iter()
        .enumerate()
        {
            s.append_audit(
                &NewAudit {
                    actor_name: actor,
                    action,
                    source: Some("10.0.0.1"),
                    success: ok,
                    details: Some(serde_json::json!({"i": i})),
                    ..Default::default()
                },
                100 + i as i64,
            )
            .await
            .unwrap();
        }
        let all = s.query_audit(&AuditFilter::default(), 10).await.unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].action, "session.end", "newest first");
        let f = AuditFilter {
            action: Some("session."),
            ..Default::default()
        };
        assert_eq!(s.query_audit(&f, 10).await.unwrap().len(), 2);
        let f = AuditFilter {
            outcome: Some("failure"),
            ..Default::default()
        };
        assert_eq!(
            s.query_audit(&f, 10).await.unwrap()[0].actor_name,
            "mallory"
        );
        let f = AuditFilter {
            actor: Some("alice"),
            since: Some(102),
            ..Default::default()
        };
        assert_eq!(s.query_audit(&f, 10).await.unwrap().len(), 2);
        let page1 = s.query_audit(&AuditFilter::default(), 2).await.unwrap();
        let last = page1.last().unwrap();
        let f = AuditFilter {
            before: Some((last.at, &last.id)),
            ..Default::default()
        };
        let page2 = s.query_audit(&f, 10).await.unwrap();
        assert_eq!(page2.len(), 2);
        assert!(page2.iter().all(|e| !page1.contains(e)));
        // The database itself refuses to change history.
        assert!(
            sqlx::query("UPDATE audit_log SET actor_name = 'x'")
                .execute(s.pool())
                .await
                .is_err()
        );
        assert!(
            sqlx::query("DELETE FROM audit_log")
                .execute(s.pool())
                .await
                .is_err()
        );
        assert_eq!(
            s.query_audit(&AuditFilter::default(), 10)
                .await
                .unwrap()
                .len(),
            4
        );
    }
);

both!(failed_logins_back_off, |db: Ctx| async move {
    let s = &db.store;
    let rule = ThrottleRule {
        free_failures: 2,
        base_lock_ms: 1000,
        max_lock_ms: 60_000,
        window_ms: 10_000,
    };
    assert_eq!(
        s.record_login_failure("user:x", &rule, 100).await.unwrap(),
        (1, 0)
    );
    assert_eq!(
        s.record_login_failure("user:x", &rule, 101).await.unwrap(),
        (2, 0)
    );
    assert_eq!(
        s.record_login_failure("user:x", &rule, 102).await.unwrap(),
        (3, 1102)
    );
    assert_eq!(
        s.record_login_failure("user:x", &rule, 103).await.unwrap(),
        (4, 2103)
    );
    assert_eq!(
        s.locked_until(&["user:x", "ip:y"], 200).await.unwrap(),
        2103
    );
    assert_eq!(
        s.locked_until(&["user:x"], 5000).await.unwrap(),
        0,
        "lock over"
    );
    // Outside the window the count starts again.
    assert_eq!(
        s.record_login_failure("user:x", &rule, 50_000)
            .await
            .unwrap(),
        (1, 0)
    );
    s.clear_login_failures("user:x").await.unwrap();
    assert_eq!(
        s.record_login_failure("user:x", &rule, 50_001)
            .await
            .unwrap(),
        (1, 0)
    );
});

mod agents;
mod revocations;
mod zones;
