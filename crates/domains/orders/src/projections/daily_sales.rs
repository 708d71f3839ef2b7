//! `daily_sales`: one row per day of completed sales, net of refunds (the projection-patterns
//! guide's aggregating template).
//!
//! Each event is one upsert that adds to its day's counters. Adding is only safe because the
//! read store commits the batch with the checkpoint: an event is never added twice.

use async_trait::async_trait;
use projector_core::{
    DomainEvent, EventFilter, Projection, ProjectionError, ProjectionName, RecordedEvent,
};
use projector_sql::{SqlProjection, SqlTransaction, sql_time};

use crate::events::{OrderEvent, types};

/// The projection's name.
pub const DAILY_SALES: ProjectionName = ProjectionName::from_static("daily_sales");

/// Keeps `daily_sales` current.
#[derive(Clone, Copy, Debug, Default)]
pub struct DailySalesProjection;

impl Projection for DailySalesProjection {
    fn name(&self) -> ProjectionName {
        DAILY_SALES
    }

    fn handles(&self) -> EventFilter {
        EventFilter::Types(vec![types::ORDER_COMPLETED, types::ORDER_REFUNDED])
    }
}

#[async_trait]
impl SqlProjection for DailySalesProjection {
    fn schema(&self) -> &[&str] {
        &[include_str!("sql/daily_sales_schema.sql")]
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for recorded in events {
            let updated_at = sql_time(recorded.recorded_at);
            let written = match OrderEvent::decode(recorded)? {
                OrderEvent::Completed(e) => {
                    let day = e.completed_at.format("%Y-%m-%d").to_string();
                    tx.execute(
                        include_str!("sql/daily_sales_completed.sql"),
                        &[
                            day.as_str().into(),
                            i64::from(e.item_count).into(),
                            e.total_amount.cents().into(),
                            updated_at.as_str().into(),
                        ],
                    )
                    .await
                }
                OrderEvent::Refunded(e) => {
                    let day = e.original_completed_at.format("%Y-%m-%d").to_string();
                    tx.execute(
                        include_str!("sql/daily_sales_refunded.sql"),
                        &[
                            day.as_str().into(),
                            e.amount.cents().into(),
                            updated_at.as_str().into(),
                        ],
                    )
                    .await
                }
                _ => continue,
            };
            written.map_err(|e| e.at(recorded.position))?;
            metrics::counter!("projector_read_model_upserts_total", "projection" => DAILY_SALES.to_string()).increment(1);
        }
        Ok(())
    }
}
