//! The order decider: which events each command records, or why it is refused.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use projector_core::{Decider, EventSet, StreamId};

use crate::error::OrderError;
use crate::events::{
    OrderCancelled, OrderCompleted, OrderConfirmed, OrderCreated, OrderEvent, OrderItemAdded,
    OrderItemRemoved, OrderRefunded, OrderShipped,
};
use crate::limits::{EVENTS_MAX, OrderLimit, checked_total};
use crate::money::Money;
use crate::state::{Order, OrderStatus};

/// A line asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewItem {
    /// The product.
    pub sku: String,
    /// How many (at least 1).
    pub quantity: u32,
    /// Price of one.
    pub unit_price: Money,
}

impl NewItem {
    /// `quantity` of `sku` at `unit_price` each.
    pub fn new(sku: impl Into<String>, quantity: u32, unit_price: Money) -> Self {
        Self {
            sku: sku.into(),
            quantity,
            unit_price,
        }
    }
}

/// What can be asked of an order. Each carries the time it is decided at, so the decider
/// stays pure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderCommand {
    /// Open, fill and confirm an order in one step.
    Place {
        /// The new order's id.
        order_id: String,
        /// Who places it.
        customer_id: String,
        /// Its lines (at least one, SKUs distinct).
        items: Vec<NewItem>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Add a line, or more of a line at the same price.
    AddItem {
        /// The line.
        item: NewItem,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Remove a whole line.
    RemoveItem {
        /// Its SKU.
        sku: String,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Hand it to the carrier.
    Ship {
        /// The carrier's tracking number.
        tracking: String,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Mark it delivered.
    Complete {
        /// Now.
        at: DateTime<Utc>,
    },
    /// Cancel it before it ships.
    Cancel {
        /// Why.
        reason: String,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Pay back part or all of a completed order.
    Refund {
        /// How much (more than zero).
        amount: Money,
        /// Now.
        at: DateTime<Utc>,
    },
}

impl OrderCommand {
    /// [`OrderCommand::Place`]: `customer` places order `order` of `items`, `at` then.
    pub fn place(
        order: impl Into<String>,
        customer: impl Into<String>,
        items: Vec<NewItem>,
        at: DateTime<Utc>,
    ) -> Self {
        Self::Place {
            order_id: order.into(),
            customer_id: customer.into(),
            items,
            at,
        }
    }
}

/// The stream that holds order `order_id`'s events: `order-<id>`, in [`OrderEvent`]'s
/// category, the only streams the order projections read.
///
/// # Errors
/// When the id makes no valid stream id (the HTTP layer validates ids first).
pub fn order_stream(order_id: &str) -> Result<StreamId, projector_core::IdError> {
    OrderEvent::stream(order_id)
}

/// The order decider.
#[derive(Clone, Copy, Debug, Default)]
pub struct OrderDecider;

impl Decider for OrderDecider {
    type State = Order;
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;

    fn decide(&self, order: &Order, command: &OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        if let OrderCommand::Place {
            order_id,
            customer_id,
            items,
            at,
        } = command
        {
            return place(order, order_id, customer_id, items, *at);
        }
        let (Some(order_id), Some(status)) = (order.id.clone(), order.status) else {
            return Err(OrderError::NotFound);
        };
        if order.events >= EVENTS_MAX {
            return Err(OrderError::LimitExceeded {
                field: "path.id".into(),
                limit: OrderLimit::Events,
            });
        }
        match command {
            OrderCommand::Place { .. } => Err(OrderError::AlreadyExists),
            OrderCommand::AddItem { item, .. } => {
                require(status.is_open(), "add items to", status)?;
                check_item(item)?;
                if let Some(line) = order.lines.get(&item.sku)
                    && line.unit_price != item.unit_price
                {
                    return Err(OrderError::PriceMismatch {
                        sku: item.sku.clone(),
                        existing: line.unit_price,
                        requested: item.unit_price,
                    });
                }
                let events = vec![added(&order_id, item)];
                within_limits(order, &events, |limit| match limit {
                    OrderLimit::Lines { .. } => "sku".into(),
                    OrderLimit::LineQuantity { .. }
                    | OrderLimit::Total { .. }
                    | OrderLimit::Events => "quantity".into(),
                })?;
                Ok(events)
            }
            OrderCommand::RemoveItem { sku, .. } => {
                require(status.is_open(), "remove items from", status)?;
                let line = order
                    .lines
                    .get(sku)
                    .ok_or_else(|| OrderError::NoSuchItem { sku: sku.clone() })?;
                Ok(vec![OrderEvent::ItemRemoved(OrderItemRemoved {
                    order_id,
                    sku: sku.clone(),
                    quantity: line.quantity,
                    unit_price: line.unit_price,
                })])
            }
            OrderCommand::Ship { tracking, at } => {
                require(status == OrderStatus::Confirmed, "ship", status)?;
                if order.lines.is_empty() {
                    return Err(OrderError::Empty);
                }
                Ok(vec![OrderEvent::Shipped(OrderShipped {
                    order_id,
                    tracking: tracking.clone(),
                    shipped_at: *at,
                })])
            }
            OrderCommand::Complete { at } => {
                require(status == OrderStatus::Shipped, "complete", status)?;
                // Only an order grown before the limits can be past them; its completion would
                // record a total that no projection could read.
                let total_amount =
                    checked_total(order).map_err(|limit| OrderError::LimitExceeded {
                        field: "items".into(),
                        limit,
                    })?;
                Ok(vec![OrderEvent::Completed(OrderCompleted {
                    order_id,
                    completed_at: *at,
                    total_amount,
                    item_count: order.item_count(),
                })])
            }
            OrderCommand::Cancel { reason, at } => {
                require(status.is_open(), "cancel", status)?;
                Ok(vec![OrderEvent::Cancelled(OrderCancelled {
                    order_id,
                    reason: reason.clone(),
                    cancelled_at: *at,
                })])
            }
            OrderCommand::Refund { amount, at } => {
                require(status == OrderStatus::Completed, "refund", status)?;
                if *amount == Money::ZERO {
                    return Err(OrderError::Invalid(
                        "a refund must be more than zero".into(),
                    ));
                }
                let refundable = order.refundable();
                if *amount > refundable {
                    return Err(OrderError::RefundExceedsPaid {
                        requested: *amount,
                        refundable,
                    });
                }
                Ok(vec![OrderEvent::Refunded(OrderRefunded {
                    order_id,
                    amount: *amount,
                    refunded_at: *at,
                    original_completed_at: order.completed_at.unwrap_or(*at),
                })])
            }
        }
    }

    /// Only a new stream takes it: it is appended without reading the stream first.
    fn creates(&self, command: &OrderCommand) -> bool {
        matches!(command, OrderCommand::Place { .. })
    }

    fn evolve(&self, order: Order, event: &OrderEvent) -> Order {
        order.evolve(event)
    }
}

fn place(
    order: &Order,
    order_id: &str,
    customer_id: &str,
    items: &[NewItem],
    at: DateTime<Utc>,
) -> Result<Vec<OrderEvent>, OrderError> {
    if order.status.is_some() {
        return Err(OrderError::AlreadyExists);
    }
    if items.is_empty() {
        return Err(OrderError::Invalid(
            "an order needs at least one item".into(),
        ));
    }
    let mut skus = BTreeSet::new();
    for item in items {
        check_item(item)?;
        if !skus.insert(item.sku.as_str()) {
            return Err(OrderError::Invalid(format!(
                "item {} is listed twice",
                item.sku
            )));
        }
    }
    let mut events = Vec::with_capacity(items.len() + 2);
    events.push(OrderEvent::Created(OrderCreated {
        order_id: order_id.to_owned(),
        customer_id: customer_id.to_owned(),
        created_at: at,
    }));
    events.extend(items.iter().map(|item| added(order_id, item)));
    events.push(OrderEvent::Confirmed(OrderConfirmed {
        order_id: order_id.to_owned(),
        confirmed_at: at,
    }));
    within_limits(order, &events, |limit| match limit {
        OrderLimit::LineQuantity { sku, .. } => items
            .iter()
            .position(|item| item.sku == *sku)
            .map_or_else(|| "items".into(), |i| format!("items[{i}].quantity")),
        OrderLimit::Lines { .. } | OrderLimit::Total { .. } | OrderLimit::Events => "items".into(),
    })?;
    Ok(events)
}

/// Refuses a command whose `events` would take `order` past a limit, naming the command's
/// field that `field` picks for it. Checked on the order the events would leave, so a line
/// grown by a later addition counts as much as one placed whole.
fn within_limits(
    order: &Order,
    events: &[OrderEvent],
    field: impl FnOnce(&OrderLimit) -> String,
) -> Result<(), OrderError> {
    let grown = events.iter().fold(order.clone(), Order::evolve);
    match OrderLimit::passed_by(&grown) {
        None => Ok(()),
        Some(limit) => Err(OrderError::LimitExceeded {
            field: field(&limit),
            limit,
        }),
    }
}

fn added(order_id: &str, item: &NewItem) -> OrderEvent {
    OrderEvent::ItemAdded(OrderItemAdded {
        order_id: order_id.to_owned(),
        sku: item.sku.clone(),
        quantity: item.quantity,
        unit_price: item.unit_price,
    })
}

fn check_item(item: &NewItem) -> Result<(), OrderError> {
    if item.quantity == 0 {
        return Err(OrderError::Invalid(format!(
            "item {} needs a quantity of at least 1",
            item.sku
        )));
    }
    Ok(())
}

fn require(allowed: bool, action: &'static str, status: OrderStatus) -> Result<(), OrderError> {
    if allowed {
        Ok(())
    } else {
        Err(OrderError::InvalidTransition { action, status })
    }
}

#[cfg(test)]
mod tests;
