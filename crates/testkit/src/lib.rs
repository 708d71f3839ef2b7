//! Test support shared by every crate of projector.
//!
//! # Layout
//! - [`conformance`]: the event store conformance suite, written once and stamped out for each
//!   backend with [`event_store_conformance!`]; the idempotency store's, with
//!   [`idempotency_conformance!`]; every kind of read model's, with [`target_conformance!`].
//! - [`dump`]: read models dumped whole, every table their schemas create, to compare two
//!   builds of them.
//! - [`harness`]: given/when/then for deciders.
//! - [`postgres`]: [`TestDatabase`](postgres::TestDatabase), a fresh PostgreSQL database per test.
//! - [`property`]: [`config`](property::config), the one case-count and failure-persistence
//!   policy of every property test.
//! - [`proxy`]: a loopback TCP proxy in front of PostgreSQL that injects network faults: the
//!   database gone and back, a hung network, a lost reply.
//! - [`redis`]: [`TestRedis`](redis::TestRedis), a fresh Redis key namespace per test, or a
//!   logical database of the test's own for a test that flushes it.
//! - [`services`]: URLs of the loopback services, and the rule for when a test may skip.
//! - [`temp_dir`]: a temporary directory for the stores that live in files.
//! - [`events`]: quick constructors for test events.
//! - [`sqlite`]: the SQLite stores of a data directory, opened as the server opens them.
//! - [`seeded`]: a SQL projection that starts from seeded rows.
//! - [`wait`]: [`eventually`](wait::eventually), the one way a test waits for a condition, under
//!   one deadline policy.
//!
//! It is not: a mock store. Every test here runs against a real backend.

pub mod conformance;
pub mod dump;
pub mod events;
mod files;
pub mod harness;
pub mod postgres;
pub mod property;
pub mod proxy;
pub mod redis;
pub mod seeded;
pub mod services;
pub mod sqlite;
pub mod wait;

pub use files::temp_dir;
