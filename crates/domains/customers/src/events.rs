//! The events of a customer's stream, and how they are stored.
//!
//! Every payload carries `customer_id`, so projections never depend on how streams are named,
//! and the facts read models need at the time (a move's new region, a tier change's both ends).

use chrono::{DateTime, Utc};
use projector_core::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::tier::Tier;

/// `CustomerRegistered`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRegistered {
    /// The customer.
    pub customer_id: String,
    /// Where to write to them.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Where they live: a state, province or similar region.
    pub region: String,
    /// When.
    #[serde(with = "projector_core::time::rfc3339")]
    pub registered_at: DateTime<Utc>,
}

/// `CustomerUpdated`: a new name or email (the fields that changed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerUpdated {
    /// The customer.
    pub customer_id: String,
    /// The new email, if it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The new name, if it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When.
    #[serde(with = "projector_core::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// `CustomerMoved`: the customer lives in a new region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerMoved {
    /// The customer.
    pub customer_id: String,
    /// The region they left.
    pub from: String,
    /// The region they live in now.
    pub region: String,
    /// When.
    #[serde(with = "projector_core::time::rfc3339")]
    pub moved_at: DateTime<Utc>,
}

/// `CustomerTierChanged`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerTierChanged {
    /// The customer.
    pub customer_id: String,
    /// The tier they had.
    pub from: Tier,
    /// The tier they have now.
    pub to: Tier,
    /// When.
    #[serde(with = "projector_core::time::rfc3339")]
    pub changed_at: DateTime<Utc>,
}

/// `ReviewSubmitted`: the customer rated a product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewSubmitted {
    /// Who wrote it.
    pub customer_id: String,
    /// The product reviewed.
    pub product_id: String,
    /// From 1 to 5.
    pub rating: u8,
    /// What they wrote.
    pub text: String,
    /// When.
    #[serde(with = "projector_core::time::rfc3339")]
    pub submitted_at: DateTime<Utc>,
}

/// Everything that can happen to a customer, stored in the customer's stream
/// (`customer-<id>`).
#[derive(Clone, Debug, PartialEq, Eq, DomainEvent)]
#[event(crate = "projector_core", category = "customer")]
pub enum CustomerEvent {
    /// See [`CustomerRegistered`].
    #[event(name = "CustomerRegistered")]
    Registered(CustomerRegistered),
    /// See [`CustomerUpdated`].
    #[event(name = "CustomerUpdated")]
    Updated(CustomerUpdated),
    /// See [`CustomerMoved`].
    #[event(name = "CustomerMoved")]
    Moved(CustomerMoved),
    /// See [`CustomerTierChanged`].
    #[event(name = "CustomerTierChanged")]
    TierChanged(CustomerTierChanged),
    /// See [`ReviewSubmitted`].
    #[event(name = "ReviewSubmitted")]
    ReviewSubmitted(ReviewSubmitted),
}

impl CustomerEvent {
    /// The customer the event belongs to.
    pub fn customer_id(&self) -> &str {
        match self {
            CustomerEvent::Registered(e) => &e.customer_id,
            CustomerEvent::Updated(e) => &e.customer_id,
            CustomerEvent::Moved(e) => &e.customer_id,
            CustomerEvent::TierChanged(e) => &e.customer_id,
            CustomerEvent::ReviewSubmitted(e) => &e.customer_id,
        }
    }
}
