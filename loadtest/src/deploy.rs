//! A deployment to measure: one we start (`oriel up` on SQLite or on a
//! PostgreSQL cluster of its own) or one given by URL.

use anyhow::bail;
use oriel_testkit::{ChildGuard, Postgres, ScratchDir};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The database of a deployment we start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Database {
    Sqlite,
    Postgres,
}

#[derive(Debug)]
pub struct Deployment {
    pub base: String,
    pub ca: PathBuf,
    pub admin_password: String,
    /// The `oriel` process, when we started it.
    pub oriel: Option<ChildGuard>,
    /// Our PostgreSQL cluster and its data directory (to find its processes).
    pub postgres: Option<(Postgres, String)>,
    _dir: Option<ScratchDir>,
}

const ADMIN_PASSWORD: &str = "loadtest-admin-password";

impl Deployment {
    /// Starts `oriel up` from `binary` on `database`.
    pub async fn start(binary: &PathBuf, database: Database) -> anyhow::Result<Deployment> {
        Self::start_with(binary, database, &[]).await
    }

    /// Like [`Self::start`], with extra environment (`ORIEL_…` overrides).
    pub async fn start_with(
        binary: &PathBuf,
        database: Database,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Deployment> {
        let dir = ScratchDir::new("oriel-loadtest")?;
        let data = dir.path().join("data");
        let postgres = match database {
            Database::Sqlite => None,
            Database::Postgres => {
                let pg = Postgres::start().await?;
                let url = pg.database("oriel").await?;
                let data_dir = pg.scratch_dir().path().display().to_string();
                Some((pg, url, data_dir))
            }
        };
        let mut cmd = Command::new(binary);
        cmd.arg("up")
            .arg("--data-dir")
            .arg(&data)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .env("ORIEL_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn,oriel=info");
        if let Some((_, url, _)) = &postgres {
            cmd.env("ORIEL_CONTROL__DATABASE", url);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut guard = ChildGuard::spawn(cmd, "oriel", &dir)?;
        let started = Instant::now();
        let base = loop {
            if let Some(b) = guard.log().lines().find_map(|l| {
                l.split(" ready at ")
                    .nth(1)
                    .map(|u| u.trim().trim_end_matches('/').to_owned())
            }) {
                break b;
            }
            if !guard.is_running() || started.elapsed() > Duration::from_secs(60) {
                bail!("oriel did not start:\n{}", guard.log_tail(30));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        Ok(Deployment {
            base,
            ca: data.join("tls/tls.crt"),
            admin_password: ADMIN_PASSWORD.to_owned(),
            oriel: Some(guard),
            postgres: postgres.map(|(pg, _, dir)| (pg, dir)),
            _dir: Some(dir),
        })
    }

    /// A deployment somebody else runs.
    pub fn existing(
        base: String,
        ca: PathBuf,
        admin_password: String,
    ) -> anyhow::Result<Deployment> {
        if !ca.exists() {
            bail!("no CA file {}", ca.display());
        }
        Ok(Deployment {
            base,
            ca,
            admin_password,
            oriel: None,
            postgres: None,
            _dir: None,
        })
    }

    /// CPU seconds used so far by our `oriel` and our PostgreSQL processes.
    pub fn cpu(&self) -> (Option<f64>, Option<f64>) {
        let oriel = self
            .oriel
            .as_ref()
            .and_then(|g| crate::stats::process_cpu(g.id()));
        let pg = self
            .postgres
            .as_ref()
            .map(|(_, dir)| crate::stats::process_tree_cpu(dir));
        (oriel, pg)
    }

    pub fn describe(&self) -> String {
        match (&self.oriel, &self.postgres) {
            (Some(_), Some(_)) => "oriel up on PostgreSQL (started here)".to_owned(),
            (Some(_), None) => "oriel up on SQLite (started here)".to_owned(),
            _ => format!("{} (given)", self.base),
        }
    }
}

/// The `oriel` binary to start: `given`, else the one beside this program.
pub fn oriel_binary(given: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    let binary = match given {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("oriel"),
    };
    if !binary.exists() {
        bail!(
            "no oriel binary at {} (build it with `cargo build --release -p oriel`, or pass --oriel)",
            binary.display()
        );
    }
    Ok(binary)
}
