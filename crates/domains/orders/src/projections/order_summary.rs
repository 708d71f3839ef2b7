//! `order_summary`: the flattened order, one row per order, its amounts in whole cents.
//!
//! A [`TypedSqlProjection`] of [`OrderEvent`], so it reads only order streams and is handed
//! decoded envelopes. The batch is folded in memory first: each order touched by the batch is
//! loaded once (or started fresh by its `OrderCreated`), every event of the batch is applied
//! to its [`OrderView`], and the rows are written together, up to 128 per statement: a batch
//! of a thousand events costs a few statements, not a thousand, on SQLite and PostgreSQL
//! alike.

use chrono::{DateTime, Utc};
use projector_core::{Envelope, GlobalPosition, ProjectionError, ProjectionName};
use projector_sql::{
    MultiRowInsert, Row, SqlError, SqlErrorKind, SqlParam, SqlTransaction, TypedSqlProjection,
    params, parse_sql_time, sql_time,
};

use super::batch_orders::{BatchOrders, PerOrderRow};
use crate::events::{OrderCreated, OrderEvent};
use crate::state::OrderStatus;
use crate::view::OrderView;

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

impl TypedSqlProjection for OrderSummaryProjection {
    type Event = OrderEvent;
    const NAME: ProjectionName = ORDER_SUMMARY;
    /// 2: amounts are `BIGINT` cents (`total_cents`, `refunded_cents`), no longer `DOUBLE
    /// PRECISION` decimals, so the read model is built again from the events.
    const VERSION: u32 = 2;
    const SCHEMA: &'static [&'static str] = &[include_str!("sql/order_summary_schema.sql")];

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        event: &Envelope<'_, OrderEvent>,
    ) -> Result<(), ProjectionError> {
        self.apply_batch(tx, std::slice::from_ref(event)).await
    }

    async fn apply_batch(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[Envelope<'_, OrderEvent>],
    ) -> Result<(), ProjectionError> {
        let mut batch: BatchOrders<SummaryRow> = BatchOrders::new();
        for envelope in events {
            batch.row_for(tx, envelope).await?.apply(envelope);
        }
        let rows = batch.rows();
        metrics::counter!("projector_read_model_upserts_total", "projection" => ORDER_SUMMARY.to_string())
            .increment(rows.len() as u64);
        let times: Vec<SummaryTimes> = rows.iter().map(SummaryRow::times).collect();
        let params: Vec<[SqlParam<'_>; 13]> = rows
            .iter()
            .zip(&times)
            .map(|(row, times)| row.params(times))
            .collect();
        let runs: Vec<&[SqlParam<'_>]> = params.iter().map(|p| &p[..]).collect();
        if let Err(failed) = UPSERT.execute(tx, &runs).await {
            // A statement of many orders failed: name the last event folded into the row it
            // stopped at (the projector applies events one at a time from there to find it).
            let position = rows
                .get(failed.index)
                .map_or(GlobalPosition::ZERO, |row| row.last_position);
            return Err(failed.error.at(position));
        }
        for row in rows {
            tracing::info!(
                order_id = %row.view.order_id,
                customer_id = %row.view.customer_id,
                total_cents = row.view.total.cents(),
                correlation_id = row.correlation_id.as_deref(),
                "Upserted order read model"
            );
        }
        Ok(())
    }
}

/// One `order_summary` row while a batch is folded into it: the order's view, and what the
/// batch needs to report on it.
#[derive(Clone, Debug, PartialEq)]
struct SummaryRow {
    view: OrderView,
    /// The position of the last event folded in, to name it if the write fails.
    last_position: GlobalPosition,
    /// The correlation id of the last event folded in, for the log line.
    correlation_id: Option<String>,
}

/// The times of a row, as portable SQL text.
struct SummaryTimes {
    created_at: String,
    updated_at: String,
    shipped_at: Option<String>,
    completed_at: Option<String>,
    cancelled_at: Option<String>,
}

impl SummaryRow {
    fn times(&self) -> SummaryTimes {
        let view = &self.view;
        SummaryTimes {
            created_at: sql_time(view.created_at),
            updated_at: sql_time(view.updated_at),
            shipped_at: view.shipped_at.map(sql_time),
            completed_at: view.completed_at.map(sql_time),
            cancelled_at: view.cancelled_at.map(sql_time),
        }
    }

    /// The row as the values of one row of [`UPSERT`].
    fn params<'a>(&'a self, times: &'a SummaryTimes) -> [SqlParam<'a>; 13] {
        let view = &self.view;
        [
            view.order_id.as_str().into(),
            view.customer_id.as_str().into(),
            view.status.as_str().into(),
            view.item_count.into(),
            view.total.cents().into(),
            view.refunded.cents().into(),
            times.created_at.as_str().into(),
            times.updated_at.as_str().into(),
            times.shipped_at.as_deref().into(),
            view.tracking.as_deref().into(),
            times.completed_at.as_deref().into(),
            times.cancelled_at.as_deref().into(),
            view.cancellation_reason.as_deref().into(),
        ]
    }

    /// Folds `envelope`'s event in.
    fn apply(&mut self, envelope: &Envelope<'_, OrderEvent>) {
        self.view.apply(&envelope.event, envelope.recorded_at);
        self.last_position = envelope.position;
        self.correlation_id = envelope
            .metadata
            .correlation_id
            .as_ref()
            .map(|c| c.as_str().to_owned());
    }

    fn from_row(row: &Row) -> Result<Self, SqlError> {
        let status: String = row.get("status")?;
        let time = |column: &str| -> Result<DateTime<Utc>, SqlError> {
            parse_sql_time(&row.get::<String>(column)?)
        };
        let maybe_time = |column: &str| -> Result<Option<DateTime<Utc>>, SqlError> {
            row.get::<Option<String>>(column)?
                .as_deref()
                .map(parse_sql_time)
                .transpose()
        };
        Ok(Self {
            view: OrderView {
                order_id: row.get("order_id")?,
                customer_id: row.get("customer_id")?,
                status: OrderStatus::parse(&status).ok_or_else(|| {
                    SqlError::new(SqlErrorKind::Conversion, format!("unknown status {status}"))
                })?,
                item_count: row.get("item_count")?,
                total: row.get("total_cents")?,
                refunded: row.get("refunded_cents")?,
                created_at: time("created_at")?,
                updated_at: time("updated_at")?,
                shipped_at: maybe_time("shipped_at")?,
                tracking: row.get("tracking")?,
                completed_at: maybe_time("completed_at")?,
                cancelled_at: maybe_time("cancelled_at")?,
                cancellation_reason: row.get("cancellation_reason")?,
            },
            last_position: GlobalPosition::ZERO,
            correlation_id: None,
        })
    }
}

impl PerOrderRow for SummaryRow {
    const WHAT: &'static str = "summary";

    fn created(event: &OrderCreated) -> Self {
        Self {
            view: OrderView::created(event),
            last_position: GlobalPosition::ZERO,
            correlation_id: None,
        }
    }

    async fn load(tx: &mut dyn SqlTransaction, order_id: &str) -> Result<Option<Self>, SqlError> {
        let select = include_str!("sql/order_summary_select.sql");
        match tx.query_opt(select, params![order_id]).await? {
            Some(row) => Self::from_row(&row).map(Some),
            None => Ok(None),
        }
    }
}
