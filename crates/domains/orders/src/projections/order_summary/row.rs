//! One `order_summary` row while a batch is folded into it, and its columns as statement
//! values.

use chrono::{DateTime, Utc};
use projector_core::{Envelope, GlobalPosition, ProjectionError};
use projector_sql::{
    Row, SqlError, SqlErrorKind, SqlParam, SqlTransaction, params, parse_sql_time, sql_time,
};

use crate::events::{OrderCreated, OrderEvent};
use crate::projections::batch_orders::PerOrderRow;
use crate::state::OrderStatus;
use crate::view::OrderView;

/// How many values one row of the upsert carries.
pub(super) const COLUMNS: usize = 14;

/// One `order_summary` row while a batch is folded into it: the order's view, and what the
/// batch needs to report on it. Its customer's region is added when it is written, as it stands
/// at the end of the batch.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct SummaryRow {
    pub(super) view: OrderView,
    /// The position of the last event folded in, to name it if the write fails.
    pub(super) last_position: GlobalPosition,
    /// The correlation id of the last event folded in, for the log line.
    pub(super) correlation_id: Option<String>,
}

/// The times of a row, as portable SQL text.
pub(super) struct SummaryTimes {
    created_at: String,
    updated_at: String,
    shipped_at: Option<String>,
    completed_at: Option<String>,
    cancelled_at: Option<String>,
}

impl SummaryRow {
    pub(super) fn times(&self) -> SummaryTimes {
        let view = &self.view;
        SummaryTimes {
            created_at: sql_time(view.created_at),
            updated_at: sql_time(view.updated_at),
            shipped_at: view.shipped_at.map(sql_time),
            completed_at: view.completed_at.map(sql_time),
            cancelled_at: view.cancelled_at.map(sql_time),
        }
    }

    /// The row as the values of one row of the upsert, its customer living in `region`.
    pub(super) fn params<'a>(
        &'a self,
        times: &'a SummaryTimes,
        region: Option<&'a str>,
    ) -> [SqlParam<'a>; COLUMNS] {
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
            region.into(),
        ]
    }

    /// Folds `event` in, recorded as `envelope` says (the envelope of the order event, or of
    /// the event of either domain that holds it).
    ///
    /// # Errors
    /// A sum out of range, at the event's position.
    pub(super) fn apply<E>(
        &mut self,
        event: &OrderEvent,
        envelope: &Envelope<'_, E>,
    ) -> Result<(), ProjectionError> {
        self.view
            .apply(event, envelope.recorded_at)
            .map_err(|e| e.at(envelope.position))?;
        self.last_position = envelope.position;
        self.correlation_id = envelope
            .metadata
            .correlation_id
            .as_ref()
            .map(|c| c.as_str().to_owned());
        Ok(())
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
        let select = include_str!("../sql/order_summary_select.sql");
        match tx.query_opt(select, params![order_id]).await? {
            Some(row) => Self::from_row(&row).map(Some),
            None => Ok(None),
        }
    }
}
