//! The comparison relays, started here from generated configurations in a
//! temporary directory, on 127.0.0.1 only, and stopped by their process id:
//!
//! - nginx (`nginx-light`): TLS termination and `proxy_pass https://` to
//!   the far WebSocket server, with the WebSocket upgrade headers,
//!   `proxy_buffering off`, one worker process (`--nginx-workers`), the
//!   upstream certificate verified like the relay pins it;
//! - websockify: TLS WebSocket in, plain TCP out to the far TCP server (a
//!   different shape: it re-frames a byte stream, one process per
//!   connection).

use super::far::FarServers;
use anyhow::bail;
use oriel_testkit::{ChildGuard, ScratchDir, free_port, wait_for_port};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A relay process of ours: its root process id and port.
#[derive(Debug)]
pub struct PeerRelay {
    pub port: u16,
    pub guard: ChildGuard,
}

impl PeerRelay {
    /// The root process id (nginx's master, websockify's listener).
    pub fn pid(&self) -> u32 {
        self.guard.id()
    }
}

/// Where a program is, if installed (`PATH`, then the usual sbin folders).
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// `program`, prefixed with `taskset -c CPUS` when pinning.
fn command(program: &Path, cpus: Option<&str>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpus).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// Settings of the nginx peer.
#[derive(Debug, Clone)]
pub struct NginxOptions {
    pub workers: usize,
    /// `proxy_buffer_size` (nginx's per-direction buffer of an upgraded
    /// connection); `None`: nginx's default (one memory page).
    pub proxy_buffer_size: Option<String>,
    pub max_connections: usize,
    /// The open files limit nginx inherits (its workers may not exceed it).
    pub nofile: u64,
}

/// The nginx configuration: TLS on 127.0.0.1:`port`, every path proxied to
/// the far WebSocket server.
pub fn nginx_config(dir: &Path, port: u16, far: &FarServers, opt: &NginxOptions) -> String {
    let d = dir.display();
    let mut c = String::new();
    let _ = writeln!(c, "daemon off;");
    let _ = writeln!(c, "master_process on;");
    let _ = writeln!(c, "worker_processes {};", opt.workers);
    let rlimit = (opt.max_connections as u64 + 1024).min(opt.nofile);
    let _ = writeln!(c, "worker_rlimit_nofile {rlimit};");
    let _ = writeln!(c, "pid {d}/nginx.pid;");
    let _ = writeln!(c, "error_log {d}/error.log warn;");
    let _ = writeln!(
        c,
        "events {{ worker_connections {}; }}",
        opt.max_connections + 512
    );
    let _ = writeln!(c, "http {{");
    let _ = writeln!(c, "  access_log off;");
    for t in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        let _ = writeln!(c, "  {t}_temp_path {d}/tmp_{t};");
    }
    let _ = writeln!(c, "  server {{");
    let _ = writeln!(c, "    listen 127.0.0.1:{port} ssl;");
    let _ = writeln!(c, "    ssl_certificate {};", far.cert_pem.display());
    let _ = writeln!(c, "    ssl_certificate_key {};", far.key_pem.display());
    let _ = writeln!(c, "    location / {{");
    let _ = writeln!(c, "      proxy_pass https://127.0.0.1:{};", far.ws.port());
    let _ = writeln!(c, "      proxy_http_version 1.1;");
    let _ = writeln!(c, "      proxy_set_header Upgrade $http_upgrade;");
    let _ = writeln!(c, "      proxy_set_header Connection \"upgrade\";");
    let _ = writeln!(c, "      proxy_set_header Host $host;");
    let _ = writeln!(c, "      proxy_buffering off;");
    if let Some(size) = &opt.proxy_buffer_size {
        let _ = writeln!(c, "      proxy_buffer_size {size};");
    }
    let _ = writeln!(c, "      proxy_ssl_verify on;");
    let _ = writeln!(
        c,
        "      proxy_ssl_trusted_certificate {};",
        far.cert_pem.display()
    );
    let _ = writeln!(c, "      proxy_ssl_name localhost;");
    let _ = writeln!(c, "      proxy_read_timeout 1h;");
    let _ = writeln!(c, "      proxy_send_timeout 1h;");
    let _ = writeln!(c, "    }}");
    let _ = writeln!(c, "  }}");
    let _ = writeln!(c, "}}");
    c
}

/// Starts nginx from a generated configuration in `dir`.
pub async fn start_nginx(
    binary: &Path,
    scratch: &ScratchDir,
    far: &FarServers,
    opt: &NginxOptions,
    cpus: Option<&str>,
) -> anyhow::Result<PeerRelay> {
    let dir = scratch.path().join("nginx");
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, nginx_config(&dir, port, far, opt))?;
    let mut cmd = command(binary, cpus);
    cmd.arg("-p")
        .arg(&dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf);
    let mut guard = ChildGuard::spawn(cmd, "nginx", scratch)?;
    ready(&mut guard, port, &dir.join("error.log")).await?;
    Ok(PeerRelay { port, guard })
}

/// Starts websockify: TLS WebSocket on a free port, plain TCP to the far
/// TCP server.
pub async fn start_websockify(
    binary: &Path,
    scratch: &ScratchDir,
    far: &FarServers,
    cpus: Option<&str>,
) -> anyhow::Result<PeerRelay> {
    let port = free_port()?;
    let mut cmd = command(binary, cpus);
    cmd.arg("--cert")
        .arg(&far.cert_pem)
        .arg("--key")
        .arg(&far.key_pem)
        .arg("--ssl-only")
        .arg(format!("127.0.0.1:{port}"))
        .arg(far.tcp.to_string());
    let mut guard = ChildGuard::spawn(cmd, "websockify", scratch)?;
    let log = guard.log_path().to_owned();
    ready(&mut guard, port, &log).await?;
    Ok(PeerRelay { port, guard })
}

async fn ready(guard: &mut ChildGuard, port: u16, log: &Path) -> anyhow::Result<()> {
    let waited = wait_for_port(port, Duration::from_secs(15)).await;
    if waited.is_err() || !guard.is_running() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "{} did not start on 127.0.0.1:{port}:\n{}\n{}",
            guard.name(),
            tail.join("\n"),
            guard.log_tail(15)
        );
    }
    Ok(())
}
