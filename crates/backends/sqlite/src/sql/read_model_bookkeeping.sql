-- Bookkeeping beside a projection's own tables, in every generation's database file.

-- One row: how far this generation has applied the feed. Updated in the same transaction as
-- the batch it covers.
CREATE TABLE IF NOT EXISTS _projector_checkpoint (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    position       BIGINT  NOT NULL,
    last_event_at  TEXT,
    updated_at     TEXT    NOT NULL
);

INSERT OR IGNORE INTO _projector_checkpoint (id, position, last_event_at, updated_at)
VALUES (1, 0, NULL, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

-- A generation built as partitions: one row per partition, each its own checkpoint, moved
-- with that partition's batches. Empty for a generation built whole.
CREATE TABLE IF NOT EXISTS _projector_partitions (
    partition      INTEGER PRIMARY KEY,
    partitions     INTEGER NOT NULL,
    position       BIGINT  NOT NULL,
    last_event_at  TEXT,
    updated_at     TEXT    NOT NULL
);

-- Events this projection failed to apply through every retry.
CREATE TABLE IF NOT EXISTS _projector_dead_letters (
    position         BIGINT  PRIMARY KEY,
    event_id         TEXT    NOT NULL,
    stream_id        TEXT    NOT NULL,
    event_type       TEXT    NOT NULL,
    error            TEXT    NOT NULL,
    attempts         BIGINT  NOT NULL,
    first_failed_at  TEXT    NOT NULL,
    last_failed_at   TEXT    NOT NULL,
    skipped          BOOLEAN NOT NULL
);
