SELECT position, event_id, stream_id, event_type, error, attempts, first_failed_at,
       last_failed_at, skipped
FROM _projector_dead_letters
ORDER BY position
