//! Why the customer decider refuses a command.

use crate::limits::EVENTS_MAX;
use crate::tier::Tier;

/// A command the customer's current state does not allow, or a field it cannot take.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CustomerError {
    /// The customer has not registered.
    ///
    /// # Handling
    /// HTTP 404.
    #[error("customer not found")]
    NotFound,
    /// A customer with this id has registered.
    ///
    /// # Handling
    /// HTTP 409.
    #[error("a customer with this id already exists")]
    AlreadyExists,
    /// The update names only values the customer already has.
    ///
    /// # Handling
    /// HTTP 409.
    #[error("nothing to change: the customer already has these values")]
    Unchanged,
    /// The customer already lives in the region.
    ///
    /// # Handling
    /// HTTP 409.
    #[error("the customer already lives in {region}")]
    SameRegion {
        /// Their region.
        region: String,
    },
    /// The customer already has the tier.
    ///
    /// # Handling
    /// HTTP 409.
    #[error("the customer is already {tier}")]
    SameTier {
        /// Their tier.
        tier: Tier,
    },
    /// A customer reviews a product once.
    ///
    /// # Handling
    /// HTTP 409.
    #[error("the customer has already reviewed product {product_id}")]
    AlreadyReviewed {
        /// The product.
        product_id: String,
    },
    /// The customer's stream holds [`EVENTS_MAX`] events: it takes no more commands.
    ///
    /// # Handling
    /// HTTP 422 on the field naming the customer.
    #[error("a customer takes at most {EVENTS_MAX} changes and reviews")]
    TooManyEvents,
    /// A field breaks its rule (the HTTP layer checks the same rules first, so this is a
    /// backstop).
    ///
    /// # Handling
    /// HTTP 422 on `field`.
    #[error("{field} {reason}")]
    Invalid {
        /// The command's field, as the API names it (`email`, `rating`, ...).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}
