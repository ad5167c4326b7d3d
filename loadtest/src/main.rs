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

mod client;
mod containers;
mod deploy;
mod launch;
mod sessions;
mod stats;

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Launch(args) => launch::run(args),
        Command::Sessions(args) => sessions::run(args),
        Command::Containers(args) => containers::run(args),
    }
}

/// Prints one line of the report.
fn say(line: &str) {
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
}
