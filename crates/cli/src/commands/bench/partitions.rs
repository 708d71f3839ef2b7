//! `bench --partitions 1,2,4`: phase A once, then phase B with `order_summary` as each number
//! of partitions in turn, each into a fresh read model (a new directory on SQLite, a new
//! database on PostgreSQL), over `--runs` rounds; the median of each, against the first count.

use std::sync::Arc;

use anyhow::Context;
use projector_core::{EventStore, ProjectionTarget};
use projector_orders::projections::OrderSummaryProjection;
use projector_postgres::{PgEventStore, PgEventStoreOptions, PgReadStore, PgReadStoreOptions};
use projector_sql::{SqlReadStore, SqlTarget, TypedSql};
use projector_sqlite::{
    SqliteEventStore, SqliteEventStoreOptions, SqliteReadStore, SqliteReadStoreOptions,
};
use serde::Serialize;

use super::bar;
use super::phases;
use super::postgres::BenchDatabase;
use crate::opts::BenchArgs;

/// One partition count's figure.
#[derive(Debug, Serialize)]
struct Figure {
    partitions: u16,
    project_events_per_s: u64,
    vs_first: f64,
}

pub(crate) async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let counts = args.partitions.clone();
    let dir = match &args.dir {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .context("creating a temporary directory")?;
    let events_db = match &args.database_url {
        Some(url) => Some(BenchDatabase::create(url).await?),
        None => None,
    };
    let store: Arc<dyn EventStore> = match &events_db {
        Some(db) => Arc::new(
            PgEventStore::connect(&db.url, PgEventStoreOptions::default())
                .await
                .context("connecting the event store")?,
        ),
        None => Arc::new(SqliteEventStore::open(
            dir.path().join("events.db"),
            SqliteEventStoreOptions {
                durability: args.durability,
                ..SqliteEventStoreOptions::default()
            },
        )?),
    };
    let progress = bar(args.json, args.orders, "A: append");
    phases::append(store.clone(), args.orders, args.writers, &progress).await?;
    progress.finish_and_clear();

    let events = args.orders * 4;
    let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); counts.len()];
    let mut read_dbs = Vec::new();
    for round in 1..=args.runs.max(1) {
        for (i, count) in counts.iter().copied().enumerate() {
            let reads: Arc<dyn SqlReadStore> = match &args.database_url {
                Some(url) => {
                    let db = BenchDatabase::create(url).await?;
                    let reads = PgReadStore::connect(&db.url, PgReadStoreOptions::default())
                        .await
                        .context("opening the read store")?;
                    read_dbs.push(db);
                    Arc::new(reads)
                }
                None => Arc::new(SqliteReadStore::open(
                    dir.path().join(format!("read-{round}-{count}")),
                    SqliteReadStoreOptions::default(),
                )?),
            };
            let targets = SqlTarget::partitioned(
                Arc::clone(&reads),
                Arc::new(TypedSql(OrderSummaryProjection)),
                count,
            )?
            .into_iter()
            .map(|t| Arc::new(t) as Arc<dyn ProjectionTarget>)
            .collect();
            let progress = bar(
                args.json,
                events,
                &format!("run {round} · B: {count} partition(s)"),
            );
            let took =
                phases::project_into(store.clone(), targets, args.batch_size.max(1), &progress)
                    .await?;
            progress.finish_and_clear();
            phases::check(reads.as_ref(), args.orders).await?;
            if !args.json {
                eprintln!(
                    "run {round}: {count} partition(s): {:.0} events/s",
                    events as f64 / took
                );
            }
            seconds[i].push(took);
        }
    }
    drop(store);
    for db in read_dbs {
        db.drop().await;
    }
    if let Some(db) = events_db {
        db.drop().await;
    }

    let rates: Vec<f64> = seconds
        .iter_mut()
        .map(|s| events as f64 / median(s))
        .collect();
    let first = rates.first().copied().unwrap_or(1.0);
    let figures: Vec<Figure> = counts
        .iter()
        .zip(&rates)
        .map(|(count, rate)| Figure {
            partitions: *count,
            project_events_per_s: *rate as u64,
            vs_first: (rate / first * 100.0).round() / 100.0,
        })
        .collect();
    let backend = if args.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "workload": "orders-v1",
                "phase": "B",
                "backend": backend,
                "orders": args.orders,
                "events": events,
                "batch_size": args.batch_size.max(1),
                "runs": args.runs.max(1),
                "partitioned": figures,
            })
        );
    } else {
        println!(
            "orders-v1 phase B on {backend}: {events} events, batches of {}, median of {} run(s)",
            args.batch_size.max(1),
            args.runs.max(1)
        );
        println!(
            "{:>10}  {:>12}  {:>8}",
            "partitions", "events/s", "vs first"
        );
        for f in &figures {
            println!(
                "{:>10}  {:>12}  {:>7.2}x",
                f.partitions, f.project_events_per_s, f.vs_first
            );
        }
    }
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
