-- Every session-level advisory lock on one bigint key granted in this database, and whether it
-- is a shared one (a group's member) rather than an exclusive one (a lease). A bigint key is
-- split into classid (high 32 bits) and objid (low 32 bits), with objsubid 1.
SELECT l.classid::int8,
       l.objid::int8,
       l.mode = 'ShareLock'
FROM pg_locks l
WHERE l.locktype = 'advisory'
  AND l.objsubid = 1
  AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
