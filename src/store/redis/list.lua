-- ARGV: prefix, user. Replies id and 8 fields per session (order of `FIELDS` in mod.rs);
-- forgets index entries whose session has expired.
local P = ARGV[1]
local u = P .. 'u:' .. ARGV[2]
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', u)) do
  local r = redis.call('HMGET', P .. 's:' .. id, 'secret', 'user', 'created', 'seen', 'expires', 'remember', 'ua', 'ip')
  if r[1] then
    table.insert(out, id)
    for i = 1, 8 do table.insert(out, r[i] or '') end
  else
    redis.call('SREM', u, id)
  end
end
return out
