-- Every session-level advisory lock on one bigint key held in this database, with the session
-- that holds it. A bigint key is split into classid (high 32 bits) and objid (low 32 bits),
-- with objsubid 1.
SELECT l.classid::int8,
       l.objid::int8,
       l.pid,
       a.application_name,
       host(a.client_addr),
       a.backend_start
FROM pg_locks l
LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory'
  AND l.objsubid = 1
  AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
