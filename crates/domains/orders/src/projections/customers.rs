//! `customers`: two tables kept in step in one transaction (the guide's multi-table template,
//! and seed 004's "my orders" view): `customer_orders`, each customer's orders newest first,
//! and `customer_activity`, one summary row per customer.
//!
//! Only `OrderCreated` names the customer; later events find it through `customer_orders`, in
//! the same transaction, so the two tables never disagree.

use async_trait::async_trait;
use projector_core::{
    DomainEvent, EventFilter, Projection, ProjectionError, ProjectionName, RecordedEvent, SqlError,
    SqlParam, SqlProjection, SqlTransaction, sql_time,
};

use crate::events::{OrderEvent, types};
use crate::state::OrderStatus;

/// The projection's name.
pub const CUSTOMERS: ProjectionName = ProjectionName::from_static("customers");

/// Keeps `customer_orders` and `customer_activity` current.
#[derive(Clone, Copy, Debug, Default)]
pub struct CustomersProjection;

impl Projection for CustomersProjection {
    fn name(&self) -> ProjectionName {
        CUSTOMERS
    }

    fn handles(&self) -> EventFilter {
        EventFilter::types(&types::ALL)
    }
}

#[async_trait]
impl SqlProjection for CustomersProjection {
    fn schema(&self) -> &[&str] {
        &[include_str!("sql/customers_schema.sql")]
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for recorded in events {
            let event = OrderEvent::decode(recorded)?;
            apply_one(tx, &event, recorded).await.map_err(|e| match e {
                Failure::Sql(e) => ProjectionError::sql(recorded.position, e),
                Failure::UnknownOrder => ProjectionError::at(
                    recorded.position,
                    format!(
                        "{} for order {}, which has no customer",
                        recorded.event_type,
                        event.order_id()
                    ),
                ),
            })?;
        }
        metrics::counter!("projector_read_model_upserts_total", "projection" => CUSTOMERS.to_string())
            .increment(events.len() as u64);
        Ok(())
    }
}

enum Failure {
    Sql(SqlError),
    UnknownOrder,
}

impl From<SqlError> for Failure {
    fn from(e: SqlError) -> Self {
        Failure::Sql(e)
    }
}

async fn apply_one(
    tx: &mut dyn SqlTransaction,
    event: &OrderEvent,
    recorded: &RecordedEvent,
) -> Result<(), Failure> {
    let at = sql_time(recorded.recorded_at);
    let at = at.as_str();
    let order_id = event.order_id();
    match event {
        OrderEvent::Created(e) => {
            let created_at = sql_time(e.created_at);
            tx.execute(
                "INSERT INTO customer_orders (order_id, customer_id, status, item_count, total_cents, created_at, updated_at) \
                 VALUES ($1, $2, $3, 0, 0, $4, $5)",
                &[order_id.into(), e.customer_id.as_str().into(), OrderStatus::Pending.as_str().into(), created_at.as_str().into(), at.into()],
            )
            .await?;
            tx.execute(
                include_str!("sql/customers_order_placed.sql"),
                &[
                    e.customer_id.as_str().into(),
                    created_at.as_str().into(),
                    at.into(),
                ],
            )
            .await?;
        }
        OrderEvent::ItemAdded(e) => {
            let cents = e.unit_price.times(e.quantity).cents();
            let customer = change_lines(tx, order_id, i64::from(e.quantity), cents, at).await?;
            touch(tx, &customer, at).await?;
        }
        OrderEvent::ItemRemoved(e) => {
            let cents = e.unit_price.times(e.quantity).cents();
            let customer = change_lines(tx, order_id, -i64::from(e.quantity), -cents, at).await?;
            touch(tx, &customer, at).await?;
        }
        OrderEvent::Confirmed(_) => {
            let customer = set_status(tx, order_id, OrderStatus::Confirmed, at).await?;
            touch(tx, &customer, at).await?;
        }
        OrderEvent::Shipped(_) => {
            let customer = set_status(tx, order_id, OrderStatus::Shipped, at).await?;
            touch(tx, &customer, at).await?;
        }
        OrderEvent::Completed(e) => {
            let customer = set_status(tx, order_id, OrderStatus::Completed, at).await?;
            tx.execute(
                "UPDATE customer_activity SET orders_completed = orders_completed + 1, \
                 spent_cents = spent_cents + $2, last_activity_at = $3 WHERE customer_id = $1",
                &[
                    customer.as_str().into(),
                    e.total_amount.cents().into(),
                    at.into(),
                ],
            )
            .await?;
        }
        OrderEvent::Cancelled(_) => {
            let customer = set_status(tx, order_id, OrderStatus::Cancelled, at).await?;
            tx.execute(
                "UPDATE customer_activity SET orders_cancelled = orders_cancelled + 1, \
                 last_activity_at = $2 WHERE customer_id = $1",
                &[customer.as_str().into(), at.into()],
            )
            .await?;
        }
        OrderEvent::Refunded(e) => {
            let customer = customer_of(tx, order_id).await?;
            tx.execute(
                "UPDATE customer_activity SET refunded_cents = refunded_cents + $2, \
                 last_activity_at = $3 WHERE customer_id = $1",
                &[customer.as_str().into(), e.amount.cents().into(), at.into()],
            )
            .await?;
        }
    }
    Ok(())
}

/// Adds to an order's item count and total; returns its customer.
async fn change_lines(
    tx: &mut dyn SqlTransaction,
    order_id: &str,
    items: i64,
    cents: i64,
    at: &str,
) -> Result<String, Failure> {
    returning_customer(
        tx,
        "UPDATE customer_orders SET item_count = item_count + $2, total_cents = total_cents + $3, \
         updated_at = $4 WHERE order_id = $1 RETURNING customer_id",
        &[order_id.into(), items.into(), cents.into(), at.into()],
    )
    .await
}

/// Sets an order's status; returns its customer.
async fn set_status(
    tx: &mut dyn SqlTransaction,
    order_id: &str,
    status: OrderStatus,
    at: &str,
) -> Result<String, Failure> {
    returning_customer(
        tx,
        "UPDATE customer_orders SET status = $2, updated_at = $3 WHERE order_id = $1 RETURNING customer_id",
        &[order_id.into(), status.as_str().into(), at.into()],
    )
    .await
}

async fn customer_of(tx: &mut dyn SqlTransaction, order_id: &str) -> Result<String, Failure> {
    returning_customer(
        tx,
        "SELECT customer_id FROM customer_orders WHERE order_id = $1",
        &[order_id.into()],
    )
    .await
}

async fn returning_customer(
    tx: &mut dyn SqlTransaction,
    sql: &str,
    params: &[SqlParam<'_>],
) -> Result<String, Failure> {
    let row = tx
        .query_opt(sql, params)
        .await?
        .ok_or(Failure::UnknownOrder)?;
    Ok(row.get(0)?)
}

async fn touch(tx: &mut dyn SqlTransaction, customer_id: &str, at: &str) -> Result<(), Failure> {
    tx.execute(
        "UPDATE customer_activity SET last_activity_at = $2 WHERE customer_id = $1",
        &[customer_id.into(), at.into()],
    )
    .await?;
    Ok(())
}
