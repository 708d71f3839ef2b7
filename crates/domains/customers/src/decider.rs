//! The customer decider: which events each command records, or why it is refused.
//!
//! A customer reviews a product once: a second review of the same product is refused
//! ([`CustomerError::AlreadyReviewed`]) rather than replacing the first, so a review, once
//! read, stays what its reader saw, and each review counts once in the customer's activity.

use chrono::{DateTime, Utc};
use projector_core::{Decider, EventSet, StreamId};

use crate::error::CustomerError;
use crate::events::{
    CustomerEvent, CustomerMoved, CustomerRegistered, CustomerTierChanged, CustomerUpdated,
    ReviewSubmitted,
};
use crate::limits::{
    EVENTS_MAX, NAME_MAX, REGION_MAX, check_email, check_line, check_rating, check_review_text,
};
use crate::state::{Customer, Profile};
use crate::tier::Tier;

/// What can be asked of a customer. Each carries the time it is decided at, so the decider
/// stays pure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CustomerCommand {
    /// Register a new customer (tier [`Tier::Bronze`]).
    Register {
        /// The new customer's id.
        customer_id: String,
        /// Where to write to them.
        email: String,
        /// Their name.
        name: String,
        /// Where they live.
        region: String,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Change any of the profile's fields; each given one that differs is recorded, a new
    /// name or email as `CustomerUpdated` and a new region as `CustomerMoved`, in one append.
    /// Refused when nothing would change.
    Update {
        /// The new name.
        name: Option<String>,
        /// The new email.
        email: Option<String>,
        /// The new region.
        region: Option<String>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Move to another region.
    Move {
        /// The region they live in now.
        region: String,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Give the customer another tier.
    ChangeTier {
        /// The tier.
        tier: Tier,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Rate a product, once per product.
    SubmitReview {
        /// The product.
        product_id: String,
        /// From [`RATING_MIN`](crate::limits::RATING_MIN) to
        /// [`RATING_MAX`](crate::limits::RATING_MAX).
        rating: u8,
        /// What they write (may be empty).
        text: String,
        /// Now.
        at: DateTime<Utc>,
    },
}

/// The stream that holds customer `customer_id`'s events: `customer-<id>`, in
/// [`CustomerEvent`]'s category.
///
/// # Errors
/// When the id makes no valid stream id (the HTTP layer validates ids first).
pub fn customer_stream(customer_id: &str) -> Result<StreamId, projector_core::IdError> {
    CustomerEvent::stream(customer_id)
}

/// The customer decider.
#[derive(Clone, Copy, Debug, Default)]
pub struct CustomerDecider;

impl Decider for CustomerDecider {
    type State = Customer;
    type Command = CustomerCommand;
    type Event = CustomerEvent;
    type Error = CustomerError;

    fn decide(
        &self,
        customer: &Customer,
        command: &CustomerCommand,
    ) -> Result<Vec<CustomerEvent>, CustomerError> {
        if let CustomerCommand::Register {
            customer_id,
            email,
            name,
            region,
            at,
        } = command
        {
            if customer.is_registered() {
                return Err(CustomerError::AlreadyExists);
            }
            valid("email", check_email(email))?;
            valid("name", check_line(name, NAME_MAX))?;
            valid("region", check_line(region, REGION_MAX))?;
            return Ok(vec![CustomerEvent::Registered(CustomerRegistered {
                customer_id: customer_id.clone(),
                email: email.clone(),
                name: name.clone(),
                region: region.clone(),
                registered_at: *at,
            })]);
        }
        let Some(profile) = &customer.profile else {
            return Err(CustomerError::NotFound);
        };
        if customer.events >= EVENTS_MAX {
            return Err(CustomerError::TooManyEvents);
        }
        match command {
            CustomerCommand::Register { .. } => Err(CustomerError::AlreadyExists),
            CustomerCommand::Update {
                name,
                email,
                region,
                at,
            } => update(
                profile,
                name.as_deref(),
                email.as_deref(),
                region.as_deref(),
                *at,
            ),
            CustomerCommand::Move { region, at } => {
                if *region == profile.region {
                    return Err(CustomerError::SameRegion {
                        region: region.clone(),
                    });
                }
                valid("region", check_line(region, REGION_MAX))?;
                Ok(vec![moved(profile, region, *at)])
            }
            CustomerCommand::ChangeTier { tier, at } => {
                if *tier == customer.tier {
                    return Err(CustomerError::SameTier { tier: *tier });
                }
                Ok(vec![CustomerEvent::TierChanged(CustomerTierChanged {
                    customer_id: profile.customer_id.clone(),
                    from: customer.tier,
                    to: *tier,
                    changed_at: *at,
                })])
            }
            CustomerCommand::SubmitReview {
                product_id,
                rating,
                text,
                at,
            } => {
                if product_id.is_empty() {
                    return Err(CustomerError::Invalid {
                        field: "product_id",
                        reason: "must not be empty".into(),
                    });
                }
                valid("rating", check_rating(*rating))?;
                valid("text", check_review_text(text))?;
                if customer.has_reviewed(product_id) {
                    return Err(CustomerError::AlreadyReviewed {
                        product_id: product_id.clone(),
                    });
                }
                Ok(vec![CustomerEvent::ReviewSubmitted(ReviewSubmitted {
                    customer_id: profile.customer_id.clone(),
                    product_id: product_id.clone(),
                    rating: *rating,
                    text: text.clone(),
                    submitted_at: *at,
                })])
            }
        }
    }

    /// Only a new stream takes it: it is appended without reading the stream first.
    fn creates(&self, command: &CustomerCommand) -> bool {
        matches!(command, CustomerCommand::Register { .. })
    }

    fn evolve(&self, customer: Customer, event: &CustomerEvent) -> Customer {
        customer.evolve(event)
    }
}

/// The events of an update: the name and email that differ in one `CustomerUpdated`, a region
/// that differs as `CustomerMoved`.
fn update(
    profile: &Profile,
    name: Option<&str>,
    email: Option<&str>,
    region: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Vec<CustomerEvent>, CustomerError> {
    if let Some(name) = name {
        valid("name", check_line(name, NAME_MAX))?;
    }
    if let Some(email) = email {
        valid("email", check_email(email))?;
    }
    if let Some(region) = region {
        valid("region", check_line(region, REGION_MAX))?;
    }
    let changed = |new: Option<&str>, old: &str| new.filter(|new| *new != old).map(str::to_owned);
    let name = changed(name, &profile.name);
    let email = changed(email, &profile.email);
    let region = changed(region, &profile.region);
    let mut events = Vec::with_capacity(2);
    if name.is_some() || email.is_some() {
        events.push(CustomerEvent::Updated(CustomerUpdated {
            customer_id: profile.customer_id.clone(),
            email,
            name,
            updated_at: at,
        }));
    }
    if let Some(region) = region {
        events.push(moved(profile, &region, at));
    }
    if events.is_empty() {
        return Err(CustomerError::Unchanged);
    }
    Ok(events)
}

fn moved(profile: &Profile, region: &str, at: DateTime<Utc>) -> CustomerEvent {
    CustomerEvent::Moved(CustomerMoved {
        customer_id: profile.customer_id.clone(),
        from: profile.region.clone(),
        region: region.to_owned(),
        moved_at: at,
    })
}

/// A field's check as the decider's refusal.
fn valid(field: &'static str, check: Result<(), String>) -> Result<(), CustomerError> {
    check.map_err(|reason| CustomerError::Invalid { field, reason })
}

#[cfg(test)]
mod tests;
