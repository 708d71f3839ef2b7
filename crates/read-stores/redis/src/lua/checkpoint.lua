-- The checkpoint of a serving or building generation.
-- KEYS: catalog, the generation's checkpoint. ARGV: tag, epoch, generation.

local catalog = load_catalog()
if not is_live(catalog, ARGV[2], ARGV[3]) then
  return { 'no_generation' }
end
local checkpoint = redis.call('HMGET', KEYS[2], 'position', 'at')
return { 'ok', checkpoint[1], checkpoint[2] or '' }
