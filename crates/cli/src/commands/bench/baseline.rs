//! The physical limit: the same phases as plain rusqlite loops with nothing around them, on
//! the same `synchronous` settings, so projector's figures can be read as ratios.
//!
//! - Phase A, one transaction per order: what a single writer can do at one sync per order.
//! - Phase A, 100 orders per transaction: what group commit can approach.
//! - Phase B: events read in batches of the run's `--batch-size`, applied as one upsert or
//!   update per event in one transaction with a checkpoint row.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use projector_orders::Money;
use rusqlite::{Connection, params};
use serde::Deserialize;

use super::workload;
use projector_sqlite::Durability;

const EVENTS_SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    CREATE TABLE events (
        position INTEGER PRIMARY KEY, event_id BLOB NOT NULL UNIQUE, stream_id TEXT NOT NULL,
        stream_version INTEGER NOT NULL, event_type TEXT NOT NULL, schema_version INTEGER NOT NULL,
        data TEXT NOT NULL, recorded_at INTEGER NOT NULL);
    CREATE UNIQUE INDEX events_stream_version ON events (stream_id, stream_version);";

/// What the plain loops achieved, in events per second.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BaselineFigures {
    pub(crate) append_events_per_s: f64,
    pub(crate) append_batched_events_per_s: f64,
    pub(crate) project_events_per_s: f64,
}

/// Runs the three loops in `dir` (blocking); phase B reads `batch_size` events at a time, as
/// the projector does.
pub(crate) fn run(
    dir: &Path,
    orders: u64,
    durability: Durability,
    batch_size: usize,
) -> anyhow::Result<BaselineFigures> {
    let events = (orders * 4) as f64;
    let single = dir.join("baseline-single.db");
    let seconds = append(&single, orders, 1, durability).context("baseline phase A")?;
    let append_events_per_s = events / seconds;
    let batched = dir.join("baseline-batched.db");
    let seconds = append(&batched, orders, 100, durability).context("baseline phase A, batched")?;
    let append_batched_events_per_s = events / seconds;
    let seconds =
        project(&single, &dir.join("baseline-read.db"), batch_size).context("baseline phase B")?;
    Ok(BaselineFigures {
        append_events_per_s,
        append_batched_events_per_s,
        project_events_per_s: events / seconds,
    })
}

fn open(path: &Path, durability: Durability) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", durability.pragma())?;
    Ok(conn)
}

/// Appends every order's four events, `per_transaction` orders to a transaction.
fn append(
    path: &Path,
    orders: u64,
    per_transaction: u64,
    durability: Durability,
) -> anyhow::Result<f64> {
    let mut conn = open(path, durability)?;
    conn.execute_batch(EVENTS_SCHEMA)?;
    let started = Instant::now();
    let mut position = 0i64;
    let mut i = 0;
    while i < orders {
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (position, event_id, stream_id, stream_version, event_type, schema_version, data, recorded_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7)",
            )?;
            let end = (i + per_transaction).min(orders);
            for order in i..end {
                let stream = format!("order-{order}");
                for (version, (event_type, data)) in
                    workload::payloads(order).into_iter().enumerate()
                {
                    position += 1;
                    let id = uuid_bytes(position);
                    insert.execute(params![
                        position,
                        id.as_slice(),
                        stream,
                        version as i64 + 1,
                        event_type.as_str(),
                        data,
                        position
                    ])?;
                }
            }
            i = end;
        }
        tx.commit()?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// A unique 16-byte id without pulling in a UUID generator (the limit should not pay for one).
fn uuid_bytes(n: i64) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[8..].copy_from_slice(&n.to_be_bytes());
    id
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

/// Projects `order_summary` from `events_path` into `read_path`, `batch_size` events to a
/// transaction.
fn project(events_path: &Path, read_path: &Path, batch_size: usize) -> anyhow::Result<f64> {
    let events = Connection::open(events_path)?;
    let mut read = open(read_path, Durability::Normal)?;
    read.execute_batch(
        "CREATE TABLE order_summary (order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, status TEXT NOT NULL,
            item_count BIGINT NOT NULL, total_cents BIGINT NOT NULL, updated_at TEXT NOT NULL);
         CREATE TABLE checkpoint (id INTEGER PRIMARY KEY, position BIGINT NOT NULL);
         INSERT INTO checkpoint VALUES (1, 0);",
    )?;
    let started = Instant::now();
    let mut after = 0i64;
    let mut select = events.prepare("SELECT position, event_type, data, recorded_at FROM events WHERE position > ?1 ORDER BY position LIMIT ?2")?;
    let limit = i64::try_from(batch_size).unwrap_or(i64::MAX);
    loop {
        let mut batch: Vec<(i64, String, String, i64)> = Vec::with_capacity(batch_size);
        let mut rows = select.query([after, limit])?;
        while let Some(row) = rows.next()? {
            batch.push((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?));
        }
        let Some(last) = batch.last() else { break };
        after = last.0;
        let tx = read.transaction()?;
        for (_, event_type, data, recorded_at) in &batch {
            let payload: Payload = serde_json::from_str(data)?;
            let updated_at = recorded_at.to_string();
            match event_type.as_str() {
                "OrderCreated" => {
                    tx.prepare_cached(
                        "INSERT INTO order_summary VALUES (?1, ?2, 'pending', 0, 0, ?3) \
                         ON CONFLICT (order_id) DO UPDATE SET customer_id = excluded.customer_id, updated_at = excluded.updated_at",
                    )?
                    .execute(params![payload.order_id, payload.customer_id.unwrap_or_default(), updated_at])?;
                }
                "OrderItemAdded" => {
                    let quantity = payload.quantity.unwrap_or(0);
                    let cents = payload
                        .price
                        .map_or(0, Money::cents)
                        .saturating_mul(quantity);
                    tx.prepare_cached(
                        "UPDATE order_summary SET item_count = item_count + ?2, total_cents = total_cents + ?3, updated_at = ?4 WHERE order_id = ?1",
                    )?
                    .execute(params![payload.order_id, quantity, cents, updated_at])?;
                }
                _ => {
                    tx.prepare_cached("UPDATE order_summary SET status = 'confirmed', updated_at = ?2 WHERE order_id = ?1")?
                        .execute(params![payload.order_id, updated_at])?;
                }
            }
        }
        tx.prepare_cached("UPDATE checkpoint SET position = ?1 WHERE id = 1")?
            .execute([after])?;
        tx.commit()?;
    }
    Ok(started.elapsed().as_secs_f64())
}
