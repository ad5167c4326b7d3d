//! `oriel`: one binary for every role. `oriel up` runs the control plane and
//! the gateway in one process; `oriel control` and `oriel gateway` run one
//! each. Cargo features pick the roles compiled in (`control`, `gateway`).

mod cli;
mod config;
mod keys;
mod roles;
mod telemetry;

use clap::Parser as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    // One TLS provider for the whole process, installed before anything
    // builds a TLS configuration.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = cli::Cli::parse();
    match roles::run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oriel: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
