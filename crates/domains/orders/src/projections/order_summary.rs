//! `order_summary`: the flattened order of seed 000, one row per order.
//!
//! The batch is folded in memory first: each order touched by the batch is loaded once (or
//! started fresh by its `OrderCreated`), every event of the batch is applied to it, and the
//! rows are written together, up to 128 per statement: a batch of a thousand events costs a
//! few statements, not a thousand, on SQLite and PostgreSQL alike.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use projector_core::{
    DomainEvent, EventFilter, GlobalPosition, Projection, ProjectionError, ProjectionName,
    RecordedEvent,
};
use projector_sql::{
    MultiRowInsert, Row, SqlError, SqlParam, SqlProjection, SqlTransaction, sql_time,
};

use super::batch_orders::{BatchOrders, PerOrderRow};
use crate::events::{OrderCreated, OrderEvent, types};
use crate::money::Money;
use crate::state::OrderStatus;

/// The projection's name.
pub const ORDER_SUMMARY: ProjectionName = ProjectionName::from_static("order_summary");

/// Keeps `order_summary` current.
#[derive(Clone, Copy, Debug, Default)]
pub struct OrderSummaryProjection;

/// Writes whole rows, many per statement: a batch is folded per order first, so each order
/// appears once.
static UPSERT: MultiRowInsert = MultiRowInsert::new(
    include_str!("sql/order_summary_insert.sql"),
    13,
    include_str!("sql/order_summary_on_conflict.sql"),
);

impl Projection for OrderSummaryProjection {
    fn name(&self) -> ProjectionName {
        ORDER_SUMMARY
    }

    fn handles(&self) -> EventFilter {
        EventFilter::types(&types::ALL)
    }
}

#[async_trait]
impl SqlProjection for OrderSummaryProjection {
    fn schema(&self) -> &[&str] {
        &[include_str!("sql/order_summary_schema.sql")]
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let mut batch: BatchOrders<SummaryRow> = BatchOrders::new();
        for recorded in events {
            let event = OrderEvent::decode(recorded)?;
            batch
                .row_for(tx, &event, recorded)
                .await?
                .apply(&event, recorded);
        }
        let rows = batch.rows();
        metrics::counter!("projector_read_model_upserts_total", "projection" => ORDER_SUMMARY.to_string())
            .increment(rows.len() as u64);
        let params: Vec<[SqlParam<'_>; 13]> = rows.iter().map(SummaryRow::params).collect();
        let runs: Vec<&[SqlParam<'_>]> = params.iter().map(|p| &p[..]).collect();
        if let Err(failed) = UPSERT.execute(tx, &runs).await {
            let position = rows
                .get(failed.index)
                .map_or(GlobalPosition::ZERO, |row| row.last_position);
            return Err(failed.error.at(position));
        }
        for row in rows {
            tracing::info!(
                order_id = %row.order_id,
                customer_id = %row.customer_id,
                total_amount = row.total.to_decimal(),
                correlation_id = row.correlation_id.as_deref(),
                "Upserted order read model"
            );
        }
        Ok(())
    }
}

/// One `order_summary` row while a batch is folded into it.
#[derive(Clone, Debug, PartialEq)]
struct SummaryRow {
    order_id: String,
    customer_id: String,
    status: OrderStatus,
    item_count: i64,
    total: Money,
    refunded: Money,
    created_at: String,
    updated_at: String,
    shipped_at: Option<String>,
    tracking: Option<String>,
    completed_at: Option<String>,
    cancelled_at: Option<String>,
    cancellation_reason: Option<String>,
    /// The position of the last event folded in, to name it if the write fails.
    last_position: GlobalPosition,
    /// The correlation id of the last event folded in, for the log line.
    correlation_id: Option<String>,
}

impl SummaryRow {
    fn new(order_id: String, customer_id: String, created_at: DateTime<Utc>) -> Self {
        let created_at = sql_time(created_at);
        Self {
            order_id,
            customer_id,
            status: OrderStatus::Pending,
            item_count: 0,
            total: Money::ZERO,
            refunded: Money::ZERO,
            updated_at: created_at.clone(),
            created_at,
            shipped_at: None,
            tracking: None,
            completed_at: None,
            cancelled_at: None,
            cancellation_reason: None,
            last_position: GlobalPosition::ZERO,
            correlation_id: None,
        }
    }

    /// The row as the values of one row of [`UPSERT`].
    fn params(&self) -> [SqlParam<'_>; 13] {
        [
            self.order_id.as_str().into(),
            self.customer_id.as_str().into(),
            self.status.as_str().into(),
            self.item_count.into(),
            self.total.to_decimal().into(),
            self.refunded.to_decimal().into(),
            self.created_at.as_str().into(),
            self.updated_at.as_str().into(),
            self.shipped_at.as_deref().into(),
            self.tracking.as_deref().into(),
            self.completed_at.as_deref().into(),
            self.cancelled_at.as_deref().into(),
            self.cancellation_reason.as_deref().into(),
        ]
    }

    /// Folds `event` in. Sums clamp rather than fail, so no recorded event can stop the
    /// projection; the decider's limits keep every order far inside them.
    fn apply(&mut self, event: &OrderEvent, recorded: &RecordedEvent) {
        match event {
            OrderEvent::Created(e) => {
                *self = Self::new(e.order_id.clone(), e.customer_id.clone(), e.created_at)
            }
            OrderEvent::ItemAdded(e) => {
                self.item_count = self.item_count.saturating_add(i64::from(e.quantity));
                self.total = self
                    .total
                    .saturating_add(e.unit_price.saturating_times(e.quantity));
            }
            OrderEvent::ItemRemoved(e) => {
                self.item_count = self.item_count.saturating_sub(i64::from(e.quantity)).max(0);
                self.total = self
                    .total
                    .saturating_sub(e.unit_price.saturating_times(e.quantity));
            }
            OrderEvent::Confirmed(_) => self.status = OrderStatus::Confirmed,
            OrderEvent::Shipped(e) => {
                self.status = OrderStatus::Shipped;
                self.shipped_at = Some(sql_time(e.shipped_at));
                self.tracking = Some(e.tracking.clone());
            }
            OrderEvent::Completed(e) => {
                self.status = OrderStatus::Completed;
                self.completed_at = Some(sql_time(e.completed_at));
            }
            OrderEvent::Cancelled(e) => {
                self.status = OrderStatus::Cancelled;
                self.cancelled_at = Some(sql_time(e.cancelled_at));
                self.cancellation_reason = Some(e.reason.clone());
            }
            OrderEvent::Refunded(e) => self.refunded = self.refunded.saturating_add(e.amount),
        }
        self.updated_at = sql_time(recorded.recorded_at);
        self.last_position = recorded.position;
        self.correlation_id = recorded
            .metadata
            .correlation_id
            .as_ref()
            .map(|c| c.as_str().to_owned());
    }

    fn from_row(row: &Row) -> Result<Self, SqlError> {
        let status: String = row.get(2)?;
        let money = |i: usize| -> Result<Money, SqlError> {
            Money::from_decimal(row.get(i)?).map_err(|e| {
                SqlError::new(
                    projector_sql::SqlErrorKind::Conversion,
                    format!("column {i}: {e}"),
                )
            })
        };
        Ok(Self {
            order_id: row.get(0)?,
            customer_id: row.get(1)?,
            status: OrderStatus::parse(&status).ok_or_else(|| {
                SqlError::new(
                    projector_sql::SqlErrorKind::Conversion,
                    format!("unknown status {status}"),
                )
            })?,
            item_count: row.get(3)?,
            total: money(4)?,
            refunded: money(5)?,
            created_at: row.get(6)?,
            updated_at: row.get(7)?,
            shipped_at: row.get(8)?,
            tracking: row.get(9)?,
            completed_at: row.get(10)?,
            cancelled_at: row.get(11)?,
            cancellation_reason: row.get(12)?,
            last_position: GlobalPosition::ZERO,
            correlation_id: None,
        })
    }
}

#[async_trait]
impl PerOrderRow for SummaryRow {
    const WHAT: &'static str = "summary";

    fn created(event: &OrderCreated) -> Self {
        Self::new(
            event.order_id.clone(),
            event.customer_id.clone(),
            event.created_at,
        )
    }

    async fn load(tx: &mut dyn SqlTransaction, order_id: &str) -> Result<Option<Self>, SqlError> {
        match tx
            .query_opt(
                include_str!("sql/order_summary_select.sql"),
                &[order_id.into()],
            )
            .await?
        {
            Some(row) => Self::from_row(&row).map(Some),
            None => Ok(None),
        }
    }
}
