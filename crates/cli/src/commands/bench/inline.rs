//! `projector bench --inline`: phase A twice in one run, plain and then with the workload's
//! `order_summary` applied inline (in the append's transaction), on embedded SQLite or, with
//! `--database-url`, on PostgreSQL (a fresh database per phase); the ratio is what an inline
//! projection costs the append path.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use projector_core::{
    EventFilter, PoisonPolicy, Projection, ProjectionError, ProjectionName, RecordedEvent,
    StartFrom,
};
use projector_orders::projections::{ORDER_SUMMARY, OrderSummaryProjection};
use projector_postgres::{
    PgEventStore, PgEventStoreOptions, PgInlineProjections, PgReadStore, PgReadStoreOptions,
};
use projector_sql::{SqlProjection, SqlReadStore, SqlTransaction, TypedSql};
use projector_sqlite::{
    InlineProjections, SqliteEventStore, SqliteEventStoreOptions, SqliteReadStore,
    SqliteReadStoreOptions,
};
use serde::Serialize;

use super::postgres::BenchDatabase;
use super::{bar, phases};
use crate::opts::BenchArgs;

/// The JSON line (or table) of `bench --inline`.
#[derive(Debug, Serialize)]
struct InlineReport {
    workload: &'static str,
    backend: &'static str,
    phase: &'static str,
    orders: u64,
    events: u64,
    writers: usize,
    durability: String,
    inline_projection: String,
    runs: usize,
    /// Median appends without an inline projection.
    append_events_per_s: u64,
    /// Median appends with `order_summary` inline.
    inline_append_events_per_s: u64,
    /// `inline_append_events_per_s / append_events_per_s`.
    inline_ratio: f64,
    check: &'static str,
}

pub(crate) async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let events = args.orders * 4;
    let mut plain = Vec::new();
    let mut inline = Vec::new();
    for run in 1..=args.runs.max(1) {
        plain.push(events as f64 / phase_a(args, run, false).await?);
        inline.push(events as f64 / phase_a(args, run, true).await?);
    }
    let (plain, inline) = (median(&mut plain), median(&mut inline));
    let report = InlineReport {
        workload: "orders-v1",
        backend: if args.database_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        },
        phase: "A",
        orders: args.orders,
        events,
        writers: args.writers.max(1),
        durability: args.durability.to_string(),
        inline_projection: ORDER_SUMMARY.to_string(),
        runs: args.runs.max(1),
        append_events_per_s: plain.round() as u64,
        inline_append_events_per_s: inline.round() as u64,
        inline_ratio: (inline / plain * 1000.0).round() / 1000.0,
        check: "ok",
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "phase A, {} orders, {} writer(s), {} ({}):\n  append            {:>10} events/s\n  append + inline   {:>10} events/s  ({} of plain)",
            report.orders,
            report.writers,
            report.backend,
            report.durability,
            report.append_events_per_s,
            report.inline_append_events_per_s,
            report.inline_ratio
        );
    }
    Ok(())
}

/// One phase A on a fresh store, with `order_summary` inline or not; the seconds taken.
/// With it inline, the read model must hold every order afterwards with no projector running.
async fn phase_a(args: &BenchArgs, run: usize, inline: bool) -> anyhow::Result<f64> {
    match &args.database_url {
        Some(url) => {
            let database = BenchDatabase::create(url).await?;
            let result = phase_a_postgres(args, &database.url, run, inline).await;
            database.drop().await;
            result
        }
        None => phase_a_sqlite(args, run, inline).await,
    }
}

/// Phase A on a fresh PostgreSQL database at `url`.
async fn phase_a_postgres(
    args: &BenchArgs,
    url: &str,
    run: usize,
    inline: bool,
) -> anyhow::Result<f64> {
    let store = Arc::new(
        PgEventStore::connect(url, PgEventStoreOptions::default())
            .await
            .context("connecting the event store")?,
    );
    let reads = if inline {
        let reads = PgReadStore::connect(url, PgReadStoreOptions::default())
            .await
            .context("opening the read store")?;
        let projection: Arc<dyn SqlProjection> =
            Arc::new(Inline(Arc::new(TypedSql(OrderSummaryProjection))));
        let generation = reads.create_generation(projection.as_ref()).await?;
        reads.activate(&projection.name(), generation, None).await?;
        store.set_inline(PgInlineProjections::new([projection]));
        Some(reads)
    } else {
        None
    };
    let seconds = timed_append(args, run, inline, store.clone()).await?;
    store.close().await;
    if let Some(reads) = reads {
        phases::check(&reads as &dyn SqlReadStore, args.orders)
            .await
            .context("the inline read model after phase A")?;
    }
    Ok(seconds)
}

/// Phase A's appends, behind a progress bar.
async fn timed_append(
    args: &BenchArgs,
    run: usize,
    inline: bool,
    store: Arc<dyn projector_core::EventAppender>,
) -> anyhow::Result<f64> {
    let label = if inline {
        "A: append + inline"
    } else {
        "A: append"
    };
    let progress = bar(args.json, args.orders, &format!("run {run} · {label}"));
    let seconds = phases::append(store, args.orders, args.writers, &progress).await?;
    progress.finish_and_clear();
    Ok(seconds)
}

/// Phase A in a fresh directory.
async fn phase_a_sqlite(args: &BenchArgs, run: usize, inline: bool) -> anyhow::Result<f64> {
    let dir = match &args.dir {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .context("creating a temporary directory")?;
    let store = Arc::new(SqliteEventStore::open(
        dir.path().join("events.db"),
        SqliteEventStoreOptions {
            durability: args.durability,
            ..SqliteEventStoreOptions::default()
        },
    )?);
    let reads = if inline {
        let reads =
            SqliteReadStore::open(dir.path().join("read"), SqliteReadStoreOptions::default())?;
        let projection: Arc<dyn SqlProjection> =
            Arc::new(Inline(Arc::new(TypedSql(OrderSummaryProjection))));
        let generation = reads.create_generation(projection.as_ref()).await?;
        reads.activate(&projection.name(), generation, None).await?;
        store.set_inline(InlineProjections::new(reads.clone(), [projection])?);
        Some(reads)
    } else {
        None
    };
    let seconds = timed_append(args, run, inline, store.clone()).await?;
    store.close().await;
    if let Some(reads) = reads {
        phases::check(&reads as &dyn SqlReadStore, args.orders)
            .await
            .context("the inline read model after phase A")?;
    }
    Ok(seconds)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A projection declared inline whatever the one it wraps says.
struct Inline(Arc<dyn SqlProjection>);

impl Projection for Inline {
    fn name(&self) -> ProjectionName {
        self.0.name()
    }

    fn version(&self) -> u32 {
        self.0.version()
    }

    fn handles(&self) -> EventFilter {
        self.0.handles()
    }

    fn poison_policy(&self) -> PoisonPolicy {
        self.0.poison_policy()
    }

    fn start_from(&self) -> StartFrom {
        self.0.start_from()
    }
}

#[async_trait]
impl SqlProjection for Inline {
    fn schema(&self) -> &[&str] {
        self.0.schema()
    }

    fn inline(&self) -> bool {
        true
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        self.0.apply(tx, events).await
    }
}
