-- Makes a building generation serve in place of the one the caller saw, and retires that one.
-- KEYS: catalog, retired, the new generation's checkpoint, the replaced one's (if any).
-- ARGV: tag, epoch, generation, replaced generation or '', its checkpoint as seen.
-- Refused, changing nothing, when the catalog is not as the caller saw it.

local epoch, generation, replacing = ARGV[2], ARGV[3], ARGV[4]
local catalog = load_catalog()
if catalog == nil or catalog.epoch ~= epoch then
  return { 'no_generation' }
end
local serving = catalog.serving or ''
if serving ~= replacing then
  return { 'serving_changed', serving }
end
if replacing ~= '' then
  local position = redis.call('HGET', KEYS[4], 'position')
  if position ~= ARGV[5] then
    return { 'moved', position }
  end
end
local version = catalog.building[generation]
if version == nil then
  return { 'no_generation' }
end
redis.call('HDEL', catalog_key, 'b:' .. generation)
redis.call('HSET', catalog_key, 'serving', generation, 'serving_version', version)
if replacing ~= '' then
  retire(KEYS[2], epoch, replacing)
end
return { 'ok' }
