//! `projector bench --catalogue`: the catalogue workload (docs/benchmarks.md). Phase A loads
//! `--products` products into embedded SQLite; phase B projects them into `product_search`
//! from an empty index, with the plain tantivy loop beside it on request; the latency phase
//! searches the index at a fixed rate.

mod data;
mod latency;
mod plain;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use projector_core::{DomainEvent, EventMetadata, EventStore, ExpectedVersion};
use projector_products::projections::{PRODUCT_SEARCH, ProductSearchProjection};
use projector_search::{SearchStore, SearchTarget};
use projector_sqlite::{Durability, SqliteEventStore, SqliteEventStoreOptions};
use serde::Serialize;

use super::report::median;
use super::{bar, phases};
use crate::opts::BenchArgs;
use latency::Latency;

/// Concurrent appenders of phase A: the catalogue is loaded, not measured, so they share
/// commits.
const LOADERS: u64 = 16;

/// One run's figures.
#[derive(Clone, Copy, Debug)]
struct RunFigures {
    load_events_per_s: f64,
    project_events_per_s: f64,
    plain_events_per_s: Option<f64>,
    latency: Latency,
}

/// The report: medians over the runs.
#[derive(Debug, Serialize)]
struct Report {
    workload: &'static str,
    products: u64,
    batch_size: usize,
    runs: usize,
    load_events_per_s: u64,
    project_events_per_s: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    plain_tantivy_events_per_s: Option<u64>,
    search_rate: u32,
    searches: u64,
    search_p50_ms: f64,
    search_p99_ms: f64,
    search_max_ms: f64,
    check: &'static str,
}

pub(crate) async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let mut figures = Vec::new();
    for run in 1..=args.runs.max(1) {
        let run_figures = run_once(args, run).await?;
        if !args.json && args.runs > 1 {
            eprintln!(
                "run {run}: project {:.0} events/s, search p99 {:.2} ms",
                run_figures.project_events_per_s, run_figures.latency.p99_ms
            );
        }
        figures.push(run_figures);
    }
    let pick = |f: fn(&RunFigures) -> f64| median(figures.iter().map(f).collect());
    let plain = figures
        .iter()
        .map(|f| f.plain_events_per_s)
        .collect::<Option<Vec<f64>>>()
        .map(median);
    let report = Report {
        workload: "catalogue-v1",
        products: args.products,
        batch_size: args.batch_size.max(1),
        runs: figures.len(),
        load_events_per_s: pick(|f| f.load_events_per_s).round() as u64,
        project_events_per_s: pick(|f| f.project_events_per_s).round() as u64,
        plain_tantivy_events_per_s: plain.map(|p| p.round() as u64),
        search_rate: args.search_rate,
        searches: figures.first().map_or(0, |f| f.latency.searches),
        search_p50_ms: pick(|f| f.latency.p50_ms),
        search_p99_ms: pick(|f| f.latency.p99_ms),
        search_max_ms: pick(|f| f.latency.max_ms),
        check: "ok",
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", table(&report));
    }
    Ok(())
}

fn table(report: &Report) -> String {
    let mut out = format!(
        "workload {} on sqlite · {} products · batch {} · median of {} run(s)\n\n",
        report.workload, report.products, report.batch_size, report.runs
    );
    out.push_str(&format!(
        "{:<34} {:>14} {:>20} {:>8}\n",
        "phase", "events/s", "plain tantivy", "ratio"
    ));
    out.push_str(&format!(
        "{:<34} {:>14} {:>20} {:>8}\n",
        "A: load (16 writers)", report.load_events_per_s, "-", "-"
    ));
    let (plain, ratio) = match report.plain_tantivy_events_per_s {
        Some(p) if p > 0 => (
            p.to_string(),
            format!("{:.2}", report.project_events_per_s as f64 / p as f64),
        ),
        _ => ("-".into(), "-".into()),
    };
    out.push_str(&format!(
        "{:<34} {:>14} {:>20} {:>8}\n",
        "B: project product_search", report.project_events_per_s, plain, ratio
    ));
    out.push_str(&format!(
        "\nsearch (two words and a category) at {}/s, {} searches: p50 {:.2} ms · p99 {:.2} ms · max {:.2} ms\n",
        report.search_rate, report.searches, report.search_p50_ms, report.search_p99_ms, report.search_max_ms
    ));
    out
}

async fn run_once(args: &BenchArgs, run: usize) -> anyhow::Result<RunFigures> {
    let dir = match &args.dir {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .context("creating a temporary directory")?;
    let products = args.products.max(1);
    let options = SqliteEventStoreOptions {
        durability: Durability::Normal,
        ..SqliteEventStoreOptions::default()
    };
    let store = Arc::new(SqliteEventStore::open(
        dir.path().join("events.db"),
        options,
    )?);

    let progress = bar(args.json, products, &format!("run {run} · A: load"));
    let load_seconds = load(store.clone(), products, &progress).await?;
    progress.finish_and_clear();

    let search = SearchStore::open(dir.path().join("search"))?;
    let progress = bar(args.json, products, &format!("run {run} · B: project"));
    let project_seconds =
        project(store.clone(), &search, args.batch_size.max(1), &progress).await?;
    progress.finish_and_clear();
    let indexed = search.read(&PRODUCT_SEARCH)?.searcher().num_docs();
    if indexed != products {
        bail!("check failed: product_search holds {indexed} products, the workload {products}");
    }

    let spinner = bar(
        args.json,
        0,
        &format!("run {run} · searching at {}/s", args.search_rate),
    );
    let latency = latency::run(&search, args.search_rate, args.seconds).await?;
    spinner.finish_and_clear();
    if latency.empty == latency.searches {
        bail!("check failed: no search found a product");
    }
    drop(search);
    store.close().await;

    let plain = if args.baseline {
        let spinner = bar(args.json, 0, &format!("run {run} · plain tantivy loop"));
        let path = dir.path().join("plain");
        let batch = args.batch_size.max(1);
        let figure = tokio::task::spawn_blocking(move || plain::run(&path, products, batch))
            .await
            .context("the plain loop panicked")??;
        spinner.finish_and_clear();
        Some(figure)
    } else {
        None
    };
    Ok(RunFigures {
        load_events_per_s: products as f64 / load_seconds,
        project_events_per_s: products as f64 / project_seconds,
        plain_events_per_s: plain,
        latency,
    })
}

/// Phase A: [`LOADERS`] tasks append the products between them, one product (one event) per
/// append. Returns the seconds taken.
async fn load(
    store: Arc<dyn EventStore>,
    products: u64,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for loader in 0..LOADERS {
        let store = Arc::clone(&store);
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = loader;
            while i < products {
                let (stream, event) = data::event(i)?;
                let new = event.to_new_event(&EventMetadata::default())?;
                store
                    .append(&stream, ExpectedVersion::NoStream, vec![new])
                    .await
                    .with_context(|| format!("appending product {i}"))?;
                progress.inc(1);
                i += LOADERS;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await.context("a loader panicked")??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Phase B: from an empty index, project every product into `product_search`; the seconds
/// until its checkpoint reaches the last event.
async fn project(
    store: Arc<dyn EventStore>,
    search: &SearchStore,
    batch_size: usize,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<f64> {
    let target = Arc::new(SearchTarget::typed(search.clone(), ProductSearchProjection));
    phases::project_into(store, vec![target], batch_size, progress).await
}
