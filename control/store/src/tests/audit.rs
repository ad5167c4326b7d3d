//! The append-only audit log, on both databases.

use super::*;

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
