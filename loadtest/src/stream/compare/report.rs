//! The comparison's figures: per phase, per side (median of the rounds)
//! and the ratios noVNC ÷ Oriel (median of the per-round ratios); a table
//! and JSON.

use super::{Phase, Side};
use crate::stats::{median, round};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// A finished comparison.
#[derive(Debug)]
pub struct Compared {
    pub workload: String,
    pub sessions: usize,
    pub displays: usize,
    pub rounds: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub phases: Vec<Phase>,
    pub errors: Vec<String>,
    pub load_start: Option<[f64; 3]>,
    pub load_end: Option<[f64; 3]>,
    pub chromium: String,
    pub novnc: String,
    pub websockify: String,
    pub tigervnc: String,
    pub deployment: String,
    pub targets: String,
}

/// One phase's figures, per second of its window (CPU in cores).
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub seconds: f64,
    pub xtigervnc: f64,
    pub workload: f64,
    pub oriel: f64,
    pub websockify: f64,
    /// Xtigervnc + the side's translator or relay.
    pub system: f64,
    pub browser: f64,
    pub renderers: f64,
    /// Mean over the tabs: WebSocket payload bytes received per second.
    pub bytes_per_s: f64,
    /// Mean over the tabs: frames drawn (Oriel) or FramebufferUpdates
    /// finished (noVNC) per second.
    pub frames_per_s: f64,
    /// Bytes the side's translator or relay wrote per second (`wchar`).
    pub relay_written_per_s: f64,
    pub machine_busy: Option<f64>,
    pub own: Option<f64>,
}

pub fn figures(p: &Phase) -> Figures {
    let (a, b) = (&p.start, &p.end);
    let s = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
    let per = |x: f64, y: f64| (y - x) / s;
    let tabs = a.tabs.len().max(1) as f64;
    let bytes: u64 = a
        .tabs
        .iter()
        .zip(&b.tabs)
        .map(|(x, y)| y.bytes.saturating_sub(x.bytes))
        .sum();
    let frames: u64 = a
        .tabs
        .iter()
        .zip(&b.tabs)
        .map(|(x, y)| y.frames.saturating_sub(x.frames))
        .sum();
    let xtigervnc = per(a.xtigervnc, b.xtigervnc);
    let oriel = per(a.oriel, b.oriel);
    let websockify = per(a.websockify, b.websockify);
    let (system, written) = match p.side {
        Side::Oriel => (
            xtigervnc + oriel,
            b.oriel_wchar.saturating_sub(a.oriel_wchar),
        ),
        Side::Novnc => (
            xtigervnc + websockify,
            b.websockify_wchar.saturating_sub(a.websockify_wchar),
        ),
        Side::None => (xtigervnc, 0),
    };
    Figures {
        seconds: s,
        xtigervnc,
        workload: per(a.workload, b.workload),
        oriel,
        websockify,
        system,
        browser: per(a.browser, b.browser),
        renderers: per(a.renderers, b.renderers),
        bytes_per_s: bytes as f64 / s / tabs,
        frames_per_s: frames as f64 / s / tabs,
        relay_written_per_s: written as f64 / s,
        machine_busy: match (a.machine, b.machine) {
            (Some(x), Some(y)) if y.1 > x.1 => Some((y.0 - x.0) / (y.1 - x.1) * cores()),
            _ => None,
        },
        own: match (a.own, b.own) {
            (Some(x), Some(y)) => Some((y - x) / s),
            _ => None,
        },
    }
}

/// CPUs of the machine (busy time ÷ total time × this = busy cores).
fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1, usize::from) as f64
}

impl Figures {
    fn to_json(&self) -> Value {
        json!({
            "seconds": round(self.seconds, 2),
            "bytes_per_second_per_session": round(self.bytes_per_s, 0),
            "frames_per_second_per_session": round(self.frames_per_s, 2),
            "relay_written_bytes_per_second": round(self.relay_written_per_s, 0),
            "cores": {
                "xtigervnc": round(self.xtigervnc, 4),
                "oriel": round(self.oriel, 4),
                "websockify": round(self.websockify, 4),
                "system": round(self.system, 4),
                "browser": round(self.browser, 4),
                "renderers": round(self.renderers, 4),
                "workload": round(self.workload, 4),
                "loadtest": self.own.map(|x| round(x, 4)),
                "machine_busy": self.machine_busy.map(|x| round(x, 3)),
            },
        })
    }
}

/// Counts added to a `{key: count}` object between two readings.
fn tally_delta(start: &Value, end: &Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    if let Some(e) = end.as_object() {
        for (k, v) in e {
            let before = start.get(k).and_then(Value::as_u64).unwrap_or(0);
            let d = v.as_u64().unwrap_or(0).saturating_sub(before);
            if d > 0 {
                out.insert(k.clone(), d);
            }
        }
    }
    out
}

/// An RFB encoding number's name (RFC 6143 and the registry).
fn encoding_name(n: &str) -> String {
    let name = match n {
        "0" => "Raw",
        "1" => "CopyRect",
        "2" => "RRE",
        "5" => "Hextile",
        "7" => "Tight",
        "16" => "ZRLE",
        "-260" => "TightPNG",
        _ => return format!("encoding {n}"),
    };
    name.to_owned()
}

/// noVNC's encodings in a phase: rectangles by encoding, Tight
/// sub-encodings, quality and compression levels (all tabs).
fn novnc_encodings(p: &Phase) -> Value {
    let mut rects: BTreeMap<String, u64> = BTreeMap::new();
    let mut tight: BTreeMap<String, u64> = BTreeMap::new();
    let mut quality = Value::Null;
    let mut compression = Value::Null;
    for (a, b) in p.start.tabs.iter().zip(&p.end.tabs) {
        for (k, v) in tally_delta(&a.raw["rects"], &b.raw["rects"]) {
            *rects.entry(encoding_name(&k)).or_default() += v;
        }
        for (k, v) in tally_delta(&a.raw["tight"], &b.raw["tight"]) {
            *tight.entry(k).or_default() += v;
        }
        quality = b.raw["quality"].clone();
        compression = b.raw["compression"].clone();
    }
    json!({
        "rects": rects,
        "tight_subencodings": tight,
        "quality_level": quality,
        "compression_level": compression,
    })
}

/// The line printed after each phase.
pub fn phase_line(p: &Phase, sessions: usize) -> String {
    let f = figures(p);
    format!(
        "  round {} {:<5}: {:>9.0} B/s/session, {:>5.1} frames/s, Xtigervnc {:>5.1}%, oriel {:>5.1}%, websockify {:>5.1}%, browser {:>5.1}% ({} session(s))",
        p.round,
        p.side.name(),
        f.bytes_per_s,
        f.frames_per_s,
        f.xtigervnc * 100.0,
        f.oriel * 100.0,
        f.websockify * 100.0,
        f.browser * 100.0,
        sessions
    )
}

/// Metrics compared, with how to read them from [`Figures`].
type Metric = (&'static str, fn(&Figures) -> f64);
const METRICS: &[Metric] = &[
    ("bytes_per_second_per_session", |f| f.bytes_per_s),
    ("frames_per_second_per_session", |f| f.frames_per_s),
    ("system_cores", |f| f.system),
    ("xtigervnc_cores", |f| f.xtigervnc),
    ("browser_cores", |f| f.browser),
    ("renderer_cores", |f| f.renderers),
];

impl Compared {
    fn by_round(&self) -> Vec<BTreeMap<&'static str, Figures>> {
        let mut out = vec![BTreeMap::new(); self.rounds];
        for p in &self.phases {
            if let Some(r) = out.get_mut(p.round) {
                r.insert(p.side.name(), figures(p));
            }
        }
        out
    }

    /// Median over rounds of one side's metric.
    fn side_median(&self, side: &str, f: fn(&Figures) -> f64) -> Option<f64> {
        median(
            self.by_round()
                .iter()
                .filter_map(|r| r.get(side).map(f))
                .collect(),
        )
    }

    /// Xtigervnc's CPU above the no-viewer phase of the same round: its
    /// encoding (and serving) cost for the side.
    fn encoding_cost(&self, side: &str) -> Option<f64> {
        median(
            self.by_round()
                .iter()
                .filter_map(|r| Some(r.get(side)?.xtigervnc - r.get("none")?.xtigervnc))
                .collect(),
        )
    }

    /// Median of the per-round ratios noVNC ÷ Oriel.
    fn ratio(&self, f: fn(&Figures) -> f64) -> Option<f64> {
        median(
            self.by_round()
                .iter()
                .filter_map(|r| {
                    let (o, n) = (f(r.get("oriel")?), f(r.get("novnc")?));
                    (o > 0.0).then_some(n / o)
                })
                .collect(),
        )
    }

    fn encoding_ratio(&self) -> Option<f64> {
        median(
            self.by_round()
                .iter()
                .filter_map(|r| {
                    let none = r.get("none")?.xtigervnc;
                    let o = r.get("oriel")?.xtigervnc - none;
                    let n = r.get("novnc")?.xtigervnc - none;
                    (o > 0.0).then_some(n / o)
                })
                .collect(),
        )
    }

    /// noVNC's encodings over all its phases.
    fn novnc_encodings(&self) -> Value {
        let mut rects: BTreeMap<String, u64> = BTreeMap::new();
        let mut tight: BTreeMap<String, u64> = BTreeMap::new();
        let mut quality = Value::Null;
        let mut compression = Value::Null;
        for p in self.phases.iter().filter(|p| p.side == Side::Novnc) {
            let e = novnc_encodings(p);
            for (k, v) in e["rects"].as_object().into_iter().flatten() {
                *rects.entry(k.clone()).or_default() += v.as_u64().unwrap_or(0);
            }
            for (k, v) in e["tight_subencodings"].as_object().into_iter().flatten() {
                *tight.entry(k.clone()).or_default() += v.as_u64().unwrap_or(0);
            }
            quality = e["quality_level"].clone();
            compression = e["compression_level"].clone();
        }
        json!({
            "rects": rects,
            "tight_subencodings": tight,
            "quality_level": quality,
            "compression_level": compression,
        })
    }

    pub fn to_json(&self) -> Value {
        let mut sides = Map::new();
        for side in ["oriel", "novnc", "none"] {
            let mut m = Map::new();
            for (name, f) in METRICS {
                m.insert((*name).to_owned(), json!(self.side_median(side, *f)));
            }
            // websockify sends with send(2), which `wchar` does not count.
            m.insert(
                "relay_written_bytes_per_second".into(),
                json!(match side {
                    "oriel" => self.side_median(side, |f| f.relay_written_per_s),
                    _ => None,
                }),
            );
            m.insert(
                "translator_cores".into(),
                json!(match side {
                    "oriel" => self.side_median(side, |f| f.oriel),
                    "novnc" => self.side_median(side, |f| f.websockify),
                    _ => None,
                }),
            );
            m.insert(
                "xtigervnc_above_no_viewer_cores".into(),
                json!(self.encoding_cost(side)),
            );
            sides.insert(side.to_owned(), Value::Object(m));
        }
        let mut ratios = Map::new();
        for (name, f) in METRICS {
            ratios.insert((*name).to_owned(), json!(self.ratio(*f)));
        }
        ratios.insert(
            "xtigervnc_above_no_viewer_cores".into(),
            json!(self.encoding_ratio()),
        );
        json!({
            "workload": self.workload,
            "sessions": self.sessions,
            "displays": self.displays,
            "rounds": self.rounds,
            "warmup_s": self.warmup.as_secs_f64(),
            "duration_s": self.duration.as_secs_f64(),
            "peers": {
                "novnc": self.novnc,
                "websockify": self.websockify,
                "tigervnc": self.tigervnc,
                "chromium": self.chromium,
            },
            "deployment": self.deployment,
            "targets": self.targets,
            "sides": sides,
            "ratios_novnc_over_oriel": ratios,
            "novnc_encodings": self.novnc_encodings(),
            "phases": self.phases.iter().map(|p| {
                let mut v = figures(p).to_json();
                v["round"] = json!(p.round);
                v["side"] = json!(p.side.name());
                if p.side == Side::Novnc {
                    v["novnc_encodings"] = novnc_encodings(p);
                }
                v
            }).collect::<Vec<_>>(),
            "errors": self.errors,
            "load_average_start": self.load_start,
            "load_average_end": self.load_end,
        })
    }

    pub fn table(&self) -> Vec<String> {
        let pct = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{:.1}%", x * 100.0));
        let num = |x: Option<f64>, d: usize| x.map_or("-".to_owned(), |x| format!("{x:.d$}"));
        let mut out = vec![
            format!(
                "compare {}: {} session(s) per side, {} display(s) 1920x1080, {} round(s) x {:?} per side (median of rounds)",
                self.workload, self.sessions, self.displays, self.rounds, self.duration
            ),
            format!(
                "peers: noVNC {} (vnc_lite.html) via websockify {} (ws://), Xtigervnc {}, {}; Oriel: {}",
                self.novnc, self.websockify, self.tigervnc, self.chromium, self.deployment
            ),
            format!(
                "{:<6} {:>12} {:>9} {:>10} {:>11} {:>11} {:>9} {:>9} {:>9}",
                "side",
                "KB/s/sess",
                "frames/s",
                "Xtigervnc",
                "Xvnc-none",
                "translator",
                "system",
                "browser",
                "renderer"
            ),
        ];
        for side in ["oriel", "novnc", "none"] {
            let tr = match side {
                "oriel" => self.side_median(side, |f| f.oriel),
                "novnc" => self.side_median(side, |f| f.websockify),
                _ => None,
            };
            out.push(format!(
                "{:<6} {:>12} {:>9} {:>10} {:>11} {:>11} {:>9} {:>9} {:>9}",
                side,
                num(self.side_median(side, |f| f.bytes_per_s / 1000.0), 1),
                num(self.side_median(side, |f| f.frames_per_s), 1),
                pct(self.side_median(side, |f| f.xtigervnc)),
                pct(self.encoding_cost(side)),
                pct(tr),
                pct(self.side_median(side, |f| f.system)),
                pct(self.side_median(side, |f| f.browser)),
                pct(self.side_median(side, |f| f.renderers)),
            ));
        }
        let r = |f: fn(&Figures) -> f64| num(self.ratio(f), 2);
        out.push(format!(
            "noVNC / Oriel (median of per-round ratios): bytes {}, frames {}, system CPU {}, Xtigervnc {}, Xtigervnc above no-viewer {}, browser CPU {}",
            r(|f| f.bytes_per_s),
            r(|f| f.frames_per_s),
            r(|f| f.system),
            r(|f| f.xtigervnc),
            num(self.encoding_ratio(), 2),
            r(|f| f.browser),
        ));
        out.push(format!("noVNC encodings: {}", self.novnc_encodings()));
        out.push(format!(
            "load average: {:?} -> {:?}",
            self.load_start, self.load_end
        ));
        if self.errors.is_empty() {
            out.push("errors: none".to_owned());
        } else {
            out.push(format!("errors ({}):", self.errors.len()));
            out.extend(self.errors.iter().map(|e| format!("  {e}")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_tallies() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
        let d = tally_delta(&json!({"7": 3, "1": 2}), &json!({"7": 10, "1": 2, "0": 1}));
        assert_eq!(d.get("7"), Some(&7));
        assert_eq!(d.get("1"), None);
        assert_eq!(d.get("0"), Some(&1));
        assert_eq!(encoding_name("7"), "Tight");
        assert_eq!(encoding_name("99"), "encoding 99");
    }
}
