-- Deletes session `id` and its index entries; 1 if it existed. Needs `P` (the key prefix).
local function delete_one(id)
  local s = P .. 's:' .. id
  local secret, user = unpack(redis.call('HMGET', s, 'secret', 'user'))
  redis.call('ZREM', P .. 'exp', id)
  redis.call('ZREM', P .. 'seen:0', id)
  redis.call('ZREM', P .. 'seen:1', id)
  if not secret then return 0 end
  redis.call('DEL', s, P .. 'h:' .. secret)
  redis.call('SREM', P .. 'u:' .. user, id)
  return 1
end
