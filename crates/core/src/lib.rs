//! The types and traits of projector: events, the event store, deciders and projections.
//!
//! Everything else is written against this crate: storage backends implement its traits, the
//! runtime drives its projections, and the built-in domains use nothing but its public API.
//!
//! # Layout
//! - [`ids`]: validated identifiers (stream ids, event types, projection names, metadata ids).
//! - [`position`]: global positions, stream versions, expected versions.
//! - [`event`]: [`NewEvent`] to append, [`RecordedEvent`] as stored, their metadata and payload.
//! - [`store`]: the [`EventFeed`], [`StreamReader`], [`EventAppender`] and [`EventStore`] traits.
//! - [`subscription`]: catch-up-then-live reading of the feed.
//! - [`idempotency`]: answers remembered per idempotency key.
//! - [`lease`]: which process runs a projection when several share a database.
//! - [`partition`]: a projection run as several partitions, each a share of the streams.
//! - [`control`]: operators' controls of a projection (a pause), kept beside the read store.
//! - [`start`]: where a new generation of a read model starts reading the feed.
//! - [`codec`]: domain events to stored events and back.
//! - [`time`]: timestamps in event payloads, read by the fast RFC 3339 parser first.
//! - [`upcast`]: upcasters, which read older schema versions of a payload as the current one.
//! - [`event_set`]: a domain's events as one set ([`EventSet`], `#[derive(DomainEvent)]`),
//!   and [`Envelope`], a decoded event with its position and metadata.
//! - [`decide`]: pure deciders and the load-decide-append loop.
//! - [`projection`]: the [`Projection`] trait every projection declares, and its errors.
//! - [`read_model`]: what every kind of read model shares: checkpoints, generations, dead
//!   letters, and their errors.
//! - [`target`]: [`ProjectionTarget`], the contract between the projector and a kind of read
//!   model, and what a store must guarantee to be one.
//! - [`error`]: the store's errors.
//!
//! It is not:
//! - a storage engine (see `projector-sqlite`, `projector-postgres`), nor a kind of read model
//!   (see `projector-sql` for SQL tables); it knows no SQL;
//! - the projector that runs projections (see `projector-runtime`);
//! - tied to an async runtime: it uses only `tokio::sync`, which runs on any executor.

pub mod codec;
pub mod control;
pub mod decide;
pub mod error;
pub mod event;
pub mod event_set;
pub mod idempotency;
pub mod ids;
pub mod kept;
pub mod lease;
pub mod partition;
pub mod position;
pub mod projected;
pub mod projection;
pub mod read_model;
pub mod recent;
pub mod start;
pub mod store;
pub mod subscription;
pub mod target;
pub mod time;
pub mod upcast;

pub use codec::DomainEvent;
pub use control::{MemoryControls, Pause, ProjectionControls};
pub use decide::{
    CommandError, CommandOptions, Decider, Execute, Executed, Refused, execute, load,
};
pub use error::{BoxError, StoreError, VersionConflict};
pub use event::{DecodeError, EventMetadata, JsonPayload, NewEvent, RecordedEvent};
#[doc(hidden)]
pub use event_set::__private;
pub use event_set::{Envelope, EventSet, StoredType};
pub use idempotency::{
    Claim, DEFAULT_RETENTION, IdempotencyStore, StoredResponse, legacy_command_id,
};
pub use ids::{CausationId, CorrelationId, EventType, IdError, ProjectionName, StreamId, UserId};
pub use kept::KeptRead;
pub use lease::{Lease, LeaseProvider, Membership, Survey};
pub use partition::{
    MAX_PARTITIONS, Partition, PartitionBehind, PartitionError, partitions_caught_up,
};
pub use position::{ExpectedVersion, GlobalPosition, StreamVersion};
pub use projected::{Either, ProjectedEvents};
pub use projection::{
    EventFilter, PoisonPolicy, Projection, ProjectionError, catching_panics, type_name_collisions,
};
/// Derives [`DomainEvent`] and [`EventSet`] for a serde enum (see `projector-derive`).
pub use projector_derive::DomainEvent;
pub use read_model::{
    ApplyError, BuildingGeneration, Checkpoint, DeadLetter, Generation, ReadStoreError, ServingAt,
    ServingGeneration,
};
pub use recent::{RECENT_EVENTS, RecentEvents};
pub use start::StartFrom;
pub use store::{
    AppendOutcome, EventAppender, EventFeed, EventReader, EventStore, HeadWatch,
    MAX_EVENTS_PER_APPEND, ReadDirection, StreamReader, recorded_appends, validate_append,
};
pub use subscription::Subscription;
pub use target::ProjectionTarget;
pub use upcast::{PayloadUpcaster, Upcaster, Upcasters};
