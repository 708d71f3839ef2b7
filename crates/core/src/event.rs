//! Events as they are appended ([`NewEvent`]) and as they are read back ([`RecordedEvent`]).

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::ids::{CausationId, CorrelationId, EventType, StreamId, UserId};
use crate::position::{GlobalPosition, StreamVersion};

/// An event's JSON body, kept as the text it was written as.
///
/// Holding the text rather than a parsed tree means the store moves payloads without re-encoding
/// them, and a projection decodes straight into its own types. The text is shared: every
/// projection following the head reads its own copy of each event, and a copy of the payload
/// is then a count, not the text again.
#[derive(Clone)]
pub struct JsonPayload(Arc<RawValue>);

impl Serialize for JsonPayload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JsonPayload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(|raw| Self(raw.into()))
    }
}

/// Payloads are equal when their JSON text is, byte for byte.
impl PartialEq for JsonPayload {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Eq for JsonPayload {}

impl JsonPayload {
    /// Encodes any serializable value.
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(|raw| Self(raw.into()))
    }

    /// Takes JSON text, checking that it is one valid JSON value.
    pub fn from_json(text: impl Into<String>) -> Result<Self, serde_json::Error> {
        RawValue::from_string(text.into()).map(|raw| Self(raw.into()))
    }

    /// Decodes the payload into `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }

    /// Decodes the payload into a type that may borrow from it.
    pub fn decode_borrowed<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }

    /// The payload as a JSON tree, for generic handling such as upcasting.
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl fmt::Debug for JsonPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.get())
    }
}

/// Who and what caused an event, carried from the request into the store and the logs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// Ties together everything one request caused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<CorrelationId>,
    /// The command or event that caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<CausationId>,
    /// The user on whose behalf it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
}

/// An event to append: the caller chooses its id, type, schema version, data and metadata; the
/// store assigns its stream version, global position and recorded-at time.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// A UUID v7 unless the caller sets its own; unique across the store.
    pub event_id: Uuid,
    /// The event's type name.
    pub event_type: EventType,
    /// The version of the payload's shape, for upcasting old events (starts at 1).
    pub schema_version: u32,
    /// The payload.
    pub data: JsonPayload,
    /// Correlation, causation and user ids.
    pub metadata: EventMetadata,
}

impl NewEvent {
    /// A new event with a fresh UUID v7, schema version 1 and empty metadata.
    pub fn new(event_type: EventType, data: JsonPayload) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type,
            schema_version: 1,
            data,
            metadata: EventMetadata::default(),
        }
    }

    /// Sets the schema version of the payload.
    pub fn with_schema_version(mut self, schema_version: u32) -> Self {
        self.schema_version = schema_version;
        self
    }

    /// Sets the metadata.
    pub fn with_metadata(mut self, metadata: EventMetadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Sets the event id, e.g. one derived from an idempotency key.
    pub fn with_event_id(mut self, event_id: Uuid) -> Self {
        self.event_id = event_id;
        self
    }
}

/// An event as the store recorded it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// The id given at append time.
    pub event_id: Uuid,
    /// Its place in the global feed.
    pub position: GlobalPosition,
    /// The stream it belongs to.
    pub stream_id: StreamId,
    /// Its version within the stream (1 for the stream's first event).
    pub stream_version: StreamVersion,
    /// The event's type name.
    pub event_type: EventType,
    /// The version of the payload's shape.
    pub schema_version: u32,
    /// The payload.
    pub data: JsonPayload,
    /// Correlation, causation and user ids.
    pub metadata: EventMetadata,
    /// When the store committed it.
    pub recorded_at: DateTime<Utc>,
}

impl RecordedEvent {
    /// Decodes the payload into `T`, naming this event in the error.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        self.data
            .decode()
            .map_err(|source| DecodeError::new(self, source))
    }
}

/// A stored event whose payload does not decode into the type its reader expects.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode {event_type} v{schema_version} at position {position}: {message}")]
pub struct DecodeError {
    /// The event's position.
    pub position: GlobalPosition,
    /// The event's type name.
    pub event_type: EventType,
    /// The event's schema version.
    pub schema_version: u32,
    /// What was wrong.
    pub message: String,
}

impl DecodeError {
    /// A decode error for `event` with a reason.
    pub fn new(event: &RecordedEvent, reason: impl fmt::Display) -> Self {
        Self {
            position: event.position,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            message: reason.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_keeps_text_and_decodes() {
        let payload = JsonPayload::from_json(r#"{"a": 1,"b":[true]}"#).expect("valid json");
        assert_eq!(payload.as_str(), r#"{"a": 1,"b":[true]}"#);
        let value: serde_json::Value = payload.decode().expect("decodes");
        assert_eq!(value["b"][0], true);
        assert!(JsonPayload::from_json("{").is_err());
        assert!(JsonPayload::from_json("1 2").is_err());
    }

    #[test]
    fn new_events_get_time_ordered_ids() {
        let ty = EventType::from_static("Happened");
        let a = NewEvent::new(
            ty.clone(),
            JsonPayload::encode(&serde_json::json!({})).expect("encodes"),
        );
        let b = NewEvent::new(
            ty,
            JsonPayload::encode(&serde_json::json!({})).expect("encodes"),
        );
        assert_eq!(a.event_id.get_version_num(), 7);
        assert!(a.event_id < b.event_id);
    }
}
