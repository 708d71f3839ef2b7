//! The orders service: an order's events, the decider that records them, and the
//! read models projected from them.
//!
//! It is written only against projector's public API, so it is also an example to follow when
//! embedding projector (with the issue tracker, the larger one beside `docs/embedding.md`):
//! events that derive [`DomainEvent`](projector_core::DomainEvent), a
//! [`Decider`](projector_core::Decider) for the write side, and typed projections
//! ([`TypedSqlProjection`](projector_sql::TypedSqlProjection),
//! [`TypedRedisProjection`](projector_redis::TypedRedisProjection),
//! [`TypedSearchProjection`](projector_search::TypedSearchProjection)) for the read side.
//!
//! # Layout
//! - [`events`]: the events and their stored form.
//! - [`state`]: an order folded from its events; [`decider`]: commands to events.
//! - [`projections`]: `order_summary` (with the customer's region, from customer events),
//!   `daily_sales`, `customers` (`customer_profiles`, `customer_activity`, `customer_orders`
//!   and `customer_reviews`, over order and customer events), the `customer_orders_cache` and
//!   the `order_search` index.
//! - [`queries`]: typed reads of the read models, for APIs; [`search`]: searching orders.
//! - [`money`]: exact amounts; [`limits`]: how large an order may grow; [`error`]: why
//!   commands are refused.
//!
//! It is not: an HTTP API (see `projector-server`) or storage (any backend runs it).

pub mod decider;
pub mod error;
pub mod events;
pub mod limits;
pub mod money;
pub mod projections;
pub mod queries;
pub mod search;
pub mod state;
pub mod sum;
pub mod view;

pub use decider::{NewItem, OrderCommand, OrderDecider, order_stream};
pub use error::OrderError;
pub use events::OrderEvent;
pub use limits::OrderLimit;
pub use money::Money;
pub use state::{Order, OrderStatus};
pub use view::OrderView;
