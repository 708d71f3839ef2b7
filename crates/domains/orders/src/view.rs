//! [`OrderView`]: an order as its read models show it, a pure function of its events.
//!
//! Every read model of single orders (the `order_summary` and `customer_orders` tables, the
//! "my orders" cache) folds events through this one type, so they cannot disagree about what
//! an order looks like, and the fold is tested without any store.

use chrono::{DateTime, Utc};

use crate::events::{OrderCreated, OrderEvent};
use crate::money::Money;
use crate::state::OrderStatus;

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

    /// The order after `event`, recorded at `recorded_at`. Sums clamp rather than fail, so no
    /// recorded event can stop a projection; the decider's limits keep every order far inside
    /// them.
    pub fn apply(&mut self, event: &OrderEvent, recorded_at: DateTime<Utc>) {
        match event {
            OrderEvent::Created(e) => *self = Self::created(e),
            OrderEvent::ItemAdded(e) => {
                self.item_count = self.item_count.saturating_add(i64::from(e.quantity));
                self.total = self
                    .total
                    .saturating_add(e.unit_price.saturating_times(e.quantity));
            }
            OrderEvent::ItemRemoved(e) => {
                self.item_count = self.item_count.saturating_sub(i64::from(e.quantity)).max(0);
                self.total = self
                    .total
                    .saturating_sub(e.unit_price.saturating_times(e.quantity));
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
            OrderEvent::Refunded(e) => self.refunded = self.refunded.saturating_add(e.amount),
        }
        self.updated_at = recorded_at;
    }

    /// The order after `events` (each with the time it was recorded), from its
    /// `OrderCreated`; `None` while that has not come (events before it are ignored).
    pub fn fold<'a>(
        events: impl IntoIterator<Item = (&'a OrderEvent, DateTime<Utc>)>,
    ) -> Option<Self> {
        events.into_iter().fold(None, |view, (event, at)| {
            let mut view = match (view, event) {
                (_, OrderEvent::Created(created)) => Self::created(created),
                (Some(view), _) => view,
                (None, _) => return None,
            };
            view.apply(event, at);
            Some(view)
        })
    }
}

#[cfg(test)]
mod tests;
