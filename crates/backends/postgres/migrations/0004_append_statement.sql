-- Appends are one statement sent by the writer (`src/sql/append_group.sql`), which moves the
-- head by compare-and-set; the PL/pgSQL function of 0001 is no longer called.
DROP FUNCTION IF EXISTS projector.append_group(
    TEXT[], SMALLINT[], BIGINT[], INTEGER[], UUID[], TEXT[], INTEGER[], TEXT[], TEXT[], TEXT[], TEXT[]
);
