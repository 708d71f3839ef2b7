//! `projector bench`: the `orders-v1` workload (phases A and B) in a fresh temporary
//! directory, with the plain-rusqlite limit beside it on request; `--http` runs phase C.

mod baseline;
mod http;
mod phases;
mod report;
mod workload;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use projector_orders::projections::{self, OrderSummaryProjection};
use std::sync::Arc;

use crate::opts::BenchArgs;
use report::{Report, RunFigures};

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.http {
        return http::run(&args).await;
    }
    let projections_run = || {
        if args.all_projections {
            projections::all()
        } else {
            vec![Arc::new(OrderSummaryProjection) as Arc<dyn projector_core::SqlProjection>]
        }
    };
    let events = args.orders * 4;
    let mut figures = Vec::new();
    for run in 1..=args.runs.max(1) {
        let dir = match &args.dir {
            Some(parent) => tempfile::tempdir_in(parent),
            None => tempfile::tempdir(),
        }
        .context("creating a temporary directory")?;

        let progress = bar(args.json, args.orders, &format!("run {run} · A: append"));
        let (store, append_seconds) = phases::append(
            dir.path(),
            args.orders,
            args.writers,
            args.durability,
            &progress,
        )
        .await?;
        progress.finish_and_clear();

        let progress = bar(args.json, events, &format!("run {run} · B: project"));
        let (reads, project_seconds) = phases::project(
            dir.path(),
            Arc::clone(&store),
            projections_run(),
            args.batch_size.max(1),
            &progress,
        )
        .await?;
        progress.finish_and_clear();
        phases::check(&reads, args.orders).await?;
        store.close().await;
        drop((store, reads));

        let baseline = if args.baseline {
            let spinner = bar(args.json, 0, &format!("run {run} · plain rusqlite loops"));
            let (dir_path, orders, durability) =
                (dir.path().to_path_buf(), args.orders, args.durability);
            let figures =
                tokio::task::spawn_blocking(move || baseline::run(&dir_path, orders, durability))
                    .await
                    .context("the baseline panicked")??;
            spinner.finish_and_clear();
            Some(figures)
        } else {
            None
        };
        let run_figures = RunFigures {
            append_events_per_s: events as f64 / append_seconds,
            project_events_per_s: events as f64 / project_seconds,
            baseline,
        };
        if !args.json && args.runs > 1 {
            eprintln!(
                "run {run}: append {:.0} events/s, project {:.0} events/s",
                run_figures.append_events_per_s, run_figures.project_events_per_s
            );
        }
        figures.push(run_figures);
    }

    let report = Report {
        workload: "orders-v1",
        orders: args.orders,
        events,
        writers: args.writers.max(1),
        durability: args.durability.as_str(),
        read_durability: projector_sqlite::Durability::Normal.as_str(),
        projections: projections_run()
            .iter()
            .map(|p| p.name().to_string())
            .collect(),
        batch_size: args.batch_size.max(1),
        runs: figures.len(),
        append_events_per_s: 0,
        project_events_per_s: 0,
        baseline_append_events_per_s: None,
        baseline_append_batched_events_per_s: None,
        baseline_project_events_per_s: None,
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
