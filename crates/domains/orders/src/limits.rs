//! How large one order may grow. The decider refuses any command that would take an order past
//! these, so every order it records has a total that [`Money`] reads back exactly (and that a
//! JSON or SQL double holds exactly), a line count and item count far inside `u32`, and a size
//! the read models' sums can take 92 000 times over before they pass `i64::MAX` cents.

use std::fmt;

use crate::money::Money;
use crate::state::Order;

/// Most units of one SKU in an order: a line's quantity, however many additions made it.
pub const LINE_QUANTITY_MAX: u32 = 10_000;
/// Most lines (distinct SKUs) in one order.
pub const LINES_MAX: usize = 100;
/// Most events in one order's stream. Every command reads the stream whole (no snapshots: a
/// cap keeps each command's read bounded at no cost to real orders, which have tens of events;
/// a snapshot store would be a second write model to keep right). Without it, adding and
/// removing an item, or refunding a cent at a time, would grow an order without end.
pub const EVENTS_MAX: u32 = 10_000;
/// The largest total of one order: the largest amount there is, [`Money::MAX`].
pub const ORDER_TOTAL_MAX: Money = Money::MAX;

/// A limit of an order that a command would pass, with what the order would have reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderLimit {
    /// A line would hold `quantity` units, more than [`LINE_QUANTITY_MAX`].
    LineQuantity {
        /// The line's SKU.
        sku: String,
        /// The units it would hold.
        quantity: u32,
    },
    /// The order would have `lines` lines, more than [`LINES_MAX`].
    Lines {
        /// The lines it would have.
        lines: usize,
    },
    /// The order's stream holds [`EVENTS_MAX`] events: it takes no more commands.
    Events,
    /// The order would come to `total`, more than [`ORDER_TOTAL_MAX`]; `None` when the total
    /// is past even `i64::MAX` cents.
    Total {
        /// What it would come to.
        total: Option<Money>,
    },
}

impl OrderLimit {
    /// The first limit `order` is past, if any: checked on the order a command would leave.
    pub fn passed_by(order: &Order) -> Option<OrderLimit> {
        if order.lines.len() > LINES_MAX {
            return Some(OrderLimit::Lines {
                lines: order.lines.len(),
            });
        }
        if let Some((sku, line)) = order
            .lines
            .iter()
            .find(|(_, line)| line.quantity > LINE_QUANTITY_MAX)
        {
            return Some(OrderLimit::LineQuantity {
                sku: sku.clone(),
                quantity: line.quantity,
            });
        }
        checked_total(order).err()
    }
}

/// What `order` comes to, if that is within [`ORDER_TOTAL_MAX`].
///
/// # Errors
/// [`OrderLimit::Total`] with what it comes to otherwise.
pub fn checked_total(order: &Order) -> Result<Money, OrderLimit> {
    match order.total() {
        Some(total) if total <= ORDER_TOTAL_MAX => Ok(total),
        total => Err(OrderLimit::Total { total }),
    }
}

impl fmt::Display for OrderLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderLimit::LineQuantity { sku, quantity } => write!(
                f,
                "would bring item {sku} to {quantity} units; a line holds at most {LINE_QUANTITY_MAX}"
            ),
            OrderLimit::Lines { lines } => write!(
                f,
                "would give the order {lines} different items; an order holds at most {LINES_MAX}"
            ),
            OrderLimit::Total { total: Some(total) } => write!(
                f,
                "would bring the order's total to {total}; an order comes to at most {ORDER_TOTAL_MAX}"
            ),
            OrderLimit::Events => write!(
                f,
                "has had {EVENTS_MAX} changes, as many as an order takes; place a new order"
            ),
            OrderLimit::Total { total: None } => write!(
                f,
                "would bring the order's total past {}; an order comes to at most {ORDER_TOTAL_MAX}",
                Money::from_cents(i64::MAX)
            ),
        }
    }
}
