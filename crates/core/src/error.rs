//! Errors of the event store layer.

use crate::ids::StreamId;
use crate::position::{ExpectedVersion, StreamVersion};

/// An append found its stream at another version than it expected; nothing was written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("stream {stream} is at version {actual}, but the append expected {expected}")]
pub struct VersionConflict {
    /// The stream appended to.
    pub stream: StreamId,
    /// What the append expected.
    pub expected: ExpectedVersion,
    /// The version the stream was at.
    pub actual: StreamVersion,
}

/// A boxed error from a backend's driver, kept as the source of a [`StoreError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an event store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The stream was not at the expected version; nothing was written.
    ///
    /// # Handling
    /// Reload the stream and decide again, or report a conflict (HTTP 409/412) to the caller.
    #[error(transparent)]
    Conflict(#[from] VersionConflict),

    /// An event id in the append is already in the store; nothing was written.
    ///
    /// # Handling
    /// The append was most likely made before (a retry); treat as a conflict.
    #[error("event {event_id} is already in the store")]
    DuplicateEvent {
        /// The id that already exists.
        event_id: uuid::Uuid,
    },

    /// An append or read was refused before reaching storage (too many events, empty append).
    ///
    /// # Handling
    /// A caller error: report it (HTTP 4xx); retrying the same request fails again.
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// The storage could not be reached or was busy; the operation may or may not have
    /// happened only if it was an append whose answer was lost.
    ///
    /// # Handling
    /// Retry later with backoff (HTTP 503).
    #[error("event store unavailable: {message}")]
    Unavailable {
        /// What went wrong.
        message: String,
        /// The driver's error.
        #[source]
        source: Option<BoxError>,
    },

    /// A write to storage failed in a way that leaves the store's state unknown, so it refuses
    /// all further appends until it is reopened.
    ///
    /// # Handling
    /// Stop, alert, restart the process (HTTP 503).
    #[error("event store is poisoned after a failed write: {0}")]
    Poisoned(String),

    /// A stored row could not be turned back into an event.
    ///
    /// # Handling
    /// Data corruption or a bug; report it (HTTP 500).
    #[error("stored event is corrupt: {0}")]
    Corrupt(String),

    /// An inline projection failed on the append's events, so the append was refused and
    /// nothing of it was written (other appends committed with it are unaffected).
    ///
    /// # Handling
    /// The read model cannot take these events: report it (HTTP 422) and alert; retrying the
    /// same append fails again until the projection or its tables are fixed.
    #[error("inline projection {projection} refused the append: {message}")]
    InlineProjection {
        /// The projection that failed.
        projection: String,
        /// Its error.
        message: String,
    },

    /// The store has been shut down.
    ///
    /// # Handling
    /// The process is stopping; fail the request (HTTP 503).
    #[error("event store is closed")]
    Closed,
}

impl StoreError {
    /// An `Unavailable` error wrapping a driver error.
    pub fn unavailable(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StoreError::Unavailable {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}
