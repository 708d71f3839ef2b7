-- Which generation of each projection's read model exists, and which one serves reads.
CREATE TABLE IF NOT EXISTS generations (
    projection  TEXT    NOT NULL,
    generation  INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('building', 'serving', 'retired')),
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (projection, generation)
);

-- At most one serving generation per projection.
CREATE UNIQUE INDEX IF NOT EXISTS generations_serving
    ON generations (projection) WHERE state = 'serving';
