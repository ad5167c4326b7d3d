//! Store tests, each run twice: on SQLite (a real file) and on a real
//! PostgreSQL cluster started for the test.

use super::*;
use oriel_core_token::{Credentials, Policy};
use std::future::Future;

/// A store on a fresh database of the given backend, and what keeps it alive.
struct Db {
    store: Store,
    url: String,
    _sqlite: Option<tempfile::TempDir>,
    _pg: Option<oriel_testkit::Postgres>,
}

async fn open(backend: Backend) -> Db {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/oriel.db", dir.path().display());
            Db {
                store: Store::open(&url, 8).await.unwrap(),
                url,
                _sqlite: Some(dir),
                _pg: None,
            }
        }
        Backend::Postgres => {
            let pg = oriel_testkit::Postgres::start().await.unwrap();
            let url = pg.database("oriel").await.unwrap();
            Db {
                store: Store::open(&url, 8).await.unwrap(),
                url,
                _sqlite: None,
                _pg: Some(pg),
            }
        }
    }
}

/// What a test body gets: the store and its URL.
struct Ctx {
    store: Store,
    url: String,
}

/// Runs the test body against one backend. The database's guards (temp dir,
/// PostgreSQL server) stay here, alive until the body is done: an `async
/// move` body would capture only the fields it uses.
async fn on<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = open(backend).await;
    body(Ctx {
        store: db.store.clone(),
        url: db.url.clone(),
    })
    .await;
    drop(db);
}

macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                on(Backend::Sqlite, $body).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                on(Backend::Postgres, $body).await;
            }
        }
    };
}

fn key() -> DataKey {
    DataKey::from_bytes(&[9; 32]).unwrap()
}

fn workspace(name: &str) -> NewWorkspace {
    NewWorkspace {
        name: name.into(),
        kind: "vnc".into(),
        host: "127.0.0.1".into(),
        port: 5901,
        policy: Policy::default(),
        spec: serde_json::json!({}),
        identity: None,
    }
}

mod agents;
mod audit;
mod identities;
mod recordings;
mod revocations;
mod schema;
mod sessions;
mod shares;
mod tokens;
mod users;
mod workspaces;
mod zones;
