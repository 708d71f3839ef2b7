//! A domain's events as one set: the stored type names known without an instance, the stream
//! category that holds them, and [`Envelope`], a decoded event with where it was recorded.
//!
//! `#[derive(DomainEvent)]` implements [`EventSet`] and [`DomainEvent`] for a plain serde
//! enum; typed projections declare the set they read and receive [`Envelope`]s.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::codec::DomainEvent;
use crate::event::{DecodeError, EventMetadata, RecordedEvent};
use crate::ids::{EventType, IdError, StreamId};
use crate::position::{GlobalPosition, StreamVersion};
use crate::projected::ProjectedEvents;
use crate::projection::EventFilter;

/// One stored type of an event set, with the schema version new events are written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredType {
    /// The stored type name.
    pub name: &'static str,
    /// The schema version new events of this type get.
    pub schema_version: u32,
}

/// Every event a domain records, as one enum.
pub trait EventSet: DomainEvent {
    /// The category of the streams that hold these events (`counter` for `counter-1`), if the
    /// domain keeps them apart; filters then read only those streams, so two domains may
    /// both name an event `Created`.
    const CATEGORY: Option<&'static str>;

    /// Every stored type, in declaration order.
    const TYPES: &'static [StoredType];

    /// The events of this set: by category and type when it has a category, by type otherwise.
    fn filter() -> EventFilter {
        let types = Self::TYPES
            .iter()
            .map(|t| EventType::from_static(t.name))
            .collect();
        match Self::CATEGORY {
            Some(category) => EventFilter::Category {
                category: category.into(),
                types,
            },
            None => EventFilter::Types(types),
        }
    }

    /// The stream `<category>-<id>` (or `<id>` for a set without a category).
    ///
    /// # Errors
    /// When that makes no valid stream id.
    fn stream(id: impl fmt::Display) -> Result<StreamId, IdError> {
        match Self::CATEGORY {
            Some(category) => StreamId::parse(format!("{category}-{id}")),
            None => StreamId::parse(id.to_string()),
        }
    }
}

/// A decoded event with where and when it was recorded, as typed projections receive it.
#[derive(Clone, Debug)]
pub struct Envelope<'r, E> {
    /// The event, upcast to its current shape.
    pub event: E,
    /// Its place in the global feed.
    pub position: GlobalPosition,
    /// Its stream.
    pub stream_id: &'r StreamId,
    /// Its version within the stream.
    pub stream_version: StreamVersion,
    /// Correlation, causation and user ids.
    pub metadata: &'r EventMetadata,
    /// When the store committed it.
    pub recorded_at: DateTime<Utc>,
}

impl<'r, E: ProjectedEvents> Envelope<'r, E> {
    /// Decodes `recorded`.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the event.
    pub fn decode(recorded: &'r RecordedEvent) -> Result<Self, DecodeError> {
        Ok(Self {
            event: E::from_recorded(recorded)?,
            position: recorded.position,
            stream_id: &recorded.stream_id,
            stream_version: recorded.stream_version,
            metadata: &recorded.metadata,
            recorded_at: recorded.recorded_at,
        })
    }
}

impl<'r, E> Envelope<'r, E> {
    /// The same envelope around `event`: one of the sets an [`Either`](crate::Either) holds,
    /// handed to code written for that set alone.
    pub fn with_event<F>(&self, event: F) -> Envelope<'r, F> {
        Envelope {
            event,
            position: self.position,
            stream_id: self.stream_id,
            stream_version: self.stream_version,
            metadata: self.metadata,
            recorded_at: self.recorded_at,
        }
    }
}

/// What `#[derive(DomainEvent)]` expands to calls; not part of the API.
#[doc(hidden)]
pub mod __private {
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use crate::event::{DecodeError, JsonPayload, RecordedEvent};
    use crate::upcast::{Upcaster, Upcasters};
    pub use serde_json;

    /// The upcasters of a set that declares none.
    pub static NO_UPCASTERS: Upcasters = Upcasters::new(&[] as &[Upcaster]);

    /// The payload of a struct or tuple variant: its value in serde's `{"Variant": ...}`.
    pub fn encode_variant<T: Serialize>(event: &T) -> Result<JsonPayload, serde_json::Error> {
        match serde_json::to_value(event)? {
            serde_json::Value::Object(map) if map.len() == 1 => {
                JsonPayload::encode(map.values().next().unwrap_or(&serde_json::Value::Null))
            }
            _ => Err(serde::ser::Error::custom(
                "the event enum must keep serde's externally tagged layout",
            )),
        }
    }

    /// A struct or tuple variant read back from its payload, as `{"<key>": payload}`.
    pub fn decode_variant<T: DeserializeOwned>(
        key: &str,
        payload: &JsonPayload,
    ) -> Result<T, serde_json::Error> {
        let key = serde_json::to_string(key)?;
        serde_json::from_str(&format!("{{{key}:{}}}", payload.as_str()))
    }

    /// Refuses an event of another category's stream: two domains sharing a type name.
    pub fn check_category(
        event: &RecordedEvent,
        category: Option<&str>,
    ) -> Result<(), DecodeError> {
        match category {
            Some(c) if event.stream_id.category() != c => Err(DecodeError::new(
                event,
                format!("stream {} is not in category {c}", event.stream_id),
            )),
            _ => Ok(()),
        }
    }
}
