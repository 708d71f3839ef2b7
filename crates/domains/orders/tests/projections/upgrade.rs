//! Upgrading `order_summary` from version 1 (amounts as `DOUBLE PRECISION` decimals) to
//! version 2 (`BIGINT` cents): the old read model answers in cents while the new one builds,
//! and the new one is built from the same events, which decode unchanged.

use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{EventFilter, Projection, ProjectionError, ProjectionName, RecordedEvent};
use projector_orders::Money;
use projector_orders::events::types;
use projector_orders::projections::{ORDER_SUMMARY, OrderSummaryProjection};
use projector_orders::queries;
use projector_runtime::{Projector, ProjectorOptions};
use projector_sql::{SqlProjection, SqlReadStore, SqlTarget, SqlTransaction, SqlValue, TypedSql};
use projector_testkit::wait::eventually;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Commands, at, item, patience, place};

/// Version 1's table, as it was.
const V1_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS order_summary (
    order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, status TEXT NOT NULL,
    item_count BIGINT NOT NULL, total_amount DOUBLE PRECISION NOT NULL,
    refunded_amount DOUBLE PRECISION NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    shipped_at TEXT, tracking TEXT, completed_at TEXT, cancelled_at TEXT, cancellation_reason TEXT)";

/// Stands in for version 1: writes the order's row as version 1 did, with a total summed in
/// floating point (0.1 + 0.2).
#[derive(Debug)]
struct SummaryV1;

impl Projection for SummaryV1 {
    fn name(&self) -> ProjectionName {
        ORDER_SUMMARY
    }

    fn handles(&self) -> EventFilter {
        EventFilter::types(&types::ALL)
    }
}

#[async_trait]
impl SqlProjection for SummaryV1 {
    fn schema(&self) -> &[&str] {
        &[V1_SCHEMA]
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        _events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        tx.execute(
            "INSERT INTO order_summary VALUES ('old', 'c1', 'confirmed', 2, $1, 0.0, \
             '2026-04-01T09:00:00.000000Z', '2026-04-01T09:00:00.000000Z', \
             NULL, NULL, NULL, NULL, NULL) ON CONFLICT (order_id) DO NOTHING",
            &[(0.1_f64 + 0.2).into()],
        )
        .await
        .map_err(|e| ProjectionError::at(projector_core::GlobalPosition::ZERO, e.to_string()))?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_1_rows_read_as_cents_until_version_2_replaces_them() {
    let (_dir, events, reads) = projector_testkit::sqlite::stores();
    let commands = Commands { events: &events };
    let order = place(
        "old",
        "c1",
        vec![item("a", 1, 10), item("b", 1, 20)],
        at(1, 9),
    );
    commands.run("old", order).await;

    let run = |projection: Arc<dyn SqlProjection>| {
        let shutdown = CancellationToken::new();
        let handle = Projector::new(events.clone(), ProjectorOptions::default())
            .with_target(SqlTarget::new(
                reads.clone() as Arc<dyn SqlReadStore>,
                projection,
            ))
            .start(shutdown.clone())
            .expect("start");
        (shutdown, handle)
    };
    let (shutdown, v1) = run(Arc::new(SummaryV1));
    v1.wait_caught_up(patience()).await.expect("caught up");
    let summary = queries::order_summary(reads.as_ref(), "old")
        .await
        .expect("version 1's row reads")
        .expect("projected");
    assert_eq!(summary.total_amount, Money::from_cents(30));
    assert_eq!(summary.refunded_amount, None);
    shutdown.cancel();
    v1.join().await;

    // Version 2 builds beside it from the recorded events and swaps in.
    let (shutdown, _v2) = run(Arc::new(TypedSql(OrderSummaryProjection)));
    let cents = eventually("version 2 to serve", || async {
        let rows = reads
            .query(
                &ORDER_SUMMARY,
                "SELECT total_cents FROM order_summary WHERE order_id = 'old'",
                &[],
            )
            .await;
        match rows {
            Ok(rows) if !rows.is_empty() => Ok(rows[0].values().to_vec()),
            other => Err(other),
        }
    })
    .await;
    assert_eq!(cents, [SqlValue::Int(30)]);
    let summary = queries::order_summary(reads.as_ref(), "old")
        .await
        .expect("version 2's row reads")
        .expect("projected");
    assert_eq!(summary.total_amount, Money::from_cents(30));
    shutdown.cancel();
}
