//! The rows of the orders a batch touches, each read at most once: the fold that the per-order
//! projections share. A row starts from its order's `OrderCreated`, or is loaded from the read
//! model by the first later event of the batch; every event then changes it in memory, and the
//! projection writes the rows together at the end.

use std::collections::HashMap;
use std::future::Future;

use projector_core::{DomainEvent, GlobalPosition, ProjectionError};
use projector_sql::{SqlError, SqlTransaction};

use crate::events::{OrderCreated, OrderEvent};

/// A read-model row kept per order.
pub(crate) trait PerOrderRow: Sized + Send {
    /// What the read model holds per order, for the error when an order has none.
    const WHAT: &'static str;

    /// The row an order starts with.
    fn created(event: &OrderCreated) -> Self;

    /// The stored row of `order_id`, if the read model has one.
    fn load(
        tx: &mut dyn SqlTransaction,
        order_id: &str,
    ) -> impl Future<Output = Result<Option<Self>, SqlError>> + Send;
}

/// A batch's rows, in the order the batch first touched them.
pub(crate) struct BatchOrders<R> {
    rows: Vec<R>,
    index: HashMap<String, usize>,
}

impl<R: PerOrderRow> BatchOrders<R> {
    pub(crate) fn new() -> Self {
        Self {
            rows: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The row `event`, recorded at `position`, changes: the batch's own, a new one for
    /// `OrderCreated`, or the stored one. An event for an order the read model has never seen
    /// fails at that event, and so does a failed load: the batch is applied whole, so the
    /// error names the event itself.
    pub(crate) async fn row_of(
        &mut self,
        tx: &mut dyn SqlTransaction,
        event: &OrderEvent,
        position: GlobalPosition,
    ) -> Result<&mut R, ProjectionError> {
        let order_id = event.order_id();
        if let Some(&slot) = self.index.get(order_id) {
            return Ok(&mut self.rows[slot]);
        }
        let row = match event {
            OrderEvent::Created(created) => R::created(created),
            _ => R::load(tx, order_id)
                .await
                .map_err(|e| e.at(position))?
                .ok_or_else(|| {
                    ProjectionError::at(
                        position,
                        format!(
                            "{} for order {order_id}, which has no {}",
                            event.event_type(),
                            R::WHAT
                        ),
                    )
                })?,
        };
        self.index.insert(order_id.to_owned(), self.rows.len());
        self.rows.push(row);
        let last = self.rows.len() - 1;
        Ok(&mut self.rows[last])
    }

    /// The rows, in the order the batch first touched them.
    pub(crate) fn rows(&self) -> &[R] {
        &self.rows
    }
}
