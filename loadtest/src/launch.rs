//! `oriel-loadtest launch`: how fast the control plane logs users in and
//! launches sessions, many at once.
//!
//! Set-up (not measured): an admin creates a VNC workspace with credentials
//! (so every launch seals them for the gateway, as a real one does), a group
//! granting it, and one user per worker. Then, measured:
//! 1. logins: every user logs in, `login_concurrency` at a time (argon2id
//!    dominates: this is CPU-bound by design);
//! 2. bursts: `bursts` times, all workers launch at the same instant and
//!    wait for each other: latency at exactly `concurrency` concurrent
//!    launches;
//! 3. sustained: for `duration` (after `warmup`), every worker launches
//!    again as soon as its last launch answered: throughput, with latency
//!    at that concurrency.
//!
//! A launch is `POST /api/v1/sessions`: authenticate the bearer token,
//! check the grant and compute the effective policy, record the session
//! under the per-user limit in one transaction, audit it, seal the
//! credentials and sign the token.

use crate::client::Client;
use crate::deploy::{Database, Deployment};
use crate::say;
use crate::stats::{Latencies, machine_cpu};
use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database of the deployment to start.
    #[arg(long, value_enum, default_value = "postgres")]
    database: Database,
    /// The `oriel` binary to start (default: next to this one).
    #[arg(long)]
    oriel: Option<PathBuf>,
    /// Measure a running deployment instead (`https://host:port`).
    #[arg(long, requires_all = ["ca", "admin_password"])]
    url: Option<String>,
    /// Its TLS certificate (PEM).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Its admin password.
    #[arg(long, env = "ORIEL_ADMIN_PASSWORD")]
    admin_password: Option<String>,
    /// Concurrent launches (one user per worker).
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// Logins at once.
    #[arg(long, default_value_t = 8)]
    login_concurrency: usize,
    /// Bursts of `concurrency` simultaneous launches.
    #[arg(long, default_value_t = 20)]
    bursts: usize,
    /// Sustained phase length.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Sustained phase warm-up (not counted).
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

const USER_PASSWORD: &str = "loadtest user password";

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.login_concurrency == 0 {
        bail!("concurrency must be at least 1");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let deployment = match &args.url {
        Some(url) => Deployment::existing(
            url.clone(),
            args.ca.clone().context("--ca")?,
            args.admin_password.clone().context("--admin-password")?,
        )?,
        None => {
            let binary = crate::deploy::oriel_binary(args.oriel.as_ref())?;
            rt.block_on(Deployment::start(&binary, args.database))?
        }
    };
    let result = measure(&args, &deployment);
    drop(deployment);
    drop(rt);
    let report = result?;
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
    }
    Ok(())
}

fn measure(args: &Args, d: &Deployment) -> anyhow::Result<Value> {
    let mut admin = Client::new(&d.base, &d.ca)?;
    if admin.login("admin", &d.admin_password)? != 200 {
        bail!("admin login failed");
    }
    let run = format!("lt{}", std::process::id());
    let ws = admin.expect(
        "POST",
        "/api/v1/workspaces",
        Some(&json!({
            "name": format!("{run}-desk"),
            "kind": "vnc",
            "target": {"host": "127.0.0.1", "port": 5999},
            "credentials": {"password": "vnc-secret"},
            "policy": {"clipboard_up": true, "idle_timeout_secs": 900},
        })),
        201,
    )?;
    let ws_id = ws["id"].as_str().context("workspace id")?.to_owned();
    let mut user_ids = Vec::new();
    for i in 0..args.concurrency {
        let u = admin.expect(
            "POST",
            "/api/v1/users",
            Some(&json!({"username": format!("{run}-u{i:03}"), "password": USER_PASSWORD})),
            201,
        )?;
        user_ids.push(u["id"].as_str().context("user id")?.to_owned());
    }
    admin.expect(
        "POST",
        "/api/v1/groups",
        Some(&json!({
            "name": format!("{run}-group"),
            "members": user_ids,
            "workspaces": [ws_id],
            "settings": {"policy": {"clipboard_down": true}},
        })),
        201,
    )?;
    say(&format!(
        "deployment: {}; {} users, workspace {}",
        d.describe(),
        args.concurrency,
        ws["name"]
    ));

    // 1. Logins.
    let clients: Vec<Client> = (0..args.concurrency)
        .map(|_| Client::new(&d.base, &d.ca))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let cpu0 = (d.cpu(), machine_cpu());
    let logins = run_pool(args.login_concurrency, clients, |i, c| {
        let t = Instant::now();
        let status = c.login(&format!("{run}-u{i:03}"), USER_PASSWORD)?;
        if status != 200 {
            bail!("login of user {i}: {status}");
        }
        Ok(t.elapsed())
    })?;
    let login_secs = started.elapsed().as_secs_f64();
    let login_cpu = cpu_delta(cpu0, (d.cpu(), machine_cpu()), login_secs);
    let (clients, login_lat) = logins;
    let login_report = json!({
        "concurrency": args.login_concurrency,
        "latency": login_lat.summary(),
        "per_second": login_lat.len() as f64 / login_secs,
        "cpu": login_cpu,
    });
    say(&format!(
        "logins      {:>5} at {:>3} at once: {:>7.1}/s  p50 {:>7.1} ms  p99 {:>7.1} ms",
        login_lat.len(),
        args.login_concurrency,
        login_lat.len() as f64 / login_secs,
        ms(login_lat.percentile(50.0)),
        ms(login_lat.percentile(99.0)),
    ));

    let launch = |c: &Client| -> anyhow::Result<Duration> {
        let t = Instant::now();
        let (status, body) = c.call(
            "POST",
            "/api/v1/sessions",
            Some(&json!({"workspace": ws_id})),
        )?;
        let took = t.elapsed();
        if status != 201 || !body["token"].as_str().is_some_and(|t| t.starts_with("s1.")) {
            bail!("launch: {status} {body}");
        }
        Ok(took)
    };

    // 2. Bursts: everyone at once, `bursts` times.
    let n = clients.len();
    let barrier = Arc::new(Barrier::new(n));
    let started = Instant::now();
    let cpu0 = (d.cpu(), machine_cpu());
    let burst_lat = std::thread::scope(|s| -> anyhow::Result<Latencies> {
        let handles: Vec<_> = clients
            .iter()
            .map(|c| {
                let barrier = barrier.clone();
                s.spawn(move || -> anyhow::Result<Latencies> {
                    let mut l = Latencies::default();
                    for _ in 0..args.bursts {
                        barrier.wait();
                        l.push(launch(c)?);
                    }
                    Ok(l)
                })
            })
            .collect();
        let mut all = Latencies::default();
        for h in handles {
            all.extend(h.join().map_err(|_| anyhow::anyhow!("worker panicked"))??);
        }
        Ok(all)
    })?;
    let burst_secs = started.elapsed().as_secs_f64();
    let burst_report = json!({
        "concurrency": n,
        "bursts": args.bursts,
        "latency": burst_lat.summary(),
        "cpu": cpu_delta(cpu0, (d.cpu(), machine_cpu()), burst_secs),
    });
    say(&format!(
        "launches    {:>5} in bursts of {n}: p50 {:>7.1} ms  p90 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
        burst_lat.len(),
        ms(burst_lat.percentile(50.0)),
        ms(burst_lat.percentile(90.0)),
        ms(burst_lat.percentile(99.0)),
        ms(burst_lat.percentile(100.0)),
    ));

    // 3. Sustained: closed loop for `duration` after `warmup`.
    let begin = Instant::now() + args.warmup;
    let end = begin + args.duration;
    let mut measured_cpu = None;
    let sustained = std::thread::scope(|s| -> anyhow::Result<(Latencies, usize)> {
        let handles: Vec<_> = clients
            .iter()
            .map(|c| {
                s.spawn(move || -> anyhow::Result<(Latencies, usize)> {
                    let mut l = Latencies::default();
                    let mut errors = 0;
                    loop {
                        let t0 = Instant::now();
                        if t0 >= end {
                            return Ok((l, errors));
                        }
                        match launch(c) {
                            Ok(took) if t0 >= begin && t0 + took <= end => l.push(took),
                            Ok(_) => {}
                            Err(_) => errors += 1,
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(begin.saturating_duration_since(Instant::now()));
        let cpu0 = (d.cpu(), machine_cpu());
        std::thread::sleep(end.saturating_duration_since(Instant::now()));
        measured_cpu = Some(cpu_delta(
            cpu0,
            (d.cpu(), machine_cpu()),
            args.duration.as_secs_f64(),
        ));
        let mut all = Latencies::default();
        let mut errors = 0;
        for h in handles {
            let (l, e) = h.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
            all.extend(l);
            errors += e;
        }
        Ok((all, errors))
    })?;
    let (sus_lat, errors) = sustained;
    let per_second = sus_lat.len() as f64 / args.duration.as_secs_f64();
    say(&format!(
        "launches    {:>5} sustained at {n}: {:>7.1}/s  p50 {:>7.1} ms  p99 {:>7.1} ms  errors {errors}",
        sus_lat.len(),
        per_second,
        ms(sus_lat.percentile(50.0)),
        ms(sus_lat.percentile(99.0)),
    ));
    let cpu = measured_cpu.unwrap_or(Value::Null);
    say(&format!("cpu (sustained, cores busy): {cpu}"));
    Ok(json!({
        "deployment": d.describe(),
        "logins": login_report,
        "bursts": burst_report,
        "sustained": {
            "concurrency": n,
            "seconds": args.duration.as_secs_f64(),
            "launches": sus_lat.len(),
            "per_second": per_second,
            "errors": errors,
            "latency": sus_lat.summary(),
            "cpu": cpu,
        },
    }))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

type CpuSample = ((Option<f64>, Option<f64>), Option<(f64, f64)>);

/// Cores kept busy over `secs`: by oriel, by PostgreSQL, by the machine.
fn cpu_delta(a: CpuSample, b: CpuSample, secs: f64) -> Value {
    let per = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => json!(((y - x) / secs * 100.0).round() / 100.0),
        _ => Value::Null,
    };
    let machine = match (a.1, b.1) {
        (Some((busy0, _)), Some((busy1, _))) => {
            json!(((busy1 - busy0) / secs * 100.0).round() / 100.0)
        }
        _ => Value::Null,
    };
    json!({
        "oriel": per(a.0.0, b.0.0),
        "postgres": per(a.0.1, b.0.1),
        "machine": machine,
    })
}

/// Runs `f` once per client, `width` at a time; returns the clients back
/// with the latencies.
fn run_pool<F>(width: usize, clients: Vec<Client>, f: F) -> anyhow::Result<(Vec<Client>, Latencies)>
where
    F: Fn(usize, &mut Client) -> anyhow::Result<Duration> + Sync,
{
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Client>> =
        clients.into_iter().map(std::sync::Mutex::new).collect();
    let lat = std::thread::scope(|s| -> anyhow::Result<Latencies> {
        let handles: Vec<_> = (0..width)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<Latencies> {
                    let mut l = Latencies::default();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(slot) = slots.get(i) else {
                            return Ok(l);
                        };
                        let mut c = slot.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                        l.push(f(i, &mut c)?);
                    }
                })
            })
            .collect();
        let mut all = Latencies::default();
        for h in handles {
            all.extend(h.join().map_err(|_| anyhow::anyhow!("worker panicked"))??);
        }
        Ok(all)
    })?;
    let clients = slots
        .into_iter()
        .map(|m| m.into_inner().map_err(|_| anyhow::anyhow!("poisoned")))
        .collect::<Result<_, _>>()?;
    Ok((clients, lat))
}
