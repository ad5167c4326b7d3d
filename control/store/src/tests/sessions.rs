//! The session state machine and per-user limits under races, on both databases.

use super::*;

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
