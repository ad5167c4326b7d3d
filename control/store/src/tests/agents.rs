//! Agents and the placement of container sessions, on both databases.

use super::*;

fn agent_reg(id: &str, zone: &str, max: i64, memory_mb: i64) -> AgentRegistration {
    AgentRegistration {
        id: id.into(),
        zone: zone.into(),
        labels: "{}".into(),
        max_sessions: max,
        millicpus: 2000,
        memory_mb,
        gateway: None,
    }
}

/// A container session of `user_id` requested at `now`, to be placed.
fn requested(user_id: &str, now: i64, placement: Placement) -> NewSession<'_> {
    NewSession {
        user_id,
        workspace_id: "w",
        workspace_name: "desk",
        state: SessionState::Requested,
        token_expires_at: now + 1000,
        deadline: None,
        source: None,
        max_per_user: None,
        placement: Some(placement),
    }
}

both!(
    placements_never_exceed_capacity_under_races,
    |db: Ctx| async move {
        let s = db.store.clone();
        let now = 1_000_000;
        s.register_agent(&agent_reg("a", "z", 3, 100_000), now)
            .await
            .unwrap();
        s.register_agent(&agent_reg("b", "z", 2, 100_000), now)
            .await
            .unwrap();
        s.register_agent(&agent_reg("other-zone", "y", 50, 100_000), now)
            .await
            .unwrap();
        // Silent since long before `seen_since`: not live.
        s.register_agent(&agent_reg("silent", "z", 50, 100_000), 10)
            .await
            .unwrap();
        let placement = Placement {
            zone: "z".into(),
            fallback: Vec::new(),
            memory_mb: 512,
            seen_since: now - 30_000,
        };
        // 20 users launch at once (different users: only the agents' rows
        // serialise them): exactly 3 + 2 get a place.
        let mut tasks = Vec::new();
        for i in 0..20 {
            let s = s.clone();
            let p = placement.clone();
            let u = s
                .create_user(&format!("u{i}"), "h", Role::User, 1)
                .await
                .unwrap();
            tasks.push(tokio::spawn(async move {
                let n = requested(&u.id, now, p);
                s.launch_session(&n, now + i).await.unwrap()
            }));
        }
        let (mut placed, mut refused) = (Vec::new(), 0);
        for t in tasks {
            match t.await.unwrap() {
                Launch::Launched(id) => placed.push(id),
                Launch::NoCapacity { zone, agents } => {
                    assert_eq!((zone.as_str(), agents), ("z", 2));
                    refused += 1;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!((placed.len(), refused), (5, 15));
        let a = s.agent("a").await.unwrap().unwrap();
        let b = s.agent("b").await.unwrap().unwrap();
        assert_eq!((a.active_sessions, b.active_sessions), (3, 2));
        assert_eq!(a.reserved_memory_mb, 3 * 512);
        assert_eq!(s.agent("silent").await.unwrap().unwrap().active_sessions, 0);

        // What agent `a` should run, then one ready.
        let wanted = s.desired_sessions("a").await.unwrap();
        assert_eq!(wanted.len(), 3);
        assert!(wanted.iter().all(|w| !w.launched));
        let target = SessionTarget {
            host: "172.30.0.2".into(),
            port: 5900,
            sealed_password: "sealed".into(),
        };
        let first = &wanted[0].id;
        assert!(
            s.session_ready(first, "b", &target, now + 50)
                .await
                .unwrap()
                .is_none(),
            "not b's"
        );
        let ready = s
            .session_ready(first, "a", &target, now + 50)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ready.state, SessionState::Starting);
        assert_eq!(ready.target.as_ref(), Some(&target));
        assert!(
            s.session_ready(first, "a", &target, now + 51)
                .await
                .unwrap()
                .is_none(),
            "once"
        );
        assert!(
            s.desired_sessions("a")
                .await
                .unwrap()
                .iter()
                .any(|w| w.id == *first && w.launched)
        );

        // Memory counts too: an agent with room for one 512 MiB session.
        s.register_agent(&agent_reg("small", "m", 10, 700), now)
            .await
            .unwrap();
        let u = s.create_user("mem", "h", Role::User, 1).await.unwrap();
        let n = requested(
            &u.id,
            now,
            Placement {
                zone: "m".into(),
                ..placement.clone()
            },
        );
        assert!(matches!(
            s.launch_session(&n, now).await.unwrap(),
            Launch::Launched(_)
        ));
        assert!(matches!(
            s.launch_session(&n, now).await.unwrap(),
            Launch::NoCapacity { .. }
        ));
        // Where the zone allows it, a full zone falls back to another —
        // and the user's own zone is still preferred when it has room.
        let elsewhere = Placement {
            zone: "m".into(),
            fallback: vec!["y".into()],
            ..placement.clone()
        };
        let Launch::Launched(id) = s
            .launch_session(&requested(&u.id, now, elsewhere.clone()), now)
            .await
            .unwrap()
        else {
            panic!("no fallback placement");
        };
        assert_eq!(
            s.session(&id).await.unwrap().unwrap().agent_id.as_deref(),
            Some("other-zone")
        );
        s.register_agent(&agent_reg("spare", "q", 100, 100_000), now)
            .await
            .unwrap();
        let home = Placement {
            zone: "y".into(),
            // Emptier than the user's zone, still not chosen.
            fallback: vec!["q".into()],
            ..placement.clone()
        };
        let Launch::Launched(id) = s
            .launch_session(&requested(&u.id, now, home), now)
            .await
            .unwrap()
        else {
            panic!("not placed at home");
        };
        assert_eq!(
            s.session(&id).await.unwrap().unwrap().agent_id.as_deref(),
            Some("other-zone")
        );

        // Silent agents are lost once; their sessions are listed to fail.
        assert!(s.agent_seen("a", now + 100).await.unwrap());
        assert!(!s.agent_seen("nobody", now + 100).await.unwrap());
        let lost = s.lose_agents(now + 50).await.unwrap();
        assert_eq!(
            lost,
            vec![
                "b".to_owned(),
                "other-zone".to_owned(),
                "silent".to_owned(),
                "small".to_owned(),
                "spare".to_owned()
            ]
        );
        assert!(s.lose_agents(now + 50).await.unwrap().is_empty());
        assert_eq!(s.sessions_on_agent("b").await.unwrap().len(), 2);
        assert_eq!(s.agent("b").await.unwrap().unwrap().state, "lost");
        // A heartbeat brings it back.
        assert!(s.agent_seen("b", now + 200).await.unwrap());
        assert_eq!(s.agent("b").await.unwrap().unwrap().state, "online");
        assert_eq!(s.list_agents("", 10).await.unwrap().len(), 6);
        assert_eq!(s.list_agents("b", 10).await.unwrap().len(), 4);
    }
);
