-- The read store's catalog: which generation of each projection's read model exists, which
-- schema holds it, and which one serves reads.
CREATE TABLE projector.generations (
    projection   TEXT        NOT NULL,
    generation   INTEGER     NOT NULL,
    version      INTEGER     NOT NULL,
    state        TEXT        NOT NULL CHECK (state IN ('building', 'serving', 'retired')),
    schema_name  TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, generation)
);

-- At most one serving generation per projection.
CREATE UNIQUE INDEX generations_serving ON projector.generations (projection) WHERE state = 'serving';
