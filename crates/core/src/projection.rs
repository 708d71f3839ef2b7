//! Projections: code that turns the feed into a read model.
//!
//! The kind of read model decides how a projection is run, so each kind is its own trait:
//! a [`SqlProjection`] writes tables that live beside its checkpoint and applies each batch in
//! the same transaction as the checkpoint, so every event takes effect exactly once.

use std::any::Any;
use std::fmt;
use std::panic::AssertUnwindSafe;

use async_trait::async_trait;
use futures::FutureExt;
use serde::{Deserialize, Serialize};

use crate::event::{DecodeError, RecordedEvent};
use crate::ids::{EventType, ProjectionName};
use crate::position::GlobalPosition;
use crate::sql::{SqlError, SqlTransaction};

/// Which events a projection is given; the others only move its checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventFilter {
    /// Every event.
    All,
    /// Only events of these types.
    Types(Vec<EventType>),
}

impl EventFilter {
    /// A filter on the given type names.
    ///
    /// # Panics
    /// If a name is not a valid event type; names are meant to be literals.
    pub fn types(names: &[&'static str]) -> Self {
        EventFilter::Types(names.iter().map(|n| EventType::from_static(n)).collect())
    }

    /// Whether an event of type `event_type` passes.
    pub fn matches(&self, event_type: &EventType) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Types(types) => types.contains(event_type),
        }
    }
}

/// What the projector does once an event has failed every retry and become a dead letter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoisonPolicy {
    /// Stop the projection at the event, so its read model never silently misses it.
    #[default]
    Stop,
    /// Move past the event and carry on; the dead letter keeps it for inspection and retry.
    Skip,
}

/// What every projection declares about itself.
pub trait Projection: Send + Sync + 'static {
    /// Its name: the key of its checkpoint and the namespace of its read model.
    fn name(&self) -> ProjectionName;

    /// The version of its read model's shape. Changing it makes the projector build the read
    /// model again from the first event.
    fn version(&self) -> u32 {
        1
    }

    /// The events it is given.
    fn handles(&self) -> EventFilter;

    /// What to do with an event that keeps failing.
    fn poison_policy(&self) -> PoisonPolicy {
        PoisonPolicy::Stop
    }
}

/// A projection whose read model is SQL tables in the read store, next to its checkpoint.
///
/// `apply` runs inside the read store's transaction; the store commits the batch and the
/// checkpoint together. It must have no other side effects, because a failed batch is rolled
/// back and applied again.
#[async_trait]
pub trait SqlProjection: Projection {
    /// Portable DDL that creates the read model's tables and indexes in a fresh namespace.
    fn schema(&self) -> &[&str];

    /// Applies a batch of events (in feed order, only those that pass [`Projection::handles`]).
    ///
    /// # Errors
    /// A [`ProjectionError`] naming the failing event's position where known, so the projector
    /// can keep the rest of the batch and isolate the event.
    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError>;
}

/// Applies `events` with `projection` in `tx`, turning a panic in the projection's code into a
/// [`ProjectionError`], so the projector retries and dead-letters the event like any other
/// failure instead of losing the worker that runs the projection.
///
/// Read stores call the projection through this. The transaction is rolled back as for any
/// failed batch.
///
/// # Errors
/// The projection's own error, or one saying it panicked (not transient; position unknown, so
/// the projector isolates the culprit by applying the events one at a time).
pub async fn apply_catching_panics(
    projection: &dyn SqlProjection,
    tx: &mut dyn SqlTransaction,
    events: &[RecordedEvent],
) -> Result<(), ProjectionError> {
    match AssertUnwindSafe(projection.apply(tx, events))
        .catch_unwind()
        .await
    {
        Ok(result) => result,
        Err(panic) => Err(ProjectionError::panicked(panic.as_ref())),
    }
}

/// A projection failed to apply an event.
#[derive(Debug, thiserror::Error)]
pub struct ProjectionError {
    /// The position of the event that failed, if the projection knows it.
    pub position: Option<GlobalPosition>,
    /// Whether retrying later may succeed (the read store was busy or away) rather than the
    /// event itself being at fault.
    pub transient: bool,
    /// What went wrong.
    pub message: String,
}

impl ProjectionError {
    /// The event at `position` cannot be applied.
    pub fn at(position: GlobalPosition, message: impl Into<String>) -> Self {
        Self {
            position: Some(position),
            transient: false,
            message: message.into(),
        }
    }

    /// The projection's code panicked while applying a batch, with `payload`.
    pub fn panicked(payload: &(dyn Any + Send)) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|m| (*m).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        Self {
            position: None,
            transient: false,
            message: format!("the projection panicked: {message}"),
        }
    }

    /// A SQL statement for the event at `position` failed.
    pub fn sql(position: GlobalPosition, error: SqlError) -> Self {
        Self {
            position: Some(position),
            transient: error.is_transient(),
            message: error.to_string(),
        }
    }
}

impl fmt::Display for ProjectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "at position {p}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl From<DecodeError> for ProjectionError {
    fn from(e: DecodeError) -> Self {
        Self::at(e.position, e.to_string())
    }
}

impl From<SqlError> for ProjectionError {
    fn from(e: SqlError) -> Self {
        Self {
            position: None,
            transient: e.is_transient(),
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_type() {
        let filter = EventFilter::types(&["A", "B"]);
        assert!(filter.matches(&EventType::from_static("A")));
        assert!(!filter.matches(&EventType::from_static("C")));
        assert!(EventFilter::All.matches(&EventType::from_static("C")));
    }
}
