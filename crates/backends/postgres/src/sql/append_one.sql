-- Appends a single append in one statement, its own transaction: `append_group.sql` for a
-- group of one, without the window, sort and join that place several appends. A lone writer
-- appends one at a time, so this is its path; it answers exactly as the group statement would.
--
-- The same compare-and-set on `projector.feed_head` (see `append_group.sql`): the head moves
-- only if it still holds the value this statement's snapshot saw, and it is compared even when
-- the append is refused, since a refusal read from a stale snapshot would be wrong too.
--
-- $1-$4: stream, expected version (kind 0 any, 1 no stream, 2 stream exists, 3 exact with $3),
-- event count. Per event ($5-$12): its place in the append (1-based), then its columns.
--
-- One row: accepted, the stream's stored version, the first position (NULL: lost the race), the
-- time the events were recorded at.
WITH decided AS MATERIALIZED (
    SELECT coalesce(v.stored, 0) AS stored, h.head AS seen,
           CASE $2::SMALLINT WHEN 0 THEN TRUE
                             WHEN 1 THEN coalesce(v.stored, 0) = 0
                             WHEN 2 THEN coalesce(v.stored, 0) > 0
                             ELSE coalesce(v.stored, 0) = $3::BIGINT END AS accepted
    FROM projector.feed_head h
    LEFT JOIN LATERAL (SELECT e.stream_version AS stored FROM projector.events e
                       WHERE e.stream_id = $1::TEXT
                       ORDER BY e.stream_version DESC LIMIT 1) v ON TRUE
    WHERE h.id = 1
),
moved AS (
    UPDATE projector.feed_head f
    SET head = f.head + CASE WHEN d.accepted THEN $4::INTEGER ELSE 0 END
    FROM decided d
    WHERE f.id = 1 AND f.head = d.seen
    RETURNING d.seen AS base,
              CASE WHEN d.accepted THEN pg_notify('projector_events', f.head::TEXT) END
),
inserted AS (
    INSERT INTO projector.events (
        position, event_id, stream_id, stream_version, event_type, schema_version,
        data, correlation_id, causation_id, user_id, recorded_at
    )
    SELECT m.base + ev.k, ev.id, $1::TEXT, d.stored + ev.k, ev.ty, ev.sv,
           ev.data::JSON, ev.corr, ev.caus, ev.usr, now()
    FROM moved m
    CROSS JOIN decided d
    CROSS JOIN unnest($5::BIGINT[], $6::UUID[], $7::TEXT[], $8::INTEGER[],
                      $9::TEXT[], $10::TEXT[], $11::TEXT[], $12::TEXT[])
               AS ev(k, id, ty, sv, data, corr, caus, usr)
    WHERE d.accepted
)
SELECT d.accepted, d.stored, m.base + 1 AS first_position, now() AS recorded_at
FROM decided d LEFT JOIN moved m ON TRUE
