//! Running one end-to-end scenario on both storage backends: the embedded
//! SQLite and a PostgreSQL cluster started for the test.

use super::Oriel;
use oriel_testkit::{Postgres, ScratchDir};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// `oriel up` on a backend (its PostgreSQL cluster lives as long as it).
pub struct Deployment {
    pub oriel: Oriel,
    pub pg: Option<Postgres>,
}

impl Deployment {
    /// `oriel up` with extra environment on `backend`; on PostgreSQL it
    /// also checks that the process says which backend it opened.
    pub async fn start(backend: Backend, env: &[(&str, &str)]) -> Deployment {
        let dir = ScratchDir::new("oriel").unwrap();
        let data = dir.path().join("data");
        Self::start_in(backend, env, dir, data).await
    }

    /// Like [`Deployment::start`] with a data directory the test prepared.
    pub async fn start_in(
        backend: Backend,
        env: &[(&str, &str)],
        dir: ScratchDir,
        data: PathBuf,
    ) -> Deployment {
        match backend {
            Backend::Sqlite => Deployment {
                oriel: Oriel::start_in("up", &[], env, dir, data).await.unwrap(),
                pg: None,
            },
            Backend::Postgres => {
                let pg = Postgres::start().await.unwrap();
                let url = pg.database("oriel").await.unwrap();
                let mut env = env.to_vec();
                env.push(("ORIEL_CONTROL__DATABASE", &url));
                let oriel = Oriel::start_in("up", &[], &env, dir, data).await.unwrap();
                assert!(
                    oriel
                        .guard
                        .log()
                        .to_lowercase()
                        .contains("backend=postgres"),
                    "oriel did not say it uses PostgreSQL:\n{}",
                    oriel.log_tail(20)
                );
                Deployment {
                    oriel,
                    pg: Some(pg),
                }
            }
        }
    }
}

impl Deployment {
    /// An API client logged in as the initial administrator.
    pub fn admin(&self) -> super::Api {
        let mut api = self.oriel.api();
        api.login_admin().unwrap();
        api
    }
}

impl std::ops::Deref for Deployment {
    type Target = Oriel;
    fn deref(&self) -> &Oriel {
        &self.oriel
    }
}

/// Runs each named scenario (`async fn name(backend: Backend)`) as two
/// tests, `name::sqlite` and `name::postgres`.
#[allow(unused_macros)]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::support::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::support::Backend::Postgres).await
            }
        }
    )*};
}
