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

-- Appends a group of appends in the calling transaction, one after another, each checked on its
-- own: an append whose expected version does not hold, or that carries an event id already
-- stored (or twice), writes nothing and is answered alone; the others go ahead.
--
-- Appends are given as parallel arrays: per append its stream, expected version (kind 0 any,
-- 1 no stream, 2 stream exists, 3 exact with `append_versions`) and event count; per event,
-- the appends' events concatenated in order.
--
-- One row is returned per append, in order: outcome 0 appended (o_version is the stream's new
-- version, o_first_position its first event's position), 1 version conflict (o_version is the
-- actual version), 2 duplicate event id (o_duplicate).
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
LANGUAGE plpgsql AS $$
DECLARE
    v_head     BIGINT;
    v_start    INTEGER := 1;
    v_last     INTEGER;
    v_actual   BIGINT;
    v_accepts  BOOLEAN;
    v_dup      UUID;
    v_count    INTEGER;
BEGIN
    -- The lock that orders the feed: held until this transaction commits.
    SELECT f.head INTO v_head FROM projector.feed_head f WHERE f.id = 1 FOR UPDATE;

    FOR i IN 1 .. coalesce(array_length(append_streams, 1), 0) LOOP
        v_count := append_counts[i];
        v_last := v_start + v_count - 1;
        o_version := NULL;
        o_first_position := NULL;
        o_duplicate := NULL;

        SELECT coalesce(max(e.stream_version), 0) INTO v_actual
        FROM projector.events e WHERE e.stream_id = append_streams[i];

        v_accepts := CASE append_kinds[i]
            WHEN 0 THEN TRUE
            WHEN 1 THEN v_actual = 0
            WHEN 2 THEN v_actual > 0
            ELSE v_actual = append_versions[i]
        END;

        IF NOT v_accepts THEN
            o_outcome := 1;
            o_version := v_actual;
            RETURN NEXT;
        ELSE
            -- An id given twice in this append, else one already stored (by anyone, including an
            -- earlier append of this group).
            SELECT d.id INTO v_dup
            FROM unnest(event_ids[v_start:v_last]) AS d(id)
            GROUP BY d.id HAVING count(*) > 1 LIMIT 1;
            IF v_dup IS NULL THEN
                SELECT e.event_id INTO v_dup FROM projector.events e
                WHERE e.event_id = ANY (event_ids[v_start:v_last]) LIMIT 1;
            END IF;

            IF v_dup IS NOT NULL THEN
                o_outcome := 2;
                o_duplicate := v_dup;
                RETURN NEXT;
            ELSE
                INSERT INTO projector.events (
                    position, event_id, stream_id, stream_version, event_type, schema_version,
                    data, correlation_id, causation_id, user_id, recorded_at
                )
                SELECT v_head + u.k, u.id, append_streams[i], v_actual + u.k, u.ty, u.sv,
                       u.data::json, u.corr, u.caus, u.usr, now()
                FROM unnest(
                    event_ids[v_start:v_last], event_types[v_start:v_last],
                    schema_versions[v_start:v_last], payloads[v_start:v_last],
                    correlation_ids[v_start:v_last], causation_ids[v_start:v_last],
                    user_ids[v_start:v_last]
                ) WITH ORDINALITY AS u(id, ty, sv, data, corr, caus, usr, k);

                o_outcome := 0;
                o_version := v_actual + v_count;
                o_first_position := v_head + 1;
                v_head := v_head + v_count;
                RETURN NEXT;
            END IF;
        END IF;
        v_start := v_last + 1;
    END LOOP;

    UPDATE projector.feed_head SET head = v_head WHERE id = 1 AND head <> v_head;
    IF FOUND THEN
        -- Delivered to listeners only once this transaction has committed, so the head it
        -- announces is readable by then.
        PERFORM pg_notify('projector_events', v_head::TEXT);
    END IF;
END;
$$;
