SELECT position, event_id, stream_id, stream_version, event_type, schema_version, data,
       correlation_id, causation_id, user_id, recorded_at
FROM events
WHERE position > ?1
ORDER BY position
LIMIT ?2
