//! Recordings: add, the repeated upload refused, filters and paging,
//! verdict updates, retention, on both databases.

use super::*;

fn rec(id: &str, session: &str, user: &str, ws: &str, started: i64) -> NewRecording {
    RecordingRecord {
        id: id.into(),
        session_id: session.into(),
        file_name: format!("{started}000.orec"),
        workspace_id: Some(ws.into()),
        workspace_name: format!("name-{ws}"),
        user_id: user.into(),
        username: format!("name-{user}"),
        kind: "vnc".into(),
        gateway: "gw-1".into(),
        started_at: started,
        ended_at: started + 500,
        bytes: 1234,
        sha256: "ab".repeat(32),
        verdict: RecordingVerdict::Complete,
        verdict_detail: String::new(),
        path: format!("{id}.orec"),
        retain_until: None,
        created_at: started + 600,
    }
}

both!(
    recordings_are_listed_filtered_paged_and_expired,
    |db: Ctx| async move {
        let s = &db.store;
        let a = rec("a", "s1", "u1", "w1", 1_000);
        let b = rec("b", "s1", "u1", "w1", 2_000);
        let c = RecordingRecord {
            retain_until: Some(5_000),
            ..rec("c", "s2", "u2", "w2", 3_000)
        };
        for r in [&a, &b, &c] {
            s.add_recording(r).await.unwrap();
        }
        // The same file of the same session again: refused.
        let again = RecordingRecord {
            id: "d".into(),
            ..a.clone()
        };
        assert!(matches!(
            s.add_recording(&again).await,
            Err(StoreError::Conflict("recording"))
        ));
        assert_eq!(
            s.recording_by_file("s1", &a.file_name).await.unwrap(),
            Some(a.clone())
        );
        assert_eq!(s.recording("b").await.unwrap(), Some(b.clone()));
        assert_eq!(s.recording("nope").await.unwrap(), None);

        let ids = |v: Vec<RecordingRecord>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
        let all = RecordingFilter::default();
        assert_eq!(
            ids(s.list_recordings(&all, 10).await.unwrap()),
            ["c", "b", "a"]
        );
        let by_user = RecordingFilter {
            user_id: Some("u1"),
            ..Default::default()
        };
        assert_eq!(
            ids(s.list_recordings(&by_user, 10).await.unwrap()),
            ["b", "a"]
        );
        let by_ws = RecordingFilter {
            workspace_id: Some("w2"),
            ..Default::default()
        };
        assert_eq!(ids(s.list_recordings(&by_ws, 10).await.unwrap()), ["c"]);
        let by_session = RecordingFilter {
            session_id: Some("s1"),
            before: Some((2_000, "b")),
            ..Default::default()
        };
        assert_eq!(
            ids(s.list_recordings(&by_session, 10).await.unwrap()),
            ["a"]
        );
        assert_eq!(ids(s.list_recordings(&all, 1).await.unwrap()), ["c"]);

        s.set_recording_verdict("a", RecordingVerdict::Tampered, "changed at byte 9")
            .await
            .unwrap();
        let a2 = s.recording("a").await.unwrap().unwrap();
        assert_eq!(
            (a2.verdict, a2.verdict_detail.as_str()),
            (RecordingVerdict::Tampered, "changed at byte 9")
        );

        // Retention: only rows with a deadline past now.
        assert!(s.expired_recordings(5_000, 10).await.unwrap().is_empty());
        assert_eq!(ids(s.expired_recordings(5_001, 10).await.unwrap()), ["c"]);
        assert!(s.delete_recording("c").await.unwrap());
        assert!(!s.delete_recording("c").await.unwrap());
        assert!(s.expired_recordings(i64::MAX, 10).await.unwrap().is_empty());
    }
);

both!(
    recordings_are_found_by_kind_time_and_text,
    |db: Ctx| async move {
        let s = &db.store;
        // a: vnc 1000-1500, b: ssh 2000-2500, c: ssh 3000-3500.
        let a = rec("a", "s1", "u1", "w1", 1_000);
        let b = RecordingRecord {
            kind: "ssh".into(),
            ..rec("b", "s2", "u1", "w1", 2_000)
        };
        let c = RecordingRecord {
            kind: "ssh".into(),
            ..rec("c", "s3", "u1", "w1", 3_000)
        };
        for r in [&a, &b, &c] {
            s.add_recording(r).await.unwrap();
        }
        s.set_recording_text("b", "$ sudo systemctl restart Nginx\n100% done_ok\n")
            .await
            .unwrap();
        s.set_recording_text("c", "$ ls\nÉTÉ.txt\n").await.unwrap();
        // Set again: replaced.
        s.set_recording_text("c", "$ ls\nÉTÉ.txt\nnotes\n")
            .await
            .unwrap();

        let ids = |v: Vec<RecordingRecord>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
        let find = |f: RecordingFilter<'static>| async move {
            ids(s.list_recordings(&f, 10).await.unwrap())
        };
        assert_eq!(
            find(RecordingFilter {
                kind: Some("ssh"),
                ..Default::default()
            })
            .await,
            ["c", "b"]
        );
        assert_eq!(
            find(RecordingFilter {
                kind: Some("rdp"),
                ..Default::default()
            })
            .await,
            Vec::<String>::new()
        );
        // Time: those running in [1600, 3000): b only (a ended at 1500,
        // c starts at 3000).
        let window = RecordingFilter {
            from: Some(1_600),
            to: Some(3_000),
            ..Default::default()
        };
        assert_eq!(find(window).await, ["b"]);
        // A recording still running at `from` is in.
        let from = RecordingFilter {
            from: Some(1_500),
            ..Default::default()
        };
        assert_eq!(find(from).await, ["c", "b", "a"]);
        let to = RecordingFilter {
            to: Some(2_001),
            ..Default::default()
        };
        assert_eq!(find(to).await, ["b", "a"]);
        // Text: any case, anywhere; LIKE's own characters are literal.
        for (q, want) in [
            ("nginx", vec!["b"]),
            ("SYSTEMCTL restart", vec!["b"]),
            ("été", vec!["c"]),
            ("notes", vec!["c"]),
            ("$ ", vec!["c", "b"]),
            ("100%", vec!["b"]),
            ("0% d", vec!["b"]),
            ("%", vec!["b"]),
            ("done_ok", vec!["b"]),
            ("done%ok", vec![]),
            ("one_o", vec!["b"]),
            ("systemctl_restart", vec![]),
            ("\\", vec![]),
            ("not there", vec![]),
        ] {
            let f = RecordingFilter {
                text: Some(q),
                ..Default::default()
            };
            assert_eq!(ids(s.list_recordings(&f, 10).await.unwrap()), want, "{q:?}");
        }
        // Text and kind and time together.
        let f = RecordingFilter {
            text: Some("ls"),
            kind: Some("ssh"),
            from: Some(3_400),
            ..Default::default()
        };
        assert_eq!(ids(s.list_recordings(&f, 10).await.unwrap()), ["c"]);
        // The text goes with its recording.
        assert!(s.delete_recording("b").await.unwrap());
        let f = RecordingFilter {
            text: Some("nginx"),
            ..Default::default()
        };
        assert!(s.list_recordings(&f, 10).await.unwrap().is_empty());
    }
);
