//! Turning `projector.events` rows back into [`RecordedEvent`]s.

use chrono::{DateTime, Utc};
use projector_core::{
    CausationId, CorrelationId, EventMetadata, EventType, GlobalPosition, JsonPayload,
    RecordedEvent, StoreError, StreamId, StreamVersion, UserId,
};
use uuid::Uuid;

/// One row in the column order of the `SELECT`s in `sql/read_*.sql`.
pub(crate) fn recorded_event(row: &tokio_postgres::Row) -> Result<RecordedEvent, StoreError> {
    let position: i64 = row.try_get(0).map_err(corrupt)?;
    let event_id: Uuid = row.try_get(1).map_err(corrupt)?;
    let stream_id: &str = row.try_get(2).map_err(corrupt)?;
    let stream_version: i64 = row.try_get(3).map_err(corrupt)?;
    let event_type: &str = row.try_get(4).map_err(corrupt)?;
    let schema_version: i32 = row.try_get(5).map_err(corrupt)?;
    let data: String = row.try_get(6).map_err(corrupt)?;
    let correlation_id: Option<&str> = row.try_get(7).map_err(corrupt)?;
    let causation_id: Option<&str> = row.try_get(8).map_err(corrupt)?;
    let user_id: Option<&str> = row.try_get(9).map_err(corrupt)?;
    let recorded_at: DateTime<Utc> = row.try_get(10).map_err(corrupt)?;
    Ok(RecordedEvent {
        event_id,
        position: GlobalPosition::new(non_negative(position)?),
        stream_id: StreamId::parse(stream_id).map_err(corrupt)?,
        stream_version: StreamVersion::new(non_negative(stream_version)?),
        event_type: EventType::parse(event_type).map_err(corrupt)?,
        schema_version: u32::try_from(schema_version).map_err(corrupt)?,
        data: JsonPayload::from_json(data).map_err(corrupt)?,
        metadata: EventMetadata {
            correlation_id: correlation_id
                .map(CorrelationId::parse)
                .transpose()
                .map_err(corrupt)?,
            causation_id: causation_id
                .map(CausationId::parse)
                .transpose()
                .map_err(corrupt)?,
            user_id: user_id.map(UserId::parse).transpose().map_err(corrupt)?,
        },
        recorded_at,
    })
}

/// Every row as an event.
pub(crate) fn recorded_events(
    rows: &[tokio_postgres::Row],
) -> Result<Vec<RecordedEvent>, StoreError> {
    rows.iter().map(recorded_event).collect()
}

fn non_negative(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(corrupt)
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Positions and versions are `BIGINT`; values beyond it are clamped, which only matters for
/// the `LATEST` sentinel and unbounded limits.
pub(crate) fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A `BIGINT` that is never negative, as stored positions and versions are.
pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
