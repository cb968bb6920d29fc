//! A short-lived per-node cache in front of the session, user and directory stores, so that a
//! session check (the work in front of every API call) and a read of one employee usually need
//! no database round trip.
//!
//! Revocation stays safe. Every write made through this node's stores empties the cache before
//! the write's caller goes on, so a revoked session, a disabled user or a changed role is seen on
//! the very next request to this node. Writes made elsewhere (another node, the admin CLI) are
//! seen once the cached entry is older than `session.cache_ttl_ms` (default 1 s). A read that
//! raced with a local write never puts its (possibly old) answer in the cache: entries are only
//! kept if no write happened since the read began. Unknown secrets are never cached, and the
//! cache never holds more than [`MAX_ENTRIES`] entries of each kind.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{
    Credentials, EmployeeStore, IdleCutoffs, NewUser, SessionRecord, SessionStore, StoreResult,
    UserStore, UserUpdate,
};
use crate::account::records::{DisplayName, Email, User, UserId, Username};
use crate::clock::Clock;
use crate::directory::records::{Employee, EmployeeId, EmployeeInput, EmployeeSummary};

/// Most entries kept per map; past it, stale entries are dropped, then everything.
pub const MAX_ENTRIES: usize = 100_000;

struct Entry<T> {
    loaded: OffsetDateTime,
    value: T,
}

#[derive(Default)]
struct Maps {
    /// Bumped by every local write; a read only caches what it loaded in the same generation.
    generation: u64,
    sessions: HashMap<[u8; 32], Entry<Arc<SessionRecord>>>,
    users: HashMap<UserId, Entry<Arc<User>>>,
    employees: HashMap<EmployeeId, Entry<Arc<Employee>>>,
}

impl Maps {
    fn invalidate(&mut self) {
        self.generation += 1;
        self.sessions.clear();
        self.users.clear();
        self.employees.clear();
    }
}

/// Wraps the session, user and directory stores (usually one backend) with the cache.
pub struct Cached {
    sessions: Arc<dyn SessionStore>,
    users: Arc<dyn UserStore>,
    employees: Arc<dyn EmployeeStore>,
    ttl: time::Duration,
    max_entries: usize,
    maps: Mutex<Maps>,
    clock: Arc<dyn Clock>,
}

impl Cached {
    pub fn new(
        sessions: Arc<dyn SessionStore>,
        users: Arc<dyn UserStore>,
        employees: Arc<dyn EmployeeStore>,
        ttl: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            sessions,
            users,
            employees,
            ttl: time::Duration::try_from(ttl).unwrap_or(time::Duration::ZERO),
            clock,
            max_entries: MAX_ENTRIES,
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
            .filter(|e| self.clock.now() - e.loaded < self.ttl)
            .map(|e| e.value.clone())
    }

    /// Answers from the map `pick` chooses while the entry is fresh; otherwise loads, and keeps
    /// what was found unless a local write happened since the load began. (`load` is only
    /// called on a miss: each store call boxes its future.)
    async fn read_through<K: Copy + Eq + Hash, T: Clone, F>(
        &self,
        key: K,
        pick: fn(&mut Maps) -> &mut HashMap<K, Entry<T>>,
        load: impl FnOnce() -> F,
    ) -> StoreResult<Option<T>>
    where
        F: Future<Output = StoreResult<Option<T>>>,
    {
        let generation = {
            let mut maps = self.maps();
            if let Some(hit) = self.fresh(pick(&mut maps).get(&key)) {
                return Ok(Some(hit));
            }
            maps.generation
        };
        let found = load().await?;
        if let Some(value) = &found {
            let mut maps = self.maps();
            if maps.generation == generation {
                let map = pick(&mut maps);
                make_room(map, self.clock.now() - self.ttl, self.max_entries);
                let entry = Entry {
                    loaded: self.clock.now(),
                    value: value.clone(),
                };
                map.insert(key, entry);
            }
        }
        Ok(found)
    }

    /// Empties the cache after a local write (called once the write is done).
    fn written<T>(&self, result: StoreResult<T>) -> StoreResult<T> {
        self.maps().invalidate();
        result
    }
}

/// Drops entries loaded before `stale_before` when a map is full, and everything if that is not
/// enough; `true` if anything was dropped.
fn make_room<K, T>(
    map: &mut HashMap<K, Entry<T>>,
    stale_before: OffsetDateTime,
    max: usize,
) -> bool {
    if map.len() < max {
        return false;
    }
    map.retain(|_, e| e.loaded > stale_before);
    if map.len() >= max {
        map.clear();
    }
    true
}

#[async_trait]
impl SessionStore for Cached {
    async fn create(&self, session: &SessionRecord) -> StoreResult<()> {
        // A new secret: nothing cached can be about it.
        self.sessions.create(session).await
    }

    async fn find_by_secret_hash(
        &self,
        hash: &[u8; 32],
    ) -> StoreResult<Option<Arc<SessionRecord>>> {
        self.read_through(
            *hash,
            |m| &mut m.sessions,
            || self.sessions.find_by_secret_hash(hash),
        )
        .await
    }

    async fn touch(
        &self,
        session: &SessionRecord,
        last_seen_at: OffsetDateTime,
    ) -> StoreResult<()> {
        self.sessions.touch(session, last_seen_at).await?;
        // Keep the cached copy in step, so the next check does not touch again.
        if let Some(entry) = self.maps().sessions.get_mut(&session.secret_hash) {
            let cached = Arc::make_mut(&mut entry.value);
            cached.last_seen_at = cached.last_seen_at.max(last_seen_at);
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
}

#[async_trait]
impl UserStore for Cached {
    async fn create(&self, user: NewUser) -> StoreResult<User> {
        self.users.create(user).await
    }

    async fn get(&self, id: UserId) -> StoreResult<Option<Arc<User>>> {
        self.read_through(id, |m| &mut m.users, || self.users.get(id))
            .await
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
        name: Option<Option<DisplayName>>,
        email: Option<Option<Email>>,
    ) -> StoreResult<Option<User>> {
        self.written(self.users.update_profile(id, name, email).await)
    }

    async fn delete(&self, id: UserId) -> StoreResult<bool> {
        self.written(self.users.delete(id).await)
    }

    async fn mark_email_verified(&self, id: UserId, email: &Email) -> StoreResult<bool> {
        self.written(self.users.mark_email_verified(id, email).await)
    }

    async fn with_verified_email(&self, email: &Email) -> StoreResult<Vec<User>> {
        self.users.with_verified_email(email).await
    }
}

#[async_trait]
impl EmployeeStore for Cached {
    async fn list(&self, name: Option<&str>) -> StoreResult<Vec<EmployeeSummary>> {
        self.employees.list(name).await
    }

    async fn modified_since(&self, since: OffsetDateTime) -> StoreResult<Vec<EmployeeSummary>> {
        self.employees.modified_since(since).await
    }

    async fn get(&self, id: EmployeeId) -> StoreResult<Option<Arc<Employee>>> {
        self.read_through(id, |m| &mut m.employees, || self.employees.get(id))
            .await
    }

    async fn reports(&self, id: EmployeeId) -> StoreResult<Vec<EmployeeSummary>> {
        self.employees.reports(id).await
    }

    async fn manager_of(&self, id: EmployeeId) -> StoreResult<Option<Option<EmployeeId>>> {
        self.employees.manager_of(id).await
    }

    async fn create(&self, input: &EmployeeInput, now: OffsetDateTime) -> StoreResult<Employee> {
        self.written(self.employees.create(input, now).await)
    }

    async fn update(
        &self,
        id: EmployeeId,
        input: &EmployeeInput,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Employee>> {
        self.written(self.employees.update(id, input, now).await)
    }

    async fn delete(&self, id: EmployeeId, now: OffsetDateTime) -> StoreResult<bool> {
        self.written(self.employees.delete(id, now).await)
    }

    async fn count(&self) -> StoreResult<i64> {
        self.employees.count().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::records::Role;
    use crate::clock::ManualClock;
    use crate::config::DatabaseConfig;
    use crate::store::SqliteStore;

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(
            time::macros::datetime!(2026-01-01 12:00 UTC),
        ))
    }

    async fn store(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
        let url = format!("sqlite://{}", dir.path().join("cache.db").display());
        let config = DatabaseConfig {
            url,
            max_connections: 1,
            session_store: None,
            redis_key_prefix: String::new(),
            timeout: std::time::Duration::from_secs(5),
        };
        Arc::new(SqliteStore::open(&config).await.unwrap())
    }

    async fn user(sqlite: &SqliteStore, name: &str) -> User {
        let new = NewUser {
            username: Username::parse(name).unwrap(),
            password_hash: "x".into(),
            role: Role::User,
            name: None,
            email: None,
            created_at: OffsetDateTime::now_utc(),
        };
        UserStore::create(sqlite, new).await.unwrap()
    }

    /// A cache in front of `sqlite` whose entries stay fresh for an hour.
    fn hour_long(sqlite: &Arc<SqliteStore>) -> Cached {
        Cached::new(
            sqlite.clone(),
            sqlite.clone(),
            sqlite.clone(),
            Duration::from_secs(3600),
            clock(),
        )
    }

    fn session(n: u8, user_id: UserId) -> SessionRecord {
        let now = OffsetDateTime::now_utc();
        SessionRecord {
            id: format!("s{n}"),
            secret_hash: [n; 32],
            user_id,
            created_at: now,
            last_seen_at: now,
            expires_at: now + time::Duration::hours(1),
            remember: false,
            user_agent: None,
            ip: None,
        }
    }

    #[tokio::test]
    async fn the_session_cache_stays_within_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = store(&dir).await;
        let user = user(&sqlite, "dora").await;
        // Entries go stale at once, so a full map is pruned rather than emptied.
        let clock = clock();
        let mut cache = Cached::new(
            sqlite.clone(),
            sqlite.clone(),
            sqlite,
            Duration::from_millis(1),
            clock.clone(),
        );
        cache.max_entries = 4;
        for n in 0..10 {
            clock.advance(time::Duration::milliseconds(2));
            SessionStore::create(&cache, &session(n, user.id))
                .await
                .unwrap();
            let found = cache.find_by_secret_hash(&[n; 32]).await.unwrap();
            assert_eq!(found.map(|s| s.id.clone()), Some(format!("s{n}")));
            let maps = cache.maps();
            assert!(maps.sessions.len() <= 4);
        }
    }

    #[tokio::test]
    async fn a_touch_through_the_cache_moves_the_cached_copy_forward_too() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = store(&dir).await;
        let user = user(&sqlite, "finn").await;
        let cache = hour_long(&sqlite);
        let record = session(1, user.id);
        SessionStore::create(&cache, &record).await.unwrap();
        let found = cache.find_by_secret_hash(&[1; 32]).await.unwrap().unwrap();
        let later = record.last_seen_at + time::Duration::minutes(5);
        cache.touch(&found, later).await.unwrap();
        // Answered from the cache (the lifetime is an hour), and already moved forward.
        let cached = cache.find_by_secret_hash(&[1; 32]).await.unwrap().unwrap();
        assert_eq!(cached.last_seen_at, later);
        let stored = sqlite.find_by_secret_hash(&[1; 32]).await.unwrap().unwrap();
        assert_eq!(stored.last_seen_at.unix_timestamp(), later.unix_timestamp());
        // An older touch never moves the cached copy back.
        cache.touch(&found, record.last_seen_at).await.unwrap();
        let cached = cache.find_by_secret_hash(&[1; 32]).await.unwrap().unwrap();
        assert_eq!(cached.last_seen_at, later);
    }

    #[tokio::test]
    async fn a_local_delete_is_seen_at_once_even_with_a_long_lifetime() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = store(&dir).await;
        let user = user(&sqlite, "emil").await;
        let cache = hour_long(&sqlite);
        SessionStore::create(&cache, &session(1, user.id))
            .await
            .unwrap();
        assert!(cache.find_by_secret_hash(&[1; 32]).await.unwrap().is_some());
        assert!(SessionStore::delete(&cache, "s1").await.unwrap());
        assert_eq!(cache.find_by_secret_hash(&[1; 32]).await.unwrap(), None);
        // A delete made behind the cache's back (another node) is not seen within the lifetime.
        SessionStore::create(&cache, &session(2, user.id))
            .await
            .unwrap();
        assert!(cache.find_by_secret_hash(&[2; 32]).await.unwrap().is_some());
        assert!(SessionStore::delete(&*sqlite, "s2").await.unwrap());
        assert!(cache.find_by_secret_hash(&[2; 32]).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn an_employee_changed_through_the_cache_is_seen_at_once_and_one_changed_elsewhere_within_the_lifetime()
     {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = store(&dir).await;
        let cache = hour_long(&sqlite);
        let titled = |title: &str| EmployeeInput {
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            title: Some(title.into()),
            ..EmployeeInput::default()
        };
        let now = OffsetDateTime::now_utc();
        let title = |e: Option<Arc<Employee>>| e.and_then(|e| e.title.clone());
        let ada = EmployeeStore::create(&cache, &titled("Analyst"), now)
            .await
            .unwrap();
        assert_eq!(
            title(EmployeeStore::get(&cache, ada.id).await.unwrap()).as_deref(),
            Some("Analyst")
        );

        EmployeeStore::update(&cache, ada.id, &titled("Engineer"), now)
            .await
            .unwrap();
        assert_eq!(
            title(EmployeeStore::get(&cache, ada.id).await.unwrap()).as_deref(),
            Some("Engineer")
        );

        // Changed behind the cache's back (another node): the cached record stays until it ages.
        EmployeeStore::update(&*sqlite, ada.id, &titled("Director"), now)
            .await
            .unwrap();
        assert_eq!(
            title(EmployeeStore::get(&cache, ada.id).await.unwrap()).as_deref(),
            Some("Engineer")
        );
        assert!(EmployeeStore::delete(&cache, ada.id, now).await.unwrap());
        assert_eq!(EmployeeStore::get(&cache, ada.id).await.unwrap(), None);
    }
}
