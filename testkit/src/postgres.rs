//! A throw-away PostgreSQL cluster per test: `initdb` into a scratch
//! directory, `postgres` on a free loopback port, trust authentication,
//! stopped and removed when dropped. Run as the `postgres` user when the
//! test runs as root (PostgreSQL refuses to run as root).

use crate::process::{ChildGuard, ScratchDir, free_port, run_command, wait_until};
use anyhow::{Context as _, bail};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running PostgreSQL server.
#[derive(Debug)]
pub struct Postgres {
    guard: ChildGuard,
    port: u16,
    dir: ScratchDir,
}

fn is_root() -> bool {
    std::env::var("USER").is_ok_and(|u| u == "root")
        || Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command run as the `postgres` user when we are root.
fn as_postgres(program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ]);
        c.arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Postgres {
    /// Starts a fresh cluster and waits until it accepts connections.
    pub async fn start() -> anyhow::Result<Postgres> {
        let dir = ScratchDir::new("postgres")?;
        let data: PathBuf = dir.path().join("pgdata");
        std::fs::create_dir_all(&data)?;
        if is_root() {
            let out = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .output()?;
            if !out.status.success() {
                bail!("chown failed: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        let mut initdb = tokio::process::Command::from(as_postgres(&format!("{BIN}/initdb")));
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]);
        let out = run_command(initdb, Duration::from_secs(60)).await?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let mut last_error = None;
        for _ in 0..5 {
            let port = free_port()?;
            let mut cmd = as_postgres(&format!("{BIN}/postgres"));
            cmd.arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string(), "-k"])
                .arg(dir.path())
                .args([
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ]);
            let mut guard = ChildGuard::spawn(cmd, "postgres", &dir)?;
            let ready = wait_until(
                Duration::from_secs(20),
                "postgres to accept connections",
                || {
                    let running = guard.is_running();
                    async move {
                        !running
                            || tokio::net::TcpStream::connect(("127.0.0.1", port))
                                .await
                                .is_ok()
                    }
                },
            )
            .await;
            if ready.is_ok() && guard.is_running() {
                let pg = Postgres { guard, port, dir };
                // The server accepts TCP before it accepts logins: wait for a real query.
                pg.wait_ready().await?;
                return Ok(pg);
            }
            last_error = Some(guard.log_tail(20));
        }
        bail!(
            "postgres did not start:\n{}",
            last_error.unwrap_or_default()
        )
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let port = self.port;
        wait_until(
            Duration::from_secs(20),
            "postgres to accept queries",
            || async move {
                let mut c = tokio::process::Command::new(format!("{BIN}/pg_isready"));
                c.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"]);
                run_command(c, Duration::from_secs(5))
                    .await
                    .is_ok_and(|o| o.status.success())
            },
        )
        .await
        .with_context(|| self.guard.log_tail(20))
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs a client tool of the server (`createdb`, `pg_dump`) against it
    /// on database `db`; its standard output, or an error with its stderr.
    async fn client_tool(
        &self,
        tool: &str,
        db: &str,
        timeout: Duration,
    ) -> anyhow::Result<Vec<u8>> {
        let mut c = tokio::process::Command::new(format!("{BIN}/{tool}"));
        c.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
            db,
        ]);
        let out = run_command(c, timeout).await?;
        if !out.status.success() {
            bail!(
                "{tool} {db} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(out.stdout)
    }

    /// Creates a database (unique per test, to share one server) and returns its URL.
    pub async fn database(&self, name: &str) -> anyhow::Result<String> {
        self.client_tool("createdb", name, Duration::from_secs(20))
            .await?;
        Ok(self.url(name))
    }

    /// A plain-text dump (`pg_dump`) of a database: its schema and every
    /// row, for tests that look for what must not be stored in clear.
    pub async fn dump(&self, db: &str) -> anyhow::Result<Vec<u8>> {
        self.client_tool("pg_dump", db, Duration::from_secs(30))
            .await
    }

    /// URL of a database on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// The server's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        self.guard.log_tail(lines)
    }

    /// The scratch directory (data and log).
    pub fn scratch_dir(&self) -> &ScratchDir {
        &self.dir
    }
}
