INSERT INTO events (
    position, event_id, stream_id, stream_version, event_type, schema_version, data,
    correlation_id, causation_id, user_id, recorded_at
) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
