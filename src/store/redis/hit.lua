-- KEYS: counter. ARGV: now, window. A window that has passed starts again from one.
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local count, start = unpack(redis.call('HMGET', KEYS[1], 'count', 'start'))
if count and tonumber(start) > now - window then
  count = redis.call('HINCRBY', KEYS[1], 'count', 1)
  start = tonumber(start)
else
  count, start = 1, now
  redis.call('HSET', KEYS[1], 'count', 1, 'start', now)
end
local ttl = start + window - now
if ttl < 1 then ttl = 1 end
redis.call('EXPIRE', KEYS[1], ttl)
return {count, start}
