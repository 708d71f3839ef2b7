-- Requests sent with an idempotency key, and the answers they got.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key           TEXT    PRIMARY KEY,
    fingerprint   TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'done')),
    status        INTEGER,
    headers       TEXT,
    body          TEXT,
    claimed_at    INTEGER NOT NULL, -- microseconds since the Unix epoch
    completed_at  INTEGER
);

CREATE INDEX IF NOT EXISTS idempotency_keys_claimed_at ON idempotency_keys (claimed_at);
