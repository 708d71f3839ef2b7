//! Logging: structured lines on standard error, as JSON or for people.

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::opts::{LogFormat, LogOptions};

/// Installs the global subscriber. `quiet` lowers the default level to warnings, for commands
/// whose figures must not be disturbed by logging.
pub(crate) fn init(options: &LogOptions, quiet: bool) -> anyhow::Result<()> {
    let default = if quiet { "warn" } else { "info" };
    let filter = match &options.log_level {
        Some(level) => EnvFilter::try_new(level).context("parsing --log-level")?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match options.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("installing the logger: {e}"))
}
