//! The customers service: a customer's profile, loyalty tier and product reviews, as events.
//!
//! It is written only against projector's public API, like the orders service beside it.
//! Its read models join order events too, so they live with the orders service's
//! projections, which read both.
//!
//! # Layout
//! - [`events`]: the events and their stored form; [`tier`]: loyalty tiers.

pub mod events;
pub mod tier;

pub use events::CustomerEvent;
pub use tier::Tier;
