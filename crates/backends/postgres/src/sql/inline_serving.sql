-- The generation serving a projection; read under the head lock, which every swap takes too,
-- so it cannot change before the append commits.
SELECT generation FROM projector.generations WHERE projection = $1 AND state = 'serving'
