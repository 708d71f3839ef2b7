//! Projections: code that turns the feed into a read model.
//!
//! [`Projection`] is what every projection declares about itself. How it writes depends on the
//! kind of read model (SQL tables, a cache, a search index), so each kind adds its own trait in
//! its own crate, and a [`ProjectionTarget`](crate::target::ProjectionTarget) binds it to its
//! store for the projector.

use std::any::Any;
use std::fmt;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use serde::{Deserialize, Serialize};

use crate::event::DecodeError;
use crate::ids::{EventType, ProjectionName};
use crate::position::GlobalPosition;

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

/// Runs a projection's code for a batch, turning a panic in it into a [`ProjectionError`], so
/// the projector retries and dead-letters the event like any other failure instead of losing
/// the worker that runs the projection. Every kind of target calls projections through this;
/// what the batch wrote is rolled back as for any failed batch.
///
/// # Errors
/// The projection's own error, or one saying it panicked (not transient; position unknown, so
/// the projector isolates the culprit by applying the events one at a time).
pub async fn catching_panics<T>(
    apply: impl Future<Output = Result<T, ProjectionError>>,
) -> Result<T, ProjectionError> {
    match AssertUnwindSafe(apply).catch_unwind().await {
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
