//! `oriel-loadtest`: drives Oriel through its real interfaces and reports
//! what it measured.
//!
//! - `launch`: control-plane logins and session launches over the REST API,
//!   many at once, against a deployment it starts (SQLite or PostgreSQL) or
//!   one you point it at. Latency percentiles, throughput and CPU.
//!
//! Streams (fps, bandwidth, latency per session, side by side with noVNC)
//! are the subject of their own issue; see `loadtest/README.md`.

mod client;
mod deploy;
mod launch;
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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Launch(args) => launch::run(args),
    }
}
