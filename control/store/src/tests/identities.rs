//! Users vouched for by an OpenID provider and their one-use login flows, on both databases.

use super::*;

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
