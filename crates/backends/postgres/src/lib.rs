//! The PostgreSQL backend of projector: for several processes on one database, and for
//! outgrowing one machine's disk.
//!
//! - [`PgEventStore`] keeps events in `projector.events`. Positions are assigned in commit
//!   order under a single head-row lock, so the feed never skips or reorders, whichever process
//!   appends; a group-commit writer task shares each commit among all appends waiting for it.
//!   Subscriptions are woken by `LISTEN`/`NOTIFY`, with polling as the fallback.
//! - [`PgReadStore`] keeps each generation of each projection's read model in its own schema
//!   (`rm_<projection>_g<n>`), with its checkpoint and dead letters beside its tables, so a
//!   batch and its checkpoint commit together. Projection SQL is unqualified and runs with
//!   `search_path` set to the generation's schema.
//! - [`PgIdempotencyStore`] keeps idempotency keys and their answers for every process.
//! - [`PgInlineProjections`] are SQL projections the event store applies in each append's own
//!   transaction ([`PgEventStore::set_inline`]), so a write's answer comes after its
//!   read-model rows.
//! - [`PgControls`] keeps operators' pauses of projections, for whichever process runs them.
//! - [`PgLeases`] lets one process at a time run each projection, by session advisory lock,
//!   and tells who holds each lease ([`LeaseHolder`], from `pg_locks`).
//!
//! # Layout
//! - `event_store`: the store and its options; `writer`: group commit; `listener`: the head
//!   watch fed by `LISTEN`; `rows`: rows to events; `inline`: the inline projections applied
//!   in the append's transaction.
//! - `read_store`: the read store; its `catalog` of generations, each `generation` schema,
//!   the portable `transaction` projections write through, and `params`/`values` for the types.
//! - [`lease`]: projection leases; `heartbeat`: how a held lease is kept alive, and the
//!   bounds on noticing a hung session; `lease_holder`: who holds them.
//! - [`migrate`]: the embedded migrations (`migrations/NNNN_*.sql`), run under an advisory lock.
//! - `pool`, `error`: connecting, and mapping SQLSTATEs.
//!
//! It is not:
//! - sharded: one database holds one feed (shard by stream across databases, each its own feed);
//! - a queue: subscribers pull from the feed at their own pace.

mod append;
mod controls;
mod error;
mod event_store;
mod head;
mod heartbeat;
mod idempotency;
mod inline;
pub mod lease;
mod lease_holder;
mod lease_members;
mod listener;
pub mod migrate;
mod pool;
mod read_store;
mod rows;
mod tls;
mod writer;

pub use controls::PgControls;
pub use event_store::{PgEventStore, PgEventStoreOptions};
pub use idempotency::PgIdempotencyStore;
pub use inline::PgInlineProjections;
pub use lease::{DEFAULT_LEASE_TIMEOUT, LeaseError, LeaseGuard, PgLeases};
pub use lease_holder::LeaseHolder;
pub use lease_members::PgMembership;
pub use migrate::{MigrationError, migrate, migrate_to, verify};
pub use pool::PoolSetupError;
pub use read_store::{PgReadStore, PgReadStoreOptions};
pub use tls::TlsSetupError;
