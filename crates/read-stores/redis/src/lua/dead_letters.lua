-- The dead letters of the serving generation, each as its hash's fields and values.
-- KEYS: catalog. ARGV: tag.

local catalog = load_catalog()
if catalog == nil or catalog.serving == nil then
  return { 'no_generation' }
end
local prefix = generation_prefix(catalog.epoch, catalog.serving)
local reply = { 'ok' }
for _, position in ipairs(redis.call('SMEMBERS', prefix .. 'dead')) do
  table.insert(reply, redis.call('HGETALL', prefix .. 'dead:' .. position))
end
return reply
