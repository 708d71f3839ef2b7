-- Requests sent with an idempotency key, and the answers they got (schema version 2).
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key           TEXT    PRIMARY KEY,
    fingerprint   TEXT    NOT NULL,
    -- The id the request's command runs under: made at the key's first claim, kept when the
    -- claim is taken over. NULL in rows from version 1, whose id derives from the key.
    command_id    TEXT,
    -- 'released': given up after a failure, so a retry takes it over at once.
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'released', 'done')),
    status        INTEGER,
    headers       TEXT,
    body          TEXT,
    claimed_at    INTEGER NOT NULL, -- microseconds since the Unix epoch
    completed_at  INTEGER
);

CREATE INDEX IF NOT EXISTS idempotency_keys_claimed_at ON idempotency_keys (claimed_at);

PRAGMA user_version = 2;
