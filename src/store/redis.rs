//! Sessions and failed-login counters in Redis, shared by every node (`database.session_store`).
//!
//! Each session is a hash `s:{id}` beside a lookup key `h:{secret hash}`; both carry a TTL that
//! ends the session in Redis at its idle or absolute expiry, whichever comes first. A set
//! `u:{user}` indexes a user's sessions (for listing and revoke-all), and sorted sets by expiry
//! and by last activity let the sweeper and the metrics find sessions without scanning keys.
//! Every change is one Lua script, so two nodes touching or revoking one session at once never
//! lose an update or leave an index half-written. The connection manager reconnects by itself.

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RetryMethod, Script};
use time::{Duration, OffsetDateTime};

use super::{
    Counter, IdleCutoffs, Ping, SessionRecord, SessionStore, StoreError, StoreResult, ThrottleStore,
};
use crate::account::UserId;
use crate::clock::from_unix;
use crate::config::{DatabaseConfig, SessionConfig};

pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    idle: Duration,
    remember_idle: Duration,
    scripts: Scripts,
}

/// Field order of a session in every script reply (after its id).
const FIELDS: &str = "'secret', 'user', 'created', 'seen', 'expires', 'remember', 'ua', 'ip'";

/// Deletes session `id` and its index entries; 1 if it existed. Needs `P` (the prefix).
const DELETE_ONE: &str = r"
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
";

struct Scripts {
    create: Script,
    find: Script,
    touch: Script,
    delete: Script,
    delete_for_user: Script,
    list: Script,
    delete_expired: Script,
    hit: Script,
    peek: Script,
}

impl Scripts {
    fn new() -> Self {
        let with_delete =
            |body: &str| Script::new(&format!("local P = ARGV[1]\n{DELETE_ONE}{body}"));
        Self {
            // ARGV: prefix, id, secret, user, created, seen, expires, remember, ttl, ua?, ip?
            create: Script::new(
                r"
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
",
            ),
            // ARGV: prefix, secret
            find: Script::new(&format!(
                r"
local P = ARGV[1]
local id = redis.call('GET', P .. 'h:' .. ARGV[2])
if not id then return {{}} end
local r = redis.call('HMGET', P .. 's:' .. id, {FIELDS})
if not r[1] then return {{}} end
table.insert(r, 1, id)
return r
"
            )),
            // ARGV: prefix, id, seen, idle ttl for ordinary, idle ttl for remembered. The time
            // never moves back; a session deleted meanwhile is not brought back.
            touch: Script::new(
                r"
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
",
            ),
            // ARGV: prefix, id
            delete: with_delete("return delete_one(ARGV[2])"),
            // ARGV: prefix, user, id to keep ('' for none)
            delete_for_user: with_delete(
                r"
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', P .. 'u:' .. ARGV[2])) do
  if id ~= ARGV[3] then n = n + delete_one(id) end
end
return n
",
            ),
            // ARGV: prefix, user. Forgets index entries whose session has expired.
            list: Script::new(&format!(
                r"
local P = ARGV[1]
local u = P .. 'u:' .. ARGV[2]
local out = {{}}
for _, id in ipairs(redis.call('SMEMBERS', u)) do
  local r = redis.call('HMGET', P .. 's:' .. id, {FIELDS})
  if r[1] then
    table.insert(out, id)
    for i = 1, 8 do table.insert(out, r[i] or '') end
  else
    redis.call('SREM', u, id)
  end
end
return out
"
            )),
            // ARGV: prefix, now, ordinary idle cutoff, remembered idle cutoff
            delete_expired: with_delete(
                r"
local doomed = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'exp', '-inf', ARGV[2])) do doomed[id] = true end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'seen:0', '-inf', ARGV[3])) do doomed[id] = true end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'seen:1', '-inf', ARGV[4])) do doomed[id] = true end
local n = 0
for id in pairs(doomed) do n = n + delete_one(id) end
return n
",
            ),
            // KEYS: counter. ARGV: now, window. A window that has passed starts again from one.
            hit: Script::new(
                r"
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
",
            ),
            // KEYS: counter. ARGV: now, window.
            peek: Script::new(
                r"
local count, start = unpack(redis.call('HMGET', KEYS[1], 'count', 'start'))
if count and tonumber(start) > tonumber(ARGV[1]) - tonumber(ARGV[2]) then
  return {tonumber(count), tonumber(start)}
end
return {0, 0}
",
            ),
        }
    }
}

impl RedisStore {
    /// Connects to `url`, failing at start-up when Redis does not answer.
    pub async fn open(
        url: &str,
        database: &DatabaseConfig,
        session: &SessionConfig,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("database.session_store is not a Redis URL: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(database.timeout))
            .set_response_timeout(Some(database.timeout))
            .set_max_delay(std::time::Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| anyhow::anyhow!("cannot use the Redis session store: {e}"))?;
        let store = Self {
            conn,
            prefix: database.redis_key_prefix.clone(),
            idle: session.idle_timeout,
            remember_idle: session.remember_idle_timeout,
            scripts: Scripts::new(),
        };
        store
            .ping()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach the Redis session store: {e}"))?;
        Ok(store)
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn throttle_key(&self, key: &str) -> String {
        format!("{}t:{key}", self.prefix)
    }
}

fn redis_error(e: redis::RedisError) -> StoreError {
    let transient = e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || !matches!(e.retry_method(), RetryMethod::NoRetry);
    if transient {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Other(e.into())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// `[id, secret, user, created, seen, expires, remember, ua, ip]` -> a record.
fn record(fields: &[String]) -> StoreResult<SessionRecord> {
    let bad = || StoreError::Other(anyhow::anyhow!("malformed session in Redis"));
    let [id, secret, user, created, seen, expires, remember, ua, ip] = fields else {
        return Err(bad());
    };
    let int = |s: &String| s.parse::<i64>().map_err(|_| bad());
    let text = |s: &String| Some(s.clone()).filter(|s| !s.is_empty());
    Ok(SessionRecord {
        id: id.clone(),
        secret_hash: unhex(secret).ok_or_else(bad)?,
        user_id: int(user)?,
        created_at: from_unix(int(created)?),
        last_seen_at: from_unix(int(seen)?),
        expires_at: from_unix(int(expires)?),
        remember: remember == "1",
        user_agent: text(ua),
        ip: text(ip),
    })
}

/// Whole seconds, at least one (Redis refuses a TTL of zero).
fn ttl_secs(d: Duration) -> i64 {
    d.whole_seconds().max(1)
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, s: &SessionRecord) -> StoreResult<()> {
        let idle = if s.remember {
            self.remember_idle
        } else {
            self.idle
        };
        let ttl = ttl_secs((s.expires_at - s.last_seen_at).min(idle));
        // Optional texts travel with a leading marker so "absent" and "empty" differ.
        let opt = |v: &Option<String>| v.as_ref().map(|v| format!("+{v}")).unwrap_or_default();
        let _: i64 = self
            .scripts
            .create
            .arg(&self.prefix)
            .arg(&s.id)
            .arg(hex(&s.secret_hash))
            .arg(s.user_id)
            .arg(s.created_at.unix_timestamp())
            .arg(s.last_seen_at.unix_timestamp())
            .arg(s.expires_at.unix_timestamp())
            .arg(u8::from(s.remember))
            .arg(ttl)
            .arg(opt(&s.user_agent))
            .arg(opt(&s.ip))
            .invoke_async(&mut self.conn())
            .await
            .map_err(redis_error)?;
        Ok(())
    }

    async fn find_by_secret_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<SessionRecord>> {
        let fields: Vec<Option<String>> = self
            .scripts
            .find
            .arg(&self.prefix)
            .arg(hex(hash))
            .invoke_async(&mut self.conn())
            .await
            .map_err(redis_error)?;
        if fields.is_empty() {
            return Ok(None);
        }
        let fields: Vec<String> = fields.into_iter().map(Option::unwrap_or_default).collect();
        record(&fields).map(Some)
    }

    async fn touch(&self, id: &str, last_seen_at: OffsetDateTime) -> StoreResult<()> {
        let _: i64 = self
            .scripts
            .touch
            .arg(&self.prefix)
            .arg(id)
            .arg(last_seen_at.unix_timestamp())
            .arg(ttl_secs(self.idle))
            .arg(ttl_secs(self.remember_idle))
            .invoke_async(&mut self.conn())
            .await
            .map_err(redis_error)?;
        Ok(())
    }

    async fn delete(&self, id: &str) -> StoreResult<bool> {
        let n: i64 = self
            .scripts
            .delete
            .arg(&self.prefix)
            .arg(id)
            .invoke_async(&mut self.conn())
            .await
            .map_err(redis_error)?;
        Ok(n > 0)
    }

    async fn delete_for_user(&self, user_id: UserId) -> StoreResult<u64> {
        self.delete_others(user_id, "").await
    }

    async fn delete_others(&self, user_id: UserId, keep: &str) -> StoreResult<u64> {
        let n: u64 = self
            .scripts
            .delete_for_user
            .arg(&self.prefix)
            .arg(user_id)
            .arg(keep)
            .invoke_async(&mut self.conn())
            .await
            .map_err(redis_error)?;
        Ok(n)
    }

    async fn list_for_user(&self, user_id: UserId) -> StoreResult<Vec<SessionRecord>> {
        let flat: Vec<String> = self
            .scripts
            .list
            .arg(&self.prefix)
            .arg(user_id)
            .invoke_async(&mut self.conn())
            .await
            .map_err(redis_error)?;
        let mut sessions = flat
            .chunks(9)
            .map(record)
            .collect::<StoreResult<Vec<_>>>()?;
        sessions.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(sessions)
    }

    async fn delete_expired(&self, now: OffsetDateTime, idle: IdleCutoffs) -> StoreResult<u64> {
        let n: u64 = self
            .scripts
            .delete_expired
            .arg(&self.prefix)
            .arg(now.unix_timestamp())
            .arg(idle.ordinary.unix_timestamp())
            .arg(idle.remembered.unix_timestamp())
            .invoke_async(&mut self.conn())
            .await
            .map_err(redis_error)?;
        Ok(n)
    }

    /// Counts by absolute expiry; a session Redis already dropped at its idle timeout is still
    /// counted until the next sweep removes it from the index.
    async fn count_active(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let n: u64 = redis::cmd("ZCOUNT")
            .arg(format!("{}exp", self.prefix))
            .arg(format!("({}", now.unix_timestamp()))
            .arg("+inf")
            .query_async(&mut self.conn())
            .await
            .map_err(redis_error)?;
        Ok(n)
    }
}

#[async_trait]
impl Ping for RedisStore {
    async fn ping(&self) -> StoreResult<()> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.conn())
            .await
            .map_err(redis_error)?;
        Ok(())
    }
}

#[async_trait]
impl ThrottleStore for RedisStore {
    async fn hit(&self, key: &str, now: OffsetDateTime, window: Duration) -> StoreResult<Counter> {
        let (count, start): (u32, i64) = self
            .scripts
            .hit
            .key(self.throttle_key(key))
            .arg(now.unix_timestamp())
            .arg(window.whole_seconds())
            .invoke_async(&mut self.conn())
            .await
            .map_err(redis_error)?;
        Ok(Counter {
            count,
            resets_at: from_unix(start) + window,
        })
    }

    async fn peek(&self, key: &str, now: OffsetDateTime, window: Duration) -> StoreResult<Counter> {
        let (count, start): (u32, i64) = self
            .scripts
            .peek
            .key(self.throttle_key(key))
            .arg(now.unix_timestamp())
            .arg(window.whole_seconds())
            .invoke_async(&mut self.conn())
            .await
            .map_err(redis_error)?;
        Ok(if count == 0 {
            Counter {
                count: 0,
                resets_at: now,
            }
        } else {
            Counter {
                count,
                resets_at: from_unix(start) + window,
            }
        })
    }

    async fn clear(&self, key: &str) -> StoreResult<()> {
        let _: i64 = redis::cmd("DEL")
            .arg(self.throttle_key(key))
            .query_async(&mut self.conn())
            .await
            .map_err(redis_error)?;
        Ok(())
    }
}
