//! A customer as the decider sees it: folded from their events, nothing more than decisions
//! need.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::events::CustomerEvent;
use crate::tier::Tier;

/// Who a registered customer is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The customer's id.
    pub customer_id: String,
    /// Where to write to them.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Where they live.
    pub region: String,
    /// When they registered.
    pub registered_at: DateTime<Utc>,
}

/// The decider's view of one customer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Customer {
    /// `None` until they register.
    pub profile: Option<Profile>,
    /// Their loyalty tier.
    pub tier: Tier,
    /// The products they have reviewed: one review each.
    pub reviewed: BTreeSet<String>,
    /// How many events their stream holds.
    pub events: u32,
}

impl Customer {
    /// Whether they have registered.
    pub fn is_registered(&self) -> bool {
        self.profile.is_some()
    }

    /// Whether they have reviewed `product_id`.
    pub fn has_reviewed(&self, product_id: &str) -> bool {
        self.reviewed.contains(product_id)
    }

    /// The customer after `event`. Events of a customer who never registered change only the
    /// count: a fold takes every recorded event, and the decider records none for them.
    pub fn evolve(mut self, event: &CustomerEvent) -> Self {
        self.events = self.events.saturating_add(1);
        match event {
            CustomerEvent::Registered(e) => {
                self.profile = Some(Profile {
                    customer_id: e.customer_id.clone(),
                    email: e.email.clone(),
                    name: e.name.clone(),
                    region: e.region.clone(),
                    registered_at: e.registered_at,
                });
            }
            CustomerEvent::Updated(e) => {
                if let Some(profile) = &mut self.profile {
                    if let Some(email) = &e.email {
                        profile.email.clone_from(email);
                    }
                    if let Some(name) = &e.name {
                        profile.name.clone_from(name);
                    }
                }
            }
            CustomerEvent::Moved(e) => {
                if let Some(profile) = &mut self.profile {
                    profile.region.clone_from(&e.region);
                }
            }
            CustomerEvent::TierChanged(e) => self.tier = e.to,
            CustomerEvent::ReviewSubmitted(e) => {
                self.reviewed.insert(e.product_id.clone());
            }
        }
        self
    }
}
