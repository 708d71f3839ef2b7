-- The audit log: one row per change to an issue, with who made it, when, and from which value
-- to which.
CREATE TABLE IF NOT EXISTS issue_history (
    issue_id        TEXT NOT NULL,
    version         BIGINT NOT NULL,
    position        BIGINT NOT NULL,
    change          TEXT NOT NULL,
    field           TEXT,
    from_value      TEXT,
    to_value        TEXT,
    user_id         TEXT,
    command_id      TEXT,
    correlation_id  TEXT,
    at              TEXT NOT NULL,
    PRIMARY KEY (issue_id, version)
)
