//! The measured phases: bulk throughput over one or many streams, echo
//! round trips, and idle streams' memory.

use super::client::{self, Ws};
use super::far::{FarServers, Mode};
use super::{Direction, Echo, Idle, PathRun, Rate};
use crate::say;
use crate::stats::process_cpu;
use anyhow::bail;
use bytes::Bytes;
use futures_util::StreamExt as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_rustls::TlsConnector;

/// What every phase needs.
pub(super) struct Env {
    pub(super) far: FarServers,
    pub(super) tls: TlsConnector,
    pub(super) direction: Direction,
    pub(super) message_size: usize,
    pub(super) warmup: Duration,
    pub(super) duration: Duration,
}

/// Opens `n` streams, 64 handshakes at a time; a line every 1000.
async fn connect_many(env: &Env, run: &PathRun, n: usize) -> (Vec<Ws>, Option<String>) {
    let mut out = Vec::with_capacity(n);
    let mut first_error = None;
    let mut attempts = futures_util::stream::iter(0..n)
        .map(|_| client::connect(&env.tls, &run.url, run.subprotocol, run.hello()))
        .buffer_unordered(64);
    let mut done = 0usize;
    while let Some(r) = attempts.next().await {
        done += 1;
        match r {
            Ok(ws) => out.push(ws),
            Err(e) => {
                first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
        if n >= 2000 && done.is_multiple_of(1000) {
            say(&format!("  {}: {done}/{n} connected", run.kind.name()));
        }
    }
    (out, first_error)
}

/// Bulk data over `streams` streams for the warm-up and the window.
pub(super) async fn throughput(env: &Env, run: &PathRun, streams: usize) -> anyhow::Result<Rate> {
    let (conns, err) = connect_many(env, run, streams).await;
    if let Some(e) = err {
        bail!("{} of {streams} streams opened: {e}", conns.len());
    }
    let received = Arc::new(AtomicU64::new(0));
    let ended = Arc::new(AtomicU64::new(0));
    let payload = Bytes::from(vec![0x3c_u8; env.message_size]);
    let mut tasks = tokio::task::JoinSet::new();
    for mut ws in conns {
        let mode = match env.direction {
            Direction::Down => Mode::Source(env.message_size as u32),
            Direction::Up => Mode::Sink,
        };
        client::start(&mut ws, mode).await?;
        let ended = Arc::clone(&ended);
        let received = Arc::clone(&received);
        let payload = payload.clone();
        let direction = env.direction;
        tasks.spawn(async move {
            let _ = match direction {
                Direction::Down => client::receive(ws, received).await,
                Direction::Up => client::send_forever(ws, payload).await,
            };
            ended.fetch_add(1, Ordering::Relaxed);
        });
    }
    let counted = |env: &Env| match env.direction {
        Direction::Down => received.load(Ordering::Relaxed),
        Direction::Up => env.far.counters.sunk.load(Ordering::Relaxed),
    };
    tokio::time::sleep(env.warmup).await;
    let me = std::process::id();
    let (b0, r0, g0, t0) = (
        counted(env),
        run.relay_cpu(),
        process_cpu(me),
        Instant::now(),
    );
    tokio::time::sleep(env.duration).await;
    let (b1, r1, g1, secs) = (
        counted(env),
        run.relay_cpu(),
        process_cpu(me),
        t0.elapsed().as_secs_f64(),
    );
    let ended_early = ended.load(Ordering::Relaxed);
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    if !env.far.wait_idle(Duration::from_secs(20)).await {
        say("  (far server connections still open 20 s after the phase)");
    }
    let cores = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some((b - a).max(0.0) / secs),
        _ => None,
    };
    if b1 == b0 {
        bail!("no bytes arrived during the window");
    }
    Ok(Rate {
        gbps: (b1 - b0) as f64 * 8.0 / secs / 1e9,
        relay_cores: cores(r0, r1),
        generator_cores: cores(g0, g1).unwrap_or(0.0),
        ended_early,
    })
}

/// Echo round trips on one stream (100 first, not counted).
pub(super) async fn echo(
    env: &Env,
    run: &PathRun,
    count: usize,
    size: usize,
) -> anyhow::Result<Echo> {
    let mut ws = client::connect(&env.tls, &run.url, run.subprotocol, run.hello()).await?;
    client::start(&mut ws, Mode::Echo).await?;
    let timeout = Duration::from_secs(5);
    client::echo_round_trips(&mut ws, 100, size, timeout).await?;
    let l = client::echo_round_trips(&mut ws, count, size, timeout).await?;
    drop(ws);
    env.far.wait_idle(Duration::from_secs(10)).await;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    Ok(Echo {
        p50_us: us(l.percentile(50.0)),
        p99_us: us(l.percentile(99.0)),
    })
}

/// Memory of the relay's process tree, `(Pss, Rss)` KiB.
fn tree_memory(pids: &[u32]) -> (u64, u64) {
    let field = |text: &str, name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .map(|t| (field(&t, "Pss:"), field(&t, "Rss:")))
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
}

/// `n` streams opened, each carrying one echo, then held idle.
pub(super) async fn idle(env: &Env, run: &PathRun, n: usize) -> anyhow::Result<Idle> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (pss0, rss0) = tree_memory(&run.relay_pids());
    say(&format!("idle {}: opening {n} streams", run.kind.name()));
    let t = Instant::now();
    let (mut conns, err) = connect_many(env, run, n).await;
    if let Some(e) = &err {
        say(&format!("  {}: some streams failed: {e}", run.kind.name()));
    }
    let mut working = Vec::with_capacity(conns.len());
    let mut checks = futures_util::stream::iter(conns.drain(..))
        .map(|mut ws| async move {
            client::start(&mut ws, Mode::Echo).await?;
            client::echo_round_trips(&mut ws, 1, 64, Duration::from_secs(30)).await?;
            anyhow::Ok(ws)
        })
        .buffer_unordered(256);
    while let Some(r) = checks.next().await {
        if let Ok(ws) = r {
            working.push(ws);
        }
    }
    drop(checks);
    let connect_secs = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (pss1, rss1) = tree_memory(&run.relay_pids());
    let opened = working.len();
    drop(working);
    if !env.far.wait_idle(Duration::from_secs(60)).await {
        say("  (far server connections still open 60 s after the idle phase)");
    }
    Ok(Idle {
        opened,
        wanted: n,
        pss_before_kib: pss0,
        pss_after_kib: pss1,
        rss_before_kib: rss0,
        rss_after_kib: rss1,
        connect_secs,
    })
}
