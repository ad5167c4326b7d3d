//! `oriel-loadtest`: drives Oriel through its real interfaces and reports
//! what it measured.
//!
//! - `launch`: control-plane logins and session launches over the REST API,
//!   many at once, against a deployment it starts (SQLite or PostgreSQL) or
//!   one you point it at. Latency percentiles, throughput and CPU.
//!
//! - `sessions`: live VNC, RDP or SSH sessions against a real target it
//!   starts, each read by a verifying stream viewer: `oriel` memory and CPU
//!   per session, frames and bytes per second received, the peer's CPU.
//!
//! - `stream`: N sessions through the real stream protocol on the standard
//!   workloads (idle, office, video, video720): delivered fps, bytes/s,
//!   frame latency (damage → receipt), fidelity (PSNR while moving, exact
//!   match after the screen settles), `oriel` CPU and RSS per session.
//!
//! - `relay`: WebSocket pass-through through the gateway's `/relay/<route>`
//!   against nginx and websockify (and a direct baseline) in the same run:
//!   throughput for one and many streams, relay CPU per Gbit/s, added echo
//!   latency, memory per idle stream.

mod client;
mod containers;
mod deploy;
mod launch;
mod live;
mod relay;
mod sessions;
mod stats;
mod stream;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "oriel-loadtest", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Logins and session launches through the REST API.
    Launch(launch::Args),
    /// Memory and CPU per live VNC, RDP or SSH session.
    Sessions(sessions::Args),
    /// Container sessions: launch → first frame, and an idle session's cost.
    Containers(containers::Args),
    /// Stream fps, bandwidth, latency and fidelity on standard workloads.
    Stream(Box<stream::Args>),
    /// WebSocket relay throughput, latency and memory against nginx and websockify.
    Relay(relay::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Launch(args) => launch::run(args),
        Command::Sessions(args) => sessions::run(args),
        Command::Containers(args) => containers::run(args),
        Command::Stream(args) => stream::run(*args),
        Command::Relay(args) => relay::run(args),
    }
}

/// Prints one line of the report.
fn say(line: &str) {
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
}
