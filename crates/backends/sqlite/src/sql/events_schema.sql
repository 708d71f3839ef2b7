-- The event store: one row per event, in commit order.
-- `position` is the rowid, assigned by the single writer as head + 1 inside the write
-- transaction, so positions are gap-free and strictly increasing in commit order.
CREATE TABLE IF NOT EXISTS events (
    position        INTEGER PRIMARY KEY,
    event_id        BLOB    NOT NULL UNIQUE,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL,
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    data            TEXT    NOT NULL,
    correlation_id  TEXT,
    causation_id    TEXT,
    user_id         TEXT,
    recorded_at     INTEGER NOT NULL -- microseconds since the Unix epoch, UTC
);

-- One version per stream position; also the index that answers "current version of a stream".
CREATE UNIQUE INDEX IF NOT EXISTS events_stream_version ON events (stream_id, stream_version);
