//! A time limit on every store operation: a store that does not answer within
//! `database.timeout` fails the operation as [`StoreError::Unavailable`] (503
//! `store_unavailable`), so no request hangs on a dead or stalled backend. Dropping a pending
//! operation leaves nothing half-written: each is one statement, one transaction, or one Redis
//! script.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{
    AuditEvent, AuditStore, CeremonyStore, Counter, Credentials, EmployeeStore, FactorStore,
    IdleCutoffs, MailToken, MailTokenStore, NewUser, PasskeyStore, Ping, SessionRecord,
    SessionStore, StoreError, StoreResult, StoredPasskey, Stores, ThrottleStore, TokenPurpose,
    TotpFactor, UserStore, UserUpdate,
};
use crate::account::records::{DisplayName, Email, User, UserId, Username};
use crate::directory::records::{Employee, EmployeeId, EmployeeInput, EmployeeSummary};

struct Bounded<T: ?Sized> {
    inner: Arc<T>,
    limit: Duration,
}

impl<T: ?Sized> Bounded<T> {
    fn wrap(inner: Arc<T>, limit: Duration) -> Arc<Self> {
        Arc::new(Self { inner, limit })
    }

    async fn within<R>(&self, op: impl Future<Output = StoreResult<R>>) -> StoreResult<R> {
        tokio::time::timeout(self.limit, op)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(format!(
                    "no answer within {} ms",
                    self.limit.as_millis()
                )))
            })
    }
}

impl Stores {
    pub(super) fn bounded(self, limit: Duration) -> Self {
        Self {
            users: Bounded::wrap(self.users, limit),
            sessions: Bounded::wrap(self.sessions, limit),
            employees: Bounded::wrap(self.employees, limit),
            throttle: Bounded::wrap(self.throttle, limit),
            audit: Bounded::wrap(self.audit, limit),
            mail_tokens: Bounded::wrap(self.mail_tokens, limit),
            factors: Bounded::wrap(self.factors, limit),
            passkeys: Bounded::wrap(self.passkeys, limit),
            ceremonies: Bounded::wrap(self.ceremonies, limit),
            backends: self
                .backends
                .into_iter()
                .map(|(name, b)| (name, Bounded::wrap(b, limit) as Arc<dyn Ping>))
                .collect(),
        }
    }
}

/// Implements a store trait for `Bounded<dyn Trait>` by passing every call through `within`.
macro_rules! bounded {
    ($trait:ident { $(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)* }) => {
        #[async_trait]
        impl $trait for Bounded<dyn $trait> {
            $(async fn $name(&self $(, $arg: $ty)*) -> StoreResult<$ret> {
                self.within($trait::$name(&*self.inner $(, $arg)*)).await
            })*
        }
    };
}

bounded!(UserStore {
    fn create(&self, user: NewUser) -> User;
    fn get(&self, id: UserId) -> Option<Arc<User>>;
    fn credentials(&self, username: &Username) -> Option<Credentials>;
    fn list(&self) -> Vec<User>;
    fn update(&self, id: UserId, update: UserUpdate) -> Option<User>;
    fn set_password_hash(&self, id: UserId, hash: &str) -> bool;
    fn update_profile(
        &self,
        id: UserId,
        name: Option<Option<DisplayName>>,
        email: Option<Option<Email>>
    ) -> Option<User>;
    fn delete(&self, id: UserId) -> bool;
    fn mark_email_verified(&self, id: UserId, email: &Email) -> bool;
    fn with_verified_email(&self, email: &Email) -> Vec<User>;
});

bounded!(FactorStore {
    fn begin_totp(&self, user_id: UserId, sealed: &[u8], now: OffsetDateTime) -> bool;
    fn totp(&self, user_id: UserId) -> Option<TotpFactor>;
    fn use_totp_step(&self, user_id: UserId, step: i64, confirm: bool) -> bool;
    fn remove_totp(&self, user_id: UserId) -> bool;
    fn remove_factors(&self, user_id: UserId) -> bool;
    fn replace_recovery_codes(&self, user_id: UserId, hashes: &[[u8; 32]], now: OffsetDateTime) -> ();
    fn use_recovery_code(&self, user_id: UserId, hash: &[u8; 32]) -> bool;
    fn recovery_codes_left(&self, user_id: UserId) -> u64;
});

bounded!(PasskeyStore {
    fn user_handle(&self, user_id: UserId, fresh: &[u8]) -> Vec<u8>;
    fn user_for_handle(&self, handle: &[u8]) -> Option<UserId>;
    fn add_passkey(&self, passkey: &StoredPasskey) -> bool;
    fn passkeys(&self, user_id: UserId) -> Vec<StoredPasskey>;
    fn passkey_by_credential(&self, credential_id: &[u8]) -> Option<StoredPasskey>;
    fn passkey_used(&self, id: &str, credential: &str, now: OffsetDateTime) -> ();
    fn rename_passkey(&self, user_id: UserId, id: &str, name: &str) -> bool;
    fn delete_passkey(&self, user_id: UserId, id: &str) -> bool;
});

bounded!(CeremonyStore {
    fn put_ceremony(&self, key: &[u8; 32], state: &str, expires_at: OffsetDateTime) -> ();
    fn take_ceremony(&self, key: &[u8; 32], now: OffsetDateTime) -> Option<String>;
    fn delete_expired_ceremonies(&self, now: OffsetDateTime) -> u64;
});

bounded!(MailTokenStore {
    fn replace(&self, token: &MailToken) -> ();
    fn find(&self, hash: &[u8; 32], purpose: TokenPurpose) -> Option<MailToken>;
    fn take(&self, hash: &[u8; 32], purpose: TokenPurpose) -> Option<MailToken>;
    fn delete_for_user(&self, user_id: UserId, purpose: TokenPurpose) -> u64;
    fn delete_expired(&self, now: OffsetDateTime) -> u64;
});

bounded!(SessionStore {
    fn create(&self, session: &SessionRecord) -> ();
    fn find_by_secret_hash(&self, hash: &[u8; 32]) -> Option<Arc<SessionRecord>>;
    fn touch(&self, session: &SessionRecord, last_seen_at: OffsetDateTime) -> ();
    fn delete(&self, id: &str) -> bool;
    fn delete_for_user(&self, user_id: UserId) -> u64;
    fn delete_others(&self, user_id: UserId, keep: &str) -> u64;
    fn list_for_user(&self, user_id: UserId) -> Vec<SessionRecord>;
    fn delete_expired(&self, now: OffsetDateTime, idle_cutoffs: IdleCutoffs) -> u64;
    fn count_active(&self, now: OffsetDateTime) -> u64;
});

bounded!(ThrottleStore {
    fn hit(&self, key: &str, now: OffsetDateTime, window: time::Duration) -> Counter;
    fn peek(&self, key: &str, now: OffsetDateTime, window: time::Duration) -> Counter;
    fn clear(&self, key: &str) -> ();
});

bounded!(AuditStore {
    fn record(&self, event: &AuditEvent) -> ();
    fn list(&self, username: Option<&str>, since: Option<OffsetDateTime>, limit: u32)
        -> Vec<AuditEvent>;
});

bounded!(EmployeeStore {
    fn list(&self, name: Option<&str>) -> Vec<EmployeeSummary>;
    fn modified_since(&self, since: OffsetDateTime) -> Vec<EmployeeSummary>;
    fn get(&self, id: EmployeeId) -> Option<Arc<Employee>>;
    fn reports(&self, id: EmployeeId) -> Vec<EmployeeSummary>;
    fn manager_of(&self, id: EmployeeId) -> Option<Option<EmployeeId>>;
    fn create(&self, input: &EmployeeInput, now: OffsetDateTime) -> Employee;
    fn update(&self, id: EmployeeId, input: &EmployeeInput, now: OffsetDateTime)
        -> Option<Employee>;
    fn delete(&self, id: EmployeeId, now: OffsetDateTime) -> bool;
    fn count(&self) -> i64;
});

bounded!(Ping {
    fn ping(&self) -> ();
});
