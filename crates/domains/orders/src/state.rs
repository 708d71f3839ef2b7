//! An order as the decider sees it: folded from its events, nothing more than decisions need.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::events::OrderEvent;
use crate::money::Money;

/// Where an order is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Opened, not yet confirmed.
    Pending,
    /// Confirmed and paid; items may still change until it ships.
    Confirmed,
    /// On its way.
    Shipped,
    /// Delivered.
    Completed,
    /// Cancelled before shipping.
    Cancelled,
}

impl OrderStatus {
    /// Every status, in the order of an order's life.
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::Shipped,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
    ];

    /// The name stored in read models and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    /// Reads a name written by [`OrderStatus::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "pending" => OrderStatus::Pending,
            "confirmed" => OrderStatus::Confirmed,
            "shipped" => OrderStatus::Shipped,
            "completed" => OrderStatus::Completed,
            "cancelled" => OrderStatus::Cancelled,
            _ => return None,
        })
    }

    /// Whether items may still be added or removed.
    pub fn is_open(self) -> bool {
        matches!(self, OrderStatus::Pending | OrderStatus::Confirmed)
    }
}

/// One line of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line {
    /// How many.
    pub quantity: u32,
    /// Price of one.
    pub unit_price: Money,
}

/// The decider's view of one order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Order {
    /// The order's id; `None` until it is created.
    pub id: Option<String>,
    /// `None` until the order is created.
    pub status: Option<OrderStatus>,
    /// Lines by SKU.
    pub lines: BTreeMap<String, Line>,
    /// Refunded so far.
    pub refunded: Money,
    /// When it was completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// How many events its stream holds.
    pub events: u32,
}

impl Order {
    /// What the order comes to; `None` past `i64::MAX` cents, which only an order grown past
    /// [`ORDER_TOTAL_MAX`](crate::limits::ORDER_TOTAL_MAX) before the limits could reach.
    pub fn total(&self) -> Option<Money> {
        self.lines.values().try_fold(Money::ZERO, |sum, line| {
            sum.checked_add(line.unit_price.checked_times(line.quantity)?)
        })
    }

    /// What is left to refund: the total less what was refunded (nothing if the total is
    /// past any amount).
    pub fn refundable(&self) -> Money {
        self.total()
            .and_then(|total| total.checked_sub(self.refunded))
            .unwrap_or(Money::ZERO)
    }

    /// How many items it holds, clamped at `u32::MAX` (the limits keep it at a million).
    pub fn item_count(&self) -> u32 {
        self.lines
            .values()
            .fold(0, |sum: u32, line| sum.saturating_add(line.quantity))
    }

    /// The order after `event`. Sums clamp rather than fail: a fold must take every recorded
    /// event, and the decider's limits keep the orders it records far from the clamp.
    pub fn evolve(mut self, event: &OrderEvent) -> Self {
        self.events = self.events.saturating_add(1);
        match event {
            OrderEvent::Created(e) => {
                self.id = Some(e.order_id.clone());
                self.status = Some(OrderStatus::Pending);
            }
            OrderEvent::ItemAdded(e) => {
                let line = self.lines.entry(e.sku.clone()).or_insert(Line {
                    quantity: 0,
                    unit_price: e.unit_price,
                });
                line.quantity = line.quantity.saturating_add(e.quantity);
            }
            OrderEvent::ItemRemoved(e) => {
                self.lines.remove(&e.sku);
            }
            OrderEvent::Confirmed(_) => self.status = Some(OrderStatus::Confirmed),
            OrderEvent::Shipped(_) => self.status = Some(OrderStatus::Shipped),
            OrderEvent::Completed(e) => {
                self.status = Some(OrderStatus::Completed);
                self.completed_at = Some(e.completed_at);
            }
            OrderEvent::Cancelled(_) => self.status = Some(OrderStatus::Cancelled),
            OrderEvent::Refunded(e) => self.refunded = self.refunded.saturating_add(e.amount),
        }
        self
    }
}

#[cfg(test)]
mod properties;
