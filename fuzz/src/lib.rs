//! What the fuzz targets share: reading a stored event from fuzz input and checking the codec's
//! round trip.

use std::fmt::Debug;

use projector_core::{
    DomainEvent, EventMetadata, EventType, GlobalPosition, JsonPayload, RecordedEvent, StreamId,
    StreamVersion,
};

/// Stored events made from fuzz input: chunks separated by a `0xFF` byte (never in UTF-8
/// text, so never in a payload), each read by [`recorded_event`].
pub fn recorded_events(types: &[&str], data: &[u8]) -> Vec<RecordedEvent> {
    data.split(|&b| b == 0xFF)
        .filter_map(|chunk| recorded_event(types, chunk))
        .collect()
}

/// A stored event made from fuzz input: the first byte picks its type among `types` (or,
/// past them, a type named by the input), the second its schema version, the rest is its
/// payload. `None` when the input cannot be a stored event (the store only holds JSON payloads
/// and valid type names).
pub fn recorded_event(types: &[&str], data: &[u8]) -> Option<RecordedEvent> {
    let (&pick, rest) = data.split_first()?;
    let (&version, payload) = rest.split_first()?;
    let payload = std::str::from_utf8(payload).ok()?;
    let (event_type, payload) = match types.get(usize::from(pick)) {
        Some(name) => ((*name).to_owned(), payload),
        // Past the known types: the payload's first line names the type.
        None => {
            let (name, payload) = payload.split_once('\n')?;
            (name.to_owned(), payload)
        }
    };
    Some(RecordedEvent {
        event_id: uuid::Uuid::nil(),
        position: GlobalPosition::new(1),
        stream_id: StreamId::from_static("fuzz-1"),
        stream_version: StreamVersion::new(1),
        event_type: EventType::parse(event_type).ok()?,
        schema_version: u32::from(version % 4),
        data: JsonPayload::from_json(payload).ok()?,
        metadata: EventMetadata::default(),
        recorded_at: chrono::DateTime::UNIX_EPOCH,
    })
}

/// Decodes `stored` as `E`; when it decodes, writing it again and reading that back gives the
/// same event, under the type and schema version the event names.
///
/// # Panics
/// When the round trip does not hold: what the fuzzer is looking for.
pub fn round_trip<E: DomainEvent + PartialEq + Debug>(stored: &RecordedEvent) -> Option<E> {
    let event = E::decode(stored).ok()?;
    let payload = event.encode().expect("a decoded event encodes");
    let again = RecordedEvent {
        event_type: event.event_type(),
        schema_version: event.schema_version(),
        data: payload.clone(),
        ..stored.clone()
    };
    let decoded = E::decode(&again).expect("an encoded event decodes");
    assert_eq!(decoded, event, "decode, encode, decode changed the event");
    let payload_again = decoded.encode().expect("encodes");
    assert_eq!(payload_again, payload, "the encoding is not stable");
    Some(event)
}
