//! The `projector` command line: one module per subcommand, over the library crates.
//!
//! # Layout
//! - [`opts`]: the command line.
//! - `commands`: `serve`, `project`, `rebuild`, `status`, `dead-letters`, `bench`, `api-key`;
//!   `access`: who may call the server.
//! - `data`: the SQLite data directory; `stores`: opening SQLite or PostgreSQL stores;
//!   [`read_models`]: the read models of the built-in services, bound to their stores (public,
//!   so tests can build the same set).
//! - `admin_client`: a running server's admin API (`--server`), and `admin_projections` its
//!   list of projections; `progress`: a rebuild's progress bar or lines.
//! - `telemetry`: logging; `signals`: SIGINT/SIGTERM.
//!
//! It is not: a library to embed (use `projector-runtime` and a backend crate directly).

mod access;
mod admin_client;
mod admin_projections;
mod commands;
mod data;
mod holders;
pub mod opts;
mod progress;
pub mod read_models;
mod redact;
mod relaying;
mod signals;
mod stores;
mod telemetry;

use anyhow::Context;

use crate::opts::{Cli, Command};

/// Runs one command to completion.
///
/// # Errors
/// Whatever stopped the command, with context.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init(&cli.log, matches!(cli.command, Command::Bench(_)))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("projector")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => commands::serve::run(*args).await,
            Command::Project(args) => commands::project::run(args).await,
            Command::Rebuild(args) => commands::rebuild::run(args).await,
            Command::Status(args) => commands::status::run(args).await,
            Command::DeadLetters(args) => commands::dead_letters::run(args).await,
            Command::Pause(args) => commands::pause::pause(args).await,
            Command::Resume(args) => commands::pause::resume(args).await,
            Command::Bench(args) => commands::bench::run(args).await,
            Command::Relay(args) => commands::relay::run(args).await,
            Command::ApiKey(args) => commands::api_key::run(args),
        }
    })
}
