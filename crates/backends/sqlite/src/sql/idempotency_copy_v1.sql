-- Version 1's rows, without command ids, into the new table; then the old table goes.
INSERT INTO idempotency_keys (key, fingerprint, state, status, headers, body, claimed_at, completed_at)
SELECT key, fingerprint, state, status, headers, body, claimed_at, completed_at FROM idempotency_keys_v1;
DROP TABLE idempotency_keys_v1;
