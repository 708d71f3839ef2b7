//! `customer_orders`: each customer's orders, one whole row per order. Only `OrderCreated`
//! names the customer; later events find it through the order's row, which the batch loads
//! once ([`BatchOrders`]).

use projector_core::{GlobalPosition, ProjectionError};
use projector_sql::{
    MultiRowInsert, SqlError, SqlErrorKind, SqlParam, SqlTransaction, params, parse_sql_time,
    sql_time,
};

use super::activity::Activity;
use crate::events::{OrderCreated, OrderEvent};
use crate::projections::batch_orders::{BatchOrders, PerOrderRow};
use crate::state::OrderStatus;
use crate::sum::{self, OutOfRange};
use crate::view::OrderView;

/// Writes whole `customer_orders` rows.
static ORDERS: MultiRowInsert = MultiRowInsert::new(
    "INSERT INTO customer_orders (order_id, customer_id, status, item_count, total_cents, created_at, updated_at)",
    7,
    "ON CONFLICT (order_id) DO UPDATE SET customer_id = excluded.customer_id, status = excluded.status, \
     item_count = excluded.item_count, total_cents = excluded.total_cents, \
     created_at = excluded.created_at, updated_at = excluded.updated_at",
);

/// One `customer_orders` row while a batch is folded into it: the order's view (of which the
/// table keeps the fields a "my orders" list shows).
pub(super) struct OrderRow {
    pub(super) view: OrderView,
    last_position: GlobalPosition,
}

/// A row's times, as portable SQL text.
struct OrderTimes {
    created_at: String,
    updated_at: String,
}

impl OrderRow {
    /// Folds `event`, recorded at `position`, into the order's row and its customer's changes.
    /// A sum past what a column holds fails here, as the upsert that adds them to the stored
    /// row does, so the projection stops at the event instead of showing a clamped figure.
    ///
    /// # Errors
    /// [`OutOfRange`] when a sum would pass `i64::MAX`.
    pub(super) fn apply(
        &mut self,
        customer: &mut Activity,
        event: &OrderEvent,
        recorded_at: chrono::DateTime<chrono::Utc>,
        position: GlobalPosition,
    ) -> Result<(), OutOfRange> {
        self.view.apply(event, recorded_at)?;
        self.last_position = position;
        match event {
            OrderEvent::Created(_) => customer.order_placed(&sql_time(self.view.created_at))?,
            OrderEvent::Completed(e) => {
                customer.completed = sum::add("orders completed", customer.completed, 1)?;
                let spent = e.total_amount.cents();
                customer.spent_cents = sum::add("the amount spent", customer.spent_cents, spent)?;
            }
            OrderEvent::Cancelled(_) => {
                customer.cancelled = sum::add("orders cancelled", customer.cancelled, 1)?;
            }
            OrderEvent::Refunded(e) => {
                let refunded = e.amount.cents();
                customer.refunded_cents =
                    sum::add("the amount refunded", customer.refunded_cents, refunded)?;
            }
            _ => {}
        }
        customer.touched(sql_time(recorded_at), position);
        Ok(())
    }

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

/// Writes the batch's orders as whole rows; returns how many it wrote.
pub(super) async fn write(
    tx: &mut dyn SqlTransaction,
    orders: &BatchOrders<OrderRow>,
) -> Result<usize, ProjectionError> {
    let orders = orders.rows();
    if orders.is_empty() {
        return Ok(0);
    }
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
    Ok(orders.len())
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
