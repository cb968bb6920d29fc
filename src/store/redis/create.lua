-- ARGV: prefix, id, secret, user, created, seen, expires, remember, ttl, ua?, ip?
local P, id, ttl = ARGV[1], ARGV[2], tonumber(ARGV[9])
local s = P .. 's:' .. id
redis.call('HSET', s, 'secret', ARGV[3], 'user', ARGV[4], 'created', ARGV[5], 'seen', ARGV[6],
  'expires', ARGV[7], 'remember', ARGV[8])
if ARGV[10] ~= '' then redis.call('HSET', s, 'ua', string.sub(ARGV[10], 2)) end
if ARGV[11] ~= '' then redis.call('HSET', s, 'ip', string.sub(ARGV[11], 2)) end
redis.call('EXPIRE', s, ttl)
redis.call('SET', P .. 'h:' .. ARGV[3], id, 'EX', ttl)
local u = P .. 'u:' .. ARGV[4]
redis.call('SADD', u, id)
if redis.call('TTL', u) < ttl then redis.call('EXPIRE', u, ttl) end
redis.call('ZADD', P .. 'exp', ARGV[7], id)
redis.call('ZADD', P .. 'seen:' .. ARGV[8], ARGV[6], id)
return 1
