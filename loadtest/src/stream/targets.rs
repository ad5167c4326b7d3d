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
    /// Displays started here, each exposed at another address (a gateway
    /// in another network namespace cannot reach 127.0.0.1): the address of
    /// each forwarder, in the order of the displays.
    Exposed(
        Vec<Started>,
        Vec<(String, u16)>,
        Vec<tokio::task::JoinHandle<()>>,
    ),
}

impl Drop for Targets {
    fn drop(&mut self) {
        if let Targets::Exposed(_, _, forwarders) = self {
            for f in forwarders {
                f.abort();
            }
        }
    }
}

/// Passes every connection to `listener` on to `to`, bytes unchanged.
async fn forward(listener: tokio::net::TcpListener, to: std::net::SocketAddr) {
    while let Ok((mut inbound, _)) = listener.accept().await {
        tokio::spawn(async move {
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
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

    /// Exposes the displays started here at `host` (a TCP forwarder on
    /// `host`:any port for each); given targets cannot be.
    pub async fn expose(&mut self, host: std::net::IpAddr) -> anyhow::Result<()> {
        let Targets::Started(started) = self else {
            bail!("--target-host exposes displays started here, not given targets");
        };
        let started = std::mem::take(started);
        let mut addresses = Vec::new();
        let mut forwarders = Vec::new();
        for t in &started {
            let listener = tokio::net::TcpListener::bind((host, 0))
                .await
                .with_context(|| format!("cannot listen on {host} (--target-host)"))?;
            let port = listener.local_addr()?.port();
            let to = std::net::SocketAddr::from(([127, 0, 0, 1], t.display.rfb_port()));
            forwarders.push(tokio::spawn(forward(listener, to)));
            addresses.push((host.to_string(), port));
        }
        *self = Targets::Exposed(started, addresses, forwarders);
        Ok(())
    }

    fn started(&self) -> Option<&[Started]> {
        match self {
            Targets::Started(s) | Targets::Exposed(s, ..) => Some(s),
            Targets::Given(_) => None,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Targets::Started(s) | Targets::Exposed(s, ..) => s.len(),
            Targets::Given(g) => g.len(),
        }
    }

    /// `(host, port)` of target `i`, as the serving gateway reaches it.
    pub fn address(&self, i: usize) -> (String, u16) {
        match self {
            Targets::Started(s) => ("127.0.0.1".to_owned(), s[i].display.rfb_port()),
            Targets::Given(g) | Targets::Exposed(_, g, _) => g[i].clone(),
        }
    }

    /// A short name of target `i`: the X display, or the address.
    pub fn name(&self, i: usize) -> String {
        match self {
            Targets::Started(s) | Targets::Exposed(s, ..) => s[i].display.display(),
            Targets::Given(g) => format!("{}:{}", g[i].0, g[i].1),
        }
    }

    /// The display of target `i`, when we started it (fidelity needs it).
    pub fn display(&self, i: usize) -> Option<&VncDisplay> {
        self.started().map(|s| &s[i].display)
    }

    pub fn describe(&self, workload: Workload) -> String {
        match self {
            Targets::Started(s) => format!(
                "{} Xtigervnc display(s) {WIDTH}x{HEIGHT} started here, {} workload on each",
                s.len(),
                workload.name()
            ),
            Targets::Exposed(s, at, _) => format!(
                "{} Xtigervnc display(s) {WIDTH}x{HEIGHT} started here, {} workload on each, reached at {}",
                s.len(),
                workload.name(),
                at.iter()
                    .map(|(h, p)| format!("{h}:{p}"))
                    .collect::<Vec<_>>()
                    .join(", ")
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
        let s = self.started()?;
        let servers = s.iter().map(|t| processes_cpu(&t.server_pids)).sum();
        let workloads = s
            .iter()
            .map(|t| processes_cpu(&t.workload.processes()))
            .sum();
        Some((servers, workloads))
    }

    /// Freezes or thaws every workload (no-op for given targets).
    pub fn freeze(&self, freeze: bool) -> anyhow::Result<()> {
        if let Some(s) = self.started() {
            for t in s {
                t.workload.signal(freeze)?;
            }
        }
        Ok(())
    }

    /// Fails when a server or a workload program has exited.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Targets::Started(s) | Targets::Exposed(s, ..) = self {
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
