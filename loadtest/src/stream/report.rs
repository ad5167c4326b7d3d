//! What a `stream` run measured, as JSON, a table, a progress line and charts.

use super::Config;
use super::fidelity::{Sample, Settle, psnr_json};
use super::plot;
use crate::live::spread;
use crate::stats::Latencies;
use crate::stats::{median, round};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// One reading of every counter.
#[derive(Debug, Clone)]
pub struct Tick {
    pub at: Instant,
    /// Wall clock, µs since the Unix epoch.
    pub unix_us: u64,
    /// `oriel`'s CPU seconds so far.
    pub oriel_cpu: f64,
    pub rss_mib: f64,
    /// CPU seconds so far of the VNC servers and of the workloads.
    pub targets: Option<(f64, f64)>,
    /// The machine's busy and total CPU seconds so far.
    pub machine: Option<(f64, f64)>,
    /// This process's CPU seconds so far (the viewers decode every tile).
    pub own: Option<f64>,
    /// Frames, bytes and WebP images of each viewer so far.
    pub viewers: Vec<(u64, u64, u64)>,
}

/// Everything a run measured.
#[derive(Debug)]
pub struct Measured {
    pub config: Config,
    /// Session index and viewer index (within the session) of each viewer;
    /// the per-viewer vectors below are in this order.
    pub viewers: Vec<(usize, usize)>,
    /// The target (X display or address) of each viewer's session.
    pub session_targets: Vec<String>,
    /// The gateway's `oriel_gateway_tiles_total` by encoding at the start
    /// and at the end of the window (`None` if `/metrics` failed).
    pub tiles: Option<(BTreeMap<String, f64>, BTreeMap<String, f64>)>,
    /// Readings once a second over the window; the first and last bound it.
    pub ticks: Vec<Tick>,
    /// Frame latencies (µs) of each viewer within the window.
    pub latencies: Vec<Vec<i64>>,
    pub samples: Vec<Sample>,
    /// One per viewer when the targets were started here.
    pub settles: Vec<Option<Settle>>,
    pub errors: Vec<String>,
    pub rss_idle_mib: f64,
    pub load_start: Option<[f64; 3]>,
    pub load_end: Option<[f64; 3]>,
    pub deployment: String,
    pub targets: String,
}

/// Rates between two ticks: per viewer (frames/s, bytes/s).
fn rates(a: &Tick, b: &Tick) -> Vec<(f64, f64)> {
    let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
    a.viewers
        .iter()
        .zip(&b.viewers)
        .map(|((f0, b0, _), (f1, b1, _))| {
            (
                f1.saturating_sub(*f0) as f64 / secs,
                b1.saturating_sub(*b0) as f64 / secs,
            )
        })
        .collect()
}

fn cores(a: f64, b: f64, secs: f64) -> f64 {
    (b - a) / secs.max(1e-9)
}

fn latency_summary(us: &[i64]) -> (Latencies, usize) {
    let mut l = Latencies::default();
    for x in us {
        l.push(Duration::from_micros((*x).max(0) as u64));
    }
    (l, us.iter().filter(|x| **x < 0).count())
}

fn ms(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1000.0, 2)
}

/// Prints a progress line (on stderr, so the report on stdout stays clean).
pub fn progress(ticks: &[Tick], duration: Duration, viewers: usize) {
    let (Some(first), Some(last)) = (ticks.first(), ticks.last()) else {
        return;
    };
    let prev = &ticks[ticks.len().saturating_sub(6)];
    let r = rates(prev, last);
    let secs = last.at.duration_since(prev.at).as_secs_f64();
    let fps = r.iter().map(|x| x.0).sum::<f64>() / viewers.max(1) as f64;
    let mbit = r.iter().map(|x| x.1).sum::<f64>() * 8.0 / 1e6;
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "  {:>4.0}/{} s: {fps:.1} fps per viewer, {mbit:.2} Mbit/s in total, oriel {:.2} cores, RSS {:.1} MiB",
            last.at
                .duration_since(first.at)
                .as_secs_f64()
                .min(duration.as_secs_f64()),
            duration.as_secs(),
            cores(prev.oriel_cpu, last.oriel_cpu, secs),
            last.rss_mib
        );
    }
}

impl Measured {
    fn window(&self) -> Option<(&Tick, &Tick, f64)> {
        let a = self.ticks.first()?;
        let b = self.ticks.last()?;
        Some((a, b, b.at.duration_since(a.at).as_secs_f64()))
    }

    fn n(&self) -> f64 {
        self.config.sessions as f64
    }

    /// Viewers measured (sessions × viewers per session).
    fn viewer_count(&self) -> f64 {
        self.viewers.len().max(1) as f64
    }

    /// The readings over time: `(seconds, fps per viewer, total Mbit/s,
    /// oriel cores, RSS MiB)` per interval.
    fn timeline(&self) -> Vec<(f64, f64, f64, f64, f64)> {
        let Some(t0) = self.ticks.first().map(|t| t.at) else {
            return Vec::new();
        };
        self.ticks
            .windows(2)
            .map(|w| {
                let secs = w[1].at.duration_since(w[0].at).as_secs_f64();
                let r = rates(&w[0], &w[1]);
                (
                    w[1].at.duration_since(t0).as_secs_f64(),
                    r.iter().map(|x| x.0).sum::<f64>() / self.viewer_count(),
                    r.iter().map(|x| x.1).sum::<f64>() * 8.0 / 1e6,
                    cores(w[0].oriel_cpu, w[1].oriel_cpu, secs),
                    w[1].rss_mib,
                )
            })
            .collect()
    }

    pub fn to_json(&self) -> Value {
        let Some((a, b, secs)) = self.window() else {
            return json!({ "errors": self.errors });
        };
        let n = self.n();
        let nv = self.viewer_count();
        let r = rates(a, b);
        let webp: Vec<u64> = a
            .viewers
            .iter()
            .zip(&b.viewers)
            .map(|(x, y)| y.2.saturating_sub(x.2))
            .collect();
        let webp_total: u64 = webp.iter().sum();
        let tiles = match &self.tiles {
            Some((before, after)) => {
                let delta: BTreeMap<&String, f64> = after
                    .iter()
                    .map(|(k, v)| (k, v - before.get(k).copied().unwrap_or(0.0)))
                    .collect();
                json!({
                    "before": before,
                    "after": after,
                    "delta": delta,
                    "encoded": delta.values().sum::<f64>(),
                })
            }
            None => Value::Null,
        };
        let oriel = cores(a.oriel_cpu, b.oriel_cpu, secs);
        let rss: Vec<f64> = self.ticks.iter().map(|t| t.rss_mib).collect();
        let (rss_with, _, rss_max) = spread(rss.into_iter());
        let per_session: Vec<Value> = r
            .iter()
            .enumerate()
            .map(|(i, (fps, bps))| {
                let (l, negative) = latency_summary(self.latencies.get(i).map_or(&[], |v| v));
                let (session, viewer) = self.viewers.get(i).copied().unwrap_or((i, 0));
                json!({
                    "session": session,
                    "viewer": viewer,
                    "target": self.session_targets.get(i),
                    "webp_images": webp.get(i),
                    "frames_per_second": round(*fps, 2),
                    "bytes_per_second": round(*bps, 0),
                    "mbit_per_second": round(bps * 8.0 / 1e6, 3),
                    "latency": {
                        "frames": l.len(),
                        "p50_ms": ms(l.percentile(50.0)),
                        "p99_ms": ms(l.percentile(99.0)),
                        "negative": negative,
                    },
                    "settle": self.settles.get(i).and_then(|s| s.as_ref()).map(Settle::to_json),
                })
            })
            .collect();
        let all: Vec<i64> = self.latencies.iter().flatten().copied().collect();
        let (total_latency, negative) = latency_summary(&all);
        let (fps, fps_min, fps_max) = spread(r.iter().map(|x| x.0));
        let (bps, bps_min, bps_max) = spread(r.iter().map(|x| x.1));
        let mbit_median = median(r.iter().map(|x| x.1 * 8.0 / 1e6).collect()).unwrap_or(0.0);
        let targets = match (a.targets, b.targets) {
            (Some((s0, w0)), Some((s1, w1))) => json!({
                "vnc_server_cores": round(cores(s0, s1, secs), 3),
                "workload_cores": round(cores(w0, w1, secs), 3),
            }),
            _ => Value::Null,
        };
        let machine = match (a.machine, b.machine) {
            (Some((b0, _)), Some((b1, _))) => json!(round(cores(b0, b1, secs), 2)),
            _ => Value::Null,
        };
        let own = match (a.own, b.own) {
            (Some(x), Some(y)) => json!(round(cores(x, y, secs), 3)),
            _ => Value::Null,
        };
        let psnr = |paused: bool| {
            let v: Vec<f64> = self
                .samples
                .iter()
                .filter(|s| s.paused == paused)
                .map(|s| s.best_psnr_db)
                .collect();
            let min = v.iter().copied().fold(f64::INFINITY, f64::min);
            json!({
                "samples": v.len(),
                "min_psnr_db": if v.is_empty() { Value::Null } else { psnr_json(min) },
                "identical": v.iter().filter(|x| x.is_infinite()).count(),
            })
        };
        let settled: Vec<&Settle> = self.settles.iter().flatten().collect();
        let fidelity = if self.settles.is_empty() && self.samples.is_empty() {
            json!({"measured": false, "why": "targets given by address: no screenshot of their screens"})
        } else {
            json!({
                "measured": true,
                "samples": self.samples.iter().map(Sample::to_json).collect::<Vec<_>>(),
                "moving": psnr(false),
                "paused": psnr(true),
                "settle_exact_sessions": settled.iter().filter(|s| s.exact).count(),
                "settle_checked_sessions": self.settles.len(),
                "settle_exact_all": !self.settles.is_empty()
                    && self.settles.iter().all(|s| s.as_ref().is_some_and(|x| x.exact)),
                "settle_max_ms": settled.iter().filter_map(|s| s.after_ms).fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x)))).map(|x| round(x, 0)),
            })
        };
        let c = &self.config;
        json!({
            "workload": c.workload.name(),
            "sessions": c.sessions,
            "viewers_per_session": c.viewers_per_session,
            "viewers": self.viewers.len(),
            "webp_offered": c.webp,
            "policy": c.policy,
            "displays": c.displays,
            "ramp_up_s": c.ramp_up.as_secs_f64(),
            "warmup_s": c.warmup.as_secs_f64(),
            "seconds": round(secs, 2),
            "deployment": self.deployment,
            "targets": self.targets,
            "oriel": {
                "cores": round(oriel, 3),
                "cores_per_session": round(oriel / n, 4),
                "cores_per_viewer": round(oriel / nv, 4),
                "rss_idle_mib": round(self.rss_idle_mib, 2),
                "rss_with_sessions_mib": round(rss_with, 2),
                "rss_max_mib": round(rss_max, 2),
                "rss_per_session_mib": round((rss_with - self.rss_idle_mib) / n, 3),
            },
            "total": {
                "frames": b.viewers.iter().zip(&a.viewers).map(|(y, x)| y.0.saturating_sub(x.0)).sum::<u64>(),
                "bytes": b.viewers.iter().zip(&a.viewers).map(|(y, x)| y.1.saturating_sub(x.1)).sum::<u64>(),
                "frames_per_second": round(r.iter().map(|x| x.0).sum::<f64>(), 2),
                "mbit_per_second": round(r.iter().map(|x| x.1).sum::<f64>() * 8.0 / 1e6, 3),
                "webp_images": webp_total,
                "webp_images_per_second": round(webp_total as f64 / secs.max(1e-9), 2),
                "latency": {
                    "frames": total_latency.len(),
                    "p50_ms": ms(total_latency.percentile(50.0)),
                    "p90_ms": ms(total_latency.percentile(90.0)),
                    "p99_ms": ms(total_latency.percentile(99.0)),
                    "max_ms": ms(total_latency.percentile(100.0)),
                    "negative": negative,
                },
            },
            "per_session_summary": {
                "frames_per_second": {"mean": round(fps, 2), "min": round(fps_min, 2), "max": round(fps_max, 2)},
                "bytes_per_second": {"mean": round(bps, 0), "min": round(bps_min, 0), "max": round(bps_max, 0)},
                "mbit_per_second_median": round(mbit_median, 3),
                "mbit_per_second_per_session": round(r.iter().map(|x| x.1).sum::<f64>() * 8.0 / 1e6 / n, 3),
                "webp_images_per_session": round(webp_total as f64 / n, 1),
            },
            "gateway_tiles": tiles,
            "per_session": per_session,
            "fidelity": fidelity,
            "target_cpu": targets,
            "loadtest_cores": own,
            "machine_busy_cores": machine,
            "load_average": {"start": self.load_start, "end": self.load_end},
            "timeline": self.timeline().iter().map(|(t, f, m, c, r)| json!({
                "t_s": round(*t, 2),
                "frames_per_second_per_session": round(*f, 2),
                "mbit_per_second_total": round(*m, 3),
                "oriel_cores": round(*c, 3),
                "oriel_rss_mib": round(*r, 1),
            })).collect::<Vec<_>>(),
            "errors": self.errors,
        })
    }

    /// The readable report.
    pub fn table(&self) -> Vec<String> {
        let j = self.to_json();
        let mut out = Vec::new();
        let f = |v: &Value| match v {
            Value::Null => "-".to_owned(),
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        out.push(format!(
            "stream {} × {} ({} viewer(s) each{}) on {} target(s), {} s measured after {} s warm-up",
            f(&j["workload"]),
            f(&j["sessions"]),
            f(&j["viewers_per_session"]),
            if j["webp_offered"] == true {
                ", offering WebP"
            } else {
                ""
            },
            f(&j["displays"]),
            f(&j["seconds"]),
            f(&j["warmup_s"])
        ));
        out.push(format!(
            "{:>7} {:>16} {:>8} {:>9} {:>8} {:>8} {:>7} {:>16}",
            "session", "target", "fps", "Mbit/s", "p50 ms", "p99 ms", "WebP", "settled (ms)"
        ));
        for s in j["per_session"].as_array().into_iter().flatten() {
            let settle = match &s["settle"] {
                Value::Null => "-".to_owned(),
                x if x["exact"] == true => format!("exact ({})", f(&x["after_freeze_ms"])),
                x => format!("NO ({} px)", f(&x["differing_pixels"])),
            };
            let who = if self.config.viewers_per_session > 1 {
                format!("{}.{}", f(&s["session"]), f(&s["viewer"]))
            } else {
                f(&s["session"])
            };
            out.push(format!(
                "{:>7} {:>16} {:>8} {:>9} {:>8} {:>8} {:>7} {:>16}",
                who,
                f(&s["target"]),
                f(&s["frames_per_second"]),
                f(&s["mbit_per_second"]),
                f(&s["latency"]["p50_ms"]),
                f(&s["latency"]["p99_ms"]),
                f(&s["webp_images"]),
                settle
            ));
        }
        let t = &j["total"];
        out.push(format!(
            "{:>7} {:>16} {:>8} {:>9} {:>8} {:>8} {:>7}",
            "total",
            "",
            f(&t["frames_per_second"]),
            f(&t["mbit_per_second"]),
            f(&t["latency"]["p50_ms"]),
            f(&t["latency"]["p99_ms"]),
            f(&t["webp_images"])
        ));
        let o = &j["oriel"];
        out.push(format!(
            "oriel: {} cores ({} per session, {} per viewer); RSS {} → {} MiB ({} MiB per session)",
            f(&o["cores"]),
            f(&o["cores_per_session"]),
            f(&o["cores_per_viewer"]),
            f(&o["rss_idle_mib"]),
            f(&o["rss_with_sessions_mib"]),
            f(&o["rss_per_session_mib"])
        ));
        let fi = &j["fidelity"];
        if fi["measured"] == true {
            let m = &fi["moving"];
            let p = &fi["paused"];
            out.push(format!(
                "fidelity: min PSNR moving {} dB ({} samples, {} identical), paused {} dB ({} samples, {} identical); exact after freeze: {}/{} viewers (slowest {} ms)",
                f(&m["min_psnr_db"]),
                f(&m["samples"]),
                f(&m["identical"]),
                f(&p["min_psnr_db"]),
                f(&p["samples"]),
                f(&p["identical"]),
                f(&fi["settle_exact_sessions"]),
                f(&fi["settle_checked_sessions"]),
                f(&fi["settle_max_ms"])
            ));
        } else {
            out.push(format!("fidelity: not measured ({})", f(&fi["why"])));
        }
        out.push(format!(
            "targets (not ours): {}; this process (viewers): {} cores; machine busy {} cores; load {} → {}",
            f(&j["target_cpu"]),
            f(&j["loadtest_cores"]),
            f(&j["machine_busy_cores"]),
            f(&j["load_average"]["start"]),
            f(&j["load_average"]["end"])
        ));
        let g = &j["gateway_tiles"];
        if g.is_null() {
            out.push("gateway tiles: /metrics not read".to_owned());
        } else {
            out.push(format!(
                "gateway tiles encoded in the window (oriel_gateway_tiles_total, once per session whatever its viewers): {} ({})",
                f(&g["encoded"]),
                g["delta"]
            ));
        }
        out.push(format!("errors: {}", self.errors.len()));
        for e in &self.errors {
            out.push(format!("  {e}"));
        }
        out
    }

    /// Writes `fps.svg`, `bandwidth.svg`, `cpu.svg` and `rss.svg` into `dir`.
    pub fn plot(&self, dir: &Path) -> anyhow::Result<()> {
        let t = self.timeline();
        let what = format!("{} × {}", self.config.workload.name(), self.config.sessions);
        let series = |pick: fn(&(f64, f64, f64, f64, f64)) -> f64| -> Vec<(f64, f64)> {
            t.iter().map(|x| (x.0, pick(x))).collect()
        };
        for (name, title, y, points) in [
            (
                "fps",
                "frames decoded per second, per viewer (mean)",
                "frames/s",
                series(|x| x.1),
            ),
            (
                "bandwidth",
                "stream bandwidth, all sessions",
                "Mbit/s",
                series(|x| x.2),
            ),
            ("cpu", "oriel CPU", "cores", series(|x| x.3)),
            ("rss", "oriel resident memory", "MiB", series(|x| x.4)),
        ] {
            let svg = plot::line_chart(&format!("{title} — {what}"), "seconds", y, &points);
            plot::write(dir, name, &svg)?;
        }
        Ok(())
    }
}

/// One row of a sweep: the figures of one run against its session count.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRow {
    pub sessions: usize,
    pub fps_per_viewer: f64,
    pub mbit_per_session: f64,
    pub oriel_cores: f64,
    pub cores_per_session: f64,
    pub rss_per_session_mib: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub webp_per_session: f64,
    pub tiles_encoded: f64,
    pub exact: String,
    pub busy: Option<f64>,
    pub errors: usize,
}

impl SweepRow {
    fn of(j: &Value) -> SweepRow {
        let x = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
        SweepRow {
            sessions: j["sessions"].as_u64().unwrap_or(0) as usize,
            fps_per_viewer: x(&j["per_session_summary"]["frames_per_second"]["mean"]),
            mbit_per_session: x(&j["per_session_summary"]["mbit_per_second_per_session"]),
            oriel_cores: x(&j["oriel"]["cores"]),
            cores_per_session: x(&j["oriel"]["cores_per_session"]),
            rss_per_session_mib: x(&j["oriel"]["rss_per_session_mib"]),
            p50_ms: x(&j["total"]["latency"]["p50_ms"]),
            p99_ms: x(&j["total"]["latency"]["p99_ms"]),
            webp_per_session: x(&j["per_session_summary"]["webp_images_per_session"]),
            tiles_encoded: j["gateway_tiles"]["encoded"].as_f64().unwrap_or(0.0),
            exact: match &j["fidelity"] {
                fi if fi["measured"] == true => format!(
                    "{}/{}",
                    fi["settle_exact_sessions"], fi["settle_checked_sessions"]
                ),
                _ => "-".to_owned(),
            },
            busy: j["machine_busy_cores"].as_f64(),
            errors: j["errors"].as_array().map_or(0, Vec::len),
        }
    }
}

/// The runs of a sweep as JSON: every run in full and a summary row each.
pub fn sweep_json(runs: &[Measured]) -> Value {
    let full: Vec<Value> = runs.iter().map(Measured::to_json).collect();
    let rows: Vec<Value> = full
        .iter()
        .map(|j| {
            let r = SweepRow::of(j);
            json!({
                "sessions": r.sessions,
                "frames_per_second_per_viewer": r.fps_per_viewer,
                "mbit_per_second_per_session": r.mbit_per_session,
                "oriel_cores": r.oriel_cores,
                "oriel_cores_per_session": r.cores_per_session,
                "rss_per_session_mib": r.rss_per_session_mib,
                "latency_p50_ms": r.p50_ms,
                "latency_p99_ms": r.p99_ms,
                "webp_images_per_session": r.webp_per_session,
                "tiles_encoded": r.tiles_encoded,
                "settle_exact": r.exact,
                "machine_busy_cores": r.busy,
                "errors": r.errors,
            })
        })
        .collect();
    json!({
        "sweep": runs.iter().map(|m| m.config.sessions).collect::<Vec<_>>(),
        "summary": rows,
        "runs": full,
    })
}

/// The readable summary of a sweep: one row per session count.
pub fn sweep_table(runs: &[Measured]) -> Vec<String> {
    let mut out = vec![format!(
        "sweep: {:>8} {:>10} {:>12} {:>9} {:>11} {:>11} {:>8} {:>8} {:>7} {:>7} {:>5} {:>6}",
        "sessions",
        "fps/viewer",
        "Mbit/s/sess",
        "oriel",
        "cores/sess",
        "MiB/sess",
        "p50 ms",
        "p99 ms",
        "exact",
        "tiles",
        "busy",
        "errors"
    )];
    for m in runs {
        let r = SweepRow::of(&m.to_json());
        out.push(format!(
            "       {:>8} {:>10} {:>12} {:>9} {:>11} {:>11} {:>8} {:>8} {:>7} {:>7} {:>5} {:>6}",
            r.sessions,
            r.fps_per_viewer,
            r.mbit_per_session,
            r.oriel_cores,
            r.cores_per_session,
            r.rss_per_session_mib,
            r.p50_ms,
            r.p99_ms,
            r.exact,
            r.tiles_encoded,
            r.busy.map_or("-".to_owned(), |b| b.to_string()),
            r.errors
        ));
    }
    out
}

/// Writes the sweep's charts against the session count into `dir`:
/// `sessions-cpu.svg` (oriel cores per session), `sessions-fps.svg`
/// (frames per second per viewer), `sessions-bandwidth.svg` (Mbit/s per
/// session), `sessions-rss.svg` (MiB per session).
pub fn sweep_plot(runs: &[Measured], dir: &Path) -> anyhow::Result<()> {
    let rows: Vec<SweepRow> = runs.iter().map(|m| SweepRow::of(&m.to_json())).collect();
    let what = runs
        .first()
        .map_or("", |m| m.config.workload.name())
        .to_owned();
    let series = |pick: fn(&SweepRow) -> f64| -> Vec<(f64, f64)> {
        rows.iter().map(|r| (r.sessions as f64, pick(r))).collect()
    };
    for (name, title, y, points) in [
        (
            "sessions-cpu",
            "oriel CPU per session",
            "cores",
            series(|r| r.cores_per_session),
        ),
        (
            "sessions-fps",
            "frames decoded per second, per viewer (mean)",
            "frames/s",
            series(|r| r.fps_per_viewer),
        ),
        (
            "sessions-bandwidth",
            "stream bandwidth per session",
            "Mbit/s",
            series(|r| r.mbit_per_session),
        ),
        (
            "sessions-rss",
            "oriel resident memory per session ((RSS − idle) ÷ N)",
            "MiB",
            series(|r| r.rss_per_session_mib),
        ),
    ] {
        let svg = plot::line_chart(&format!("{title} — {what}"), "sessions", y, &points);
        plot::write(dir, name, &svg)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(at: Instant, cpu: f64, viewers: Vec<(u64, u64, u64)>) -> Tick {
        Tick {
            at,
            unix_us: 0,
            oriel_cpu: cpu,
            rss_mib: 60.0,
            targets: Some((0.0, 0.0)),
            machine: None,
            own: None,
            viewers,
        }
    }

    #[test]
    fn rates_medians_and_latencies() {
        let t = Instant::now();
        let a = tick(t, 1.0, vec![(10, 1000, 0), (0, 0, 0)]);
        let b = tick(
            t + Duration::from_secs(2),
            2.0,
            vec![(30, 3000, 4), (10, 500, 0)],
        );
        assert_eq!(rates(&a, &b), vec![(10.0, 1000.0), (5.0, 250.0)]);
        assert_eq!(cores(a.oriel_cpu, b.oriel_cpu, 2.0), 0.5);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(Vec::new()), None);
        let (l, negative) = latency_summary(&[1000, 2000, -5]);
        assert_eq!((l.len(), negative), (3, 1));
        assert_eq!(l.percentile(100.0), Duration::from_millis(2));
    }
}
