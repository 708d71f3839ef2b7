-- Shared by the scripts that read or change a projection's catalog (prepended to each).
-- KEYS[1] is the catalog; ARGV[1] is the projection's key prefix, its hash tag and a colon.

local catalog_key = KEYS[1]
local tag = ARGV[1]

local function generation_prefix(epoch, generation)
  return tag .. epoch .. ':g' .. generation .. ':'
end

local function checkpoint_key(epoch, generation)
  return generation_prefix(epoch, generation) .. 'cp'
end

-- The catalog as stored: epoch, next (the last generation number handed out), serving and
-- serving_version, and building (generation -> version), or nil when there is none.
local function read_catalog()
  local fields = redis.call('HGETALL', catalog_key)
  if #fields == 0 then
    return nil
  end
  local catalog = { building = {}, lost = {} }
  for i = 1, #fields, 2 do
    local field, value = fields[i], fields[i + 1]
    if field == 'epoch' then
      catalog.epoch = value
    elseif field == 'next' then
      catalog.next = tonumber(value)
    elseif field == 'serving' then
      catalog.serving = value
    elseif field == 'serving_version' then
      catalog.serving_version = value
    elseif string.sub(field, 1, 2) == 'b:' then
      catalog.building[string.sub(field, 3)] = value
    end
  end
  return catalog
end

-- The catalog if it still describes what is stored: nil (and what is left of it) when it is
-- gone or its serving generation's checkpoint is (the keys vanished: a restart, a flush, an
-- eviction). Building generations whose checkpoint vanished move to `lost`.
local function load_catalog()
  local catalog = read_catalog()
  if catalog == nil or catalog.epoch == nil then
    return nil, catalog
  end
  if catalog.serving and redis.call('EXISTS', checkpoint_key(catalog.epoch, catalog.serving)) == 0 then
    return nil, catalog
  end
  for generation, _ in pairs(catalog.building) do
    if redis.call('EXISTS', checkpoint_key(catalog.epoch, generation)) == 0 then
      table.insert(catalog.lost, generation)
    end
  end
  for _, generation in ipairs(catalog.lost) do
    catalog.building[generation] = nil
  end
  return catalog
end

-- Whether `generation` of `epoch` is serving or building in `catalog`.
local function is_live(catalog, epoch, generation)
  return catalog ~= nil and catalog.epoch == epoch
    and (catalog.serving == generation or catalog.building[generation] ~= nil)
end

local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

-- Marks a generation's keys for removal; the sweeper removes them after the grace period.
local function retire(retired_key, epoch, generation)
  redis.call('ZADD', retired_key, now_ms(), epoch .. ':g' .. generation)
end
