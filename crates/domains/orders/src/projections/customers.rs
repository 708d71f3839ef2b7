//! `customers`: two tables kept in step in one transaction (the guide's multi-table template,
//! and the "my orders" view): `customer_orders`, each customer's orders newest first,
//! and `customer_activity`, one summary row per customer.
//!
//! Only `OrderCreated` names the customer; later events find it through the order's row. The
//! batch is folded in memory first: each order it touches is loaded once (or started by its
//! `OrderCreated`) and written once as a whole row, and each customer's counters are summed
//! and added once, both tables with multi-row statements. Both tables change in the batch's
//! transaction, so they never disagree.

use std::collections::HashMap;

use projector_core::{Envelope, GlobalPosition, ProjectionError, ProjectionName};
use projector_sql::{
    MultiRowInsert, SqlError, SqlErrorKind, SqlParam, SqlTransaction, TypedSqlProjection, params,
    parse_sql_time, sql_time,
};

use super::batch_orders::{BatchOrders, PerOrderRow};
use crate::events::{OrderCreated, OrderEvent};
use crate::state::OrderStatus;
use crate::view::OrderView;

/// The projection's name.
pub const CUSTOMERS: ProjectionName = ProjectionName::from_static("customers");

/// Keeps `customer_orders` and `customer_activity` current.
#[derive(Clone, Copy, Debug, Default)]
pub struct CustomersProjection;

/// Writes whole `customer_orders` rows.
static ORDERS: MultiRowInsert = MultiRowInsert::new(
    "INSERT INTO customer_orders (order_id, customer_id, status, item_count, total_cents, created_at, updated_at)",
    7,
    "ON CONFLICT (order_id) DO UPDATE SET customer_id = excluded.customer_id, status = excluded.status, \
     item_count = excluded.item_count, total_cents = excluded.total_cents, \
     created_at = excluded.created_at, updated_at = excluded.updated_at",
);

/// Adds a batch's changes to `customer_activity` rows.
static ACTIVITY: MultiRowInsert = MultiRowInsert::new(
    include_str!("sql/customers_activity_insert.sql"),
    9,
    include_str!("sql/customers_activity_on_conflict.sql"),
);

impl TypedSqlProjection for CustomersProjection {
    type Event = OrderEvent;
    const NAME: ProjectionName = CUSTOMERS;
    const SCHEMA: &'static [&'static str] = &[include_str!("sql/customers_schema.sql")];

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
        let mut orders: BatchOrders<OrderRow> = BatchOrders::new();
        let mut customers: Vec<Activity> = Vec::new();
        let mut customer_index: HashMap<String, usize> = HashMap::new();
        for envelope in events {
            let order = orders.row_for(tx, envelope).await?;
            let customer = match customer_index.get(&order.view.customer_id) {
                Some(index) => *index,
                None => {
                    customer_index.insert(order.view.customer_id.clone(), customers.len());
                    customers.push(Activity::new(order.view.customer_id.clone()));
                    customers.len() - 1
                }
            };
            apply_one(order, &mut customers[customer], envelope);
        }
        let orders = orders.rows();

        let times: Vec<OrderTimes> = orders.iter().map(OrderRow::times).collect();
        let params: Vec<[SqlParam<'_>; 7]> = orders
            .iter()
            .zip(&times)
            .map(|(order, times)| order.params(times))
            .collect();
        let rows: Vec<&[SqlParam<'_>]> = params.iter().map(|p| &p[..]).collect();
        ORDERS.execute(tx, &rows).await.map_err(|failed| {
            let position = orders
                .get(failed.index)
                .map_or(GlobalPosition::ZERO, |o| o.last_position);
            failed.error.at(position)
        })?;
        let params: Vec<[SqlParam<'_>; 9]> = customers.iter().map(Activity::params).collect();
        let rows: Vec<&[SqlParam<'_>]> = params.iter().map(|p| &p[..]).collect();
        ACTIVITY.execute(tx, &rows).await.map_err(|failed| {
            let position = customers
                .get(failed.index)
                .map_or(GlobalPosition::ZERO, |c| c.last_position);
            failed.error.at(position)
        })?;
        metrics::counter!("projector_read_model_upserts_total", "projection" => CUSTOMERS.to_string())
            .increment((orders.len() + customers.len()) as u64);
        Ok(())
    }
}

/// Folds one event into its order's row and its customer's changes. Sums clamp rather than
/// fail, as the upsert that adds them to the stored row does, so no recorded event can stop
/// the projection.
fn apply_one(order: &mut OrderRow, customer: &mut Activity, envelope: &Envelope<'_, OrderEvent>) {
    order.view.apply(&envelope.event, envelope.recorded_at);
    order.last_position = envelope.position;
    customer.last_position = envelope.position;
    match &envelope.event {
        OrderEvent::Created(_) => {
            let created_at = sql_time(order.view.created_at);
            customer.placed = customer.placed.saturating_add(1);
            customer.first_order_at = min(customer.first_order_at.take(), &created_at);
            customer.last_order_at = max(customer.last_order_at.take(), &created_at);
        }
        OrderEvent::Completed(e) => {
            customer.completed = customer.completed.saturating_add(1);
            customer.spent_cents = customer.spent_cents.saturating_add(e.total_amount.cents());
        }
        OrderEvent::Cancelled(_) => customer.cancelled = customer.cancelled.saturating_add(1),
        OrderEvent::Refunded(e) => {
            customer.refunded_cents = customer.refunded_cents.saturating_add(e.amount.cents());
        }
        _ => {}
    }
    customer.last_activity_at = sql_time(envelope.recorded_at);
}

fn min(current: Option<String>, candidate: &str) -> Option<String> {
    match current {
        Some(current) if current.as_str() <= candidate => Some(current),
        _ => Some(candidate.to_owned()),
    }
}

fn max(current: Option<String>, candidate: &str) -> Option<String> {
    match current {
        Some(current) if current.as_str() >= candidate => Some(current),
        _ => Some(candidate.to_owned()),
    }
}

/// One `customer_orders` row while a batch is folded into it: the order's view (of which the
/// table keeps the fields a "my orders" list shows).
struct OrderRow {
    view: OrderView,
    last_position: GlobalPosition,
}

/// A row's times, as portable SQL text.
struct OrderTimes {
    created_at: String,
    updated_at: String,
}

impl OrderRow {
    fn times(&self) -> OrderTimes {
        OrderTimes {
            created_at: sql_time(self.view.created_at),
            updated_at: sql_time(self.view.updated_at),
        }
    }

    fn params<'a>(&'a self, times: &'a OrderTimes) -> [SqlParam<'a>; 7] {
        let view = &self.view;
        [
            view.order_id.as_str().into(),
            view.customer_id.as_str().into(),
            view.status.as_str().into(),
            view.item_count.into(),
            view.total.cents().into(),
            times.created_at.as_str().into(),
            times.updated_at.as_str().into(),
        ]
    }
}

/// Sorts after every `sql_time`: never earlier than a customer's first order.
const NO_FIRST_ORDER: &str = "~";
/// Sorts before every `sql_time`: never later than a customer's last order.
const NO_LAST_ORDER: &str = "";

/// A customer's changes over a batch, added to its `customer_activity` row.
struct Activity {
    customer_id: String,
    placed: i64,
    completed: i64,
    cancelled: i64,
    spent_cents: i64,
    refunded_cents: i64,
    first_order_at: Option<String>,
    last_order_at: Option<String>,
    last_activity_at: String,
    last_position: GlobalPosition,
}

impl Activity {
    fn new(customer_id: String) -> Self {
        Self {
            customer_id,
            placed: 0,
            completed: 0,
            cancelled: 0,
            spent_cents: 0,
            refunded_cents: 0,
            first_order_at: None,
            last_order_at: None,
            last_activity_at: String::new(),
            last_position: GlobalPosition::ZERO,
        }
    }

    fn params(&self) -> [SqlParam<'_>; 9] {
        [
            self.customer_id.as_str().into(),
            self.placed.into(),
            self.completed.into(),
            self.cancelled.into(),
            self.spent_cents.into(),
            self.refunded_cents.into(),
            // Without an order placed in the batch, values that never win the comparisons of
            // the upsert (the columns are NOT NULL, checked before the conflict is).
            self.first_order_at
                .as_deref()
                .unwrap_or(NO_FIRST_ORDER)
                .into(),
            self.last_order_at
                .as_deref()
                .unwrap_or(NO_LAST_ORDER)
                .into(),
            self.last_activity_at.as_str().into(),
        ]
    }
}

impl PerOrderRow for OrderRow {
    const WHAT: &'static str = "customer";

    fn created(event: &OrderCreated) -> Self {
        Self {
            view: OrderView::created(event),
            last_position: GlobalPosition::ZERO,
        }
    }

    async fn load(tx: &mut dyn SqlTransaction, order_id: &str) -> Result<Option<Self>, SqlError> {
        let select = "SELECT customer_id, status, item_count, total_cents, created_at, updated_at \
            FROM customer_orders WHERE order_id = $1";
        let Some(row) = tx.query_opt(select, params![order_id]).await? else {
            return Ok(None);
        };
        let status: String = row.get("status")?;
        let view = OrderView::listed(
            order_id.to_owned(),
            row.get("customer_id")?,
            OrderStatus::parse(&status).ok_or_else(|| {
                SqlError::new(SqlErrorKind::Conversion, format!("unknown status {status}"))
            })?,
            row.get("item_count")?,
            row.get("total_cents")?,
            parse_sql_time(&row.get::<String>("created_at")?)?,
            parse_sql_time(&row.get::<String>("updated_at")?)?,
        );
        Ok(Some(Self {
            view,
            last_position: GlobalPosition::ZERO,
        }))
    }
}
