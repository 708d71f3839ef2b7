//! Why the product decider refuses a command.

use crate::limits::EVENTS_MAX;
use crate::price::Price;

/// A command the product's current state does not allow, or whose fields are past the
/// product's [limits](crate::limits).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProductError {
    /// The product does not exist.
    ///
    /// # Handling
    /// HTTP 404.
    #[error("product not found")]
    NotFound,
    /// A product with this id already exists (or existed: a deleted id is not used again).
    ///
    /// # Handling
    /// HTTP 409.
    #[error("a product with this id already exists")]
    AlreadyExists,
    /// The product was deleted: nothing more can be done to it.
    ///
    /// # Handling
    /// HTTP 409.
    #[error("cannot {action} a product that was deleted")]
    Deleted {
        /// What was asked, e.g. "update".
        action: &'static str,
    },
    /// The update gives every field it names the value it already has.
    ///
    /// # Handling
    /// HTTP 409: the product's state, not the request's form, makes it a no-op.
    #[error("the update changes nothing: the product already has these values")]
    NothingChanged,
    /// The new price is the price the product already has.
    ///
    /// # Handling
    /// HTTP 409.
    #[error("the product's price is already {price}")]
    SamePrice {
        /// The price.
        price: Price,
    },
    /// The product's stream holds [`EVENTS_MAX`] events: it takes no more commands but a delete.
    ///
    /// # Handling
    /// HTTP 422 on `path.id`.
    #[error("has had {EVENTS_MAX} changes, as many as a product takes; create a new product")]
    TooManyChanges,
    /// A field of the command is past its limit or not of its form (the HTTP layer validates
    /// first, so this is a backstop for other callers).
    ///
    /// # Handling
    /// HTTP 422 on `field`.
    #[error("{field} {message}")]
    Invalid {
        /// The field as the API names it (`name`, `tags[2]`, `price`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
}
