-- Each claim keeps the id its request's command runs under: made at the key's first claim,
-- kept when the claim is taken over, so a retry finds the first attempt's events. NULL in rows
-- claimed before this migration, whose id derives from the key.
ALTER TABLE projector.idempotency_keys ADD COLUMN command_id TEXT;

-- A claim given up after a failure is 'released': a retry takes it over at once.
ALTER TABLE projector.idempotency_keys DROP CONSTRAINT idempotency_keys_state_check;
ALTER TABLE projector.idempotency_keys ADD CONSTRAINT idempotency_keys_state_check
    CHECK (state IN ('pending', 'released', 'done'));
