-- Positions are assigned in commit order under the feed_head lock, so a snapshot holds a
-- prefix of the feed and this never skips an event that commits later.
SELECT position, event_id, stream_id, stream_version, event_type, schema_version, data::text,
       correlation_id, causation_id, user_id, recorded_at
FROM projector.events
WHERE position > $1
ORDER BY position
LIMIT $2
