-- Version 1 kept no command id and knew no 'released' state: a SQLite CHECK cannot be altered,
-- so the table is made again (see idempotency_schema.sql) and its rows copied over, in the
-- caller's transaction.
ALTER TABLE idempotency_keys RENAME TO idempotency_keys_v1;
DROP INDEX IF EXISTS idempotency_keys_claimed_at;
