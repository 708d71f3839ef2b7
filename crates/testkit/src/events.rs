//! Quick constructors for events in tests.

use projector_core::{EventType, JsonPayload, NewEvent};

/// A `NewEvent` of type `event_type` with `data` as its payload.
///
/// # Panics
/// On an invalid event type: tests pass literals.
pub fn event(event_type: &str, data: serde_json::Value) -> NewEvent {
    let event_type = EventType::parse(event_type).expect("test event types are valid");
    let data = JsonPayload::encode(&data).expect("JSON values encode");
    NewEvent::new(event_type, data)
}

/// `n` events of type `Tested` numbered from 0 in their payload (`{"n": i}`).
pub fn numbered(n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| event("Tested", serde_json::json!({ "n": i })))
        .collect()
}
