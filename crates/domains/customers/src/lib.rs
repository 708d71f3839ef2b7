//! The customers service: a customer's profile, loyalty tier and product reviews, as events,
//! and the decider that records them.
//!
//! It is written only against projector's public API, like the orders service beside it.
//! Its read models join order events too, so they live with the orders service's
//! projections, which read both.
//!
//! # Layout
//! - [`events`]: the events and their stored form; [`tier`]: loyalty tiers.
//! - [`state`]: a customer folded from their events; [`decider`]: commands to events.
//! - [`limits`]: what each field may hold, and the stream's cap; [`error`]: why commands are
//!   refused.
//!
//! It is not: an HTTP API (see `projector-server`), a read model (see `projector-orders`'s
//! `customers` projection) or a product catalogue (a review names its product; whether the
//! product takes reviews is checked by whoever runs the command).

pub mod decider;
pub mod error;
pub mod events;
pub mod limits;
pub mod state;
pub mod tier;

pub use decider::{CustomerCommand, CustomerDecider, customer_stream};
pub use error::CustomerError;
pub use events::CustomerEvent;
pub use state::{Customer, Profile};
pub use tier::Tier;
