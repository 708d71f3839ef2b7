//! The plain-loop limit on PostgreSQL: the same phases as plain tokio-postgres loops with
//! nothing around them, in the bench's own database and on the server's durability settings,
//! so projector's figures can be read as ratios.
//!
//! - Phase A, one transaction per order: `BEGIN`, four prepared inserts, `COMMIT`.
//! - Phase A, 100 orders per transaction.
//! - Phase B: events read in batches of 1 000, applied as one upsert or update per event in one
//!   transaction with a checkpoint row.

use std::time::Instant;

use anyhow::Context;
use serde::Deserialize;
use tokio_postgres::NoTls;

use super::baseline::BaselineFigures;
use super::workload;

const SCHEMA: &str = "
    CREATE SCHEMA baseline;
    CREATE TABLE baseline.events_single (
        position BIGINT PRIMARY KEY, event_id UUID NOT NULL UNIQUE, stream_id TEXT NOT NULL,
        stream_version BIGINT NOT NULL, event_type TEXT NOT NULL, schema_version INTEGER NOT NULL,
        data JSON NOT NULL, recorded_at TIMESTAMPTZ NOT NULL, UNIQUE (stream_id, stream_version));
    CREATE TABLE baseline.events_batched (LIKE baseline.events_single INCLUDING ALL);
    CREATE TABLE baseline.order_summary (
        order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, status TEXT NOT NULL,
        item_count BIGINT NOT NULL, total_amount DOUBLE PRECISION NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE baseline.checkpoint (id INTEGER PRIMARY KEY, position BIGINT NOT NULL);
    INSERT INTO baseline.checkpoint VALUES (1, 0);";

/// Runs the three loops in the database at `url`.
pub(crate) async fn run(url: &str, orders: u64) -> anyhow::Result<BaselineFigures> {
    let (mut client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .context("connecting the baseline")?;
    let driver = tokio::spawn(connection);
    client
        .batch_execute(SCHEMA)
        .await
        .context("baseline schema")?;
    let events = (orders * 4) as f64;
    let seconds = append(&mut client, "baseline.events_single", orders, 1)
        .await
        .context("baseline phase A")?;
    let append_events_per_s = events / seconds;
    let seconds = append(&mut client, "baseline.events_batched", orders, 100)
        .await
        .context("baseline phase A, batched")?;
    let append_batched_events_per_s = events / seconds;
    let seconds = project(&mut client).await.context("baseline phase B")?;
    drop(client);
    let _ = driver.await;
    Ok(BaselineFigures {
        append_events_per_s,
        append_batched_events_per_s,
        project_events_per_s: events / seconds,
    })
}

/// Appends every order's four events into `table`, `per_transaction` orders to a transaction.
async fn append(
    client: &mut tokio_postgres::Client,
    table: &str,
    orders: u64,
    per_transaction: u64,
) -> anyhow::Result<f64> {
    let insert = client
        .prepare(&format!(
            "INSERT INTO {table} (position, event_id, stream_id, stream_version, event_type, schema_version, data, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6::text::json, now())"
        ))
        .await?;
    let started = Instant::now();
    let mut position = 0i64;
    let mut i = 0;
    while i < orders {
        let tx = client.transaction().await?;
        let end = (i + per_transaction).min(orders);
        for order in i..end {
            let stream = format!("order-{order}");
            for (version, (event_type, data)) in workload::payloads(order).into_iter().enumerate() {
                position += 1;
                let id = uuid::Uuid::from_u64_pair(0, position as u64);
                tx.execute(
                    &insert,
                    &[
                        &position,
                        &id,
                        &stream,
                        &(version as i64 + 1),
                        &event_type.as_str(),
                        &data,
                    ],
                )
                .await?;
            }
        }
        i = end;
        tx.commit().await?;
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
    #[serde(default)]
    price: Option<f64>,
}

/// Projects `order_summary` from the single-transaction events table.
async fn project(client: &mut tokio_postgres::Client) -> anyhow::Result<f64> {
    let select = client
        .prepare(
            "SELECT position, event_type, data::text, recorded_at::text FROM baseline.events_single \
             WHERE position > $1 ORDER BY position LIMIT 1000",
        )
        .await?;
    let created = client
        .prepare(
            "INSERT INTO baseline.order_summary VALUES ($1, $2, 'pending', 0, 0, $3) \
             ON CONFLICT (order_id) DO UPDATE SET customer_id = excluded.customer_id, updated_at = excluded.updated_at",
        )
        .await?;
    let item = client
        .prepare(
            "UPDATE baseline.order_summary SET item_count = item_count + $2, \
             total_amount = total_amount + $3, updated_at = $4 WHERE order_id = $1",
        )
        .await?;
    let confirmed = client
        .prepare("UPDATE baseline.order_summary SET status = 'confirmed', updated_at = $2 WHERE order_id = $1")
        .await?;
    let checkpoint = client
        .prepare("UPDATE baseline.checkpoint SET position = $1 WHERE id = 1")
        .await?;
    let started = Instant::now();
    let mut after = 0i64;
    loop {
        let rows = client.query(&select, &[&after]).await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get(0)?;
        let tx = client.transaction().await?;
        for row in &rows {
            let event_type: &str = row.try_get(1)?;
            let payload: Payload = serde_json::from_str(row.try_get(2)?)?;
            let updated_at: &str = row.try_get(3)?;
            match event_type {
                "OrderCreated" => {
                    let customer = payload.customer_id.unwrap_or_default();
                    tx.execute(&created, &[&payload.order_id, &customer, &updated_at])
                        .await?;
                }
                "OrderItemAdded" => {
                    let quantity = payload.quantity.unwrap_or(0);
                    let amount = quantity as f64 * payload.price.unwrap_or(0.0);
                    tx.execute(&item, &[&payload.order_id, &quantity, &amount, &updated_at])
                        .await?;
                }
                _ => {
                    tx.execute(&confirmed, &[&payload.order_id, &updated_at])
                        .await?;
                }
            }
        }
        tx.execute(&checkpoint, &[&after]).await?;
        tx.commit().await?;
    }
    Ok(started.elapsed().as_secs_f64())
}
