//! What every kind of read model shares: checkpoints, generations, dead letters, and the errors
//! of storing them.
//!
//! A projection's read model lives in numbered *generations* in its store (a database file, a
//! schema, a key prefix). One generation serves reads; a rebuild fills a new generation beside it
//! and swaps it in once it has caught up, so reads never stop. Each generation commits its
//! checkpoint with its data, so a crash loses nothing and applies nothing twice.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::BoxError;
use crate::event::RecordedEvent;
use crate::ids::{EventType, ProjectionName, StreamId};
use crate::position::GlobalPosition;
use crate::projection::ProjectionError;

/// How far a projection has applied the feed, committed with its read model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Every event up to and including this position has been applied.
    pub position: GlobalPosition,
    /// When the event at `position` was recorded; `None` before the first event.
    pub last_event_at: Option<DateTime<Utc>>,
}

impl Checkpoint {
    /// The checkpoint right after `event`.
    pub fn after(event: &RecordedEvent) -> Self {
        Self {
            position: event.position,
            last_event_at: Some(event.recorded_at),
        }
    }
}

/// A numbered build of a projection's read model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Generation(u32);

impl Generation {
    /// Wraps a raw generation number.
    pub const fn new(n: u32) -> Self {
        Self(n)
    }

    /// The raw number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "g{}", self.0)
    }
}

/// The generation serving a projection's reads, and the projection version that built it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServingGeneration {
    /// The generation.
    pub generation: Generation,
    /// [`Projection::version`](crate::projection::Projection::version) when it was created.
    pub version: u32,
}

/// A generation being filled by a rebuild, not serving reads yet, and the projection version
/// that created it.
///
/// It outlives the process that started it: a worker that becomes active for the projection
/// carries on filling a building generation of its own version from that generation's
/// checkpoint, and drops one of any other version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildingGeneration {
    /// The generation.
    pub generation: Generation,
    /// [`Projection::version`](crate::projection::Projection::version) when it was created.
    pub version: u32,
}

/// The serving generation of a projection and its checkpoint, as a caller last saw them.
///
/// A swap names what it replaces, so it is refused when another process has swapped
/// generations or moved the serving checkpoint since: reads never go back to an older state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServingAt {
    /// The generation.
    pub generation: Generation,
    /// Its checkpoint.
    pub checkpoint: GlobalPosition,
}

/// An event a projection failed to apply through every retry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The projection that failed.
    pub projection: ProjectionName,
    /// The event's position.
    pub position: GlobalPosition,
    /// The event's id.
    pub event_id: Uuid,
    /// The event's stream.
    pub stream_id: StreamId,
    /// The event's type.
    pub event_type: EventType,
    /// The last error.
    pub error: String,
    /// How many times it was tried, over all runs.
    pub attempts: u32,
    /// When it first failed.
    pub first_failed_at: DateTime<Utc>,
    /// When it last failed.
    pub last_failed_at: DateTime<Utc>,
    /// Whether the projection moved past it (policy `skip`) or stopped at it (policy `stop`).
    pub skipped: bool,
}

/// Why a read store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadStoreError {
    /// The storage could not be reached, was busy, or failed a write.
    ///
    /// # Handling
    /// Retry later with backoff (HTTP 503).
    #[error("read store unavailable: {message}")]
    Unavailable {
        /// What went wrong.
        message: String,
        /// The driver's error.
        #[source]
        source: Option<BoxError>,
    },

    /// The projection has no such generation, or none serving yet.
    ///
    /// # Handling
    /// The projection has not been started; reads find nothing (HTTP 404/503).
    #[error("projection {projection} has no generation {generation}")]
    NoGeneration {
        /// The projection.
        projection: ProjectionName,
        /// The generation asked for, or "serving".
        generation: String,
    },

    /// A checkpoint was not where the caller expected it: another process applied the same
    /// generation (it took over the projection's lease). Nothing was changed.
    ///
    /// # Handling
    /// Reload the checkpoint; a worker that lost its lease should stop.
    #[error(
        "the checkpoint of {projection} is at {found}, not {expected}: another process is applying it"
    )]
    CheckpointMoved {
        /// The projection.
        projection: ProjectionName,
        /// Where the caller expected it.
        expected: GlobalPosition,
        /// Where it was.
        found: GlobalPosition,
    },

    /// The serving generation is not the one the caller saw: another process swapped
    /// generations (or this one did, and lost the answer). Nothing was changed.
    ///
    /// # Handling
    /// Read the catalog again and carry on from what it says.
    #[error("the serving generation of {projection} is {}, not {}: another process swapped it",
        describe(*found), describe(*expected))]
    ServingChanged {
        /// The projection.
        projection: ProjectionName,
        /// The serving generation the caller saw.
        expected: Option<Generation>,
        /// The serving generation now.
        found: Option<Generation>,
    },

    /// A generation of the projection is being built already; one is built at a time.
    /// Nothing was changed.
    ///
    /// # Handling
    /// Carry that build on (or drop it first, if it is abandoned).
    #[error("{projection} is being built into {generation} (version {version}) already")]
    BuildInProgress {
        /// The projection.
        projection: ProjectionName,
        /// The generation being built.
        generation: Generation,
        /// The projection version building it.
        version: u32,
    },

    /// A query or a write of the read model failed for a reason of its own: a bug in it, data
    /// that does not convert, or (when `transient`) a busy or unreachable store.
    ///
    /// # Handling
    /// When `transient`, retry later (HTTP 503); otherwise a bug (HTTP 500).
    #[error("{message}")]
    Query {
        /// What went wrong.
        message: String,
        /// Whether retrying later may succeed.
        transient: bool,
        /// The store's own error (for SQL, a `SqlError`).
        #[source]
        source: Option<BoxError>,
    },

    /// The generation has no dead letter at that position: it was retried already, or never
    /// recorded. Nothing was changed.
    ///
    /// # Handling
    /// List the dead letters again (HTTP 404).
    #[error("projection {projection} has no dead letter at position {position}")]
    NoDeadLetter {
        /// The projection.
        projection: ProjectionName,
        /// The position asked for.
        position: GlobalPosition,
    },

    /// The store has been shut down.
    ///
    /// # Handling
    /// The process is stopping.
    #[error("read store is closed")]
    Closed,
}

/// A generation for an error message, or "none".
fn describe(generation: Option<Generation>) -> String {
    generation.map_or_else(|| "none".to_owned(), |g| g.to_string())
}

impl ReadStoreError {
    /// Whether the store refused a write because its state is not what the caller last saw
    /// (a checkpoint moved, generations were swapped, created or dropped by another process).
    /// Nothing was changed; the caller reads the state again and carries on from it.
    pub fn is_fenced(&self) -> bool {
        matches!(
            self,
            ReadStoreError::CheckpointMoved { .. }
                | ReadStoreError::ServingChanged { .. }
                | ReadStoreError::BuildInProgress { .. }
                | ReadStoreError::NoGeneration { .. }
        )
    }

    /// An `Unavailable` error wrapping a driver error.
    pub fn unavailable(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        ReadStoreError::Unavailable {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

/// Why applying a batch failed; the batch and the checkpoint were rolled back together.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The projection's code refused an event.
    #[error("projection failed {0}")]
    Projection(#[from] ProjectionError),
    /// The read store failed around it (opening, committing).
    #[error(transparent)]
    Store(#[from] ReadStoreError),
}

impl ApplyError {
    /// Whether retrying later may succeed without the events changing.
    pub fn is_transient(&self) -> bool {
        match self {
            ApplyError::Projection(e) => e.transient,
            ApplyError::Store(e) => {
                !e.is_fenced() && !matches!(e, ReadStoreError::NoDeadLetter { .. })
            }
        }
    }
}
