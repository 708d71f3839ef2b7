-- A batch: checks the generation's checkpoint is where the batch starts, applies the batch's
-- buffered writes and moves the checkpoint, all at once or not at all.
-- KEYS: catalog, the generation's checkpoint, the data keys written.
-- ARGV: tag, epoch, generation, from, to, time of to, then the writes (see `writes_lib.lua`).

local FIRST = 7

local catalog = load_catalog()
if not is_live(catalog, ARGV[2], ARGV[3]) then
  return { 'no_generation' }
end
local position = redis.call('HGET', KEYS[2], 'position')
if position ~= ARGV[4] then
  return { 'moved', position }
end
local refused = check_writes(FIRST)
if refused then
  return refused
end
run_writes(FIRST)
redis.call('HSET', KEYS[2], 'position', ARGV[5], 'at', ARGV[6])
return { 'ok' }
