//! [`BusError`]: why the broker side of the feed failed.

use projector_core::StoreError;

/// Why publishing to or reading from the JetStream stream failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// The broker could not be reached, or did not answer in time; retry with backoff.
    #[error("NATS unavailable: {0}")]
    Unavailable(String),
    /// The broker refused a request (a stream of another shape, a bad name).
    #[error("NATS refused: {0}")]
    Refused(String),
    /// Another relay published to the stream since this one read its tail: read it again.
    #[error("the stream moved on under this relay (another relay published): {0}")]
    Moved(String),
    /// The stream no longer holds events a reader needs: retention removed them.
    #[error(
        "the stream {stream} no longer holds the events after position {after}: it now starts at position {first} (retention removed the rest). Keep the stream's whole history (the default: no max_age, max_msgs or max_bytes) and rebuild it from the event store, or start this node's read models from a copy that has reached position {first}"
    )]
    Truncated {
        /// The stream.
        stream: String,
        /// The position the reader has reached.
        after: u64,
        /// The first position the stream still holds.
        first: u64,
    },
    /// A message that is not one of projector's events.
    #[error("a message that is not an event of projector's: {0}")]
    Decode(String),
    /// An event that could not be encoded.
    #[error("an event that could not be encoded: {0}")]
    Encode(String),
}

impl BusError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, BusError::Unavailable(_) | BusError::Moved(_))
    }
}

impl From<BusError> for StoreError {
    fn from(error: BusError) -> Self {
        match error {
            BusError::Unavailable(_) | BusError::Moved(_) => StoreError::Unavailable {
                message: error.to_string(),
                source: Some(Box::new(error)),
            },
            BusError::Decode(_) => StoreError::Corrupt(error.to_string()),
            other => StoreError::InvalidRequest(other.to_string()),
        }
    }
}
