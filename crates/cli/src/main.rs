//! The `projector` binary: parses the command line and hands over to [`projector_cli::run`].

use std::process::ExitCode;

use clap::Parser;

/// jemalloc rather than the system allocator: under load the server allocates and frees on
/// many threads at once, where glibc's arenas spent about a sixth of its CPU.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = projector_cli::opts::Cli::parse();
    match projector_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
