//! Mapping a domain's typed events to stored events and back; [`crate::Upcasters`] read old
//! schema versions as the current shape.

use crate::event::{DecodeError, EventMetadata, JsonPayload, NewEvent, RecordedEvent};
use crate::ids::EventType;

/// A domain's event enum, as it is stored: a type name, a schema version and a JSON payload.
pub trait DomainEvent: Sized + Send + Sync {
    /// The stored type name of this event.
    fn event_type(&self) -> EventType;

    /// The schema version new events of this type are written with.
    fn schema_version(&self) -> u32 {
        1
    }

    /// The JSON payload.
    fn encode(&self) -> Result<JsonPayload, serde_json::Error>;

    /// Reads a stored event back, upcasting older schema versions to the current shape.
    ///
    /// # Errors
    /// A [`DecodeError`] for an unknown type or a payload of the wrong shape.
    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError>;

    /// The event ready to append, with a fresh id and the given metadata.
    fn to_new_event(&self, metadata: &EventMetadata) -> Result<NewEvent, serde_json::Error> {
        Ok(NewEvent::new(self.event_type(), self.encode()?)
            .with_schema_version(self.schema_version())
            .with_metadata(metadata.clone()))
    }
}
