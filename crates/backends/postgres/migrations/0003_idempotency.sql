-- Requests sent with an idempotency key, and the answers they got.
CREATE TABLE projector.idempotency_keys (
    key           TEXT        PRIMARY KEY,
    fingerprint   TEXT        NOT NULL,
    state         TEXT        NOT NULL CHECK (state IN ('pending', 'done')),
    status        INTEGER,
    headers       TEXT,
    body          TEXT,
    claimed_at    TIMESTAMPTZ NOT NULL,
    completed_at  TIMESTAMPTZ
);

CREATE INDEX idempotency_keys_claimed_at ON projector.idempotency_keys (claimed_at);
