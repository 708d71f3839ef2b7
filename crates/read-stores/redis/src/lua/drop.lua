-- Retires a building generation whose checkpoint is still where the caller saw it.
-- KEYS: catalog, retired, the generation's checkpoint. ARGV: tag, epoch, generation, position.
-- A generation that is gone already is what the caller wanted; a serving one is never dropped.

local epoch, generation = ARGV[2], ARGV[3]
local catalog = load_catalog()
if catalog == nil or catalog.epoch ~= epoch then
  return { 'ok' }
end
if catalog.serving == generation then
  return { 'serving_changed', generation }
end
local lost = false
for _, gone in ipairs(catalog.lost) do
  if gone == generation then
    lost = true
  end
end
if catalog.building[generation] == nil and not lost then
  return { 'ok' }
end
if not lost then
  local position = redis.call('HGET', KEYS[3], 'position')
  if position ~= ARGV[4] then
    return { 'moved', position }
  end
end
redis.call('HDEL', catalog_key, 'b:' .. generation)
retire(KEYS[2], epoch, generation)
return { 'ok' }
