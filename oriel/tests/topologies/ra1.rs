//! RA1: a single server, `oriel up` as a systemd service.

use super::support::{Api, blocking};
use super::{Project, RA1, built, call, frames_while_typing, healthy, names, open_stream, run};
use oriel_testkit::{ScratchDir, wait_until};
use serde_json::json;
use std::time::Duration;

const HOST_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../deploy/images/host/build.sh"
);
const DESKTOP_PASSWORD: &str = "ra1-desk";
const DB_PASSWORD: &str = "ra1-db-secret";

/// Runs a shell command on the RA1 host as root; its standard output.
fn on_host(project: &Project, script: &str) -> String {
    run(&mut project.compose(&["exec", "-T", "host", "sh", "-euc", script]))
}

/// The first admin password `oriel up` printed to the journal.
fn admin_password_from_journal(project: &Project) -> Option<String> {
    let journal = on_host(project, "journalctl -u oriel --no-pager -o cat");
    let line = journal
        .lines()
        .find(|l| l.contains("created the first admin user") && l.contains("password \""))?;
    let pw = line.split("password \"").nth(1)?.split('"').next()?;
    Some(pw.to_owned())
}

/// RA1 (`deploy/compose/ra1.yml`): a Debian host with systemd
/// (`deploy/images/host`) is installed as the unit file says
/// (`deploy/systemd/oriel.service` with its `ORIEL_CONFIG` line uncommented
/// and `/etc/oriel/oriel.toml`; on PostgreSQL also its `postgresql.conf`
/// drop-in and the database URL in `/etc/oriel/oriel.env`, mode 0600). The
/// unit passes `systemd-analyze verify`; the service starts under its
/// sandbox (dynamic user, read-only system); the admin logs in with the password from the journal, creates
/// a VNC workspace for the desktop beside the host, and a user's stream
/// carries frames. systemd restarts the service when it is killed, and a
/// restart keeps the state (same admin password, same workspace).
async fn single_server_under_systemd(postgres: bool) {
    let host_image = built(HOST_SCRIPT, &[]);
    let desktop = oriel_testkit::images::desktop_image().await.unwrap();
    let (name, net) = names(
        if postgres { "ra1pg" } else { "ra1" },
        5 + u32::from(postgres),
    );
    let project = Project {
        file: RA1,
        name,
        env: vec![
            ("RA1_NET".into(), net.clone()),
            ("RA1_VNC_PASSWORD".into(), DESKTOP_PASSWORD.into()),
            ("ORIEL_BIN".into(), env!("CARGO_BIN_EXE_oriel").into()),
            ("ORIEL_HOST_IMAGE".into(), host_image),
            ("ORIEL_DESKTOP_IMAGE".into(), desktop),
        ],
    };
    run(&mut project.compose(&["up", "-d"]));
    let booted = wait_until(Duration::from_secs(60), "systemd", || {
        let out = project
            .compose(&["exec", "-T", "host", "systemctl", "is-system-running"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        async move { out == "running" || out == "degraded" }
    })
    .await;
    assert!(
        booted.is_ok(),
        "systemd did not boot:\n{}",
        project.logs("host")
    );

    // The operator's installation, as the unit's header tells it.
    on_host(
        &project,
        "install -m 0755 /mnt/oriel/oriel /usr/local/bin/oriel
         cp /mnt/deploy/systemd/oriel.service /etc/systemd/system/
         systemd-analyze verify /etc/systemd/system/oriel.service",
    );
    // A configuration file with its public address (the certificate it
    // makes names it), the unit's ORIEL_CONFIG line uncommented as its
    // comment says; readable by the service's dynamic user.
    let base = format!("https://{net}.10:8443");
    on_host(
        &project,
        &format!(
            "install -d -m 0755 /etc/oriel
             printf '[http]\\npublic_url = \"{base}\"\\n' > /etc/oriel/oriel.toml
             chmod 0644 /etc/oriel/oriel.toml
             sed -i 's|^# Environment=ORIEL_CONFIG=|Environment=ORIEL_CONFIG=|' /etc/systemd/system/oriel.service
             grep -q '^Environment=ORIEL_CONFIG=/etc/oriel/oriel.toml' /etc/systemd/system/oriel.service"
        ),
    );
    if postgres {
        on_host(
            &project,
            &format!(
                "systemctl enable --now postgresql
                 runuser -u postgres -- psql -qc \"CREATE ROLE oriel LOGIN PASSWORD '{DB_PASSWORD}'\"
                 runuser -u postgres -- createdb -O oriel oriel
                 mkdir -p /etc/systemd/system/oriel.service.d
                 cp /mnt/deploy/systemd/postgresql.conf /etc/systemd/system/oriel.service.d/
                 umask 077
                 echo 'ORIEL_CONTROL__DATABASE=postgres://oriel:{DB_PASSWORD}@127.0.0.1/oriel' > /etc/oriel/oriel.env"
            ),
        );
    }
    on_host(
        &project,
        "systemctl daemon-reload && systemctl enable --now oriel",
    );

    // The certificate it made on its first start, as an operator copies it.
    let dir = ScratchDir::new("ra1").unwrap();
    let cert = dir.path().join("tls.crt");
    let copied = wait_until(Duration::from_secs(60), "the certificate", || {
        let pem = project
            .compose(&["exec", "-T", "host", "cat", "/var/lib/oriel/tls/tls.crt"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| o.stdout);
        let ok = pem.is_some_and(|pem| std::fs::write(&cert, pem).is_ok());
        async move { ok }
    })
    .await;
    assert!(
        copied.is_ok(),
        "no certificate:\n{}",
        on_host(
            &project,
            "systemctl status oriel --no-pager -l || true; journalctl -u oriel --no-pager | tail -30"
        )
    );
    healthy(&project, "host", &base, cert.clone()).await;
    let password =
        admin_password_from_journal(&project).expect("the admin password in the journal");
    on_host(&project, "systemctl is-active oriel");

    let mut admin = Api::new(&base, &cert);
    let login_pw = password.clone();
    let admin = blocking(move || {
        assert_eq!(admin.login("admin", &login_pw).unwrap().status, 200);
        admin
    })
    .await;
    call(
        &admin,
        "POST",
        "/api/v1/workspaces",
        Some(json!({
            "name": "lan-desk",
            "kind": "vnc",
            "target": {"host": format!("{net}.40"), "port": 5900},
            "credentials": {"password": DESKTOP_PASSWORD},
        })),
    )
    .await;
    let launched = call(
        &admin,
        "POST",
        "/api/v1/sessions",
        Some(json!({"workspace": "lan-desk"})),
    )
    .await;
    let mut v = open_stream(&launched, &cert, &base).await;
    assert!(frames_while_typing(&mut v, 3).await > 0, "no frames");
    drop(v);

    if postgres {
        // The state is in PostgreSQL, not in a SQLite file beside it.
        let users = on_host(
            &project,
            "runuser -u postgres -- psql -d oriel -tAc 'SELECT count(*) FROM users'",
        );
        assert_eq!(users.trim(), "1", "users in PostgreSQL");
        let files = on_host(&project, "ls /var/lib/oriel");
        assert!(!files.contains("oriel.db"), "a SQLite file too: {files}");
    }

    // Killed: systemd starts it again (Restart=on-failure), state kept.
    on_host(&project, "systemctl kill -s KILL oriel");
    let restarted = wait_until(Duration::from_secs(60), "the restart", || {
        let n = project
            .compose(&[
                "exec",
                "-T",
                "host",
                "systemctl",
                "show",
                "-p",
                "NRestarts",
                "--value",
                "oriel",
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        async move { n.parse::<u32>().is_ok_and(|n| n >= 1) }
    })
    .await;
    assert!(
        restarted.is_ok(),
        "not restarted:\n{}",
        project.logs("host")
    );
    healthy(&project, "host", &base, cert.clone()).await;
    let mut again = Api::new(&base, &cert);
    let workspaces = blocking(move || {
        assert_eq!(again.login("admin", &password).unwrap().status, 200);
        again.call("GET", "/api/v1/workspaces", None, &[]).unwrap()
    })
    .await;
    assert!(
        workspaces.body.to_string().contains("lan-desk"),
        "{workspaces:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ra1_single_server_under_systemd_on_sqlite() {
    single_server_under_systemd(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ra1_single_server_under_systemd_on_postgresql() {
    single_server_under_systemd(true).await;
}
