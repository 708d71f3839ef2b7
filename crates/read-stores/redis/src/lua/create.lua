-- Creates an empty building generation with a zero checkpoint, unless one is building.
-- KEYS: catalog, retired. ARGV: tag, epoch for a new catalog, version, lowest number to use.
-- A catalog that is gone or lost its serving generation is started anew under the new epoch:
-- whatever the old one left is retired whole.

local retired_key = KEYS[2]
local catalog, remains = load_catalog()
if catalog == nil then
  local next = 0
  if remains and remains.next then
    next = remains.next
  end
  redis.call('DEL', catalog_key)
  catalog = { epoch = ARGV[2], next = next, building = {}, lost = {} }
  redis.call('HSET', catalog_key, 'epoch', catalog.epoch, 'next', next)
  redis.call('ZADD', retired_key, now_ms(), '!' .. catalog.epoch)
end
for _, generation in ipairs(catalog.lost) do
  redis.call('HDEL', catalog_key, 'b:' .. generation)
  retire(retired_key, catalog.epoch, generation)
end
local oldest
for generation, version in pairs(catalog.building) do
  if oldest == nil or tonumber(generation) < tonumber(oldest) then
    oldest = generation
  end
end
if oldest then
  return { 'build_in_progress', oldest, catalog.building[oldest], catalog.epoch }
end
local generation = math.max(catalog.next or 0, tonumber(ARGV[4])) + 1
redis.call('HSET', catalog_key, 'next', generation, 'b:' .. generation, ARGV[3])
redis.call('HSET', checkpoint_key(catalog.epoch, generation), 'position', '0', 'at', '')
return { 'ok', tostring(generation), catalog.epoch }
