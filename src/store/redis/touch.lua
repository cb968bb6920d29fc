-- ARGV: prefix, id, seen, idle ttl for ordinary, idle ttl for remembered sessions. The time
-- never moves back; a session deleted meanwhile is not brought back.
local P, id, seen = ARGV[1], ARGV[2], tonumber(ARGV[3])
local s = P .. 's:' .. id
local old, expires, remember, secret, user =
  unpack(redis.call('HMGET', s, 'seen', 'expires', 'remember', 'secret', 'user'))
if not old then return 0 end
if seen <= tonumber(old) then return 1 end
redis.call('HSET', s, 'seen', seen)
redis.call('ZADD', P .. 'seen:' .. remember, seen, id)
local ttl = tonumber(expires) - seen
local idle = tonumber(ARGV[4 + tonumber(remember)])
if idle < ttl then ttl = idle end
if ttl < 1 then ttl = 1 end
redis.call('EXPIRE', s, ttl)
redis.call('EXPIRE', P .. 'h:' .. secret, ttl)
local u = P .. 'u:' .. user
if redis.call('TTL', u) < ttl then redis.call('EXPIRE', u, ttl) end
return 1
