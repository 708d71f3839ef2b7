//! Turning `events` rows back into [`RecordedEvent`]s.

use chrono::{DateTime, Utc};
use projector_core::{
    CausationId, CorrelationId, EventMetadata, EventType, GlobalPosition, JsonPayload,
    RecordedEvent, StoreError, StreamId, StreamVersion, UserId,
};
use rusqlite::types::ValueRef;
use uuid::Uuid;

use crate::error::store_error;

/// Reads every row of `rows` as an event.
pub(crate) fn collect_events(
    mut rows: rusqlite::Rows<'_>,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut events = Vec::new();
    while let Some(row) = rows.next().map_err(|e| store_error("reading events", e))? {
        events.push(recorded_event(row)?);
    }
    Ok(events)
}

/// One row in the column order of the `SELECT`s in `sql/read_*.sql`.
fn recorded_event(row: &rusqlite::Row<'_>) -> Result<RecordedEvent, StoreError> {
    let position: i64 = get(row, 0)?;
    let event_id = match row.get_ref(1).map_err(corrupt)? {
        ValueRef::Blob(bytes) => Uuid::from_slice(bytes).map_err(corrupt)?,
        other => {
            return Err(StoreError::Corrupt(format!(
                "event_id is {:?}",
                other.data_type()
            )));
        }
    };
    let stream_id = StreamId::parse(text(row, 2)?).map_err(corrupt)?;
    let stream_version: i64 = get(row, 3)?;
    let event_type = EventType::parse(text(row, 4)?).map_err(corrupt)?;
    let schema_version: i64 = get(row, 5)?;
    let data = JsonPayload::from_json(text(row, 6)?).map_err(corrupt)?;
    let metadata = EventMetadata {
        correlation_id: optional_text(row, 7)?
            .map(CorrelationId::parse)
            .transpose()
            .map_err(corrupt)?,
        causation_id: optional_text(row, 8)?
            .map(CausationId::parse)
            .transpose()
            .map_err(corrupt)?,
        user_id: optional_text(row, 9)?
            .map(UserId::parse)
            .transpose()
            .map_err(corrupt)?,
    };
    let micros: i64 = get(row, 10)?;
    Ok(RecordedEvent {
        event_id,
        position: GlobalPosition::new(non_negative(position)?),
        stream_id,
        stream_version: StreamVersion::new(non_negative(stream_version)?),
        event_type,
        schema_version: u32::try_from(schema_version).map_err(corrupt)?,
        data,
        metadata,
        recorded_at: micros_to_time(micros)?,
    })
}

/// Microseconds since the epoch, as stored in `recorded_at`.
pub(crate) fn time_to_micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

fn micros_to_time(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt(format!("recorded_at {micros} is out of range")))
}

fn get(row: &rusqlite::Row<'_>, index: usize) -> Result<i64, StoreError> {
    row.get(index).map_err(corrupt)
}

fn text<'r>(row: &'r rusqlite::Row<'_>, index: usize) -> Result<&'r str, StoreError> {
    row.get_ref(index)
        .and_then(|v| v.as_str().map_err(Into::into))
        .map_err(corrupt)
}

fn optional_text<'r>(
    row: &'r rusqlite::Row<'_>,
    index: usize,
) -> Result<Option<&'r str>, StoreError> {
    row.get_ref(index)
        .and_then(|v| v.as_str_or_null().map_err(Into::into))
        .map_err(corrupt)
}

fn non_negative(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(corrupt)
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}
