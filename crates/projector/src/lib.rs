//! projector, embedded: an event store, deciders, and projections that keep read models
//! (SQL tables, a Redis cache) current, rebuildable without downtime.
//!
//! This crate gathers what an application needs behind one dependency. `use
//! projector::prelude::*` brings the everyday names; the modules give the rest of each part.
//! See `docs/embedding.md` for a walk through a whole domain, and `examples/counter.rs`.
//!
//! # Features
//! - `sqlite` (default): the embedded SQLite event store and read store ([`sqlite`]).
//! - `postgres`: the PostgreSQL event store, read store and leases ([`postgres`]).
//! - `redis`: read models kept in Redis ([`redis`]).
//! - `testkit`: given/when/then for deciders, fresh PostgreSQL databases and Redis
//!   namespaces per test, and the conformance suites ([`testkit`]).
//!
//! The core (events, deciders, projections, the store traits) is re-exported at the root;
//! [`sql`] holds SQL read models and [`runtime`] the projector that runs projections.

pub use projector_core::*;
/// An event enum's whole set-up: `#[projector::events(category = "...")]` derives serde's
/// traits (through [`serde`]) and [`DomainEvent`].
pub use projector_derive::events;
#[cfg(feature = "postgres")]
pub use projector_postgres as postgres;
#[cfg(feature = "redis")]
pub use projector_redis as redis;
pub use projector_runtime as runtime;
pub use projector_sql as sql;
pub use projector_sql::params;
#[cfg(feature = "sqlite")]
pub use projector_sqlite as sqlite;
#[cfg(feature = "testkit")]
pub use projector_testkit as testkit;
/// serde, as the events' derives use it.
pub use serde;
/// JSON, as payloads and upcasters see it.
pub use serde_json;
/// The async runtime: `#[projector::tokio::main(crate = "projector::tokio")]` starts one.
pub use tokio;
/// The token that stops a projector started with [`Projector::start`](runtime::Projector::start).
pub use tokio_util::sync::CancellationToken;

/// The names an application uses every day.
pub mod prelude {
    pub use projector_core::{
        BoxError, CommandError, CommandOptions, Decider, DomainEvent, Either, Envelope,
        EventAppender, EventFeed, EventFilter, EventMetadata, EventSet, EventStore, Execute,
        Executed, ExpectedVersion, GlobalPosition, PayloadUpcaster, PoisonPolicy, ProjectedEvents,
        ProjectionError, ProjectionName, ReadDirection, Refused, StreamId, StreamReader,
        StreamVersion, Upcaster, Upcasters, execute, load,
    };
    pub use projector_runtime::{Projector, ProjectorHandle, ProjectorOptions};
    pub use projector_sql::{
        Row, SqlParam, SqlReadStore, SqlTarget, SqlTransaction, TypedSqlProjection, params,
    };

    #[cfg(feature = "postgres")]
    pub use projector_postgres::{
        PgEventStore, PgEventStoreOptions, PgLeases, PgReadStore, PgReadStoreOptions,
    };
    #[cfg(feature = "redis")]
    pub use projector_redis::{
        Namespace, RedisBatch, RedisRead, RedisStore, RedisTarget, TypedRedisProjection,
    };
    #[cfg(feature = "sqlite")]
    pub use projector_sqlite::{
        SqliteEventStore, SqliteEventStoreOptions, SqliteReadStore, SqliteReadStoreOptions,
    };
}
