//! [`OrderView`]: an order as its read models show it, a pure function of its events.
//!
//! Every read model of single orders (the `order_summary` and `customer_orders` tables, the
//! "my orders" cache) folds events through this one type, so they cannot disagree about what
//! an order looks like, and the fold is tested without any store.

use chrono::{DateTime, Utc};

use crate::events::{OrderCreated, OrderEvent};
use crate::money::Money;
use crate::state::OrderStatus;
use crate::sum::{self, OutOfRange};

/// An order as read models show it.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderView {
    /// The order.
    pub order_id: String,
    /// Who placed it.
    pub customer_id: String,
    /// Where it is in its life.
    pub status: OrderStatus,
    /// How many items it holds.
    pub item_count: i64,
    /// What its items come to.
    pub total: Money,
    /// What has been paid back.
    pub refunded: Money,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its last event was recorded.
    pub updated_at: DateTime<Utc>,
    /// When it shipped.
    pub shipped_at: Option<DateTime<Utc>>,
    /// Its tracking reference, once shipped.
    pub tracking: Option<String>,
    /// When it was delivered.
    pub completed_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Why it was cancelled.
    pub cancellation_reason: Option<String>,
}

impl OrderView {
    /// The order as `OrderCreated` opens it: pending, empty.
    pub fn created(event: &OrderCreated) -> Self {
        Self {
            order_id: event.order_id.clone(),
            customer_id: event.customer_id.clone(),
            status: OrderStatus::Pending,
            item_count: 0,
            total: Money::ZERO,
            refunded: Money::ZERO,
            created_at: event.created_at,
            updated_at: event.created_at,
            shipped_at: None,
            tracking: None,
            completed_at: None,
            cancelled_at: None,
            cancellation_reason: None,
        }
    }

    /// The order as a list of orders keeps it (the fields a "my orders" line shows); the
    /// fields such a list does not keep start empty, and folding more events fills them as
    /// usual.
    pub fn listed(
        order_id: String,
        customer_id: String,
        status: OrderStatus,
        item_count: i64,
        total: Money,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Self {
        let mut view = Self::created(&OrderCreated {
            order_id,
            customer_id,
            created_at,
        });
        view.status = status;
        view.item_count = item_count;
        view.total = total;
        view.updated_at = updated_at;
        view
    }

    /// The order after `event`, recorded at `recorded_at`. The decider's limits keep every
    /// order far inside what a sum can hold; a sum that would pass it anyway is an error, so
    /// the projection stops at that event instead of showing a clamped figure.
    ///
    /// # Errors
    /// [`OutOfRange`] when the item count or an amount would pass `i64::MAX` or fall below
    /// zero.
    pub fn apply(
        &mut self,
        event: &OrderEvent,
        recorded_at: DateTime<Utc>,
    ) -> Result<(), OutOfRange> {
        match event {
            OrderEvent::Created(e) => *self = Self::created(e),
            OrderEvent::ItemAdded(e) => {
                let line = e.unit_price.checked_times(e.quantity);
                self.item_count = sum::add("the item count", self.item_count, e.quantity.into())?;
                self.total = line
                    .and_then(|line| self.total.checked_add(line))
                    .ok_or(OutOfRange("the order total"))?;
            }
            OrderEvent::ItemRemoved(e) => {
                let line = e.unit_price.checked_times(e.quantity);
                self.item_count = self
                    .item_count
                    .checked_sub(e.quantity.into())
                    .filter(|count| *count >= 0)
                    .ok_or(OutOfRange("the item count"))?;
                self.total = line
                    .and_then(|line| self.total.checked_sub(line))
                    .ok_or(OutOfRange("the order total"))?;
            }
            OrderEvent::Confirmed(_) => self.status = OrderStatus::Confirmed,
            OrderEvent::Shipped(e) => {
                self.status = OrderStatus::Shipped;
                self.shipped_at = Some(e.shipped_at);
                self.tracking = Some(e.tracking.clone());
            }
            OrderEvent::Completed(e) => {
                self.status = OrderStatus::Completed;
                self.completed_at = Some(e.completed_at);
            }
            OrderEvent::Cancelled(e) => {
                self.status = OrderStatus::Cancelled;
                self.cancelled_at = Some(e.cancelled_at);
                self.cancellation_reason = Some(e.reason.clone());
            }
            OrderEvent::Refunded(e) => {
                self.refunded = self
                    .refunded
                    .checked_add(e.amount)
                    .ok_or(OutOfRange("the amount refunded"))?;
            }
        }
        self.updated_at = recorded_at;
        Ok(())
    }

    /// The order after `events` (each with the time it was recorded), from its
    /// `OrderCreated`; `None` while that has not come (events before it are ignored).
    ///
    /// # Errors
    /// [`OutOfRange`] as [`OrderView::apply`] says.
    pub fn fold<'a>(
        events: impl IntoIterator<Item = (&'a OrderEvent, DateTime<Utc>)>,
    ) -> Result<Option<Self>, OutOfRange> {
        let mut folded = None;
        for (event, at) in events {
            let mut view = match (folded.take(), event) {
                (_, OrderEvent::Created(created)) => Self::created(created),
                (Some(view), _) => view,
                (None, _) => continue,
            };
            view.apply(event, at)?;
            folded = Some(view);
        }
        Ok(folded)
    }
}

#[cfg(test)]
mod tests;
