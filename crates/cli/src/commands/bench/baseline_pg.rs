//! The plain-loop limit on PostgreSQL: the same phases as plain tokio-postgres loops with
//! nothing around them, in the bench's own database, so projector's figures can be read as
//! ratios. Each loop is as fast as plain code gets without giving anything up: one statement
//! (one round trip) per transaction, every row of it sent as parallel arrays.
//!
//! - Phase A, one transaction per order: the order's four rows in one `INSERT ... unnest`, on
//!   the server's `synchronous_commit`.
//! - Phase A, 100 orders per transaction: 400 rows in one such `INSERT`.
//! - Phase B: events read in batches of the run's `--batch-size` and folded per order in
//!   memory, then one multi-row upsert and the checkpoint in one transaction, with
//!   `synchronous_commit=off` like projector's read models (a lost tail is replayed from the
//!   checkpoint).

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, bail};
use projector_orders::Money;
use serde::Deserialize;
use tokio_postgres::NoTls;
use uuid::Uuid;

use super::baseline::BaselineFigures;
use super::workload::{self, Expected};

const SCHEMA: &str = "
    CREATE SCHEMA baseline;
    CREATE TABLE baseline.events_single (
        position BIGINT PRIMARY KEY, event_id UUID NOT NULL UNIQUE, stream_id TEXT NOT NULL,
        stream_version BIGINT NOT NULL, event_type TEXT NOT NULL, schema_version INTEGER NOT NULL,
        data JSON NOT NULL, recorded_at TIMESTAMPTZ NOT NULL, UNIQUE (stream_id, stream_version));
    CREATE TABLE baseline.events_batched (LIKE baseline.events_single INCLUDING ALL);
    CREATE TABLE baseline.order_summary (
        order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, status TEXT NOT NULL,
        item_count BIGINT NOT NULL, total_cents BIGINT NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE baseline.checkpoint (id INTEGER PRIMARY KEY, position BIGINT NOT NULL);
    INSERT INTO baseline.checkpoint VALUES (1, 0);";

/// Runs the three loops in the database at `url`; phase B reads `batch_size` events at a
/// time, as the projector does.
pub(crate) async fn run(
    url: &str,
    orders: u64,
    batch_size: usize,
) -> anyhow::Result<BaselineFigures> {
    let (mut client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .context("connecting the baseline")?;
    let driver = tokio::spawn(connection);
    client
        .batch_execute(SCHEMA)
        .await
        .context("baseline schema")?;
    let events = (orders * 4) as f64;
    let seconds = append(&client, "baseline.events_single", orders, 1)
        .await
        .context("baseline phase A")?;
    let append_events_per_s = events / seconds;
    let seconds = append(&client, "baseline.events_batched", orders, 100)
        .await
        .context("baseline phase A, batched")?;
    let append_batched_events_per_s = events / seconds;
    let seconds = project(&mut client, batch_size)
        .await
        .context("baseline phase B")?;
    check(&client, orders).await?;
    drop(client);
    let _ = driver.await;
    Ok(BaselineFigures {
        append_events_per_s,
        append_batched_events_per_s,
        project_events_per_s: events / seconds,
    })
}

/// One transaction's rows, as the arrays of the `INSERT`.
#[derive(Default)]
struct Rows {
    positions: Vec<i64>,
    ids: Vec<Uuid>,
    streams: Vec<String>,
    versions: Vec<i64>,
    types: Vec<String>,
    payloads: Vec<String>,
}

/// Appends every order's four events into `table`, `per_transaction` orders to a transaction.
async fn append(
    client: &tokio_postgres::Client,
    table: &str,
    orders: u64,
    per_transaction: u64,
) -> anyhow::Result<f64> {
    let insert = client
        .prepare(&format!(
            "INSERT INTO {table} (position, event_id, stream_id, stream_version, event_type, schema_version, data, recorded_at) \
             SELECT p, i, s, v, t, 1, d::json, now() \
             FROM unnest($1::BIGINT[], $2::UUID[], $3::TEXT[], $4::BIGINT[], $5::TEXT[], $6::TEXT[]) AS u(p, i, s, v, t, d)"
        ))
        .await?;
    let started = Instant::now();
    let mut position = 0i64;
    let mut first = 0;
    while first < orders {
        let end = (first + per_transaction).min(orders);
        let mut rows = Rows::default();
        for order in first..end {
            let stream = format!("order-{order}");
            for (version, (event_type, data)) in (1i64..).zip(workload::payloads(order)) {
                position += 1;
                rows.positions.push(position);
                rows.ids.push(Uuid::now_v7());
                rows.streams.push(stream.clone());
                rows.versions.push(version);
                rows.types.push(event_type.as_str().to_owned());
                rows.payloads.push(data);
            }
        }
        client
            .execute(
                &insert,
                &[
                    &rows.positions,
                    &rows.ids,
                    &rows.streams,
                    &rows.versions,
                    &rows.types,
                    &rows.payloads,
                ],
            )
            .await?;
        first = end;
    }
    Ok(started.elapsed().as_secs_f64())
}

#[derive(Deserialize)]
struct Payload {
    order_id: String,
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    quantity: Option<i64>,
    /// Read as the order service reads it: whole cents.
    #[serde(default)]
    price: Option<Money>,
}

/// One order's change over a batch, folded in memory.
#[derive(Default)]
struct Delta {
    customer_id: String,
    confirmed: bool,
    item_count: i64,
    total_cents: i64,
    updated_at: String,
}

/// A batch's changed orders, as the arrays of the upsert.
#[derive(Default)]
struct SummaryColumns {
    order_ids: Vec<String>,
    customer_ids: Vec<String>,
    statuses: Vec<&'static str>,
    item_counts: Vec<i64>,
    totals: Vec<i64>,
    updated_at: Vec<String>,
}

/// Projects `order_summary` from the single-transaction events table, `batch_size` events to
/// a transaction.
async fn project(client: &mut tokio_postgres::Client, batch_size: usize) -> anyhow::Result<f64> {
    client.batch_execute("SET synchronous_commit = off").await?;
    let select = client
        .prepare(
            "SELECT position, event_type, data::text, recorded_at::text FROM baseline.events_single \
             WHERE position > $1 ORDER BY position LIMIT $2",
        )
        .await?;
    let upsert = client
        .prepare(
            "INSERT INTO baseline.order_summary AS s \
             SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::TEXT[]) \
             ON CONFLICT (order_id) DO UPDATE SET \
               customer_id = CASE WHEN excluded.customer_id = '' THEN s.customer_id ELSE excluded.customer_id END, \
               status = CASE WHEN excluded.status = 'confirmed' THEN 'confirmed' ELSE s.status END, \
               item_count = s.item_count + excluded.item_count, \
               total_cents = s.total_cents + excluded.total_cents, \
               updated_at = excluded.updated_at",
        )
        .await?;
    let checkpoint = client
        .prepare("UPDATE baseline.checkpoint SET position = $1 WHERE id = 1")
        .await?;
    let limit = i64::try_from(batch_size).unwrap_or(i64::MAX);
    let started = Instant::now();
    let mut after = 0i64;
    loop {
        let rows = client.query(&select, &[&after, &limit]).await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get(0)?;
        let mut orders: HashMap<String, Delta> = HashMap::new();
        for row in &rows {
            let event_type: &str = row.try_get(1)?;
            let payload: Payload = serde_json::from_str(row.try_get(2)?)?;
            let delta = orders.entry(payload.order_id).or_default();
            delta.updated_at = row.try_get::<_, &str>(3)?.to_owned();
            match event_type {
                "OrderCreated" => delta.customer_id = payload.customer_id.unwrap_or_default(),
                "OrderItemAdded" => {
                    let quantity = payload.quantity.unwrap_or(0);
                    delta.item_count += quantity;
                    delta.total_cents += payload
                        .price
                        .map_or(0, Money::cents)
                        .saturating_mul(quantity);
                }
                _ => delta.confirmed = true,
            }
        }
        let mut columns = SummaryColumns::default();
        for (order_id, delta) in orders {
            columns.order_ids.push(order_id);
            columns.customer_ids.push(delta.customer_id);
            columns.statuses.push(if delta.confirmed {
                "confirmed"
            } else {
                "pending"
            });
            columns.item_counts.push(delta.item_count);
            columns.totals.push(delta.total_cents);
            columns.updated_at.push(delta.updated_at);
        }
        let tx = client.transaction().await?;
        tx.execute(
            &upsert,
            &[
                &columns.order_ids,
                &columns.customer_ids,
                &columns.statuses,
                &columns.item_counts,
                &columns.totals,
                &columns.updated_at,
            ],
        )
        .await?;
        tx.execute(&checkpoint, &[&after]).await?;
        tx.commit().await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The workload's check on the baseline's own read model: a loop that got it wrong has no
/// figure either.
async fn check(client: &tokio_postgres::Client, orders: u64) -> anyhow::Result<()> {
    let row = client
        .query_one(
            "SELECT count(*), sum(item_count)::BIGINT, sum(total_cents)::BIGINT \
             FROM baseline.order_summary",
            &[],
        )
        .await?;
    let found = Expected {
        orders: row.try_get(0)?,
        items: row.try_get::<_, Option<i64>>(1)?.unwrap_or(0),
        total_cents: row.try_get::<_, Option<i64>>(2)?.unwrap_or(0),
    };
    let expected = Expected::for_orders(orders);
    if found != expected {
        bail!(
            "baseline check failed: order_summary holds {found:?}, the workload expects {expected:?}"
        );
    }
    Ok(())
}
