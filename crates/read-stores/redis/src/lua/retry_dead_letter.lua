-- A dead letter's event applied again: checks the checkpoint is where the caller saw it and
-- the letter is there, applies the event's buffered writes, deletes the letter and, when the
-- projection stopped at it, moves the checkpoint past it, all at once or not at all.
-- KEYS: catalog, the generation's checkpoint, its dead-letter index, the letter, the data keys
-- written.
-- ARGV: tag, epoch, generation, from, to (or '' to leave the checkpoint), time of to, the
-- letter's position, then the writes (see `writes_lib.lua`).

local FIRST = 8

local catalog = load_catalog()
if not is_live(catalog, ARGV[2], ARGV[3]) then
  return { 'no_generation' }
end
local position = redis.call('HGET', KEYS[2], 'position')
if position ~= ARGV[4] then
  return { 'moved', position }
end
if redis.call('EXISTS', KEYS[4]) == 0 then
  return { 'no_dead_letter' }
end
local refused = check_writes(FIRST)
if refused then
  return refused
end
run_writes(FIRST)
redis.call('SREM', KEYS[3], ARGV[7])
redis.call('UNLINK', KEYS[4])
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[2], 'position', ARGV[5], 'at', ARGV[6])
end
return { 'ok' }
