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

use crate::event::{DecodeError, RecordedEvent};
use crate::ids::{EventType, ProjectionName};
use crate::position::GlobalPosition;

/// Which events a projection is given; the others only move its checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventFilter {
    /// Every event.
    All,
    /// Only events of these types, from any stream: two domains that both name an event
    /// `Created` are both read. The projector warns when another projection reads one of
    /// these types by category.
    Types(Vec<EventType>),
    /// Only events of these types from streams of this category (`order` for `order-1001`).
    Category {
        /// The stream category.
        category: String,
        /// The type names.
        types: Vec<EventType>,
    },
    /// The events any of these filters takes: a projection that reads two domains.
    AnyOf(Vec<EventFilter>),
}

impl EventFilter {
    /// A filter on the given type names.
    ///
    /// # Panics
    /// If a name is not a valid event type; names are meant to be literals.
    pub fn types(names: &[&'static str]) -> Self {
        EventFilter::Types(names.iter().map(|n| EventType::from_static(n)).collect())
    }

    /// A filter that takes no event: a projection's default spanning events.
    pub const fn none() -> Self {
        EventFilter::AnyOf(Vec::new())
    }

    /// A filter on the given type names in streams of `category`.
    ///
    /// # Panics
    /// If a name is not a valid event type; names are meant to be literals.
    pub fn category(category: &str, names: &[&'static str]) -> Self {
        EventFilter::Category {
            category: category.to_owned(),
            types: names.iter().map(|n| EventType::from_static(n)).collect(),
        }
    }

    /// Whether an event of type `event_type` passes, whatever its stream (a category filter
    /// checks the type only; see [`accepts`](Self::accepts)).
    pub fn matches(&self, event_type: &EventType) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Types(types) | EventFilter::Category { types, .. } => {
                types.contains(event_type)
            }
            EventFilter::AnyOf(filters) => filters.iter().any(|f| f.matches(event_type)),
        }
    }

    /// Whether `event` passes: its type, and its stream's category where the filter has one.
    pub fn accepts(&self, event: &RecordedEvent) -> bool {
        match self {
            EventFilter::Category { category, .. }
                if event.stream_id.category() != category.as_str() =>
            {
                false
            }
            EventFilter::AnyOf(filters) => filters.iter().any(|f| f.accepts(event)),
            _ => self.matches(&event.event_type),
        }
    }

    /// The type names this filter reads, each list with the category it reads them from
    /// (`None`: every stream). [`EventFilter::All`] names no type.
    fn named(&self) -> Vec<(Option<&str>, &[EventType])> {
        match self {
            EventFilter::All => Vec::new(),
            EventFilter::Types(types) => vec![(None, types)],
            EventFilter::Category { category, types } => vec![(Some(category), types)],
            EventFilter::AnyOf(filters) => filters.iter().flat_map(EventFilter::named).collect(),
        }
    }
}

/// Type names that projections read in ways that disagree: one reads a type from streams of
/// a category, another reads the same type from every stream (or from another category). When
/// two domains share a type name, the projection without a category receives both; each line
/// says which projections and type.
pub fn type_name_collisions(filters: &[(ProjectionName, EventFilter)]) -> Vec<String> {
    let mut found = Vec::new();
    for (i, (a, fa)) in filters.iter().enumerate() {
        for (b, fb) in &filters[i + 1..] {
            let pairs = fa
                .named()
                .into_iter()
                .flat_map(|a| fb.named().into_iter().map(move |b| (a, b)));
            for ((ca, ta), (cb, tb)) in pairs {
                if ca == cb {
                    continue;
                }
                for ty in ta.iter().filter(|t| tb.contains(t)) {
                    let from = |c: Option<&str>| {
                        c.map_or("every stream".to_owned(), |c| format!("{c} streams"))
                    };
                    found.push(format!(
                        "event type {ty}: projection {a} reads it from {}, projection {b} from {}",
                        from(ca),
                        from(cb)
                    ));
                }
            }
        }
    }
    found
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

    /// Where a new generation of its read model starts: a read model that needs only recent
    /// history skips the rest. The first event, by default.
    fn start_from(&self) -> crate::start::StartFrom {
        crate::start::StartFrom::Beginning
    }

    /// Whether it can run as several partitions (see [`crate::partition`]): its read model is
    /// keyed by stream, so the events of different streams may be applied by different
    /// workers at once. Not by default.
    fn partitionable(&self) -> bool {
        false
    }

    /// The events that concern every partition (facts of one stream copied onto rows of
    /// many), so every partition applies them; any other event only its stream's partition
    /// does. Declared by type and category, not decided per event, so a broker can hand each
    /// partition its share of the feed without the events of other partitions. None by
    /// default.
    fn spanning_events(&self) -> EventFilter {
        EventFilter::none()
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

    /// A failure of the event being applied; typed projections add its position.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            position: None,
            transient: false,
            message: message.into(),
        }
    }

    /// This error, naming `position` unless it names one already.
    #[must_use]
    pub fn or_at(mut self, position: GlobalPosition) -> Self {
        self.position.get_or_insert(position);
        self
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

    fn event(stream: &'static str, ty: &'static str) -> RecordedEvent {
        RecordedEvent {
            event_id: uuid::Uuid::now_v7(),
            position: GlobalPosition::new(1),
            stream_id: crate::ids::StreamId::from_static(stream),
            stream_version: crate::position::StreamVersion::new(1),
            event_type: EventType::from_static(ty),
            schema_version: 1,
            data: crate::event::JsonPayload::from_json("{}").expect("json"),
            metadata: crate::event::EventMetadata::default(),
            recorded_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn filters_by_category_and_type() {
        let filter = EventFilter::category("counter", &["Incremented"]);
        assert!(filter.accepts(&event("counter-1", "Incremented")));
        assert!(!filter.accepts(&event("gauge-1", "Incremented")));
        assert!(!filter.accepts(&event("counter-1", "Reset")));
        assert!(EventFilter::types(&["Incremented"]).accepts(&event("gauge-1", "Incremented")));
    }

    #[test]
    fn names_projections_that_read_one_type_from_different_streams() {
        let name = ProjectionName::from_static;
        let filters = [
            (
                name("a"),
                EventFilter::category("counter", &["Incremented", "Reset"]),
            ),
            (name("b"), EventFilter::types(&["Incremented"])),
            (name("c"), EventFilter::category("counter", &["Reset"])),
            (name("d"), EventFilter::All),
        ];
        assert_eq!(
            type_name_collisions(&filters),
            [
                "event type Incremented: projection a reads it from counter streams, projection b from every stream"
            ]
        );
    }
}
