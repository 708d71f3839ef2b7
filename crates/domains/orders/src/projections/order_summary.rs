//! `order_summary`: the flattened order, one row per order, its amounts in whole cents, with
//! the region its customer lives in now.
//!
//! A [`TypedSqlProjection`] of order and customer events (each decoded by its own category):
//! the region is a fact of the customer's stream, denormalised onto each of their orders, so a
//! read of one order needs no join. The batch is folded in memory first: each order touched
//! by the batch is loaded once (or started fresh by its `OrderCreated`), every event of the
//! batch is applied to its [`OrderView`], registrations and moves set their customer's region,
//! and the rows are written together at the end, up to 128 per statement, each with its
//! customer's region as it stands at the end of the batch. A customer who registered or moved
//! then gets one `UPDATE` of all their orders, whatever the batch held in between. See
//! `docs/adr/0008-customer-region-on-orders.md`.

mod regions;
mod row;

use projector_core::{
    Either, Envelope, EventFilter, EventSet, GlobalPosition, ProjectedEvents, ProjectionError,
    ProjectionName,
};
use projector_customers::CustomerEvent;
use projector_sql::{MultiRowInsert, SqlParam, SqlTransaction, TypedSqlProjection};

use super::batch_orders::BatchOrders;
use crate::events::OrderEvent;
use regions::CustomerRegions;
use row::{COLUMNS, SummaryRow, SummaryTimes};

/// The projection's name.
pub const ORDER_SUMMARY: ProjectionName = ProjectionName::from_static("order_summary");

/// The customer events that say where a customer lives; the others are not read.
const REGION_EVENTS: [&str; 2] = ["CustomerRegistered", "CustomerMoved"];

/// Keeps `order_summary` current.
#[derive(Clone, Copy, Debug, Default)]
pub struct OrderSummaryProjection;

/// Writes whole rows, many per statement: a batch is folded per order first, so each order
/// appears once.
static UPSERT: MultiRowInsert = MultiRowInsert::new(
    include_str!("sql/order_summary_insert.sql"),
    COLUMNS,
    include_str!("sql/order_summary_on_conflict.sql"),
);

impl TypedSqlProjection for OrderSummaryProjection {
    /// Order events, and the customer events that set a region.
    type Event = Either<OrderEvent, CustomerEvent>;
    const NAME: ProjectionName = ORDER_SUMMARY;
    /// 4: `customer_regions` keeps the position that set each region, and an older event never
    /// replaces a newer one, so partitions may apply a customer's events at different times.
    /// (3: each order carries its customer's current region, from customer events; 2: amounts
    /// became `BIGINT` cents.)
    const VERSION: u32 = 4;
    const SCHEMA: &'static [&'static str] = &[include_str!("sql/order_summary_schema.sql")];

    /// Every order event, from order streams; of customer streams, only registrations and
    /// moves (reviews and tier changes would be read, decoded and skipped).
    fn handles(&self) -> EventFilter {
        let customers = CustomerEvent::CATEGORY.unwrap_or("customer");
        EventFilter::AnyOf(vec![
            OrderEvent::selects(),
            EventFilter::category(customers, &REGION_EVENTS),
        ])
    }

    /// One row per order stream, so it runs as partitions of the order streams.
    const PARTITIONABLE: bool = true;

    /// A customer's registration or move sets the region of orders in every partition, so
    /// every partition applies it: each keeps `customer_regions` and moves the customer's
    /// orders. Partitions may apply a customer's events at different times, but each applies
    /// all of them in feed order and the one applying the last move writes its region on
    /// every order of the customer, so once every partition has reached a position the rows
    /// equal a build by one worker (see `docs/adr/0008-customer-region-on-orders.md`).
    fn spanning_events(&self) -> EventFilter {
        EventFilter::category(
            CustomerEvent::CATEGORY.unwrap_or("customer"),
            &REGION_EVENTS,
        )
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        event: &Envelope<'_, Either<OrderEvent, CustomerEvent>>,
    ) -> Result<(), ProjectionError> {
        self.apply_batch(tx, std::slice::from_ref(event)).await
    }

    async fn apply_batch(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[Envelope<'_, Either<OrderEvent, CustomerEvent>>],
    ) -> Result<(), ProjectionError> {
        let mut batch: BatchOrders<SummaryRow> = BatchOrders::new();
        let mut regions = CustomerRegions::new();
        for envelope in events {
            match &envelope.event {
                Either::First(event) => batch
                    .row_of(tx, event, envelope.position)
                    .await?
                    .apply(event, envelope)?,
                Either::Second(CustomerEvent::Registered(e)) => {
                    regions.set(&e.customer_id, &e.region, envelope.position);
                }
                Either::Second(CustomerEvent::Moved(e)) => {
                    regions.set(&e.customer_id, &e.region, envelope.position);
                }
                Either::Second(_) => {}
            }
        }
        let rows = batch.rows();
        // Without a position: the projector applies the batch one event at a time to find the
        // event whose lookup fails.
        regions
            .load(tx, rows.iter().map(|row| row.view.customer_id.as_str()))
            .await?;
        let moved = regions.write(tx).await?;
        write_rows(tx, rows, &regions).await?;
        metrics::counter!("projector_read_model_upserts_total", "projection" => ORDER_SUMMARY.to_string())
            .increment(rows.len() as u64 + moved);
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

/// Upserts the batch's rows whole, each with its customer's region at the end of the batch.
async fn write_rows(
    tx: &mut dyn SqlTransaction,
    rows: &[SummaryRow],
    regions: &CustomerRegions,
) -> Result<(), ProjectionError> {
    let times: Vec<SummaryTimes> = rows.iter().map(SummaryRow::times).collect();
    let params: Vec<[SqlParam<'_>; COLUMNS]> = rows
        .iter()
        .zip(&times)
        .map(|(row, times)| row.params(times, regions.region(&row.view.customer_id)))
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use projector_core::EventType;

    use super::*;

    #[test]
    fn customer_events_are_read_only_where_they_set_a_region() {
        for name in REGION_EVENTS {
            assert!(
                CustomerEvent::TYPES.iter().any(|t| t.name == name),
                "{name} is not a customer event"
            );
        }
        let filter = OrderSummaryProjection.handles();
        for read in [
            "CustomerRegistered",
            "CustomerMoved",
            "OrderCreated",
            "OrderRefunded",
        ] {
            assert!(filter.matches(&EventType::from_static(read)), "{read}");
        }
        for skipped in ["CustomerUpdated", "CustomerTierChanged", "ReviewSubmitted"] {
            assert!(
                !filter.matches(&EventType::from_static(skipped)),
                "{skipped}"
            );
        }
    }
}
