//! Why the order decider refuses a command.

use crate::limits::OrderLimit;
use crate::money::Money;
use crate::state::OrderStatus;

/// A command the order's current state does not allow.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OrderError {
    /// The order does not exist.
    ///
    /// # Handling
    /// HTTP 404.
    #[error("order not found")]
    NotFound,
    /// An order with this id already exists.
    ///
    /// # Handling
    /// HTTP 409.
    #[error("an order with this id already exists")]
    AlreadyExists,
    /// The order's status forbids the command.
    ///
    /// # Handling
    /// HTTP 409.
    #[error("cannot {action} an order that is {status}", status = .status.as_str())]
    InvalidTransition {
        /// What was asked, e.g. "ship".
        action: &'static str,
        /// The order's status.
        status: OrderStatus,
    },
    /// The order has no line for the SKU.
    ///
    /// # Handling
    /// HTTP 404.
    #[error("the order has no item {sku}")]
    NoSuchItem {
        /// The SKU.
        sku: String,
    },
    /// The SKU is already in the order at another price.
    ///
    /// # Handling
    /// HTTP 409.
    #[error("item {sku} is already in the order at {existing}, not {requested}")]
    PriceMismatch {
        /// The SKU.
        sku: String,
        /// The price on the order.
        existing: Money,
        /// The price asked for.
        requested: Money,
    },
    /// An empty order cannot ship.
    ///
    /// # Handling
    /// HTTP 409.
    #[error("the order has no items")]
    Empty,
    /// More than is left to refund.
    ///
    /// # Handling
    /// HTTP 409.
    #[error(
        "cannot refund {requested}: only {refundable} of the order's payment is left to refund"
    )]
    RefundExceedsPaid {
        /// The amount asked for.
        requested: Money,
        /// What is left.
        refundable: Money,
    },
    /// The command would take the order past one of its [limits](crate::limits).
    ///
    /// # Handling
    /// HTTP 422 on `field`, with the limit as the message.
    #[error("{field} {limit}")]
    LimitExceeded {
        /// The command's field that passes the limit, as the API names it (`items`,
        /// `items[2].quantity`, `quantity`, `sku`).
        field: String,
        /// The limit, and what the order would have reached.
        limit: OrderLimit,
    },
    /// The command itself is malformed (the HTTP layer validates first, so this is a backstop).
    ///
    /// # Handling
    /// HTTP 422.
    #[error("{0}")]
    Invalid(String),
}
