-- The event store: one row per event, in commit order, and the head of the feed.

CREATE TABLE projector.events (
    position        BIGINT      NOT NULL,
    event_id        UUID        NOT NULL,
    stream_id       TEXT        NOT NULL,
    stream_version  BIGINT      NOT NULL,
    event_type      TEXT        NOT NULL,
    schema_version  INTEGER     NOT NULL,
    -- `json`, not `jsonb`: the payload comes back byte for byte as it was written.
    data            JSON        NOT NULL,
    correlation_id  TEXT,
    causation_id    TEXT,
    user_id         TEXT,
    recorded_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT events_position PRIMARY KEY (position),
    CONSTRAINT events_event_id UNIQUE (event_id),
    -- One version per stream position; also the index that answers "current version of a stream".
    CONSTRAINT events_stream_version UNIQUE (stream_id, stream_version)
);

-- The last position assigned. Every append locks this one row first and holds the lock until it
-- commits, so appends (from any process) commit one after another and take positions
-- head + 1, head + 2, ...: gap-free and increasing in commit order. A reader's snapshot
-- therefore always holds a prefix of the feed. See docs/adr/0002-postgres-feed-order.md.
CREATE TABLE projector.feed_head (
    id    SMALLINT PRIMARY KEY CHECK (id = 1),
    head  BIGINT   NOT NULL
) WITH (fillfactor = 10);

INSERT INTO projector.feed_head (id, head) VALUES (1, 0);

-- Appends a group of appends in the calling transaction, each checked on its own as if they
-- came one after another: an append whose expected version does not hold, or that carries an
-- event id already stored (or given twice), writes nothing and is answered alone; the others go
-- ahead.
--
-- Appends are given as parallel arrays: per append its stream, expected version (kind 0 any,
-- 1 no stream, 2 stream exists, 3 exact with `append_versions`) and event count; per event,
-- the appends' events concatenated in order.
--
-- One row is returned per append, in order: outcome 0 appended (o_version is the stream's new
-- version, o_first_position its first event's position), 1 version conflict (o_version is the
-- actual version), 2 duplicate event id (o_duplicate).
--
-- The work is set-based, a fixed handful of statements per group however large: one lookup of
-- every stream's version, one of stored and repeated ids, one insert. Only the decisions run
-- per append, in memory.
CREATE FUNCTION projector.append_group(
    append_streams   TEXT[],
    append_kinds     SMALLINT[],
    append_versions  BIGINT[],
    append_counts    INTEGER[],
    event_ids        UUID[],
    event_types      TEXT[],
    schema_versions  INTEGER[],
    payloads         TEXT[],
    correlation_ids  TEXT[],
    causation_ids    TEXT[],
    user_ids         TEXT[]
) RETURNS TABLE (o_outcome SMALLINT, o_version BIGINT, o_first_position BIGINT, o_duplicate UUID)
LANGUAGE plpgsql
-- Every statement here is a keyed lookup. PL/pgSQL caches a generic plan per statement after a
-- few calls; planned while `events` was small, that plan would scan the table on every append
-- for the rest of the session, making appends slower as the store grows. Index scans only.
SET enable_seqscan = off
AS $$
DECLARE
    v_head      BIGINT;
    v_appends   INTEGER := coalesce(array_length(append_streams, 1), 0);
    v_events    INTEGER := coalesce(array_length(event_ids, 1), 0);
    v_stored    BIGINT[];   -- per append: its stream's stored version
    v_previous  INTEGER[];  -- per append: the group's previous append to the same stream
    v_after     BIGINT[];   -- per append: its stream's version once it is decided
    v_known     UUID[];     -- ids of the group already stored
    v_repeated  UUID[];     -- ids the group gives more than once
    v_taken     UUID[] := '{}';  -- ids of appends accepted so far (only tracked with repeats)
    v_position  BIGINT[];   -- per event: its position, NULL when its append is refused
    v_version   BIGINT[];   -- per event: its stream version
    v_stream    TEXT[];     -- per event: its stream
    v_start     INTEGER := 1;
    v_last      INTEGER;
    v_count     INTEGER;
    v_actual    BIGINT;
    v_dup       UUID;
BEGIN
    -- The lock that orders the feed: held until this transaction commits.
    SELECT f.head INTO v_head FROM projector.feed_head f WHERE f.id = 1 FOR UPDATE;

    SELECT array_agg(coalesce(cur.version, 0) ORDER BY s.i),
           array_agg(s.previous ORDER BY s.i)
    INTO v_stored, v_previous
    FROM (
        SELECT u.name, u.i::INTEGER AS i,
               (lag(u.i) OVER (PARTITION BY u.name ORDER BY u.i))::INTEGER AS previous
        FROM unnest(append_streams) WITH ORDINALITY AS u(name, i)
    ) s
    LEFT JOIN LATERAL (
        SELECT max(e.stream_version) AS version FROM projector.events e WHERE e.stream_id = s.name
    ) cur ON TRUE;

    SELECT array_agg(e.event_id) INTO v_known
    FROM projector.events e WHERE e.event_id = ANY (event_ids);
    SELECT array_agg(d.id) INTO v_repeated
    FROM (SELECT u.id FROM unnest(event_ids) AS u(id) GROUP BY u.id HAVING count(*) > 1) d;

    v_position := array_fill(NULL::BIGINT, ARRAY[v_events]);
    v_version := array_fill(NULL::BIGINT, ARRAY[v_events]);
    v_stream := array_fill(NULL::TEXT, ARRAY[v_events]);
    v_after := array_fill(NULL::BIGINT, ARRAY[v_appends]);

    FOR i IN 1 .. v_appends LOOP
        v_count := append_counts[i];
        v_last := v_start + v_count - 1;
        o_version := NULL;
        o_first_position := NULL;
        o_duplicate := NULL;
        v_actual := CASE WHEN v_previous[i] IS NULL THEN v_stored[i]
                         ELSE v_after[v_previous[i]] END;
        v_after[i] := v_actual;

        IF NOT (CASE append_kinds[i]
            WHEN 0 THEN TRUE
            WHEN 1 THEN v_actual = 0
            WHEN 2 THEN v_actual > 0
            ELSE v_actual = append_versions[i]
        END) THEN
            o_outcome := 1;
            o_version := v_actual;
            RETURN NEXT;
        ELSE
            v_dup := NULL;
            -- Only when some id of the group is stored or repeated (a retry, a bug): find one
            -- of this append's given twice in it, stored, or taken by an earlier append here.
            IF v_known IS NOT NULL OR v_repeated IS NOT NULL THEN
                SELECT d.id INTO v_dup
                FROM unnest(event_ids[v_start:v_last]) AS d(id)
                GROUP BY d.id HAVING count(*) > 1 LIMIT 1;
                IF v_dup IS NULL THEN
                    SELECT d.id INTO v_dup
                    FROM unnest(event_ids[v_start:v_last]) AS d(id)
                    WHERE d.id = ANY (coalesce(v_known, '{}')) OR d.id = ANY (v_taken)
                    LIMIT 1;
                END IF;
            END IF;

            IF v_dup IS NOT NULL THEN
                o_outcome := 2;
                o_duplicate := v_dup;
                RETURN NEXT;
            ELSE
                FOR k IN 0 .. v_count - 1 LOOP
                    v_position[v_start + k] := v_head + 1 + k;
                    v_version[v_start + k] := v_actual + 1 + k;
                    v_stream[v_start + k] := append_streams[i];
                END LOOP;
                IF v_repeated IS NOT NULL THEN
                    v_taken := v_taken || event_ids[v_start:v_last];
                END IF;
                o_outcome := 0;
                o_version := v_actual + v_count;
                o_first_position := v_head + 1;
                v_after[i] := v_actual + v_count;
                v_head := v_head + v_count;
                RETURN NEXT;
            END IF;
        END IF;
        v_start := v_last + 1;
    END LOOP;

    INSERT INTO projector.events (
        position, event_id, stream_id, stream_version, event_type, schema_version,
        data, correlation_id, causation_id, user_id, recorded_at
    )
    SELECT u.position, u.id, u.stream, u.version, u.ty, u.sv, u.data::json,
           u.corr, u.caus, u.usr, now()
    FROM unnest(
        v_position, event_ids, v_stream, v_version, event_types, schema_versions, payloads,
        correlation_ids, causation_ids, user_ids
    ) AS u(position, id, stream, version, ty, sv, data, corr, caus, usr)
    WHERE u.position IS NOT NULL;

    UPDATE projector.feed_head SET head = v_head WHERE id = 1 AND head <> v_head;
    IF FOUND THEN
        -- Delivered to listeners only once this transaction has committed, so the head it
        -- announces is readable by then.
        PERFORM pg_notify('projector_events', v_head::TEXT);
    END IF;
END;
$$;
