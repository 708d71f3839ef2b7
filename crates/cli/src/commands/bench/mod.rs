//! `projector bench`: the `orders-v1` workload (phases A and B), on embedded SQLite in a fresh
//! temporary directory or, with `--database-url`, on PostgreSQL in a fresh database; with the
//! plain-loop limit of the same backend beside it on request. `--http` runs phase C (with
//! `--capacity`, the search for the highest rate it holds), and
//! `--catalogue` the catalogue workload (`product_search`), and `--inline`
//! phase A with and without an inline projection. `--nats-url` runs the relay to NATS
//! JetStream against a plain publish loop, and with `--http` phase C through a read node.
//! `--partitions 1,2,4` runs phase B with `order_summary` as each number of partitions.

mod baseline;
mod baseline_pg;
mod cache;
mod catalogue;
mod http;
mod inline;
mod partitions;
mod phases;
mod postgres;
mod relay;
mod report;
mod sqlite;
mod workload;

use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use projector_orders::projections::{self, OrderSummaryProjection};
use projector_sql::{SqlProjection, TypedSql};

use crate::opts::BenchArgs;
use report::Report;

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.http {
        return http::run(&args).await;
    }
    if args.catalogue {
        return catalogue::run(&args).await;
    }
    if args.inline {
        return inline::run(&args).await;
    }
    if let (Some(url), false) = (&args.nats_url, args.http) {
        return relay::run(&args, url).await;
    }
    if !args.partitions.is_empty() {
        return partitions::run(&args).await;
    }
    let events = args.orders * 4;
    let mut figures = Vec::new();
    let mut settings = None;
    for run in 1..=args.runs.max(1) {
        let (run_figures, run_settings) = match &args.database_url {
            Some(url) => postgres::run_once(&args, url, run).await?,
            None => sqlite::run_once(&args, run).await?,
        };
        if !args.json && args.runs > 1 {
            eprintln!(
                "run {run}: append {:.0} events/s, project {:.0} events/s",
                run_figures.append_events_per_s, run_figures.project_events_per_s
            );
        }
        figures.push(run_figures);
        settings = Some(run_settings);
    }
    let Some(settings) = settings else {
        anyhow::bail!("no run completed");
    };

    let report = Report {
        workload: "orders-v1",
        backend: settings.backend,
        orders: args.orders,
        events,
        writers: args.writers.max(1),
        durability: settings.durability,
        read_durability: settings.read_durability,
        projections: projections_run(&args)
            .iter()
            .map(|p| p.name().to_string())
            .collect(),
        batch_size: args.batch_size.max(1),
        runs: figures.len(),
        append_events_per_s: 0,
        project_events_per_s: 0,
        baseline_name: settings.baseline_name,
        baseline_append_events_per_s: None,
        baseline_append_batched_events_per_s: None,
        baseline_project_events_per_s: None,
        redis_project_events_per_s: None,
        baseline_redis_project_events_per_s: None,
        check: "ok",
    }
    .with_medians(&figures);
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

/// The projections phase B runs.
fn projections_run(args: &BenchArgs) -> Vec<Arc<dyn SqlProjection>> {
    if args.all_projections {
        projections::all()
    } else {
        vec![Arc::new(TypedSql(OrderSummaryProjection))]
    }
}

/// A progress bar on standard error, hidden for `--json` and when not on a terminal.
fn bar(hidden: bool, length: u64, label: &str) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(length);
    let style = ProgressStyle::with_template("{msg:32} {bar:40} {pos}/{len} {per_sec}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(label.to_owned());
    bar
}
