//! The events of an order's stream, and how they are stored.
//!
//! Every payload carries `order_id`, so projections never depend on how streams are named.
//! Events that later projections need carry the facts at the time (an item's price, an order's
//! total at completion), so a projection never has to look anything up in the write model.

use chrono::{DateTime, Utc};
use projector_core::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::money::Money;

pub mod amounts;

/// The stored type names.
pub mod types {
    use projector_core::EventType;

    /// An order was opened for a customer.
    pub const ORDER_CREATED: EventType = EventType::from_static("OrderCreated");
    /// A line was added (or its quantity raised).
    pub const ORDER_ITEM_ADDED: EventType = EventType::from_static("OrderItemAdded");
    /// A line was removed.
    pub const ORDER_ITEM_REMOVED: EventType = EventType::from_static("OrderItemRemoved");
    /// The order was confirmed and paid.
    pub const ORDER_CONFIRMED: EventType = EventType::from_static("OrderConfirmed");
    /// The order left the warehouse.
    pub const ORDER_SHIPPED: EventType = EventType::from_static("OrderShipped");
    /// The order was delivered: its sale counts.
    pub const ORDER_COMPLETED: EventType = EventType::from_static("OrderCompleted");
    /// The order was cancelled before shipping.
    pub const ORDER_CANCELLED: EventType = EventType::from_static("OrderCancelled");
    /// Part or all of a completed order was paid back.
    pub const ORDER_REFUNDED: EventType = EventType::from_static("OrderRefunded");

    /// Every order event type (as `OrderEvent::TYPES` lists them).
    pub const ALL: [&str; 8] = [
        "OrderCreated",
        "OrderItemAdded",
        "OrderItemRemoved",
        "OrderConfirmed",
        "OrderShipped",
        "OrderCompleted",
        "OrderCancelled",
        "OrderRefunded",
    ];
}

/// `OrderCreated`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCreated {
    /// The order.
    pub order_id: String,
    /// Who placed it.
    pub customer_id: String,
    /// When.
    #[serde(with = "projector_core::time::rfc3339")]
    pub created_at: DateTime<Utc>,
}

/// `OrderItemAdded`: `quantity` more of `sku` at `unit_price` each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItemAdded {
    /// The order.
    pub order_id: String,
    /// The product.
    pub sku: String,
    /// How many were added.
    pub quantity: u32,
    /// The price of one (stored in cents; v1 as a decimal, also under the benchmark
    /// workload's name `price`).
    #[serde(with = "crate::money::cents")]
    pub unit_price: Money,
}

/// `OrderItemRemoved`: the whole line of `sku`, as it stood.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItemRemoved {
    /// The order.
    pub order_id: String,
    /// The product.
    pub sku: String,
    /// The quantity the line had.
    pub quantity: u32,
    /// Its price per unit (stored in cents).
    #[serde(with = "crate::money::cents")]
    pub unit_price: Money,
}

/// `OrderConfirmed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderConfirmed {
    /// The order.
    pub order_id: String,
    /// When.
    #[serde(with = "projector_core::time::rfc3339")]
    pub confirmed_at: DateTime<Utc>,
}

/// `OrderShipped`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderShipped {
    /// The order.
    pub order_id: String,
    /// The carrier's tracking number.
    pub tracking: String,
    /// When.
    #[serde(with = "projector_core::time::rfc3339")]
    pub shipped_at: DateTime<Utc>,
}

/// `OrderCompleted`, with the order's totals at that moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCompleted {
    /// The order.
    pub order_id: String,
    /// When.
    #[serde(with = "projector_core::time::rfc3339")]
    pub completed_at: DateTime<Utc>,
    /// What the order came to (stored in cents).
    #[serde(with = "crate::money::cents")]
    pub total_amount: Money,
    /// How many items it held.
    pub item_count: u32,
}

/// `OrderCancelled`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCancelled {
    /// The order.
    pub order_id: String,
    /// Why.
    pub reason: String,
    /// When.
    #[serde(with = "projector_core::time::rfc3339")]
    pub cancelled_at: DateTime<Utc>,
}

/// `OrderRefunded`: `amount` paid back on a completed order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRefunded {
    /// The order.
    pub order_id: String,
    /// How much (stored in cents).
    #[serde(with = "crate::money::cents")]
    pub amount: Money,
    /// When.
    #[serde(with = "projector_core::time::rfc3339")]
    pub refunded_at: DateTime<Utc>,
    /// When the order was completed, so reports can charge the refund to that day's sales.
    #[serde(with = "projector_core::time::rfc3339")]
    pub original_completed_at: DateTime<Utc>,
}

/// Everything that can happen to an order, stored in the order's stream (`order-<id>`).
///
/// Each variant holds its event's struct, stored as that struct serializes. The events that
/// hold an amount are at schema version 2, which keeps it in whole cents; [`amounts`] reads
/// their version 1, which kept decimals.
#[derive(Clone, Debug, PartialEq, Eq, DomainEvent)]
#[event(crate = "projector_core", category = "order", upcasters = amounts::UPCASTERS)]
pub enum OrderEvent {
    /// See [`OrderCreated`].
    #[event(name = "OrderCreated")]
    Created(OrderCreated),
    /// See [`OrderItemAdded`].
    #[event(name = "OrderItemAdded", version = 2)]
    ItemAdded(OrderItemAdded),
    /// See [`OrderItemRemoved`].
    #[event(name = "OrderItemRemoved", version = 2)]
    ItemRemoved(OrderItemRemoved),
    /// See [`OrderConfirmed`].
    #[event(name = "OrderConfirmed")]
    Confirmed(OrderConfirmed),
    /// See [`OrderShipped`].
    #[event(name = "OrderShipped")]
    Shipped(OrderShipped),
    /// See [`OrderCompleted`].
    #[event(name = "OrderCompleted", version = 2)]
    Completed(OrderCompleted),
    /// See [`OrderCancelled`].
    #[event(name = "OrderCancelled")]
    Cancelled(OrderCancelled),
    /// See [`OrderRefunded`].
    #[event(name = "OrderRefunded", version = 2)]
    Refunded(OrderRefunded),
}

impl OrderEvent {
    /// The order the event belongs to.
    pub fn order_id(&self) -> &str {
        match self {
            OrderEvent::Created(e) => &e.order_id,
            OrderEvent::ItemAdded(e) => &e.order_id,
            OrderEvent::ItemRemoved(e) => &e.order_id,
            OrderEvent::Confirmed(e) => &e.order_id,
            OrderEvent::Shipped(e) => &e.order_id,
            OrderEvent::Completed(e) => &e.order_id,
            OrderEvent::Cancelled(e) => &e.order_id,
            OrderEvent::Refunded(e) => &e.order_id,
        }
    }
}

#[cfg(test)]
mod tests;
