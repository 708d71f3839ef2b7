-- The catalog as it describes what is stored, with the serving generation's checkpoint.
-- KEYS: catalog. ARGV: tag.
-- Returns {} when there is none, else {epoch, next, serving or '', serving_version or '',
-- serving position or '', serving time or '', building generation, version, ...}.

local catalog = load_catalog()
if catalog == nil then
  return {}
end
local reply = { catalog.epoch, tostring(catalog.next or 0), catalog.serving or '', catalog.serving_version or '', '', '' }
if catalog.serving then
  local checkpoint = redis.call('HMGET', checkpoint_key(catalog.epoch, catalog.serving), 'position', 'at')
  reply[5] = checkpoint[1] or ''
  reply[6] = checkpoint[2] or ''
end
for generation, version in pairs(catalog.building) do
  table.insert(reply, generation)
  table.insert(reply, version)
end
return reply
