//! Phase C of the workload: the service as its users meet it, from an HTTP write to the read
//! that shows it. A server started as its own process (on embedded SQLite, or on PostgreSQL
//! with `--database-url`) is driven at `--rate`, after a second at half of it so that the
//! server is already taking load (the first measured second is also given apart: the onset,
//! how the server meets the step up); with `--capacity`, at a rate stepped up and then
//! bisected, to find the highest it holds with ack-to-readable p99 within the bound.
//!
//! # Layout
//! - `service`: the server processes, on fresh storage for each step;
//! - `drive`: one step at a fixed rate, and what it measured;
//! - `requests`: the client's writes and reads, over a fixed set of connections;
//! - `cpu`: the CPU time a step cost the server;
//! - `capacity`: the search for the highest rate held.

mod capacity;
mod cpu;
mod drive;
mod requests;
mod service;

use std::time::Duration;

use anyhow::bail;
use serde::Serialize;

use crate::opts::BenchArgs;
use drive::Step;
use service::Service;

/// The measured seconds also given on their own, from the step up to `--rate`: past the
/// capacity, the server settles within a fraction of a second of its load stepping up, and
/// the writes it takes meanwhile are the slowest.
const ONSET_SECONDS: u32 = 1;

/// What phase C at one rate measured.
#[derive(Debug, Serialize)]
struct HttpReport {
    workload: &'static str,
    backend: &'static str,
    #[serde(flatten)]
    step: Step,
}

pub(crate) async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if args.capacity {
        return capacity::run(args).await;
    }
    let client = client()?;
    let service = Service::start(args).await?;
    // A second at half the rate first, not measured: a cold server met at once with the whole
    // rate, past its capacity, spends its first moments opening connections while the client
    // opens more, which measures the start rather than the load.
    let plan = drive::WarmedStep {
        warm_rate: (args.rate / 2).max(1),
        rate: args.rate,
        onset: ONSET_SECONDS.min(args.seconds),
        seconds: args.seconds,
    };
    let step = drive::step_after_warm_up(&client, &service, plan).await;
    service.stop().await;
    let step = step?;
    if step.orders == 0 {
        bail!("no order was written and read back");
    }
    let report = HttpReport {
        workload: workload(args),
        backend: Service::backend(args),
        step,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_step(&report);
    }
    Ok(())
}

/// The HTTP client of the bench: every connection kept for reuse, since a new one per request
/// would measure the handshake. Keeping only some would close the rest after each burst of
/// requests and open them again at the next, the churn that tips an overloaded server over.
fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(30))
        .build()?)
}

fn workload(args: &BenchArgs) -> &'static str {
    if args.nats_url.is_some() {
        "orders-v1-http-read-node"
    } else {
        "orders-v1-http"
    }
}

fn print_step(report: &HttpReport) {
    let step = &report.step;
    println!(
        "workload {} on {} · {} orders at {} per second for {} s (held {:.0}/s) · {} shed · {} errors\n",
        report.workload,
        report.backend,
        step.orders,
        step.rate_target,
        step.seconds,
        step.orders_per_s_held,
        step.shed,
        step.errors
    );
    println!("{:<32} {:>9} {:>9} {:>9}", "", "p50 ms", "p99 ms", "max ms");
    println!(
        "{:<32} {:>9.2} {:>9.2}",
        "write (POST to 202)", step.write_p50_ms, step.accepted_p99_ms
    );
    println!(
        "{:<32} {:>9.2} {:>9.2} {:>9.2}",
        "acknowledged to readable",
        step.ack_to_readable_p50_ms,
        step.ack_to_readable_p99_ms,
        step.ack_to_readable_max_ms
    );
    println!(
        "{:<32} {:>9.2} {:>9.2}   ({} reads, {} turned away)",
        "point read under load", step.read_p50_ms, step.read_p99_ms, step.reads, step.reads_shed
    );
    if let (Some(percent), Some(per_order)) = (
        step.cpu.server_cpu_percent,
        step.cpu.server_cpu_us_per_order,
    ) {
        println!(
            "{:<32} {per_order:>9.1} µs per order   ({percent:.0}% of one core)",
            "server CPU"
        );
    }
    if let Some(per_order) = step.cpu.client_cpu_us_per_order {
        println!(
            "{:<32} {per_order:>9.1} µs per order",
            "bench client CPU (same machine)"
        );
    }
    if step.shed > 0 {
        println!(
            "{:<32} {:>9} {:>9.2}   ({} shed)",
            "write turned away (503/429)", "", step.shed_p99_ms, step.shed
        );
    }
    if let Some(onset) = &step.onset {
        println!(
            "{:<32} {:>9} {:>9.2}   ({} shed; its first {} s, counted above too)",
            "write at the step up",
            "",
            onset.onset_accepted_p99_ms,
            onset.onset_shed,
            onset.onset_seconds
        );
    }
}
