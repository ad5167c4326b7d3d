//! API tokens, on both databases.

use super::*;

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
