-- ARGV: prefix, user, id to keep ('' for none) (delete_one.lua is prepended)
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', P .. 'u:' .. ARGV[2])) do
  if id ~= ARGV[3] then n = n + delete_one(id) end
end
return n
