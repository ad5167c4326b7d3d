//! The settings of `oriel-loadtest stream`: flags over a scenario file over
//! defaults, one configuration per session count (a sweep has several).

use super::compare;
use super::targets::parse_target;
use crate::deploy::Database;
use crate::live::Workload;
use anyhow::{Context as _, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A TOML file with any of the settings below (same names, `_` for `-`,
    /// durations as strings like "30s"); flags given here win.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Workload on the displays started here [default: office].
    #[arg(long, value_enum)]
    pub workload: Option<Workload>,
    /// Concurrent sessions [default: 1]; several (`1,5,10`): a sweep, one
    /// run per count, one after another.
    #[arg(long, value_delimiter = ',')]
    pub sessions: Option<Vec<usize>>,
    /// Viewers on each session (the first with the launch token, the
    /// others with tokens of their own) [default: 1].
    #[arg(long)]
    pub viewers_per_session: Option<usize>,
    /// The viewers offer WebP (`caps::WEBP`) as a browser does.
    #[arg(long)]
    pub webp: bool,
    /// The workspaces' policy, as JSON (`docs/policy.md`), e.g.
    /// `'{"recording": true}'` to measure what recording costs.
    #[arg(long)]
    pub policy: Option<String>,
    /// Displays to start, shared round-robin by the sessions [default: one
    /// per session].
    #[arg(long)]
    pub displays: Option<usize>,
    /// Use these VNC servers (host:port,...) instead of starting displays.
    #[arg(long, value_delimiter = ',')]
    pub targets: Option<Vec<String>>,
    /// VNC password of the given targets.
    #[arg(long)]
    pub target_password: Option<String>,
    /// Time over which the sessions are launched [default: 0s].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub ramp_up: Option<Duration>,
    /// Time after the last session connected, before measuring [default: 5s].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub warmup: Option<Duration>,
    /// Measured time [default: 30s].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Fidelity samples during the measured time [default: 3].
    #[arg(long)]
    pub samples: Option<usize>,
    /// How long viewers may take to match the server after the workload
    /// freezes [default: 20s].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub settle_timeout: Option<Duration>,
    /// Database of the deployment.
    #[arg(long, value_enum, default_value = "sqlite")]
    pub database: Database,
    /// The `oriel` binary to start (default: next to this one).
    #[arg(long)]
    pub oriel: Option<PathBuf>,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write SVG charts (fps, bandwidth, oriel CPU over time; for a sweep
    /// also against the session count) into this directory.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Instead: compare with a peer on the same displays and workload, in
    /// the same run (Oriel's web viewer and noVNC in one Chromium,
    /// alternating; see loadtest/README.md).
    #[arg(long, value_enum)]
    pub compare: Option<compare::Peer>,
    /// Rounds of the comparison (each side once per round) [default: 3].
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Measure a running deployment instead of starting `oriel up`
    /// (`https://host:port` of its control plane).
    #[arg(long, requires_all = ["ca", "admin_password", "oriel_pid"])]
    pub url: Option<String>,
    /// PEM certificates to trust: the control plane's and those of the
    /// gateways or proxies the streams enter at.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// The running deployment's admin password.
    #[arg(long, env = "ORIEL_ADMIN_PASSWORD")]
    pub admin_password: Option<String>,
    /// The process whose CPU and memory are reported as oriel's (the
    /// gateway that serves the streams) in a running deployment.
    #[arg(long)]
    pub oriel_pid: Option<u32>,
    /// Workspaces target this zone (its connection proxy serves them) and
    /// sessions are launched by a user of the zone (entering at its
    /// dedicated proxy), made for the run.
    #[arg(long, requires = "url")]
    pub zone: Option<String>,
    /// The address at which the serving gateway reaches the displays started
    /// here (each is exposed there by a TCP forwarder) [default: 127.0.0.1,
    /// the displays themselves].
    #[arg(long)]
    pub target_host: Option<std::net::IpAddr>,
}

/// A deployment somebody else runs (`--url`), and how to use it.
#[derive(Debug, Clone)]
pub struct Given {
    pub url: String,
    pub ca: PathBuf,
    pub admin_password: String,
    pub oriel_pid: u32,
    pub zone: Option<String>,
}

impl Args {
    /// The running deployment given by `--url`, if any.
    pub fn given(&self) -> Option<Given> {
        Some(Given {
            url: self.url.clone()?,
            ca: self.ca.clone()?,
            admin_password: self.admin_password.clone()?,
            oriel_pid: self.oriel_pid?,
            zone: self.zone.clone(),
        })
    }
}

/// A scenario file: the same settings as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    workload: Option<Workload>,
    sessions: Option<Counts>,
    viewers_per_session: Option<usize>,
    webp: Option<bool>,
    /// The workspaces' policy (a TOML table with the JSON fields).
    policy: Option<toml::Table>,
    displays: Option<usize>,
    targets: Option<Vec<String>>,
    target_password: Option<String>,
    ramp_up: Option<String>,
    warmup: Option<String>,
    duration: Option<String>,
    samples: Option<usize>,
    settle_timeout: Option<String>,
}

/// `sessions` in a scenario: one count or a sweep.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Counts {
    One(usize),
    Sweep(Vec<usize>),
}

/// The settings of a run, flags over scenario over defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub workload: Workload,
    pub sessions: usize,
    pub viewers_per_session: usize,
    pub webp: bool,
    /// The workspaces' policy, when given (else the API's default).
    pub policy: Option<serde_json::Value>,
    pub displays: usize,
    pub targets: Vec<(String, u16)>,
    pub target_password: Option<String>,
    pub ramp_up: Duration,
    pub warmup: Duration,
    pub duration: Duration,
    pub samples: usize,
    pub settle_timeout: Duration,
}

fn duration_field(name: &str, v: Option<&String>) -> anyhow::Result<Option<Duration>> {
    v.map(|s| humantime::parse_duration(s).with_context(|| format!("scenario {name}: {s:?}")))
        .transpose()
}

impl Config {
    /// One configuration per session count (more than one: a sweep).
    pub fn resolve(args: &Args, scenario: Scenario) -> anyhow::Result<Vec<Config>> {
        let counts = match (&args.sessions, &scenario.sessions) {
            (Some(v), _) => v.clone(),
            (None, Some(Counts::One(n))) => vec![*n],
            (None, Some(Counts::Sweep(v))) => v.clone(),
            (None, None) => vec![1],
        };
        if counts.is_empty() || counts.contains(&0) {
            bail!("sessions must be at least 1");
        }
        let viewers_per_session = args
            .viewers_per_session
            .or(scenario.viewers_per_session)
            .unwrap_or(1);
        if viewers_per_session == 0 {
            bail!("viewers per session must be at least 1");
        }
        let webp = args.webp || scenario.webp.unwrap_or(false);
        let policy = match (&args.policy, &scenario.policy) {
            (Some(json), _) => {
                let v: serde_json::Value =
                    serde_json::from_str(json).context("--policy: not JSON")?;
                if !v.is_object() {
                    bail!("--policy must be a JSON object (docs/policy.md)");
                }
                Some(v)
            }
            (None, Some(table)) => Some(serde_json::to_value(table).context("scenario policy")?),
            (None, None) => None,
        };
        counts
            .into_iter()
            .map(|sessions| {
                let mut c = Self::resolve_one(args, &scenario, sessions)?;
                c.viewers_per_session = viewers_per_session;
                c.webp = webp;
                c.policy.clone_from(&policy);
                Ok(c)
            })
            .collect()
    }

    fn resolve_one(args: &Args, scenario: &Scenario, sessions: usize) -> anyhow::Result<Config> {
        let targets = args
            .targets
            .clone()
            .or(scenario.targets.clone())
            .unwrap_or_default()
            .iter()
            .map(|t| parse_target(t.trim()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let displays = if targets.is_empty() {
            args.displays.or(scenario.displays).unwrap_or(sessions)
        } else {
            targets.len()
        };
        if displays == 0 {
            bail!("displays must be at least 1");
        }
        let duration = match args.duration {
            Some(d) => d,
            None => duration_field("duration", scenario.duration.as_ref())?
                .unwrap_or(Duration::from_secs(30)),
        };
        if duration.is_zero() {
            bail!("duration must be positive");
        }
        Ok(Config {
            workload: args
                .workload
                .or(scenario.workload)
                .unwrap_or(Workload::Office),
            sessions,
            viewers_per_session: 1,
            webp: false,
            policy: None,
            displays: displays.min(sessions),
            targets,
            target_password: args
                .target_password
                .clone()
                .or(scenario.target_password.clone()),
            ramp_up: match args.ramp_up {
                Some(d) => d,
                None => duration_field("ramp_up", scenario.ramp_up.as_ref())?.unwrap_or_default(),
            },
            warmup: match args.warmup {
                Some(d) => d,
                None => duration_field("warmup", scenario.warmup.as_ref())?
                    .unwrap_or(Duration::from_secs(5)),
            },
            duration,
            samples: args.samples.or(scenario.samples).unwrap_or(3),
            settle_timeout: match args.settle_timeout {
                Some(d) => d,
                None => duration_field("settle_timeout", scenario.settle_timeout.as_ref())?
                    .unwrap_or(Duration::from_secs(20)),
            },
        })
    }
}

pub fn read_scenario(path: &Path) -> anyhow::Result<Scenario> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("scenario {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn args(flags: &[&str]) -> Args {
        Cli::try_parse_from(std::iter::once("stream").chain(flags.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn defaults() {
        let c = Config::resolve(&args(&[]), Scenario::default()).unwrap();
        assert_eq!(c.len(), 1);
        let c = &c[0];
        assert_eq!((c.viewers_per_session, c.webp), (1, false));
        assert_eq!(c.workload, Workload::Office);
        assert_eq!((c.sessions, c.displays), (1, 1));
        assert_eq!(c.duration, Duration::from_secs(30));
        assert!(c.targets.is_empty());
    }

    #[test]
    fn flags_win_over_the_scenario() {
        let scenario: Scenario = toml::from_str(
            r#"
            workload = "video720"
            sessions = 10
            displays = 2
            duration = "1m"
            ramp_up = "5s"
            "#,
        )
        .unwrap();
        let c = Config::resolve(&args(&["--sessions", "4", "--duration", "10s"]), scenario)
            .unwrap()
            .remove(0);
        assert_eq!(c.workload, Workload::Video720);
        assert_eq!((c.sessions, c.displays), (4, 2));
        assert_eq!(c.duration, Duration::from_secs(10));
        assert_eq!(c.ramp_up, Duration::from_secs(5));
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(toml::from_str::<Scenario>("sesions = 3").is_err());
        assert!(toml::from_str::<Scenario>("workload = \"movie\"").is_err());
        let s: Scenario = toml::from_str("duration = \"soon\"").unwrap();
        assert!(Config::resolve(&args(&[]), s).is_err());
        assert!(Config::resolve(&args(&["--sessions", "0"]), Scenario::default()).is_err());
        assert!(Config::resolve(&args(&["--sessions", "1,0"]), Scenario::default()).is_err());
        assert!(
            Config::resolve(&args(&["--viewers-per-session", "0"]), Scenario::default()).is_err()
        );
        assert!(Config::resolve(&args(&["--targets", "nohost"]), Scenario::default()).is_err());
        let c = Config::resolve(
            &args(&[
                "--targets",
                "127.0.0.1:5901,127.0.0.1:5902",
                "--sessions",
                "4",
            ]),
            Scenario::default(),
        )
        .unwrap()
        .remove(0);
        assert_eq!(c.displays, 2);
        assert_eq!(c.targets[1], ("127.0.0.1".to_owned(), 5902));
    }

    #[test]
    fn a_policy_is_a_json_object_from_the_flag_or_a_table_from_the_scenario() {
        let c = Config::resolve(
            &args(&["--policy", r#"{"recording": true}"#]),
            Scenario::default(),
        )
        .unwrap();
        assert_eq!(c[0].policy, Some(serde_json::json!({"recording": true})));
        assert!(Config::resolve(&args(&["--policy", "[1]"]), Scenario::default()).is_err());
        assert!(Config::resolve(&args(&["--policy", "{"]), Scenario::default()).is_err());
        let s: Scenario = toml::from_str("[policy]\nwatermark = true").unwrap();
        let c = Config::resolve(&args(&[]), s).unwrap();
        assert_eq!(c[0].policy, Some(serde_json::json!({"watermark": true})));
        assert_eq!(
            Config::resolve(&args(&[]), Scenario::default()).unwrap()[0].policy,
            None
        );
    }

    #[test]
    fn sweeps_viewers_and_webp() {
        let c = Config::resolve(
            &args(&[
                "--sessions",
                "1,5,10",
                "--viewers-per-session",
                "2",
                "--webp",
            ]),
            Scenario::default(),
        )
        .unwrap();
        let counts: Vec<(usize, usize)> = c.iter().map(|c| (c.sessions, c.displays)).collect();
        assert_eq!(counts, vec![(1, 1), (5, 5), (10, 10)]);
        assert!(c.iter().all(|c| c.viewers_per_session == 2 && c.webp));
        let c = Config::resolve(
            &args(&["--sessions", "2,8", "--displays", "4"]),
            Scenario::default(),
        )
        .unwrap();
        assert_eq!((c[0].displays, c[1].displays), (2, 4));
        let scenario: Scenario =
            toml::from_str("sessions = [1, 3]\nviewers_per_session = 3\nwebp = true").unwrap();
        let c = Config::resolve(&args(&[]), scenario).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[1].sessions, c[1].viewers_per_session, c[1].webp),
            (3, 3, true)
        );
    }
}
