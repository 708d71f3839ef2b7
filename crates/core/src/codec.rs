//! Mapping a domain's typed events to stored events and back, with upcasters that read old
//! schema versions as the current shape.

use std::borrow::Cow;

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

/// One step of schema evolution: turns the payload of `event_type` at `from_version` into the
/// payload at `from_version + 1`.
#[derive(Clone, Copy, Debug)]
pub struct Upcaster {
    /// The event type it applies to.
    pub event_type: &'static str,
    /// The schema version it reads.
    pub from_version: u32,
    /// The transformation; an `Err` names what was missing or malformed.
    pub upcast: fn(serde_json::Value) -> Result<serde_json::Value, String>,
}

/// The upcasters of a domain, applied in a chain from an event's stored schema version up to
/// the newest one.
#[derive(Clone, Copy, Debug)]
pub struct Upcasters(&'static [Upcaster]);

impl Upcasters {
    /// A chain of upcasters; order does not matter.
    pub const fn new(upcasters: &'static [Upcaster]) -> Self {
        Self(upcasters)
    }

    /// The event's payload at the newest schema version this chain knows, with that version.
    /// Events already current are borrowed, not copied.
    ///
    /// # Errors
    /// A [`DecodeError`] when an upcaster refuses the payload.
    pub fn upcast<'e>(
        &self,
        event: &'e RecordedEvent,
    ) -> Result<(Cow<'e, JsonPayload>, u32), DecodeError> {
        let mut version = event.schema_version;
        let mut value: Option<serde_json::Value> = None;
        while let Some(step) = self.step(event.event_type.as_str(), version) {
            let current = match value.take() {
                Some(v) => v,
                None => event
                    .data
                    .to_value()
                    .map_err(|e| DecodeError::new(event, e))?,
            };
            let next = (step.upcast)(current).map_err(|reason| {
                DecodeError::new(event, format!("upcasting from v{version}: {reason}"))
            })?;
            value = Some(next);
            version += 1;
        }
        match value {
            None => Ok((Cow::Borrowed(&event.data), version)),
            Some(v) => JsonPayload::encode(&v)
                .map(|payload| (Cow::Owned(payload), version))
                .map_err(|e| DecodeError::new(event, e)),
        }
    }

    fn step(&self, event_type: &str, from_version: u32) -> Option<&Upcaster> {
        self.0
            .iter()
            .find(|u| u.event_type == event_type && u.from_version == from_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::StreamId;
    use crate::position::{GlobalPosition, StreamVersion};

    fn add_priority(mut v: serde_json::Value) -> Result<serde_json::Value, String> {
        let obj = v.as_object_mut().ok_or("payload is not an object")?;
        obj.entry("priority").or_insert("medium".into());
        Ok(v)
    }

    fn rename_title(mut v: serde_json::Value) -> Result<serde_json::Value, String> {
        let obj = v.as_object_mut().ok_or("payload is not an object")?;
        let title = obj.remove("name").ok_or("missing name")?;
        obj.insert("title".into(), title);
        Ok(v)
    }

    static CHAIN: Upcasters = Upcasters::new(&[
        Upcaster {
            event_type: "Created",
            from_version: 2,
            upcast: rename_title,
        },
        Upcaster {
            event_type: "Created",
            from_version: 1,
            upcast: add_priority,
        },
    ]);

    fn recorded(version: u32, data: &str) -> RecordedEvent {
        RecordedEvent {
            event_id: uuid::Uuid::now_v7(),
            position: GlobalPosition::new(1),
            stream_id: StreamId::from_static("s-1"),
            stream_version: StreamVersion::new(1),
            event_type: EventType::from_static("Created"),
            schema_version: version,
            data: JsonPayload::from_json(data).expect("json"),
            metadata: EventMetadata::default(),
            recorded_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn chains_from_the_stored_version() {
        let old = recorded(1, r#"{"name":"x"}"#);
        let (payload, version) = CHAIN.upcast(&old).expect("upcasts");
        assert_eq!(version, 3);
        let v: serde_json::Value = payload.decode().expect("json");
        assert_eq!(v, serde_json::json!({"title": "x", "priority": "medium"}));

        let current = recorded(3, r#"{"title":"y","priority":"high"}"#);
        let (payload, version) = CHAIN.upcast(&current).expect("no-op");
        assert!(matches!(payload, Cow::Borrowed(_)));
        assert_eq!(version, 3);
    }

    #[test]
    fn refusals_name_the_event() {
        let bad = recorded(2, r#"{"title":"no name"}"#);
        let err = CHAIN.upcast(&bad).expect_err("missing name");
        assert!(
            err.to_string().contains("upcasting from v2: missing name"),
            "{err}"
        );
    }
}
