-- A batch's buffered writes, from ARGV[first] on: per write its operation, the index of its
-- key in KEYS, and its arguments. Every write's key type is checked before the first write, so
-- a write Redis would refuse (WRONGTYPE) refuses the batch with nothing changed.

local ARITY = { set = 1, del = 0, hset = 2, hdel = 1, zadd = 2, zrem = 1, sadd = 1, srem = 1 }
local NEEDS = { hset = 'hash', hdel = 'hash', zadd = 'zset', zrem = 'zset', sadd = 'set', srem = 'set' }
local MAKES = { set = 'string', del = 'none', hset = 'hash', zadd = 'zset', sadd = 'set' }

-- Why the writes would be refused (the script's answer), or nil when they can all be made.
local function check_writes(first)
  local types = {}
  local i = first
  while i <= #ARGV do
    local op, key = ARGV[i], KEYS[tonumber(ARGV[i + 1])]
    local arity = ARITY[op]
    if arity == nil or key == nil then
      return { 'bad_write', op }
    end
    local current = types[key]
    if current == nil then
      current = redis.call('TYPE', key)['ok']
    end
    local needs = NEEDS[op]
    if needs and current ~= 'none' and current ~= needs then
      return { 'wrong_type', key, current, op }
    end
    types[key] = MAKES[op] or current
    i = i + 2 + arity
  end
  return nil
end

-- Makes the writes, once `check_writes` passed them.
local function run_writes(first)
  local i = first
  while i <= #ARGV do
    local op, key = ARGV[i], KEYS[tonumber(ARGV[i + 1])]
    if op == 'set' then
      redis.call('SET', key, ARGV[i + 2])
    elseif op == 'del' then
      redis.call('UNLINK', key)
    elseif op == 'hset' then
      redis.call('HSET', key, ARGV[i + 2], ARGV[i + 3])
    elseif op == 'hdel' then
      redis.call('HDEL', key, ARGV[i + 2])
    elseif op == 'zadd' then
      redis.call('ZADD', key, ARGV[i + 3], ARGV[i + 2])
    elseif op == 'zrem' then
      redis.call('ZREM', key, ARGV[i + 2])
    elseif op == 'sadd' then
      redis.call('SADD', key, ARGV[i + 2])
    elseif op == 'srem' then
      redis.call('SREM', key, ARGV[i + 2])
    end
    i = i + 2 + ARITY[op]
  end
end
