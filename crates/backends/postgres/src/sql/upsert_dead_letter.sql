-- A dead letter for the event at $1; failing it again in a later run adds to its attempts.
INSERT INTO _projector_dead_letters (
    position, event_id, stream_id, event_type, error, attempts,
    first_failed_at, last_failed_at, skipped
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (position) DO UPDATE SET
    error = excluded.error,
    attempts = _projector_dead_letters.attempts + excluded.attempts,
    last_failed_at = excluded.last_failed_at,
    skipped = excluded.skipped
