SELECT position, event_id, stream_id, stream_version, event_type, schema_version, data::text,
       correlation_id, causation_id, user_id, recorded_at
FROM projector.events
WHERE stream_id = $1 AND stream_version <= $2
ORDER BY stream_version DESC
LIMIT $3
