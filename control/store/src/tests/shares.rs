//! Share links: created, listed, handed control, revoked into the
//! numbered revocation list, on both databases.

use super::*;

both!(
    share_links_are_stored_controlled_and_revoked,
    |db: Ctx| async move {
        let s = &db.store;
        let u = s.create_user("owner", "h", Role::User, 1).await.unwrap();
        let Launch::Launched(sid) = s
            .launch_session(
                &NewSession {
                    user_id: &u.id,
                    workspace_id: "w",
                    workspace_name: "desk",
                    state: SessionState::Starting,
                    token_expires_at: 100,
                    deadline: None,
                    source: None,
                    max_per_user: None,
                    placement: None,
                },
                10,
            )
            .await
            .unwrap()
        else {
            panic!("not launched")
        };
        let groups = vec!["g-1".to_owned(), "g-2".to_owned()];
        let new = |id, groups| NewShareLink {
            id,
            session_id: &sid,
            created_by: &u.id,
            created_by_name: "owner",
            control: false,
            groups,
            created_at: 20,
            expires_at: 1_000,
        };
        s.create_share_link(&new("link-a", None)).await.unwrap();
        s.create_share_link(&new("link-b", Some(&groups)))
            .await
            .unwrap();
        assert!(matches!(
            s.create_share_link(&new("link-a", None)).await,
            Err(StoreError::Conflict("share link"))
        ));
        let b = s.share_link("link-b").await.unwrap().unwrap();
        assert_eq!(b.groups.as_deref(), Some(&groups[..]));
        assert!(!b.control && b.revoked_at.is_none());
        assert_eq!(s.share_link("link-a").await.unwrap().unwrap().groups, None);
        assert_eq!(s.share_link("nope").await.unwrap(), None);
        let all = s.share_links_of_session(&sid).await.unwrap();
        assert_eq!(
            all.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
            ["link-a", "link-b"]
        );

        // Control is handed over and taken back.
        assert!(s.set_share_link_control("link-a", true).await.unwrap());
        assert!(s.share_link("link-a").await.unwrap().unwrap().control);
        assert!(!s.set_share_link_control("nope", true).await.unwrap());

        // Revoking bumps the revocation list's number once; again: nothing.
        let before = s.revocations(0).await.unwrap().0;
        let seq = s.revoke_share_link("link-a", 50, 5_000).await.unwrap();
        assert_eq!(seq, Some(before + 1));
        assert_eq!(
            s.revoke_share_link("link-a", 60, 6_000).await.unwrap(),
            None
        );
        assert_eq!(s.revoke_share_link("nope", 60, 6_000).await.unwrap(), None);
        assert_eq!(s.revocations(0).await.unwrap().0, before + 1);
        // A revoked link's control no longer changes.
        assert!(!s.set_share_link_control("link-a", false).await.unwrap());
        let a = s.share_link("link-a").await.unwrap().unwrap();
        assert_eq!((a.revoked_at, a.revoked_until), (Some(50), Some(5_000)));
        // Published until its end.
        let listed = s.revoked_share_links(4_999).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, "link-a");
        assert!(s.revoked_share_links(5_000).await.unwrap().is_empty());
    }
);
