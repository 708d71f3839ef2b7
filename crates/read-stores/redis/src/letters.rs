//! Dead letters as the scripts store them: one hash per letter, fields in text.

use std::collections::HashMap;

use chrono::SecondsFormat;
use projector_core::{DeadLetter, EventType, ProjectionName, ReadStoreError, StreamId};

use crate::catalog::{decode_position, decode_time};
use crate::scripts::corrupt;

/// The letter's fields in the order `dead_letter.lua` takes them.
pub(crate) fn encode(letter: &DeadLetter) -> [String; 9] {
    let time = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    [
        letter.position.get().to_string(),
        letter.event_id.to_string(),
        letter.stream_id.as_str().to_owned(),
        letter.event_type.as_str().to_owned(),
        letter.error.clone(),
        letter.attempts.to_string(),
        time(letter.first_failed_at),
        time(letter.last_failed_at),
        if letter.skipped { "1" } else { "0" }.to_owned(),
    ]
}

/// A letter of `projection` from its hash's fields.
pub(crate) fn decode(
    projection: &ProjectionName,
    fields: Vec<(String, String)>,
) -> Result<DeadLetter, ReadStoreError> {
    let mut fields: HashMap<String, String> = fields.into_iter().collect();
    let mut take = |name: &str| {
        fields
            .remove(name)
            .ok_or_else(|| corrupt(format!("a dead letter without {name}")))
    };
    let time = |name: &str, value: String| {
        decode_time(&value)?.ok_or_else(|| corrupt(format!("a dead letter without {name}")))
    };
    Ok(DeadLetter {
        projection: projection.clone(),
        position: decode_position(&take("position")?)?,
        event_id: take("event_id")?
            .parse()
            .map_err(|e| corrupt(format!("a dead letter's event id: {e}")))?,
        stream_id: StreamId::parse(take("stream_id")?).map_err(corrupt)?,
        event_type: EventType::parse(take("event_type")?).map_err(corrupt)?,
        error: take("error")?,
        attempts: take("attempts")?
            .parse()
            .map_err(|e| corrupt(format!("a dead letter's attempts: {e}")))?,
        first_failed_at: time("first_failed_at", take("first_failed_at")?)?,
        last_failed_at: time("last_failed_at", take("last_failed_at")?)?,
        skipped: take("skipped")? == "1",
    })
}
