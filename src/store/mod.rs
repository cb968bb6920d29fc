//! Persistence behind small traits: users, sessions, throttle counters, audit, directory.
//!
//! Handlers and the session layer only see `Arc<dyn Trait>`; each backend lives in its own file
//! (SQLite and PostgreSQL share their SQL through `sql`; Redis holds sessions and throttle
//! counters) and is held to the same behaviour by one conformance suite (`tests/api/store.rs`).
//! Every operation is bounded in time (`bounded`), so a store that does not answer fails fast.
//! Expiry is decided by the caller with the injected clock; stores only keep times.

mod bounded;
mod cache;
mod postgres;
mod redis;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::records::{DisplayName, Email, Role, User, UserId, Username};
use crate::config::{DatabaseConfig, SessionConfig};
use crate::directory::records::{Employee, EmployeeId, EmployeeInput, EmployeeSummary};

pub use postgres::PostgresStore;
pub use redis::RedisStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("username taken")]
    UsernameTaken,
    #[error("the manager does not exist")]
    UnknownManager,
    #[error("store error: {0}")]
    Other(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An unreachable store is a 503 the client may retry; anything else is a bare 500.
impl From<StoreError> for crate::error::ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::StoreUnavailable,
            other => Self::Internal(other.into()),
        }
    }
}

/// What sign-up or the CLI hands the store.
#[derive(Debug)]
pub struct NewUser {
    pub username: Username,
    pub password_hash: String,
    pub role: Role,
    pub name: Option<DisplayName>,
    pub email: Option<Email>,
    pub created_at: OffsetDateTime,
}

/// A user with the password hash, for verifying a login.
#[derive(Debug)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// Admin changes to a user; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserUpdate {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    async fn create(&self, user: NewUser) -> StoreResult<User>;
    /// Shared, so the cache in front hands out the record it holds rather than a copy.
    async fn get(&self, id: UserId) -> StoreResult<Option<Arc<User>>>;
    async fn credentials(&self, username: &Username) -> StoreResult<Option<Credentials>>;
    async fn list(&self) -> StoreResult<Vec<User>>;
    async fn update(&self, id: UserId, update: UserUpdate) -> StoreResult<Option<User>>;
    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<bool>;
    /// Sets name and e-mail; `None` leaves a field as it is, `Some(None)` clears it.
    async fn update_profile(
        &self,
        id: UserId,
        name: Option<Option<DisplayName>>,
        email: Option<Option<Email>>,
    ) -> StoreResult<Option<User>>;
    /// Deletes a user and, with them, their sessions.
    async fn delete(&self, id: UserId) -> StoreResult<bool>;
    /// Marks `email` verified if it is still the user's address; `false` otherwise.
    async fn mark_email_verified(&self, id: UserId, email: &Email) -> StoreResult<bool>;
    /// The accounts whose verified address is `email` (ignoring case).
    async fn with_verified_email(&self, email: &Email) -> StoreResult<Vec<User>>;
}

/// What a mailed token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenPurpose {
    PasswordReset,
    EmailVerification,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::EmailVerification => "email_verification",
        }
    }
}

/// A mailed single-use token; only its hash is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct MailToken {
    pub hash: [u8; 32],
    pub user_id: UserId,
    pub purpose: TokenPurpose,
    /// The address the mail went to (for verification: the address being proved).
    pub email: Email,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Password-reset and verification tokens, kept in the database (not the session store).
#[async_trait]
pub trait MailTokenStore: Send + Sync + 'static {
    /// Stores `token` and deletes every other token of its user and purpose: only the newest
    /// one lives.
    async fn replace(&self, token: &MailToken) -> StoreResult<()>;
    /// The token with this hash and purpose, left in place.
    async fn find(&self, hash: &[u8; 32], purpose: TokenPurpose) -> StoreResult<Option<MailToken>>;
    /// Deletes the token with this hash and purpose and returns it (so it is used once).
    async fn take(&self, hash: &[u8; 32], purpose: TokenPurpose) -> StoreResult<Option<MailToken>>;
    /// Deletes every token of a user for `purpose`; the number deleted.
    async fn delete_for_user(&self, user_id: UserId, purpose: TokenPurpose) -> StoreResult<u64>;
    /// Deletes tokens past their expiry; the number deleted.
    async fn delete_expired(&self, now: OffsetDateTime) -> StoreResult<u64>;
}

/// A stored session. The secret itself is never stored, only its hash.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRecord {
    /// Public, non-secret handle (the `id` of `GET /session`).
    pub id: String,
    pub secret_hash: [u8; 32],
    pub user_id: UserId,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// Absolute expiry.
    pub expires_at: OffsetDateTime,
    pub remember: bool,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    async fn create(&self, session: &SessionRecord) -> StoreResult<()>;
    /// Shared, so the cache in front hands out the record it holds rather than a copy.
    async fn find_by_secret_hash(&self, hash: &[u8; 32])
    -> StoreResult<Option<Arc<SessionRecord>>>;
    /// Moves the session's `last_seen_at` forward (never back). Takes the record as found:
    /// backends write by its id, the cache in front updates its copy by its secret hash.
    async fn touch(&self, session: &SessionRecord, last_seen_at: OffsetDateTime)
    -> StoreResult<()>;
    /// Deletes one session; `true` if it existed.
    async fn delete(&self, id: &str) -> StoreResult<bool>;
    /// Deletes every session of a user; the number deleted.
    async fn delete_for_user(&self, user_id: UserId) -> StoreResult<u64>;
    /// Deletes every session of a user but `keep`; the number deleted.
    async fn delete_others(&self, user_id: UserId, keep: &str) -> StoreResult<u64>;
    async fn list_for_user(&self, user_id: UserId) -> StoreResult<Vec<SessionRecord>>;
    /// Deletes sessions past their absolute expiry, or idle since before their cutoff (one for
    /// ordinary sessions, one for "remember me" ones); the number deleted.
    async fn delete_expired(
        &self,
        now: OffsetDateTime,
        idle_cutoffs: IdleCutoffs,
    ) -> StoreResult<u64>;
    /// Sessions not past their absolute expiry.
    async fn count_active(&self, now: OffsetDateTime) -> StoreResult<u64>;
}

/// An account's TOTP factor.
#[derive(Clone, Debug, PartialEq)]
pub struct TotpFactor {
    /// The secret, sealed (`crypto::seal`); never stored in the clear.
    pub sealed: Vec<u8>,
    /// False while enrolment waits for its first code.
    pub confirmed: bool,
    /// The newest time step a code was accepted for.
    pub last_step: i64,
}

/// Second factors, kept in the database.
#[async_trait]
pub trait FactorStore: Send + Sync + 'static {
    /// Stores a TOTP secret waiting for confirmation, replacing a pending one; `false` (and
    /// nothing changed) when the account has a confirmed one.
    async fn begin_totp(
        &self,
        user_id: UserId,
        sealed: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
    async fn totp(&self, user_id: UserId) -> StoreResult<Option<TotpFactor>>;
    /// Records `step` as used if it is newer than the last one, atomically; with `confirm`,
    /// only on a pending factor, which it confirms (enrolment), else only on a confirmed one.
    /// `false` for a replay or the wrong state.
    async fn use_totp_step(&self, user_id: UserId, step: i64, confirm: bool) -> StoreResult<bool>;
    /// Deletes the TOTP factor, and the recovery codes unless a passkey is left; `true` if
    /// there was a TOTP factor.
    async fn remove_totp(&self, user_id: UserId) -> StoreResult<bool>;
    /// Deletes every factor (TOTP, passkeys, recovery codes); `true` if there was one.
    async fn remove_factors(&self, user_id: UserId) -> StoreResult<bool>;
    /// Replaces every recovery code of the account with these hashes.
    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        hashes: &[[u8; 32]],
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Deletes the code with this hash if the account has it (single use); `true` if it did.
    async fn use_recovery_code(&self, user_id: UserId, hash: &[u8; 32]) -> StoreResult<bool>;
    async fn recovery_codes_left(&self, user_id: UserId) -> StoreResult<u64>;
}

/// A registered passkey. The credential is webauthn-rs's serialised `Passkey` (public key,
/// counter, flags): nothing secret.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredPasskey {
    /// Public handle (random), for the holder's list.
    pub id: String,
    pub user_id: UserId,
    pub credential_id: Vec<u8>,
    pub name: String,
    pub credential: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// Passkeys and the per-account user handle, kept in the database beside the other factors.
#[async_trait]
pub trait PasskeyStore: Send + Sync + 'static {
    /// The account's user handle; `fresh` is stored and returned if it has none yet.
    async fn user_handle(&self, user_id: UserId, fresh: &[u8]) -> StoreResult<Vec<u8>>;
    /// The account a user handle belongs to.
    async fn user_for_handle(&self, handle: &[u8]) -> StoreResult<Option<UserId>>;
    /// Stores a passkey; `false` (nothing stored) when its credential id is registered already.
    async fn add_passkey(&self, passkey: &StoredPasskey) -> StoreResult<bool>;
    /// The account's passkeys, oldest first.
    async fn passkeys(&self, user_id: UserId) -> StoreResult<Vec<StoredPasskey>>;
    async fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> StoreResult<Option<StoredPasskey>>;
    /// Records a use: the updated credential (its counter) and the time.
    async fn passkey_used(
        &self,
        id: &str,
        credential: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn rename_passkey(&self, user_id: UserId, id: &str, name: &str) -> StoreResult<bool>;
    /// Deletes one of the account's passkeys, and its recovery codes when no factor is left;
    /// `true` if it existed.
    async fn delete_passkey(&self, user_id: UserId, id: &str) -> StoreResult<bool>;
}

/// Challenges handed out and not answered yet (WebAuthn ceremonies), bound to a browser's
/// (pre-)session: kept where sessions are, so any node can finish a ceremony another began.
#[async_trait]
pub trait CeremonyStore: Send + Sync + 'static {
    /// Keeps `state` under `key` until `expires_at`, replacing what was there.
    async fn put_ceremony(
        &self,
        key: &[u8; 32],
        state: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Deletes the state under `key` and returns it if it had not expired at `now`: a
    /// challenge is answered once.
    async fn take_ceremony(
        &self,
        key: &[u8; 32],
        now: OffsetDateTime,
    ) -> StoreResult<Option<String>>;
    /// Deletes expired states; the number deleted.
    async fn delete_expired_ceremonies(&self, now: OffsetDateTime) -> StoreResult<u64>;
}

/// A cheap round trip to a backend, for `/readyz`.
#[async_trait]
pub trait Ping: Send + Sync + 'static {
    async fn ping(&self) -> StoreResult<()>;
}

/// Sessions last seen before these times are idle-expired.
#[derive(Clone, Copy, Debug)]
pub struct IdleCutoffs {
    pub ordinary: OffsetDateTime,
    pub remembered: OffsetDateTime,
}

/// A fixed-window failure counter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Counter {
    pub count: u32,
    /// When the window ends and the count starts again from zero.
    pub resets_at: OffsetDateTime,
}

/// Failed-login counters, shared by every node that uses the same store.
#[async_trait]
pub trait ThrottleStore: Send + Sync + 'static {
    /// Counts one failure under `key` and returns the new count (atomic).
    async fn hit(
        &self,
        key: &str,
        now: OffsetDateTime,
        window: time::Duration,
    ) -> StoreResult<Counter>;
    /// The current count under `key` (zero once its window has passed).
    async fn peek(
        &self,
        key: &str,
        now: OffsetDateTime,
        window: time::Duration,
    ) -> StoreResult<Counter>;
    async fn clear(&self, key: &str) -> StoreResult<()>;
}

/// One security event.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AuditEvent {
    #[serde(serialize_with = "crate::clock::serialize_rfc3339")]
    pub at: OffsetDateTime,
    pub kind: String,
    pub user_id: Option<UserId>,
    pub username: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    async fn record(&self, event: &AuditEvent) -> StoreResult<()>;
    /// Newest last; `username` matches ignoring case.
    async fn list(
        &self,
        username: Option<&str>,
        since: Option<OffsetDateTime>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>>;
}

/// The employee directory. Lists are ordered by last name, then first name.
#[async_trait]
pub trait EmployeeStore: Send + Sync + 'static {
    /// Everyone, or those whose "first last" contains `name` (ignoring case).
    async fn list(&self, name: Option<&str>) -> StoreResult<Vec<EmployeeSummary>>;
    async fn modified_since(&self, since: OffsetDateTime) -> StoreResult<Vec<EmployeeSummary>>;
    async fn get(&self, id: EmployeeId) -> StoreResult<Option<Arc<Employee>>>;
    async fn reports(&self, id: EmployeeId) -> StoreResult<Vec<EmployeeSummary>>;
    /// `None` if there is no such employee, else their manager.
    async fn manager_of(&self, id: EmployeeId) -> StoreResult<Option<Option<EmployeeId>>>;
    async fn create(&self, input: &EmployeeInput, now: OffsetDateTime) -> StoreResult<Employee>;
    async fn update(
        &self,
        id: EmployeeId,
        input: &EmployeeInput,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Employee>>;
    /// Deletes one employee; their reports move up to the deleted employee's manager.
    async fn delete(&self, id: EmployeeId, now: OffsetDateTime) -> StoreResult<bool>;
    async fn count(&self) -> StoreResult<i64>;
}

/// The stores one running Gatehouse uses.
#[derive(Clone)]
pub struct Stores {
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub employees: Arc<dyn EmployeeStore>,
    pub throttle: Arc<dyn ThrottleStore>,
    pub audit: Arc<dyn AuditStore>,
    pub mail_tokens: Arc<dyn MailTokenStore>,
    pub factors: Arc<dyn FactorStore>,
    pub passkeys: Arc<dyn PasskeyStore>,
    pub ceremonies: Arc<dyn CeremonyStore>,
    /// Every backend in use, by name, for readiness checks.
    backends: Vec<(&'static str, Arc<dyn Ping>)>,
}

/// Everything a relational backend holds.
trait SqlBackend:
    UserStore
    + SessionStore
    + EmployeeStore
    + ThrottleStore
    + AuditStore
    + MailTokenStore
    + FactorStore
    + PasskeyStore
    + CeremonyStore
    + Ping
{
}
impl<
    T: UserStore
        + SessionStore
        + EmployeeStore
        + ThrottleStore
        + AuditStore
        + MailTokenStore
        + FactorStore
        + PasskeyStore
        + CeremonyStore
        + Ping,
> SqlBackend for T
{
}

impl Stores {
    /// Opens the database named by `database.url` (`sqlite://` or `postgres://`), applying
    /// pending migrations, and Redis when `database.session_store` names it; every operation
    /// is then limited to `database.timeout`.
    pub async fn open(database: &DatabaseConfig, session: &SessionConfig) -> anyhow::Result<Self> {
        let stores = if database.url.starts_with("sqlite:") {
            Self::sql("sqlite", Arc::new(SqliteStore::open(database).await?))
        } else {
            Self::sql("postgres", Arc::new(PostgresStore::open(database).await?))
        };
        let stores = match &database.session_store {
            Some(url) => stores.with_sessions_in(
                "redis",
                Arc::new(RedisStore::open(url, database, session).await?),
            ),
            None => stores,
        };
        Ok(stores.bounded(database.timeout))
    }

    fn sql(name: &'static str, store: Arc<impl SqlBackend>) -> Self {
        Self {
            users: store.clone(),
            sessions: store.clone(),
            employees: store.clone(),
            throttle: store.clone(),
            audit: store.clone(),
            mail_tokens: store.clone(),
            factors: store.clone(),
            passkeys: store.clone(),
            ceremonies: store.clone(),
            backends: vec![(name, store)],
        }
    }

    /// Keeps sessions, ceremonies and throttle counters in `store` instead.
    fn with_sessions_in(
        mut self,
        name: &'static str,
        store: Arc<impl SessionStore + CeremonyStore + ThrottleStore + Ping>,
    ) -> Self {
        self.sessions = store.clone();
        self.ceremonies = store.clone();
        self.throttle = store.clone();
        self.backends.push((name, store));
        self
    }

    /// Checks every backend; the first that fails, by name.
    pub async fn ping(&self) -> Result<(), (&'static str, StoreError)> {
        for (name, backend) in &self.backends {
            backend.ping().await.map_err(|e| (*name, e))?;
        }
        Ok(())
    }

    /// Deletes a user and every session of theirs, wherever sessions are kept.
    pub async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        self.sessions.delete_for_user(id).await?;
        self.users.delete(id).await
    }

    /// The same stores with the per-node session, user and employee cache in front (see `cache`);
    /// `ttl` zero means no cache.
    pub fn with_cache(self, ttl: std::time::Duration, clock: Arc<dyn crate::clock::Clock>) -> Self {
        if ttl.is_zero() {
            return self;
        }
        let cached = Arc::new(cache::Cached::new(
            self.sessions.clone(),
            self.users.clone(),
            self.employees.clone(),
            ttl,
            clock,
        ));
        Self {
            users: cached.clone(),
            employees: cached.clone(),
            sessions: cached,
            ..self
        }
    }
}
