//! Zones, on both databases.

use super::*;

both!(
    zones_are_stored_and_their_members_counted,
    |db: Ctx| async move {
        let s = &db.store;
        let names = |zs: Vec<ZoneRecord>| zs.into_iter().map(|z| z.name).collect::<Vec<_>>();
        assert_eq!(names(s.zones().await.unwrap()), ["default"]);
        let mut eu = ZoneRecord {
            name: "eu_west".into(),
            description: "Europe".into(),
            fallback: true,
            proxy_url: Some("https://proxy.eu".into()),
            connection_proxy: Some(ConnectionProxy {
                id: "gw-1".into(),
                url: "https://gw.eu".into(),
                cert_sha256: "ab".repeat(32),
                sealing_key: "k".into(),
            }),
            created_at: 5,
            updated_at: 5,
        };
        s.create_zone(&eu).await.unwrap();
        assert!(matches!(
            s.create_zone(&eu).await,
            Err(StoreError::Conflict("zone"))
        ));
        assert_eq!(s.zone("eu_west").await.unwrap().unwrap(), eu);
        eu.fallback = false;
        eu.connection_proxy = None;
        eu.updated_at = 9;
        assert!(s.update_zone(&eu).await.unwrap());
        assert_eq!(s.zone("eu_west").await.unwrap().unwrap(), eu);
        // A group naming it counts; one naming a zone whose name it matches
        // with `_` as a wildcard does not.
        assert_eq!(s.zone_members("eu_west").await.unwrap(), (0, 0));
        s.create_group("g1", "", &serde_json::json!({"zone": "euXwest"}), 1)
            .await
            .unwrap();
        assert_eq!(s.zone_members("eu_west").await.unwrap(), (0, 0));
        s.create_group("g2", "", &serde_json::json!({"zone": "eu_west"}), 1)
            .await
            .unwrap();
        assert_eq!(s.zone_members("eu_west").await.unwrap(), (0, 1));
        assert!(s.delete_zone("eu_west").await.unwrap());
        assert!(!s.delete_zone("eu_west").await.unwrap());
        assert_eq!(names(s.zones().await.unwrap()), ["default"]);
    }
);
