//! Redis read models for projector: a cache that projections keep current, rebuilt from the
//! events whenever Redis loses it.
//!
//! A [`RedisProjection`] reads and writes keys through a [`RedisBatch`]; a [`RedisTarget`]
//! binds it to a [`RedisStore`] for the projector, which drives it like any other kind of read
//! model (`projector_core::ProjectionTarget`): catch-up and live, retries, dead letters,
//! rebuilds without downtime. Queries go through a [`RedisRead`] of the serving generation.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use async_trait::async_trait;
//! # use projector_core::{EventFilter, Projection, ProjectionError, ProjectionName, RecordedEvent};
//! use projector_redis::{Namespace, RedisBatch, RedisProjection, RedisStore, RedisTarget};
//!
//! /// How much each customer has spent, and the customers ranked by it.
//! struct Spending;
//!
//! impl Projection for Spending {
//!     fn name(&self) -> ProjectionName {
//!         ProjectionName::from_static("spending")
//!     }
//!     fn handles(&self) -> EventFilter {
//!         EventFilter::types(&["OrderPaid"])
//!     }
//! }
//!
//! #[derive(serde::Deserialize)]
//! struct OrderPaid {
//!     customer: String,
//!     cents: i64,
//! }
//!
//! #[async_trait]
//! impl RedisProjection for Spending {
//!     async fn apply(&self, batch: &mut RedisBatch, events: &[RecordedEvent]) -> Result<(), ProjectionError> {
//!         // Fold the batch in memory: reads see the generation as the batch found it.
//!         let mut added = std::collections::BTreeMap::<String, i64>::new();
//!         for event in events {
//!             let paid: OrderPaid = event.decode()?;
//!             *added.entry(paid.customer).or_default() += paid.cents;
//!         }
//!         for (customer, cents) in added {
//!             let key = format!("customer:{customer}");
//!             let before = batch.hget(&key, "spent").await?;
//!             let spent = before.map_or(Ok(0), |s| s.parse::<i64>())
//!                 .map_err(|e| ProjectionError { position: None, transient: false, message: e.to_string() })?
//!                 + cents;
//!             batch.hset(&key, "spent", spent.to_string());
//!             batch.zadd("by_spending", customer, spent as f64);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! # async fn wire() -> Result<(), Box<dyn std::error::Error>> {
//! let store = RedisStore::connect("redis://127.0.0.1:6379", Namespace::parse("shop")?).await?;
//! let target = Arc::new(RedisTarget::new(store, Arc::new(Spending)));
//! // projector.with_target(Arc::clone(&target)) ... then, to answer a query:
//! let read = target.read().await?;
//! let top = read.zrange("by_spending", 0, 9, true).await?;
//! println!("generation {} at {}: {top:?}", read.generation(), read.checkpoint().position);
//! # Ok(())
//! # }
//! ```
//!
//! # What is atomic
//! Every write is one Lua script, which Redis runs to its end before any other command:
//! - **a batch**: the script checks that the generation's checkpoint is where the batch starts
//!   (else `CheckpointMoved`, nothing changed), checks every buffered write against the type
//!   of its key (a write Redis would refuse fails the batch before anything is written), then
//!   applies the writes and moves the checkpoint. The projection's reads happen before the
//!   script; if anything wrote the generation meanwhile, its checkpoint moved and the batch is
//!   refused, so a batch never commits on stale reads;
//! - **the catalog**: creating, swapping and dropping generations, and dead letters, each check
//!   what the caller saw (`BuildInProgress`, `ServingChanged`, `CheckpointMoved`,
//!   `NoGeneration`), with the same fencing as the SQL read stores.
//!
//! # Generations and the hash tag
//! Each projection has a catalog and numbered generations under its hash tag
//! `{<namespace>:<projection>}` (layout in [`namespace`]). A rebuild fills a new generation
//! beside the serving one; the swap is one script, so a read taken before it reads the old
//! generation whole and one taken after the new one whole. The swapped-out generation leaves
//! the catalog at once, stays readable for `RedisStoreOptions::retired_grace`, and is then
//! removed with `SCAN` and `UNLINK` in steps (see [`sweep`](RedisTarget::sweep)), never in one
//! blocking command.
//!
//! Because every key of a projection carries its hash tag, all of them hash to one slot, and
//! every script touches that slot only, as Redis Cluster requires: **a projection's read model
//! lives on one node of a cluster** (different projections spread over the nodes). The store
//! talks to one server; point it at a standalone Redis or at a cluster-aware proxy.
//!
//! # Volatility
//! Redis keeps the catalog and checkpoints beside the data, so they are lost together: after
//! a restart without persistence, a `FLUSHDB` or `FLUSHALL`, `serving()` answers `None` and a
//! write to a generation that vanished is refused with `NoGeneration`, which the projector
//! takes as "read the catalog again": it creates a generation and builds the read model from
//! the first event. [`RedisTarget`] says it is volatile, so an idle projector looks for its
//! serving generation every second and rebuilds without waiting for the next event. Reads
//! meanwhile see the read model being rebuilt, and a read waiting for a position waits for it.
//!
//! Eviction must not pick these keys: run Redis with `maxmemory-policy noeviction` (or a
//! `volatile-*` policy: the keys have no expiry). Under an `allkeys-*` policy Redis may evict
//! part of a generation's data and keep its checkpoint, which no one can notice; an evicted
//! catalog or checkpoint is noticed, and treated as a loss of the whole read model.
//!
//! # Layout
//! - [`store`]: [`RedisStore`] (connection, namespace, options) and [`RedisStoreOptions`].
//! - [`namespace`]: [`Namespace`] and the key layout.
//! - [`projection`]: the [`RedisProjection`] trait; [`typed`]: [`TypedRedisProjection`], fed
//!   the decoded events of one event set; [`batch`]: [`RedisBatch`], its reads and buffered
//!   writes.
//! - [`target`]: [`RedisTarget`], the projection bound to its store for the projector.
//! - [`read`]: [`RedisRead`], reads of the serving generation.
//! - `catalog`, `letters`, `reads`: the catalog, dead letters and reads as stored;
//!   `scripts` and `lua/`: the scripts; `sweep`: removing retired generations.
//!
//! It is not:
//! - durable storage: it is a cache the events can always rebuild;
//! - a Redis Cluster client (see above), nor a general Redis client: projections get the reads
//!   and writes a read model needs, under their own prefix.

pub mod batch;
mod catalog;
mod letters;
pub mod namespace;
pub mod projection;
pub mod read;
mod reads;
mod retry;
mod scripts;
pub mod store;
mod sweep;
pub mod target;
pub mod typed;

pub use batch::RedisBatch;
pub use namespace::{Namespace, NamespaceError};
pub use projection::RedisProjection;
pub use read::RedisRead;
pub use store::{RedisStore, RedisStoreOptions};
pub use target::RedisTarget;
pub use typed::{TypedRedis, TypedRedisProjection};
