-- Records (or updates) a dead letter and, for a skipped event, moves the checkpoint past it,
-- when the checkpoint is where the caller saw it.
-- KEYS: catalog, the generation's checkpoint, its dead-letter index, the letter.
-- ARGV: tag, epoch, generation, from, skip to (or ''), its time, then the letter: position,
-- event id, stream, event type, error, attempts, first failed, last failed, skipped.
-- A letter recorded again (the event failed again in a later run) adds to its attempts.

local catalog = load_catalog()
if not is_live(catalog, ARGV[2], ARGV[3]) then
  return { 'no_generation' }
end
local position = redis.call('HGET', KEYS[2], 'position')
if position ~= ARGV[4] then
  return { 'moved', position }
end
redis.call('SADD', KEYS[3], ARGV[7])
if redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('HINCRBY', KEYS[4], 'attempts', ARGV[12])
  redis.call('HSET', KEYS[4], 'error', ARGV[11], 'last_failed_at', ARGV[14], 'skipped', ARGV[15])
else
  redis.call('HSET', KEYS[4], 'position', ARGV[7], 'event_id', ARGV[8], 'stream_id', ARGV[9],
    'event_type', ARGV[10], 'error', ARGV[11], 'attempts', ARGV[12], 'first_failed_at', ARGV[13],
    'last_failed_at', ARGV[14], 'skipped', ARGV[15])
end
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[2], 'position', ARGV[5], 'at', ARGV[6])
end
return { 'ok' }
