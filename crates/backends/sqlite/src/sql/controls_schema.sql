-- Operators' controls of each projection, beside the catalog: a paused projection applies
-- nothing until resumed, whichever process runs it.
CREATE TABLE IF NOT EXISTS projection_controls (
    projection    TEXT NOT NULL PRIMARY KEY,
    paused_since  TEXT NOT NULL,
    paused_by     TEXT NOT NULL
);
