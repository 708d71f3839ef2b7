-- Appends a group of appends in one statement, its own transaction: one round trip, one commit.
--
-- Positions come from `projector.feed_head`, moved by compare-and-set: the UPDATE goes ahead
-- only while the head still holds the value this statement's snapshot saw. Every append moves
-- the head, so then no append has committed since the snapshot: the stream versions read from
-- it are current, and the row lock the UPDATE takes (held to commit) puts this group after
-- every earlier append. Appends thus commit in position order. When another process moved the
-- head first, nothing is written and every row answers with a NULL position; the writer runs
-- the group again holding the lock (`lock_head.sql`), on a snapshot taken after it.
--
-- Per append ($1-$4): stream, expected version (kind 0 any, 1 no stream, 2 stream exists,
-- 3 exact with $3), event count. Per event ($5-$13): its append (1-based), its place in that
-- append (1-based), then its columns. A stream appears at most once in a group (the writer sees
-- to that), so each append is decided alone against its stream's stored version. A repeated
-- event id fails the statement on `events_event_id`; the writer then appends one at a time.
--
-- One row per append, in order: accepted, the stream's stored version, the first position, and
-- the time the events were recorded at.
WITH decided AS MATERIALIZED (
    -- The stream's stored version is looked up once per append (a lateral join, not a
    -- subquery the CASE would repeat).
    SELECT a.i::INTEGER AS i, a.stream, a.count, coalesce(v.stored, 0) AS stored,
           CASE a.kind WHEN 0 THEN TRUE
                       WHEN 1 THEN coalesce(v.stored, 0) = 0
                       WHEN 2 THEN coalesce(v.stored, 0) > 0
                       ELSE coalesce(v.stored, 0) = a.expected END AS accepted
    FROM unnest($1::TEXT[], $2::SMALLINT[], $3::BIGINT[], $4::INTEGER[])
         WITH ORDINALITY AS a(stream, kind, expected, count, i)
    LEFT JOIN LATERAL (SELECT e.stream_version AS stored FROM projector.events e
                       WHERE e.stream_id = a.stream
                       ORDER BY e.stream_version DESC LIMIT 1) v ON TRUE
),
placed AS (
    -- Events of the accepted appends before this one: its first position is past them.
    SELECT d.*,
           coalesce(sum(d.count) FILTER (WHERE d.accepted)
               OVER (ORDER BY d.i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM decided d
),
total AS (
    SELECT coalesce(sum(d.count) FILTER (WHERE d.accepted), 0) AS events FROM decided d
),
seen AS (
    SELECT f.head FROM projector.feed_head f WHERE f.id = 1
),
moved AS (
    UPDATE projector.feed_head f SET head = f.head + total.events
    FROM seen, total
    WHERE f.id = 1 AND f.head = seen.head
    -- Delivered to listeners only once this transaction commits, so the head it announces is
    -- readable by then.
    RETURNING seen.head AS base,
              CASE WHEN total.events > 0 THEN pg_notify('projector_events', f.head::TEXT) END
),
inserted AS (
    INSERT INTO projector.events (
        position, event_id, stream_id, stream_version, event_type, schema_version,
        data, correlation_id, causation_id, user_id, recorded_at
    )
    SELECT m.base + p.before + ev.k, ev.id, p.stream, p.stored + ev.k, ev.ty, ev.sv,
           ev.data::JSON, ev.corr, ev.caus, ev.usr, now()
    FROM moved m
    CROSS JOIN unnest($5::INTEGER[], $6::BIGINT[], $7::UUID[], $8::TEXT[], $9::INTEGER[],
                      $10::TEXT[], $11::TEXT[], $12::TEXT[], $13::TEXT[])
               AS ev(a, k, id, ty, sv, data, corr, caus, usr)
    JOIN placed p ON p.i = ev.a
    WHERE p.accepted
)
SELECT p.accepted, p.stored, m.base + p.before + 1 AS first_position, now() AS recorded_at
FROM placed p LEFT JOIN moved m ON TRUE
ORDER BY p.i
