//! Upcasters: how stored events of older schema versions are read as the current shape.
//! Stored events are never rewritten; each read brings the payload up, one version at a time.

use std::borrow::Cow;

use crate::event::{DecodeError, JsonPayload, RecordedEvent};

/// One step of schema evolution over the payload as a JSON tree: turns the payload of
/// `event_type` at `from_version` into the payload at `from_version + 1`.
///
/// The simplest kind to write (rename a field, add a default), and it keeps fields it does not
/// name. Building the tree costs a few allocations per field; for an event type read often,
/// a [`PayloadUpcaster`] through typed structs is several times cheaper.
#[derive(Clone, Copy, Debug)]
pub struct Upcaster {
    /// The event type it applies to.
    pub event_type: &'static str,
    /// The schema version it reads.
    pub from_version: u32,
    /// The transformation; an `Err` names what was missing or malformed.
    pub upcast: fn(serde_json::Value) -> Result<serde_json::Value, String>,
}

/// One step of schema evolution over the payload's text, usually by decoding a struct of the
/// old version and encoding one of the new: no JSON tree is built in between.
#[derive(Clone, Copy, Debug)]
pub struct PayloadUpcaster {
    /// The event type it applies to.
    pub event_type: &'static str,
    /// The schema version it reads.
    pub from_version: u32,
    /// The transformation; an `Err` names what was missing or malformed.
    pub upcast: fn(&JsonPayload) -> Result<JsonPayload, String>,
}

/// The upcasters of a domain, applied in a chain from an event's stored schema version up to
/// the newest one. A chain may mix both kinds; each `(event type, version)` has one step.
#[derive(Clone, Copy, Debug)]
pub struct Upcasters {
    trees: &'static [Upcaster],
    payloads: &'static [PayloadUpcaster],
}

/// The payload between two steps, in the form the last step left it.
enum Stage<'e> {
    Stored(&'e JsonPayload),
    Tree(serde_json::Value),
    Text(JsonPayload),
}

impl Upcasters {
    /// A chain of tree upcasters; order does not matter.
    pub const fn new(upcasters: &'static [Upcaster]) -> Self {
        Self {
            trees: upcasters,
            payloads: &[],
        }
    }

    /// A chain of payload upcasters; order does not matter.
    pub const fn from_payloads(upcasters: &'static [PayloadUpcaster]) -> Self {
        Self::new(&[]).with_payloads(upcasters)
    }

    /// This chain with `upcasters` (over the payload's text) added.
    pub const fn with_payloads(self, upcasters: &'static [PayloadUpcaster]) -> Self {
        Self {
            trees: self.trees,
            payloads: upcasters,
        }
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
        let event_type = event.event_type.as_str();
        let mut version = event.schema_version;
        let mut stage = Stage::Stored(&event.data);
        let refused = |version: u32, reason: String| {
            DecodeError::new(event, format!("upcasting from v{version}: {reason}"))
        };
        loop {
            stage = if let Some(step) = find(self.trees, event_type, version, |u| {
                (u.event_type, u.from_version)
            }) {
                let tree = match stage {
                    Stage::Tree(tree) => Ok(tree),
                    Stage::Stored(payload) => payload.to_value(),
                    Stage::Text(ref payload) => payload.to_value(),
                }
                .map_err(|e| DecodeError::new(event, e))?;
                Stage::Tree((step.upcast)(tree).map_err(|reason| refused(version, reason))?)
            } else if let Some(step) = find(self.payloads, event_type, version, |u| {
                (u.event_type, u.from_version)
            }) {
                let next = match stage {
                    Stage::Stored(payload) => (step.upcast)(payload),
                    Stage::Text(ref payload) => (step.upcast)(payload),
                    Stage::Tree(ref tree) => (step.upcast)(
                        &JsonPayload::encode(tree).map_err(|e| DecodeError::new(event, e))?,
                    ),
                };
                Stage::Text(next.map_err(|reason| refused(version, reason))?)
            } else {
                break;
            };
            version += 1;
        }
        let payload = match stage {
            Stage::Stored(payload) => Cow::Borrowed(payload),
            Stage::Text(payload) => Cow::Owned(payload),
            Stage::Tree(tree) => {
                Cow::Owned(JsonPayload::encode(&tree).map_err(|e| DecodeError::new(event, e))?)
            }
        };
        Ok((payload, version))
    }
}

/// The step of `steps` for `event_type` at `version`.
fn find<'s, T>(
    steps: &'s [T],
    event_type: &str,
    version: u32,
    key: impl Fn(&T) -> (&'static str, u32),
) -> Option<&'s T> {
    steps.iter().find(|step| key(step) == (event_type, version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventMetadata;
    use crate::ids::{EventType, StreamId};
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

    /// v3 to v4 over the text: `priority` becomes a number.
    fn rank_priority(v3: &JsonPayload) -> Result<JsonPayload, String> {
        #[derive(serde::Deserialize)]
        struct V3 {
            title: String,
            priority: String,
        }
        let v3: V3 = v3.decode().map_err(|e| e.to_string())?;
        let rank = match v3.priority.as_str() {
            "low" => 1,
            "medium" => 2,
            "high" => 3,
            other => return Err(format!("unknown priority {other}")),
        };
        JsonPayload::encode(&serde_json::json!({"title": v3.title, "priority": rank}))
            .map_err(|e| e.to_string())
    }

    static MIXED: Upcasters = CHAIN.with_payloads(&[PayloadUpcaster {
        event_type: "Created",
        from_version: 3,
        upcast: rank_priority,
    }]);

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
    fn tree_and_payload_steps_chain_in_either_order() {
        let old = recorded(1, r#"{"name":"x"}"#);
        let (payload, version) = MIXED.upcast(&old).expect("upcasts");
        assert_eq!(version, 4);
        let v: serde_json::Value = payload.decode().expect("json");
        assert_eq!(v, serde_json::json!({"title": "x", "priority": 2}));

        let v3 = recorded(3, r#"{"title":"y","priority":"high"}"#);
        let (payload, version) = MIXED.upcast(&v3).expect("one payload step");
        let v: serde_json::Value = payload.decode().expect("json");
        assert_eq!(
            (v, version),
            (serde_json::json!({"title": "y", "priority": 3}), 4)
        );

        let refused = MIXED
            .upcast(&recorded(3, r#"{"title":"z","priority":"urgent"}"#))
            .expect_err("unknown priority");
        assert!(
            refused
                .to_string()
                .contains("upcasting from v3: unknown priority urgent"),
            "{refused}"
        );
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
