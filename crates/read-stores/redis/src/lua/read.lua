-- A read of one generation's data, refused once the generation's keys are being removed
-- (its checkpoint goes first), so a read never sees a generation half removed.
-- KEYS: the generation's checkpoint, then the data keys read. ARGV: the command, its
-- arguments after the keys.

local READS = {
  GET = true, MGET = true, EXISTS = true, HGET = true, HMGET = true, HGETALL = true,
  HLEN = true, HEXISTS = true, SMEMBERS = true, SISMEMBER = true, SCARD = true,
  ZSCORE = true, ZCARD = true, ZRANGE = true,
}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return { 'no_generation' }
end
local command = ARGV[1]
if not READS[command] then
  return { 'bad_read', command }
end
local args = {}
for i = 2, #KEYS do
  table.insert(args, KEYS[i])
end
for i = 2, #ARGV do
  table.insert(args, ARGV[i])
end
return { 'ok', redis.call(command, unpack(args)) }
