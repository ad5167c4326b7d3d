//! Workspaces (credentials encrypted at rest) and the groups that grant them, on both databases.

use super::*;

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
