//! A short-lived per-node cache in front of the session and user stores, so that a session
//! check (the work in front of every API call) usually needs no database round trip.
//!
//! Revocation stays safe. Every write made through this node's stores empties the cache before
//! the write's caller goes on, so a revoked session, a disabled user or a changed role is seen on
//! the very next request to this node. Writes made elsewhere (another node, the admin CLI) are
//! seen once the cached entry is older than `session.cache_ttl_ms` (default 1 s). A read that
//! raced with a local write never puts its (possibly old) answer in the cache: entries are only
//! kept if no write happened since the read began. Unknown secrets are never cached, and the
//! cache never holds more than [`MAX_ENTRIES`] entries of each kind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{
    Credentials, IdleCutoffs, NewUser, SessionRecord, SessionStore, StoreResult, UserStore,
    UserUpdate,
};
use crate::account::{User, UserId, Username};

/// Most entries kept per map; past it, stale entries are dropped, then everything.
pub const MAX_ENTRIES: usize = 100_000;

struct Entry<T> {
    loaded: Instant,
    value: T,
}

#[derive(Default)]
struct Maps {
    /// Bumped by every local write; a read only caches what it loaded in the same generation.
    generation: u64,
    sessions: HashMap<[u8; 32], Entry<SessionRecord>>,
    /// Session id -> secret hash, to update an entry when its session is touched.
    session_ids: HashMap<String, [u8; 32]>,
    users: HashMap<UserId, Entry<User>>,
}

impl Maps {
    fn invalidate(&mut self) {
        self.generation += 1;
        self.sessions.clear();
        self.session_ids.clear();
        self.users.clear();
    }
}

/// Wraps a session store and a user store (usually the same backend) with the cache.
pub struct Cached {
    sessions: Arc<dyn SessionStore>,
    users: Arc<dyn UserStore>,
    ttl: Duration,
    maps: Mutex<Maps>,
}

impl Cached {
    pub fn new(sessions: Arc<dyn SessionStore>, users: Arc<dyn UserStore>, ttl: Duration) -> Self {
        Self {
            sessions,
            users,
            ttl,
            maps: Mutex::new(Maps::default()),
        }
    }

    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        // The maps hold no invariant a panicking holder could break half-way: a poisoned lock
        // is still safe to use.
        self.maps.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh<T: Clone>(&self, entry: Option<&Entry<T>>) -> Option<T> {
        entry
            .filter(|e| e.loaded.elapsed() < self.ttl)
            .map(|e| e.value.clone())
    }

    /// Empties the cache after a local write (called once the write is done).
    fn written<T>(&self, result: StoreResult<T>) -> StoreResult<T> {
        self.maps().invalidate();
        result
    }
}

/// Drops stale entries when a map is full, and everything if that is not enough.
fn make_room<K, T>(map: &mut HashMap<K, Entry<T>>, ttl: Duration) -> bool {
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, e| e.loaded.elapsed() < ttl);
        if map.len() >= MAX_ENTRIES {
            map.clear();
            return true;
        }
    }
    false
}

#[async_trait]
impl SessionStore for Cached {
    async fn create(&self, session: &SessionRecord) -> StoreResult<()> {
        // A new secret: nothing cached can be about it.
        self.sessions.create(session).await
    }

    async fn find_by_secret_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<SessionRecord>> {
        let generation = {
            let maps = self.maps();
            if let Some(hit) = self.fresh(maps.sessions.get(hash)) {
                return Ok(Some(hit));
            }
            maps.generation
        };
        let found = self.sessions.find_by_secret_hash(hash).await?;
        if let Some(session) = &found {
            let mut maps = self.maps();
            if maps.generation == generation {
                if make_room(&mut maps.sessions, self.ttl) {
                    maps.session_ids.clear();
                }
                maps.session_ids.insert(session.id.clone(), *hash);
                let entry = Entry {
                    loaded: Instant::now(),
                    value: session.clone(),
                };
                maps.sessions.insert(*hash, entry);
            }
        }
        Ok(found)
    }

    async fn touch(&self, id: &str, last_seen_at: OffsetDateTime) -> StoreResult<()> {
        self.sessions.touch(id, last_seen_at).await?;
        // Keep the cached copy in step, so the next check does not touch again.
        let mut maps = self.maps();
        if let Some(hash) = maps.session_ids.get(id).copied()
            && let Some(entry) = maps.sessions.get_mut(&hash)
        {
            entry.value.last_seen_at = entry.value.last_seen_at.max(last_seen_at);
        }
        Ok(())
    }

    async fn delete(&self, id: &str) -> StoreResult<bool> {
        self.written(self.sessions.delete(id).await)
    }

    async fn delete_for_user(&self, user_id: UserId) -> StoreResult<u64> {
        self.written(self.sessions.delete_for_user(user_id).await)
    }

    async fn delete_others(&self, user_id: UserId, keep: &str) -> StoreResult<u64> {
        self.written(self.sessions.delete_others(user_id, keep).await)
    }

    async fn list_for_user(&self, user_id: UserId) -> StoreResult<Vec<SessionRecord>> {
        self.sessions.list_for_user(user_id).await
    }

    async fn delete_expired(
        &self,
        now: OffsetDateTime,
        idle_cutoffs: IdleCutoffs,
    ) -> StoreResult<u64> {
        self.written(self.sessions.delete_expired(now, idle_cutoffs).await)
    }

    async fn count_active(&self, now: OffsetDateTime) -> StoreResult<u64> {
        self.sessions.count_active(now).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.sessions.ping().await
    }
}

#[async_trait]
impl UserStore for Cached {
    async fn create(&self, user: NewUser) -> StoreResult<User> {
        self.users.create(user).await
    }

    async fn get(&self, id: UserId) -> StoreResult<Option<User>> {
        let generation = {
            let maps = self.maps();
            if let Some(hit) = self.fresh(maps.users.get(&id)) {
                return Ok(Some(hit));
            }
            maps.generation
        };
        let found = self.users.get(id).await?;
        if let Some(user) = &found {
            let mut maps = self.maps();
            if maps.generation == generation {
                make_room(&mut maps.users, self.ttl);
                let entry = Entry {
                    loaded: Instant::now(),
                    value: user.clone(),
                };
                maps.users.insert(id, entry);
            }
        }
        Ok(found)
    }

    async fn credentials(&self, username: &Username) -> StoreResult<Option<Credentials>> {
        self.users.credentials(username).await
    }

    async fn list(&self) -> StoreResult<Vec<User>> {
        self.users.list().await
    }

    async fn update(&self, id: UserId, update: UserUpdate) -> StoreResult<Option<User>> {
        self.written(self.users.update(id, update).await)
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<bool> {
        self.written(self.users.set_password_hash(id, hash).await)
    }

    async fn update_profile(
        &self,
        id: UserId,
        name: Option<Option<String>>,
        email: Option<Option<String>>,
    ) -> StoreResult<Option<User>> {
        self.written(self.users.update_profile(id, name, email).await)
    }

    async fn delete(&self, id: UserId) -> StoreResult<bool> {
        self.written(self.users.delete(id).await)
    }
}
