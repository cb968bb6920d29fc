-- ARGV: prefix, secret hash. Replies id, then the session's fields in the order of `FIELDS`
-- in mod.rs; empty when there is no such session.
local P = ARGV[1]
local id = redis.call('GET', P .. 'h:' .. ARGV[2])
if not id then return {} end
local r = redis.call('HMGET', P .. 's:' .. id, 'secret', 'user', 'created', 'seen', 'expires', 'remember', 'ua', 'ip')
if not r[1] then return {} end
table.insert(r, 1, id)
return r
