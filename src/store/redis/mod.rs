//! Sessions and failed-login counters in Redis, shared by every node (`database.session_store`).
//!
//! Each session is a hash `s:{id}` beside a lookup key `h:{secret hash}`; both carry a TTL that
//! ends the session in Redis at its idle or absolute expiry, whichever comes first. A set
//! `u:{user}` indexes a user's sessions (for listing and revoke-all), and sorted sets by expiry
//! and by last activity let the sweeper and the metrics find sessions without scanning keys.
//! Every change is one Lua script, so two nodes touching or revoking one session at once never
//! lose an update or leave an index half-written. The connection manager reconnects by itself.
//! WebAuthn ceremony states are plain keys `w:{key}` holding `{expiry}|{state}`, read and
//! deleted in one `GETDEL`.

use std::sync::Arc;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RetryMethod, Script};
use time::{Duration, OffsetDateTime};

use super::{
    CeremonyStore, Counter, IdleCutoffs, Ping, SessionRecord, SessionStore, StoreError,
    StoreResult, ThrottleStore,
};
use crate::account::records::UserId;
use crate::clock::from_unix;
use crate::config::{DatabaseConfig, SessionConfig};

pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    idle: Duration,
    remember_idle: Duration,
    scripts: Scripts,
}

/// Fields of a session in the replies of `find.lua` and `list.lua` (after its id): secret,
/// user, created, seen, expires, remember, ua, ip.
const FIELD_COUNT: usize = 8;

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
        // Scripts that delete sessions share one Lua function, prepended to their body.
        let with_delete = |body: &str| {
            Script::new(&format!(
                "local P = ARGV[1]\n{}{body}",
                include_str!("delete_one.lua")
            ))
        };
        Self {
            create: Script::new(include_str!("create.lua")),
            find: Script::new(include_str!("find.lua")),
            touch: Script::new(include_str!("touch.lua")),
            delete: with_delete(include_str!("delete.lua")),
            delete_for_user: with_delete(include_str!("delete_for_user.lua")),
            list: Script::new(include_str!("list.lua")),
            delete_expired: with_delete(include_str!("delete_expired.lua")),
            hit: Script::new(include_str!("hit.lua")),
            peek: Script::new(include_str!("peek.lua")),
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

    async fn find_by_secret_hash(
        &self,
        hash: &[u8; 32],
    ) -> StoreResult<Option<Arc<SessionRecord>>> {
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
        record(&fields).map(|r| Some(Arc::new(r)))
    }

    async fn touch(
        &self,
        session: &SessionRecord,
        last_seen_at: OffsetDateTime,
    ) -> StoreResult<()> {
        let _: i64 = self
            .scripts
            .touch
            .arg(&self.prefix)
            .arg(&session.id)
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
            .chunks(1 + FIELD_COUNT)
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

/// How long Redis keeps a ceremony state at most: a backstop only, since the expiry written in
/// the value (by the injected clock) is what decides.
const CEREMONY_BACKSTOP_SECS: u64 = 15 * 60;

#[async_trait]
impl CeremonyStore for RedisStore {
    async fn put_ceremony(
        &self,
        key: &[u8; 32],
        state: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        let _: () = redis::cmd("SET")
            .arg(format!("{}w:{}", self.prefix, hex(key)))
            .arg(format!("{}|{state}", expires_at.unix_timestamp()))
            .arg("EX")
            .arg(CEREMONY_BACKSTOP_SECS)
            .query_async(&mut self.conn())
            .await
            .map_err(redis_error)?;
        Ok(())
    }

    async fn take_ceremony(
        &self,
        key: &[u8; 32],
        now: OffsetDateTime,
    ) -> StoreResult<Option<String>> {
        let value: Option<String> = redis::cmd("GETDEL")
            .arg(format!("{}w:{}", self.prefix, hex(key)))
            .query_async(&mut self.conn())
            .await
            .map_err(redis_error)?;
        let Some((expires, state)) = value.as_deref().and_then(|v| v.split_once('|')) else {
            return Ok(None);
        };
        let expires: i64 = expires
            .parse()
            .map_err(|_| StoreError::Other(anyhow::anyhow!("malformed ceremony in Redis")))?;
        Ok((expires > now.unix_timestamp()).then(|| state.to_owned()))
    }

    /// Redis drops them by itself (the backstop TTL).
    async fn delete_expired_ceremonies(&self, _now: OffsetDateTime) -> StoreResult<u64> {
        Ok(0)
    }
}
