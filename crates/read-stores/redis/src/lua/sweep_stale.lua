-- Removes keys a vanished catalog left behind (any key under the tag but the catalog's own and
-- those of its current epoch), while the catalog is still of the epoch the sweep is for.
-- KEYS: catalog, retired, the keys a SCAN step found. ARGV: tag, epoch.
-- Returns how many keys were removed, or -1 when the catalog moved on (the sweep stops).

local epoch = ARGV[2]
local catalog = read_catalog()
if catalog == nil or catalog.epoch ~= epoch then
  return -1
end
local keep = tag .. epoch .. ':'
local removed = 0
for i = 3, #KEYS do
  local key = KEYS[i]
  if key ~= KEYS[1] and key ~= KEYS[2] and string.sub(key, 1, #keep) ~= keep then
    redis.call('UNLINK', key)
    removed = removed + 1
  end
end
return removed
