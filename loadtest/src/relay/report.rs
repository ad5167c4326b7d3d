//! The readable table, the ratios against nginx and the JSON document.

use super::host::Pinning;
use super::{Args, Direction, Echo, Idle, PathKind, PathRun, Rate};
use crate::say;
use crate::stats::{median, round};
use serde_json::{Value, json};

/// The median over rounds of `f`.
fn med<T: Copy>(rounds: &[Option<T>], f: impl Fn(&T) -> Option<f64>) -> Option<f64> {
    median(rounds.iter().flatten().filter_map(f).collect())
}

/// The median over rounds of `f(a) / f(b)`, rounds where both were measured.
fn ratio<T: Copy>(a: &[Option<T>], b: &[Option<T>], f: impl Fn(&T) -> Option<f64>) -> Option<f64> {
    median(
        a.iter()
            .zip(b)
            .filter_map(|(x, y)| {
                let (x, y) = (f(x.as_ref()?)?, f(y.as_ref()?)?);
                (y > 0.0).then_some(x / y)
            })
            .collect(),
    )
}

/// Added latency (p50 or p99 minus direct's, same round), µs.
fn added(run: &PathRun, direct: Option<&PathRun>, p99: bool) -> Vec<Option<f64>> {
    let pick = |e: &Echo| if p99 { e.p99_us } else { e.p50_us };
    run.rounds_echo
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let d = direct?.rounds_echo.get(i).copied().flatten()?;
            Some(pick(e.as_ref()?) - pick(&d))
        })
        .collect()
}

fn fmt(x: Option<f64>, digits: usize) -> String {
    x.map_or("-".to_owned(), |v| format!("{v:.digits$}"))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn report(
    args: &Args,
    runs: &[PathRun],
    skipped: &[(PathKind, String)],
    cpus: usize,
    pinning: Option<&Pinning>,
    nofile: u64,
    load_start: Option<[f64; 3]>,
    load_end: Option<[f64; 3]>,
    versions: serde_json::Map<String, Value>,
) -> Value {
    let find = |k: PathKind| runs.iter().find(|r| r.kind == k);
    let direct = find(PathKind::Direct);
    let nginx = find(PathKind::Nginx);
    let ident = |x: &f64| Some(*x);
    say("");
    say(&format!(
        "{:<11} {:>10} {:>6} {:>9} | {:>10} {:>6} {:>9} | {:>7} {:>7} {:>7} | {:>9} {:>9}",
        "path",
        "1 stream",
        "cores",
        "per core",
        format!("{} str.", args.streams),
        "cores",
        "per core",
        "echo p50",
        "p99",
        "+p50",
        "idle KiB",
        "streams"
    ));
    say(&format!(
        "{:<11} {:>10} {:>6} {:>9} | {:>10} {:>6} {:>9} | {:>7} {:>7} {:>7} | {:>9} {:>9}",
        "", "Gbit/s", "", "Gbit/s", "Gbit/s", "", "Gbit/s", "µs", "µs", "µs", "/stream", ""
    ));
    let mut summary = serde_json::Map::new();
    for run in runs {
        let one_gbps = med(&run.rounds_one, |r| Some(r.gbps));
        let one_cores = med(&run.rounds_one, |r| r.relay_cores);
        let one_pc = med(&run.rounds_one, Rate::per_core);
        let many_gbps = med(&run.rounds_many, |r| Some(r.gbps));
        let many_cores = med(&run.rounds_many, |r| r.relay_cores);
        let many_pc = med(&run.rounds_many, Rate::per_core);
        let p50 = med(&run.rounds_echo, |e| Some(e.p50_us));
        let p99 = med(&run.rounds_echo, |e| Some(e.p99_us));
        let add50 = median(added(run, direct, false).into_iter().flatten().collect());
        let add99 = median(added(run, direct, true).into_iter().flatten().collect());
        let idle_kib = run.idle.as_ref().and_then(Idle::kib_per_stream);
        let name = if run.kind == PathKind::Websockify {
            "websockify*"
        } else {
            run.kind.name()
        };
        say(&format!(
            "{:<11} {:>10} {:>6} {:>9} | {:>10} {:>6} {:>9} | {:>7} {:>7} {:>7} | {:>9} {:>9}",
            name,
            fmt(one_gbps, 2),
            fmt(one_cores, 2),
            fmt(one_pc, 2),
            fmt(many_gbps, 2),
            fmt(many_cores, 2),
            fmt(many_pc, 2),
            fmt(p50, 0),
            fmt(p99, 0),
            fmt(add50.filter(|_| run.kind != PathKind::Direct), 0),
            fmt(idle_kib, 1),
            run.idle.map_or("-".to_owned(), |i| i.opened.to_string()),
        ));
        let mut vs_nginx = Value::Null;
        if let Some(n) = nginx.filter(|_| run.kind != PathKind::Nginx) {
            let add_n = added(n, direct, false);
            let add_r = added(run, direct, false);
            vs_nginx = json!({
                "one_stream_gbit_per_s": ratio(&run.rounds_one, &n.rounds_one, |r| Some(r.gbps)).map(|x| round(x, 3)),
                "one_stream_gbit_per_s_per_core": ratio(&run.rounds_one, &n.rounds_one, Rate::per_core).map(|x| round(x, 3)),
                "many_streams_gbit_per_s": ratio(&run.rounds_many, &n.rounds_many, |r| Some(r.gbps)).map(|x| round(x, 3)),
                "many_streams_gbit_per_s_per_core": ratio(&run.rounds_many, &n.rounds_many, Rate::per_core).map(|x| round(x, 3)),
                "added_p50_latency": ratio(&add_r, &add_n, ident).filter(|_| run.kind != PathKind::Direct).map(|x| round(x, 3)),
                "idle_kib_per_stream": match (idle_kib, n.idle.as_ref().and_then(Idle::kib_per_stream)) {
                    (Some(a), Some(b)) if b > 0.0 => Some(round(a / b, 3)),
                    _ => None,
                },
            });
        }
        summary.insert(
            run.kind.name().into(),
            json!({
                "url": if run.kind == PathKind::Oriel { "wss://…/relay/rt1.…".to_owned() } else { run.url.clone() },
                "one_stream": {
                    "gbit_per_s": one_gbps.map(|x| round(x, 3)),
                    "relay_cores": one_cores.map(|x| round(x, 3)),
                    "gbit_per_s_per_relay_core": one_pc.map(|x| round(x, 3)),
                    "rounds": run.rounds_one.iter().map(|r| r.as_ref().map(Rate::json)).collect::<Vec<_>>(),
                },
                "many_streams": {
                    "streams": args.streams,
                    "gbit_per_s": many_gbps.map(|x| round(x, 3)),
                    "relay_cores": many_cores.map(|x| round(x, 3)),
                    "gbit_per_s_per_relay_core": many_pc.map(|x| round(x, 3)),
                    "rounds": run.rounds_many.iter().map(|r| r.as_ref().map(Rate::json)).collect::<Vec<_>>(),
                },
                "echo": {
                    "p50_us": p50.map(|x| round(x, 1)),
                    "p99_us": p99.map(|x| round(x, 1)),
                    "added_p50_us": add50.map(|x| round(x, 1)),
                    "added_p99_us": add99.map(|x| round(x, 1)),
                    "rounds": run.rounds_echo.iter().map(|e| e.map(|e| json!({"p50_us": round(e.p50_us, 1), "p99_us": round(e.p99_us, 1)}))).collect::<Vec<_>>(),
                },
                "idle": run.idle.map(|i| json!({
                    "streams": i.opened,
                    "wanted": i.wanted,
                    "kib_per_stream_pss": i.kib_per_stream().map(|x| round(x, 2)),
                    "pss_before_kib": i.pss_before_kib,
                    "pss_after_kib": i.pss_after_kib,
                    "rss_before_kib": i.rss_before_kib,
                    "rss_after_kib": i.rss_after_kib,
                    "connect_secs": round(i.connect_secs, 2),
                })),
                "ratio_vs_nginx": vs_nginx,
                "errors": run.errors,
            }),
        );
    }
    if runs.iter().any(|r| r.kind == PathKind::Websockify) {
        say(
            "* websockify relays WebSocket → plain TCP (re-framed byte stream), one process per connection: another shape",
        );
    }
    for (o, n) in [PathKind::Oriel, PathKind::Proxy]
        .into_iter()
        .filter_map(|k| Some((find(k)?, nginx?)))
    {
        let r = |a: &[Option<Rate>], b: &[Option<Rate>], f: fn(&Rate) -> Option<f64>| {
            fmt(ratio(a, b, f), 2)
        };
        say(&format!(
            "{} / nginx (median of per-round ratios): 1 stream ×{} (per core ×{}), {} streams ×{} (per core ×{}), added p50 latency ×{}, idle memory ×{}",
            o.kind.name(),
            r(&o.rounds_one, &n.rounds_one, |x| Some(x.gbps)),
            r(&o.rounds_one, &n.rounds_one, Rate::per_core),
            args.streams,
            r(&o.rounds_many, &n.rounds_many, |x| Some(x.gbps)),
            r(&o.rounds_many, &n.rounds_many, Rate::per_core),
            fmt(
                ratio(&added(o, direct, false), &added(n, direct, false), ident),
                2
            ),
            match (
                o.idle.and_then(|i| i.kib_per_stream()),
                n.idle.and_then(|i| i.kib_per_stream())
            ) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
                _ => "-".to_owned(),
            }
        ));
    }
    for run in runs {
        for e in &run.errors {
            say(&format!("error: {}: {e}", run.kind.name()));
        }
    }
    json!({
        "machine": {
            "cpus": cpus,
            "pinned": pinning.map(|p| json!({"relay_cpu": p.relay, "generator_cpus": p.generator})),
            "open_files_limit": nofile,
            "load_average_start": load_start,
            "load_average_end": load_end,
        },
        "settings": {
            "paths": args.paths.iter().map(|p| p.name()).collect::<Vec<_>>(),
            "direction": match args.direction { Direction::Down => "down", Direction::Up => "up" },
            "message_size": args.message_size,
            "streams": args.streams,
            "duration_s": args.duration.as_secs_f64(),
            "warmup_s": args.warmup.as_secs_f64(),
            "rounds": args.rounds,
            "echo_count": args.echo_count,
            "echo_size": args.echo_size,
            "idle": args.idle,
            "idle_asked": args.idle_wanted.unwrap_or(args.idle),
            "websockify_idle": args.websockify_idle,
            "nginx_workers": args.nginx_workers,
            "nginx_proxy_buffer_size": args.nginx_proxy_buffer_size,
        },
        "versions": versions,
        "skipped": skipped.iter().map(|(k, why)| json!({"path": k.name(), "why": why})).collect::<Vec<_>>(),
        "paths": summary,
    })
}
