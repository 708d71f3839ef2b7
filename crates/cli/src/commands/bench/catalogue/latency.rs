//! The latency phase: two-word searches with a category filter against the catalogue's index,
//! started at a fixed rate whatever the answers' speed (so a slow answer delays no later
//! start), each timed from when it was due to start to its answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use projector_products::projections::PRODUCT_SEARCH;
use projector_products::search::{ProductSearch, search_products};
use projector_search::SearchStore;
use tokio::sync::Semaphore;

use super::data;

/// What the phase measured, in milliseconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Latency {
    pub(crate) searches: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    /// How many answered no product (a query of the workload finds some in every category
    /// most of the time; all empty would mean the index is).
    pub(crate) empty: u64,
}

/// Searches `store` at `rate` per second for `seconds`.
pub(crate) async fn run(store: &SearchStore, rate: u32, seconds: u32) -> anyhow::Result<Latency> {
    let rate = rate.max(1);
    let total = u64::from(rate) * u64::from(seconds.max(1));
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    // As many searches in flight as the blocking pool can run; more wait their turn, timed.
    let in_flight = Arc::new(Semaphore::new(64));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for n in 0..total {
        let due = started + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due.into()).await;
        let store = store.clone();
        let permit = Arc::clone(&in_flight).acquire_owned().await?;
        tasks.push(tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let (text, category) = data::query(n);
            let search = ProductSearch {
                text: Some(text),
                category: Some(category.to_owned()),
                ..ProductSearch::default()
            };
            let read = store.read(&PRODUCT_SEARCH)?;
            let results = search_products(&read, &search)?;
            anyhow::Ok((
                due.elapsed().as_secs_f64() * 1000.0,
                results.hits.is_empty(),
            ))
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut empty = 0;
    for task in tasks {
        let (ms, was_empty) = task.await.context("a search panicked")??;
        latencies.push(ms);
        empty += u64::from(was_empty);
    }
    Ok(Latency {
        searches: total,
        p50_ms: super::super::report::percentile(&latencies, 50.0),
        p99_ms: super::super::report::percentile(&latencies, 99.0),
        max_ms: super::super::report::percentile(&latencies, 100.0),
        empty,
    })
}
