//! Revocations and their numbered list, on both databases.

use super::*;

both!(
    revocations_are_numbered_moved_on_and_pruned,
    |db: Ctx| async move {
        let s = &db.store;
        assert_eq!(s.revocations(0).await.unwrap(), (0, Vec::new()));
        let a = s
            .revoke(RevocationKind::Session, "sess-1", 1_000, 10_000)
            .await
            .unwrap();
        let b = s
            .revoke(RevocationKind::User, "user-1", 2_000, 5_000)
            .await
            .unwrap();
        assert_eq!((a, b), (1, 2));
        let (seq, list) = s.revocations(3_000).await.unwrap();
        assert_eq!(seq, 2);
        assert_eq!(
            list.iter()
                .map(|r| (r.kind, r.subject.as_str(), r.seq))
                .collect::<Vec<_>>(),
            vec![
                (RevocationKind::Session, "sess-1", 1),
                (RevocationKind::User, "user-1", 2)
            ]
        );
        // Revoking again moves the times on and bumps the number.
        let c = s
            .revoke(RevocationKind::User, "user-1", 6_000, 20_000)
            .await
            .unwrap();
        assert_eq!(c, 3);
        let (_, list) = s.revocations(12_000).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].revoked_at, 6_000);
        // Past their end, rows are not listed and can be deleted; the
        // number stays.
        assert_eq!(s.prune_revocations(12_000).await.unwrap(), 1);
        assert_eq!(s.revocations(12_000).await.unwrap().0, 3);
        // Concurrent revocations each get their own number.
        let (x, y) = tokio::join!(
            s.revoke(RevocationKind::Token, "t-1", 7_000, 30_000),
            s.revoke(RevocationKind::Token, "t-2", 7_000, 30_000)
        );
        let mut got = vec![x.unwrap(), y.unwrap()];
        got.sort_unstable();
        assert_eq!(got, vec![4, 5]);
    }
);
