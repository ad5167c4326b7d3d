//! Store tests on SQLite (a real file). The PostgreSQL runs of the same
//! tests come with the control-plane issue's PostgreSQL harness.

use super::*;
use oriel_core_token::{Credentials, Policy};

async fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/oriel.db", dir.path().display());
    (Store::open(&url, 4).await.unwrap(), dir)
}

fn key() -> DataKey {
    DataKey::from_bytes(&[9; 32]).unwrap()
}

#[tokio::test]
async fn migrations_are_idempotent_and_data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/oriel.db", dir.path().display());
    let s = Store::open(&url, 2).await.unwrap();
    s.create_user("alice", "hash", Role::Admin, 1)
        .await
        .unwrap();
    drop(s);
    let s = Store::open(&url, 2).await.unwrap();
    assert_eq!(s.count_users().await.unwrap(), 1);
    assert!(matches!(
        Store::open("mysql://x", 1).await,
        Err(StoreError::UnsupportedUrl)
    ));
}

#[tokio::test]
async fn users_are_unique_and_logins_expire() {
    let (s, _d) = store().await;
    let u = s.create_user("bob", "h", Role::User, 10).await.unwrap();
    assert!(matches!(
        s.create_user("bob", "h2", Role::User, 11).await,
        Err(StoreError::Conflict("user"))
    ));
    let rec = s.user_by_name("bob").await.unwrap().unwrap();
    assert_eq!(rec.user, u);
    assert_eq!(rec.password_hash, "h");
    assert!(!format!("{rec:?}").contains("password_hash: \"h\""));
    s.create_login("tokhash", &u.id, 100, 200, Some("127.0.0.1"))
        .await
        .unwrap();
    assert_eq!(s.login("tokhash", 150).await.unwrap().unwrap().user, u);
    assert!(s.login("tokhash", 200).await.unwrap().is_none());
    assert!(s.login("other", 150).await.unwrap().is_none());
    assert_eq!(s.purge_logins(300).await.unwrap(), 1);
}

#[tokio::test]
async fn workspaces_keep_credentials_encrypted() {
    let (s, dir) = store().await;
    let k = key();
    let new = NewWorkspace {
        name: "desk".into(),
        kind: "vnc".into(),
        host: "127.0.0.1".into(),
        port: 5901,
        policy: Policy::default(),
    };
    let creds = Credentials {
        username: None,
        password: Some("topsecret-pw".into()),
        private_key: None,
        domain: None,
    };
    let w = s.create_workspace(&new, Some(&creds), &k, 5).await.unwrap();
    assert_eq!(s.workspace(&w.id).await.unwrap().unwrap(), w);
    assert_eq!(s.workspace("desk").await.unwrap().unwrap().id, w.id);
    assert_eq!(w.credentials(&k).unwrap(), Some(creds.clone()));
    // Never in the database file in clear.
    drop(s);
    let bytes = std::fs::read(dir.path().join("oriel.db")).unwrap();
    let wal = std::fs::read(dir.path().join("oriel.db-wal")).unwrap_or_default();
    let hay = [bytes, wal].concat();
    assert!(!hay.windows(12).any(|w| w == b"topsecret-pw"));
    let s = Store::open(&format!("sqlite://{}/oriel.db", dir.path().display()), 2)
        .await
        .unwrap();
    assert!(matches!(
        s.create_workspace(&new, None, &k, 6).await,
        Err(StoreError::Conflict("workspace"))
    ));
    let mut changed = new.clone();
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
        s.update_workspace("nope", &changed, CredentialsUpdate::Keep, &k, 9)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(s.list_workspaces(None, 10).await.unwrap().len(), 1);
    assert!(
        s.list_workspaces(Some("desk"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.delete_workspace(&w.id).await.unwrap());
    assert!(!s.delete_workspace(&w.id).await.unwrap());
}

#[tokio::test]
async fn ending_a_session_is_atomic_under_concurrency() {
    let (s, _d) = store().await;
    let u = s.create_user("carol", "h", Role::User, 1).await.unwrap();
    let id = s
        .create_session(
            &NewSession {
                user_id: &u.id,
                workspace_id: "w",
                workspace_name: "desk",
                token_expires_at: 100,
            },
            10,
        )
        .await
        .unwrap();
    assert!(s.extend_session_tokens(&id, 500).await.unwrap());
    assert!(s.extend_session_tokens(&id, 200).await.unwrap());
    assert_eq!(s.session(&id).await.unwrap().unwrap().token_expires_at, 500);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            s.end_session(&id, 20 + i).await.unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
    let rec = s.session(&id).await.unwrap().unwrap();
    assert_eq!(rec.state, SessionState::Ended);
    assert_eq!(rec.username, "carol");
    assert!(!s.extend_session_tokens(&id, 900).await.unwrap());
    assert_eq!(
        s.list_sessions(Some(&u.id), None, 10).await.unwrap().len(),
        1
    );
    assert_eq!(
        s.list_sessions(Some("other"), None, 10)
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(s.list_sessions(None, Some(10), 10).await.unwrap().len(), 0);
}
