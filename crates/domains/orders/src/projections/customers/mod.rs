//! `customers`: the customer read model, four tables over a customer's events and their
//! orders' events, kept in step in one transaction per batch (the batch commits with its
//! checkpoint):
//! - `customer_profiles`: who each registered customer is, and their tier;
//! - `customer_activity`: one summary row per customer: orders placed, completed, cancelled,
//!   spent and refunded, reviews written, and when;
//! - `customer_orders`: each customer's orders, newest first ("my orders");
//! - `customer_reviews`: each customer's reviews, one per product.
//!
//! Orders may name a customer who registers later: activity is kept per customer id whether
//! or not a profile exists, and registration fills the profile beside it, so the summary is
//! the same whichever arrives first. The batch is folded in memory first (each order, profile
//! and customer it touches is loaded at most once) and each table is written once, with
//! multi-row statements.

mod activity;
mod orders;
mod profiles;
mod reviews;

use projector_core::{Either, Envelope, ProjectionError, ProjectionName};
use projector_customers::CustomerEvent;
use projector_sql::{SqlTransaction, TypedSqlProjection, sql_time};

use self::activity::BatchActivity;
use self::orders::OrderRow;
use self::profiles::BatchProfiles;
use self::reviews::BatchReviews;
use super::batch_orders::BatchOrders;
use crate::events::OrderEvent;

/// The projection's name.
pub const CUSTOMERS: ProjectionName = ProjectionName::from_static("customers");

/// Keeps `customer_profiles`, `customer_activity`, `customer_orders` and `customer_reviews`
/// current, from order and customer streams.
#[derive(Clone, Copy, Debug, Default)]
pub struct CustomersProjection;

impl TypedSqlProjection for CustomersProjection {
    type Event = Either<OrderEvent, CustomerEvent>;
    const NAME: ProjectionName = CUSTOMERS;
    /// Version 2 reads customer events too (profiles, reviews); its tables are built from the
    /// first event.
    const VERSION: u32 = 2;
    const SCHEMA: &'static [&'static str] = &[include_str!("../sql/customers_schema.sql")];

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        event: &Envelope<'_, Self::Event>,
    ) -> Result<(), ProjectionError> {
        self.apply_batch(tx, std::slice::from_ref(event)).await
    }

    async fn apply_batch(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[Envelope<'_, Self::Event>],
    ) -> Result<(), ProjectionError> {
        let mut orders: BatchOrders<OrderRow> = BatchOrders::new();
        let mut activity = BatchActivity::default();
        let mut profiles = BatchProfiles::default();
        let mut reviews = BatchReviews::default();
        for envelope in events {
            let position = envelope.position;
            match &envelope.event {
                Either::First(event) => {
                    let order = orders.row_of(tx, event, position).await?;
                    let customer = activity.of(&order.view.customer_id);
                    order
                        .apply(customer, event, envelope.recorded_at, position)
                        .map_err(|e| e.at(position))?;
                }
                Either::Second(CustomerEvent::ReviewSubmitted(review)) => {
                    let submitted_at = reviews.add(review, position);
                    let customer = activity.of(&review.customer_id);
                    customer
                        .review_written(submitted_at)
                        .map_err(|e| e.at(position))?;
                    customer.touched(sql_time(envelope.recorded_at), position);
                }
                Either::Second(event) => profiles.apply(tx, event, position).await?,
            }
        }
        let written = orders::write(tx, &orders).await?
            + activity.write(tx).await?
            + profiles.write(tx).await?
            + reviews.write(tx).await?;
        metrics::counter!("projector_read_model_upserts_total", "projection" => CUSTOMERS.to_string())
            .increment(written as u64);
        Ok(())
    }
}
