//! The product catalogue: a product's events, the decider that records them, and the `products`
//! read models projected from them.
//!
//! It is written only against projector's public API, like the orders service: events that
//! derive [`DomainEvent`](projector_core::DomainEvent), a [`Decider`](projector_core::Decider)
//! for the write side, and a [`TypedSqlProjection`](projector_sql::TypedSqlProjection) for the
//! read side.
//!
//! Another domain that refers to a product (a review, say) checks it from the write side:
//! [`load_product`] folds the product's stream ([`product_stream`]) into a [`Product`], and
//! [`Product::is_live`] says whether it exists and was not deleted.
//!
//! # Layout
//! - [`id`]: a product's id, checked once, and its stream; [`price`]: prices in whole cents.
//! - [`events`]: the events and their stored form.
//! - [`state`]: a product folded from its events; [`decider`]: commands to events.
//! - [`projections`]: `products`, one row per live product, and `product_search`, the
//!   catalogue's search index; [`queries`]: typed reads of `products`; [`search`]: searches of
//!   `product_search`.
//! - [`limits`]: how long each field may be; [`error`]: why commands are refused.
//!
//! It is not: an HTTP API (see `projector-server`) or storage (any backend runs it).

pub mod decider;
pub mod error;
pub mod events;
pub mod id;
pub mod limits;
pub mod price;
pub mod projections;
pub mod queries;
pub mod search;
pub mod state;

pub use decider::{ProductChanges, ProductCommand, ProductDecider, load_product};
pub use error::ProductError;
pub use events::ProductEvent;
pub use id::{InvalidProductId, ProductId, product_stream};
pub use price::{InvalidPrice, Price};
pub use state::Product;
