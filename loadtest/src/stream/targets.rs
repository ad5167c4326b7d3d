//! The VNC servers a `stream` run measures against: Xtigervnc displays
//! started here, each running the workload, or servers given by address.

use crate::live::{RunningWorkload, Workload};
use crate::stats::{find_processes, processes_cpu};
use anyhow::{Context as _, bail};
use oriel_testkit::{VncDisplay, VncOptions};

/// Display size of every standard workload.
pub const WIDTH: u32 = 1920;
pub const HEIGHT: u32 = 1080;

/// A display started here and the workload on it. Fields drop in order:
/// the workload before its display.
pub struct Started {
    pub workload: RunningWorkload,
    pub display: VncDisplay,
    /// The Xtigervnc process.
    server_pids: Vec<u32>,
}

/// The targets of a run.
pub enum Targets {
    Started(Vec<Started>),
    /// `host:port` of VNC servers somebody else runs.
    Given(Vec<(String, u16)>),
}

/// Parses `host:port`.
pub fn parse_target(s: &str) -> anyhow::Result<(String, u16)> {
    let (host, port) = s
        .rsplit_once(':')
        .with_context(|| format!("target {s:?} is not host:port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        bail!("target {s:?} has no host");
    }
    let port: u16 = port
        .parse()
        .with_context(|| format!("target {s:?}: bad port"))?;
    if port == 0 {
        bail!("target {s:?}: port 0");
    }
    Ok((host.to_owned(), port))
}

impl Targets {
    /// Starts `count` Xtigervnc displays, each with `workload`.
    pub async fn start(workload: Workload, count: usize) -> anyhow::Result<Targets> {
        let mut out = Vec::new();
        for _ in 0..count {
            let display = VncDisplay::start(VncOptions::new(WIDTH, HEIGHT)).await?;
            let n = display.display();
            let server_pids = find_processes(|a| a[0].ends_with("Xtigervnc") && a.contains(&n));
            let workload = workload
                .start(&display)
                .await
                .with_context(|| format!("{} workload on {n}", workload.name()))?;
            out.push(Started {
                workload,
                display,
                server_pids,
            });
        }
        Ok(Targets::Started(out))
    }

    pub fn len(&self) -> usize {
        match self {
            Targets::Started(s) => s.len(),
            Targets::Given(g) => g.len(),
        }
    }

    /// `(host, port)` of target `i`.
    pub fn address(&self, i: usize) -> (String, u16) {
        match self {
            Targets::Started(s) => ("127.0.0.1".to_owned(), s[i].display.rfb_port()),
            Targets::Given(g) => g[i].clone(),
        }
    }

    /// A short name of target `i`: the X display, or the address.
    pub fn name(&self, i: usize) -> String {
        match self {
            Targets::Started(s) => s[i].display.display(),
            Targets::Given(g) => format!("{}:{}", g[i].0, g[i].1),
        }
    }

    /// The display of target `i`, when we started it (fidelity needs it).
    pub fn display(&self, i: usize) -> Option<&VncDisplay> {
        match self {
            Targets::Started(s) => Some(&s[i].display),
            Targets::Given(_) => None,
        }
    }

    pub fn describe(&self, workload: Workload) -> String {
        match self {
            Targets::Started(s) => format!(
                "{} Xtigervnc display(s) {WIDTH}x{HEIGHT} started here, {} workload on each",
                s.len(),
                workload.name()
            ),
            Targets::Given(g) => format!(
                "given VNC server(s) {} (workload: whatever runs there)",
                g.iter()
                    .map(|(h, p)| format!("{h}:{p}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// CPU seconds so far of the VNC servers and of the workloads (not ours).
    pub fn cpu(&self) -> Option<(f64, f64)> {
        let Targets::Started(s) = self else {
            return None;
        };
        let servers = s.iter().map(|t| processes_cpu(&t.server_pids)).sum();
        let workloads = s
            .iter()
            .map(|t| processes_cpu(&t.workload.processes()))
            .sum();
        Some((servers, workloads))
    }

    /// Freezes or thaws every workload (no-op for given targets).
    pub fn freeze(&self, freeze: bool) -> anyhow::Result<()> {
        if let Targets::Started(s) = self {
            for t in s {
                t.workload.signal(freeze)?;
            }
        }
        Ok(())
    }

    /// Fails when a server or a workload program has exited.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Targets::Started(s) = self {
            for t in s {
                let n = t.display.display();
                t.display
                    .ensure_running()
                    .with_context(|| format!("display {n}"))?;
                t.workload
                    .ensure_running()
                    .with_context(|| format!("workload on {n}"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            parse_target("127.0.0.1:5901").unwrap(),
            ("127.0.0.1".to_owned(), 5901)
        );
        assert_eq!(
            parse_target("[::1]:5902").unwrap(),
            ("::1".to_owned(), 5902)
        );
        assert!(parse_target("host").is_err());
        assert!(parse_target(":5901").is_err());
        assert!(parse_target("h:0").is_err());
        assert!(parse_target("h:99999").is_err());
    }
}
