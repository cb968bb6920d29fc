-- KEYS: counter. ARGV: now, window.
local count, start = unpack(redis.call('HMGET', KEYS[1], 'count', 'start'))
if count and tonumber(start) > tonumber(ARGV[1]) - tonumber(ARGV[2]) then
  return {tonumber(count), tonumber(start)}
end
return {0, 0}
