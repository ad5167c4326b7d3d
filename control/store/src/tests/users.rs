//! Users, login sessions, second factors and login throttling, on both databases.

use super::*;

both!(users_logins_and_second_factor, |db: Ctx| async move {
    let s = &db.store;
    let u = s.create_user("bob", "h", Role::User, 10).await.unwrap();
    assert!(matches!(
        s.create_user("bob", "h2", Role::User, 11).await,
        Err(StoreError::Conflict("user"))
    ));
    let rec = s.user_by_name("bob").await.unwrap().unwrap();
    assert_eq!(rec.user, u);
    assert_eq!(rec.password_hash, "h");
    assert!(!format!("{rec:?}").contains("\"h\""));

    s.create_login(
        "tok",
        &u.id,
        100,
        200,
        Some("127.0.0.1"),
        LoginStage::TotpEnroll,
    )
    .await
    .unwrap();
    let l = s.login("tok", 150).await.unwrap().unwrap();
    assert_eq!(
        (l.user.id.as_str(), l.stage),
        (u.id.as_str(), LoginStage::TotpEnroll)
    );
    s.complete_login("tok").await.unwrap();
    assert_eq!(
        s.login("tok", 150).await.unwrap().unwrap().stage,
        LoginStage::Full
    );
    assert!(s.login("tok", 200).await.unwrap().is_none(), "expired");
    assert_eq!(s.purge_logins(300).await.unwrap(), 1);

    s.set_totp(&u.id, Some("sealed"), false, 20).await.unwrap();
    let rec = s.user(&u.id).await.unwrap().unwrap();
    assert!(!rec.user.totp_enabled, "not confirmed yet");
    assert_eq!(rec.sealed_totp.as_deref(), Some("sealed"));
    s.set_totp(&u.id, Some("sealed"), true, 21).await.unwrap();
    assert!(s.user(&u.id).await.unwrap().unwrap().user.totp_enabled);
    s.replace_recovery_codes(&u.id, &["a".into(), "b".into()])
        .await
        .unwrap();
    assert!(s.use_recovery_code(&u.id, "a", 30).await.unwrap());
    assert!(
        !s.use_recovery_code(&u.id, "a", 31).await.unwrap(),
        "single use"
    );
    assert!(!s.use_recovery_code(&u.id, "zz", 31).await.unwrap());
    assert_eq!(s.recovery_codes_left(&u.id).await.unwrap(), 1);

    let updated = s
        .update_user(&u.id, Role::Auditor, true, 40)
        .await
        .unwrap()
        .unwrap();
    assert!(updated.disabled);
    s.create_login("tok2", &u.id, 100, 1000, None, LoginStage::Full)
        .await
        .unwrap();
    assert!(
        s.login("tok2", 150).await.unwrap().is_none(),
        "disabled users are logged out"
    );
    assert_eq!(s.count_active_admins().await.unwrap(), 0);

    assert!(s.delete_user(&u.id).await.unwrap());
});

both!(failed_logins_back_off, |db: Ctx| async move {
    let s = &db.store;
    let rule = ThrottleRule {
        free_failures: 2,
        base_lock_ms: 1000,
        max_lock_ms: 60_000,
        window_ms: 10_000,
    };
    assert_eq!(
        s.record_login_failure("user:x", &rule, 100).await.unwrap(),
        (1, 0)
    );
    assert_eq!(
        s.record_login_failure("user:x", &rule, 101).await.unwrap(),
        (2, 0)
    );
    assert_eq!(
        s.record_login_failure("user:x", &rule, 102).await.unwrap(),
        (3, 1102)
    );
    assert_eq!(
        s.record_login_failure("user:x", &rule, 103).await.unwrap(),
        (4, 2103)
    );
    assert_eq!(
        s.locked_until(&["user:x", "ip:y"], 200).await.unwrap(),
        2103
    );
    assert_eq!(
        s.locked_until(&["user:x"], 5000).await.unwrap(),
        0,
        "lock over"
    );
    // Outside the window the count starts again.
    assert_eq!(
        s.record_login_failure("user:x", &rule, 50_000)
            .await
            .unwrap(),
        (1, 0)
    );
    s.clear_login_failures("user:x").await.unwrap();
    assert_eq!(
        s.record_login_failure("user:x", &rule, 50_001)
            .await
            .unwrap(),
        (1, 0)
    );
});
