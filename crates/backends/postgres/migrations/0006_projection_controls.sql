-- Operators' controls of each projection, beside the read store's catalog: a paused
-- projection applies nothing until resumed, in whichever process holds its lease.
CREATE TABLE projector.projection_controls (
    projection    TEXT        NOT NULL PRIMARY KEY,
    paused_since  TIMESTAMPTZ NOT NULL,
    paused_by     TEXT        NOT NULL
);
