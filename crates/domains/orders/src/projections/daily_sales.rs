//! `daily_sales`: one row per day of completed sales, net of refunds (the projection-patterns
//! guide's aggregating template).
//!
//! Each event is one upsert that adds to its day's counters. Adding is only safe because the
//! read store commits the batch with the checkpoint: an event is never added twice. It is the
//! simplest kind of [`TypedSqlProjection`]: one `apply` per event, whose failed statement,
//! through `?`, names the event's position for the projector.

use projector_core::{Envelope, EventFilter, ProjectionError, ProjectionName};
use projector_sql::{SqlTransaction, TypedSqlProjection, params, sql_time};

use crate::events::{OrderEvent, types};
use crate::sum;

/// The projection's name.
pub const DAILY_SALES: ProjectionName = ProjectionName::from_static("daily_sales");

/// Keeps `daily_sales` current.
#[derive(Clone, Copy, Debug, Default)]
pub struct DailySalesProjection;

impl TypedSqlProjection for DailySalesProjection {
    type Event = OrderEvent;
    const NAME: ProjectionName = DAILY_SALES;
    const SCHEMA: &'static [&'static str] = &[include_str!("sql/daily_sales_schema.sql")];

    /// Only the two events that move a day's sales, from order streams (`OrderEvent`'s
    /// category): the others would only be read, decoded and skipped.
    fn handles(&self) -> EventFilter {
        EventFilter::Category {
            category: "order".into(),
            types: vec![types::ORDER_COMPLETED, types::ORDER_REFUNDED],
        }
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        e: &Envelope<'_, OrderEvent>,
    ) -> Result<(), ProjectionError> {
        let updated_at = sql_time(e.recorded_at);
        match &e.event {
            OrderEvent::Completed(completed) => {
                let day = completed.completed_at.format("%Y-%m-%d").to_string();
                let add = include_str!("sql/daily_sales_completed.sql");
                let cents = completed.total_amount.cents();
                let row = params![&day, completed.item_count, cents, &updated_at];
                let added = tx.execute(add, row).await;
                added.map_err(|e| sum::refused(e, "a day's sales"))?
            }
            OrderEvent::Refunded(refunded) => {
                let day = refunded
                    .original_completed_at
                    .format("%Y-%m-%d")
                    .to_string();
                let charge = include_str!("sql/daily_sales_refunded.sql");
                let row = params![&day, refunded.amount.cents(), &updated_at];
                let charged = tx.execute(charge, row).await;
                charged.map_err(|e| sum::refused(e, "a day's refunds"))?
            }
            _ => return Ok(()),
        };
        metrics::counter!("projector_read_model_upserts_total", "projection" => DAILY_SALES.to_string()).increment(1);
        Ok(())
    }
}
