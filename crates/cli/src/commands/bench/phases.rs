//! Phases A (append) and B (project) of the workload on projector itself, and the check, over
//! any backend's stores.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use projector_core::{EventAppender, EventFeed, EventStore, ExpectedVersion, ProjectionTarget};
use projector_orders::projections::ORDER_SUMMARY;
use projector_runtime::{Projector, ProjectorOptions};
use projector_sql::{SqlProjection, SqlReadStore, SqlTarget};
use tokio_util::sync::CancellationToken;

use super::workload::{self, Expected};
use super::{bar, projections_run};
use crate::opts::BenchArgs;

/// Phases A and B and the check, on `store` and the read store `open_reads` opens after phase
/// A (so opening it is not timed as appending). Returns the seconds of A and of B.
pub(crate) async fn append_and_project<F>(
    args: &BenchArgs,
    run: usize,
    store: Arc<dyn EventStore>,
    open_reads: F,
) -> anyhow::Result<(f64, f64)>
where
    F: Future<Output = anyhow::Result<Arc<dyn SqlReadStore>>>,
{
    let progress = bar(args.json, args.orders, &format!("run {run} · A: append"));
    let append_seconds = append(store.clone(), args.orders, args.writers, &progress).await?;
    progress.finish_and_clear();

    let reads = open_reads.await?;
    let progress = bar(
        args.json,
        args.orders * 4,
        &format!("run {run} · B: project"),
    );
    let project_seconds = project(
        store,
        reads.clone(),
        projections_run(args),
        args.batch_size.max(1),
        &progress,
    )
    .await?;
    progress.finish_and_clear();
    check(reads.as_ref(), args.orders).await?;
    Ok((append_seconds, project_seconds))
}

/// Phase A: `writers` tasks append `orders` orders between them, one append per order.
/// Returns the seconds taken.
pub(crate) async fn append(
    store: Arc<dyn EventAppender>,
    orders: u64,
    writers: usize,
    progress: &ProgressBar,
) -> anyhow::Result<f64> {
    let writers = writers.max(1) as u64;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = Arc::clone(&store);
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < orders {
                store
                    .append(
                        &workload::stream(i),
                        ExpectedVersion::NoStream,
                        workload::events(i),
                    )
                    .await
                    .with_context(|| format!("appending order {i}"))?;
                progress.inc(1);
                i += writers;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await.context("an appender panicked")??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Phase B: from an empty read model, project every event; the seconds until every
/// projection's checkpoint reaches the last event.
pub(crate) async fn project(
    store: Arc<dyn EventFeed>,
    reads: Arc<dyn SqlReadStore>,
    projections: Vec<Arc<dyn SqlProjection>>,
    batch_size: usize,
    progress: &ProgressBar,
) -> anyhow::Result<f64> {
    let targets = projections
        .into_iter()
        .map(|projection| {
            Arc::new(SqlTarget::new(Arc::clone(&reads), projection)) as Arc<dyn ProjectionTarget>
        })
        .collect();
    project_into(store, targets, batch_size, progress).await
}

/// Projects every event of `store` into `targets` (of any kind) from their start; the seconds
/// until every checkpoint reaches the last event.
pub(crate) async fn project_into(
    store: Arc<dyn EventFeed>,
    targets: Vec<Arc<dyn ProjectionTarget>>,
    batch_size: usize,
    progress: &ProgressBar,
) -> anyhow::Result<f64> {
    let options = ProjectorOptions {
        batch_size,
        ..ProjectorOptions::default()
    };
    let mut projector = Projector::new(store, options);
    for target in targets {
        projector = projector.with_target(target);
    }
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let handle = projector.start(shutdown.clone())?;
    let ticker = {
        let handle = handle.clone();
        let progress = progress.clone();
        tokio::spawn(async move {
            loop {
                let done = handle
                    .statuses()
                    .iter()
                    .map(|s| s.checkpoint.get())
                    .min()
                    .unwrap_or(0);
                progress.set_position(done);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let caught_up = handle.wait_caught_up(Duration::from_secs(3600)).await;
    let seconds = started.elapsed().as_secs_f64();
    ticker.abort();
    shutdown.cancel();
    handle.join().await;
    caught_up.context("projecting the workload")?;
    Ok(seconds)
}

/// The workload's check on `order_summary`, in SQL that SQLite and PostgreSQL both run (sums
/// of whole cents, cast back to integers).
pub(crate) async fn check(reads: &dyn SqlReadStore, orders: u64) -> anyhow::Result<()> {
    let rows = reads
        .query(
            &ORDER_SUMMARY,
            "SELECT count(*), CAST(sum(item_count) AS BIGINT), \
             CAST(sum(total_cents) AS BIGINT) FROM order_summary",
            &[],
        )
        .await?;
    let row = rows.first().context("the check query returned no row")?;
    let count: i64 = row.get(0)?;
    let items: Option<i64> = row.get(1)?;
    let total_cents: Option<i64> = row.get(2)?;
    let found = Expected {
        orders: count,
        items: items.unwrap_or(0),
        total_cents: total_cents.unwrap_or(0),
    };
    let expected = Expected::for_orders(orders);
    if found != expected {
        bail!("check failed: order_summary holds {found:?}, the workload expects {expected:?}");
    }
    Ok(())
}
