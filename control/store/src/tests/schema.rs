//! Migrations, on both databases.

use super::*;

both!(
    migrations_are_idempotent_and_data_survives_reopen,
    |db: Ctx| async move {
        db.store
            .create_user("alice", "hash", Role::Admin, 1)
            .await
            .unwrap();
        let url = db.url.clone();
        drop(db.store);
        let again = Store::open(&url, 2).await.unwrap();
        assert_eq!(again.count_users().await.unwrap(), 1);
        assert!(matches!(
            Store::open("mysql://x", 1).await,
            Err(StoreError::UnsupportedUrl)
        ));
    }
);
