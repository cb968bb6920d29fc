-- ARGV: prefix, now, ordinary idle cutoff, remembered idle cutoff (delete_one.lua is prepended)
local doomed = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'exp', '-inf', ARGV[2])) do doomed[id] = true end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'seen:0', '-inf', ARGV[3])) do doomed[id] = true end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'seen:1', '-inf', ARGV[4])) do doomed[id] = true end
local n = 0
for id in pairs(doomed) do n = n + delete_one(id) end
return n
