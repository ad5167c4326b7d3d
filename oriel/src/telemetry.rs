//! Logging: `tracing` to stderr, plain or JSON; `log` records (pingora's)
//! are bridged in.

use crate::config::{General, LogFormat};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::SubscriberInitExt as _;

pub fn init(general: &General) -> anyhow::Result<()> {
    // RUST_LOG wins over the configuration, for debugging.
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&general.log_level))
        .map_err(|e| anyhow::anyhow!("general.log_level {:?}: {e}", general.log_level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let result = match general.log_format {
        LogFormat::Plain => builder.finish().try_init(),
        LogFormat::Json => builder.json().finish().try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
