//! The account services: create, authenticate, re-authenticate, change or set a password, set a
//! role, disable or enable, change the profile, delete.
//!
//! This is the one place that changes an account's security state. It ends the account's
//! sessions when a rule says so and writes the audit trail for every such event; HTTP handlers,
//! the CLI and the demo all call it, so every front end obeys the same rules. The records it
//! works on live in [`records`], a leaf the stores can name.

mod factors;
mod passkeys;
pub mod records;
mod recovery;

use std::sync::Arc;

use crate::audit::Audit;
use crate::clock::Clock;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::password::{Password, PasswordHasher};
use crate::peer::Peer;
use crate::store::{
    CeremonyStore, FactorStore, MailTokenStore, NewUser, PasskeyStore, SessionStore, StoreError,
    Stores, TokenPurpose, UserStore, UserUpdate,
};
use crate::throttle::Throttle;

pub use factors::{FactorSettings, FactorState, Freshness, SecondFactor, TotpEnrolment};
pub use passkeys::{CeremonyPurpose, PasskeyInfo, relying_party};
pub use records::{DisplayName, Email, Role, User, UserId, Username};
pub use recovery::{MailFlows, ResetRequest};

/// Who makes a change, for the audit trail.
#[derive(Clone, Copy, Debug)]
pub enum Actor<'a> {
    /// The account holder themselves.
    Owner,
    /// An admin, through the API.
    Admin(&'a User),
    /// An operator at the command line.
    Cli,
    /// `gatehouse demo` seeding its accounts.
    Demo,
}

impl Actor<'_> {
    fn detail(self) -> String {
        match self {
            Self::Owner => "by the owner".into(),
            Self::Admin(admin) => format!("by admin {}", admin.username),
            Self::Cli => "by cli".into(),
            Self::Demo => "by demo".into(),
        }
    }
}

/// A new account, its fields already parsed.
pub struct NewAccount {
    pub username: Username,
    pub password: Password,
    pub role: Role,
    pub name: Option<DisplayName>,
    pub email: Option<Email>,
}

/// An admin's change to an account; `None` leaves a field as it is.
#[derive(Clone, Copy, Debug, Default)]
pub struct AdminChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// The account services, shared by every front end.
pub struct Accounts {
    users: Arc<dyn UserStore>,
    sessions: Arc<dyn SessionStore>,
    passwords: PasswordHasher,
    throttle: Throttle,
    audit: Audit,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    tokens: Arc<dyn MailTokenStore>,
    /// `None` when `[mail]` is not configured: reset and verification are off.
    mail: Option<Arc<MailFlows>>,
    factors: Arc<dyn FactorStore>,
    factor_settings: FactorSettings,
    passkeys: Arc<dyn PasskeyStore>,
    ceremonies: Arc<dyn CeremonyStore>,
    /// `None` when passkeys are off.
    webauthn: Option<Arc<webauthn_rs::Webauthn>>,
}

/// A password that equals the username (ignoring case) is refused wherever one is set.
fn check_not_username(
    password: &Password,
    username: &Username,
    field: &str,
) -> Result<(), ApiError> {
    if password.expose().eq_ignore_ascii_case(username.as_str()) {
        return Err(ApiError::field(field, "same_as_username"));
    }
    Ok(())
}

impl Accounts {
    /// The services over `stores`' users, sessions, mailed tokens and second factors.
    pub fn new(
        stores: &Stores,
        passwords: PasswordHasher,
        throttle: Throttle,
        audit: Audit,
        metrics: Arc<Metrics>,
        clock: Arc<dyn Clock>,
        factor_settings: FactorSettings,
    ) -> Self {
        Self {
            users: stores.users.clone(),
            sessions: stores.sessions.clone(),
            passwords,
            throttle,
            audit,
            metrics,
            clock,
            tokens: stores.mail_tokens.clone(),
            mail: None,
            factors: stores.factors.clone(),
            factor_settings,
            passkeys: stores.passkeys.clone(),
            ceremonies: stores.ceremonies.clone(),
            webauthn: None,
        }
    }

    /// Turns on passkeys for this relying party.
    pub fn with_passkeys(mut self, webauthn: webauthn_rs::Webauthn) -> Self {
        self.webauthn = Some(Arc::new(webauthn));
        self
    }

    /// Turns on password reset and e-mail verification.
    pub fn with_mail(mut self, flows: MailFlows) -> Self {
        self.mail = Some(Arc::new(flows));
        self
    }

    /// Creates an account: the password is hashed on the bounded pool, then the user stored.
    /// Sign-up, the CLI and the demo seed all come through here.
    pub async fn create(
        &self,
        account: NewAccount,
        actor: Actor<'_>,
        peer: &Peer,
    ) -> Result<User, ApiError> {
        check_not_username(&account.password, &account.username, "password")?;
        let password_hash = self.passwords.hash(&account.password).await?;
        let new = NewUser {
            username: account.username,
            password_hash,
            role: account.role,
            name: account.name,
            email: account.email,
            created_at: self.clock.now(),
        };
        let user = match self.users.create(new).await {
            Ok(user) => user,
            Err(StoreError::UsernameTaken) => return Err(ApiError::UsernameTaken),
            Err(e) => return Err(e.into()),
        };
        let event = match actor {
            Actor::Owner => self.audit.event("signup", peer).user(&user),
            other => self
                .audit
                .event("user_created", peer)
                .user(&user)
                .detail(format!("{} {}", user.role.as_str(), other.detail())),
        };
        self.audit.record(event).await;
        self.verify_new_address(&user, peer).await;
        Ok(user)
    }

    /// Checks a username and password, as login does.
    ///
    /// Throttled first (over a limit: 429 and the password is not checked); then one answer, and
    /// the same work, for an unknown user, a wrong password and a disabled account (OWASP
    /// Authentication cheat sheet, "Authentication and error messages"). A hash made with older
    /// parameters is replaced on success. `device` is this browser's device-cookie id for the
    /// account, if it holds one (see `throttle`).
    pub async fn authenticate(
        &self,
        username: &str,
        password: &Password,
        device: Option<&str>,
        peer: &Peer,
    ) -> Result<User, ApiError> {
        let account = username.trim().to_ascii_lowercase();
        let attempt = self.throttle.attempt(&account, peer.ip, device);
        if let Err(refusal) = self.throttle.check(&attempt).await {
            self.metrics.login(false);
            let event = self
                .audit
                .event("login_failed", peer)
                .username(username)
                .detail("throttled");
            self.audit.record(event).await;
            return Err(refusal);
        }
        let credentials = match Username::parse(username) {
            Ok(username) => self.users.credentials(&username).await?,
            Err(_) => None,
        };
        let hash = credentials.as_ref().map(|c| c.password_hash.as_str());
        let matched = self.passwords.verify(password, hash).await?;
        let reason = match &credentials {
            None => "unknown_user",
            Some(_) if !matched => "wrong_password",
            Some(c) if c.user.disabled => "disabled",
            Some(_) => "",
        };
        let Some(credentials) = credentials.filter(|_| reason.is_empty()) else {
            self.throttle.failed(&attempt).await?;
            self.metrics.login(false);
            let event = self
                .audit
                .event("login_failed", peer)
                .username(username)
                .detail(reason);
            self.audit.record(event).await;
            return Err(ApiError::InvalidCredentials);
        };
        self.throttle.succeeded(&attempt).await?;
        self.require_verified(&credentials.user, peer).await?;
        self.metrics.login(true);
        if self.passwords.needs_rehash(&credentials.password_hash) {
            let rehashed = self.passwords.hash(password).await?;
            self.users
                .set_password_hash(credentials.user.id, &rehashed)
                .await?;
        }
        Ok(credentials.user)
    }

    /// Re-authentication for a sensitive change (OWASP ASVS 5.0 V6.2.3): the logged-in `user`
    /// proves their password again, throttled like a login. `field` names the password in a 422
    /// when it is missing.
    pub async fn reauthenticate(
        &self,
        user: &User,
        password: Option<&str>,
        field: &str,
        device: Option<&str>,
        peer: &Peer,
    ) -> Result<User, ApiError> {
        let password = password
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ApiError::field(field, "required"))?;
        self.authenticate(
            user.username.as_str(),
            &Password::candidate(password),
            device,
            peer,
        )
        .await
    }

    /// The holder changes their password: the current one is re-checked, the new one must meet
    /// the rules, and every session of the account but `keep` ends (OWASP ASVS 5.0 V7.4.3).
    /// The caller then rotates `keep` itself (a new session for the new password).
    pub async fn change_password(
        &self,
        user: &User,
        current: Option<&str>,
        new: Option<&str>,
        keep: &str,
        device: Option<&str>,
        peer: &Peer,
    ) -> Result<User, ApiError> {
        if current.is_none_or(str::is_empty) {
            return Err(ApiError::field("current_password", "required"));
        }
        let new = Password::parse_new(new.unwrap_or_default())
            .map_err(|c| ApiError::field("new_password", c))?;
        check_not_username(&new, &user.username, "new_password")?;
        let user = self
            .reauthenticate(user, current, "current_password", device, peer)
            .await?;
        let hash = self.passwords.hash(&new).await?;
        self.users.set_password_hash(user.id, &hash).await?;
        self.sessions.delete_others(user.id, keep).await?;
        // A pending reset link must not undo the change (OWASP Forgot Password cheat sheet).
        self.tokens
            .delete_for_user(user.id, TokenPurpose::PasswordReset)
            .await?;
        let event = self.audit.event("password_changed", peer).user(&user);
        self.audit.record(event).await;
        Ok(user)
    }

    /// An operator sets a new password (a reset): every session of the account ends, as after
    /// a compromise it must; the number ended is returned and audited.
    pub async fn set_password(
        &self,
        user: &User,
        new: &Password,
        actor: Actor<'_>,
        peer: &Peer,
    ) -> Result<u64, ApiError> {
        check_not_username(new, &user.username, "password")?;
        let hash = self.passwords.hash(new).await?;
        if !self.users.set_password_hash(user.id, &hash).await? {
            return Err(ApiError::NotFound);
        }
        // A password reset ends every session of the account (OWASP ASVS 5.0 V7.4.3).
        let ended = self.sessions.delete_for_user(user.id).await?;
        self.tokens
            .delete_for_user(user.id, TokenPurpose::PasswordReset)
            .await?;
        let event = self
            .audit
            .event("password_changed", peer)
            .user(user)
            .detail(format!("{}; {ended} session(s) ended", actor.detail()));
        self.audit.record(event).await;
        Ok(ended)
    }

    /// Applies an admin change (role, disabled) and audits it. Disabling ends every session of
    /// the user server-side (OWASP ASVS 5.0 V7.4.2); a role change takes effect on the user's
    /// next request because roles are read from the user record on every request.
    pub async fn change(
        &self,
        id: UserId,
        change: AdminChange,
        actor: Actor<'_>,
        peer: &Peer,
    ) -> Result<Option<User>, ApiError> {
        let Some(before) = self.users.get(id).await? else {
            return Ok(None);
        };
        let update = UserUpdate {
            role: change.role,
            disabled: change.disabled,
        };
        let Some(user) = self.users.update(id, update).await? else {
            return Ok(None);
        };
        if user.disabled {
            self.sessions.delete_for_user(user.id).await?;
        }
        let mut events = Vec::new();
        if before.role != user.role {
            let detail = format!(
                "{} -> {} {}",
                before.role.as_str(),
                user.role.as_str(),
                actor.detail()
            );
            events.push(("role_changed", detail));
        }
        if before.disabled != user.disabled {
            let kind = if user.disabled {
                "user_disabled"
            } else {
                "user_enabled"
            };
            events.push((kind, actor.detail()));
        }
        for (kind, detail) in events {
            let event = self.audit.event(kind, peer).user(&user).detail(detail);
            self.audit.record(event).await;
        }
        Ok(Some(user))
    }

    /// Changes name and e-mail; `None` leaves a field as it is, `Some(None)` clears it. A new
    /// address is unverified, and (with mail on) is sent a verification link.
    pub async fn update_profile(
        &self,
        user: &User,
        name: Option<Option<DisplayName>>,
        email: Option<Option<Email>>,
        peer: &Peer,
    ) -> Result<Option<User>, ApiError> {
        let updated = self.users.update_profile(user.id, name, email).await?;
        if let Some(updated) = &updated
            && updated.email != user.email
        {
            self.verify_new_address(updated, peer).await;
        }
        Ok(updated)
    }

    /// The holder deletes their account after proving their password: the user and every
    /// session of theirs are gone; the audit trail keeps the event.
    pub async fn delete(
        &self,
        user: &User,
        password: Option<&str>,
        device: Option<&str>,
        peer: &Peer,
    ) -> Result<User, ApiError> {
        let user = self
            .reauthenticate(user, password, "password", device, peer)
            .await?;
        self.sessions.delete_for_user(user.id).await?;
        self.users.delete(user.id).await?;
        let event = self.audit.event("user_deleted", peer).user(&user);
        self.audit.record(event).await;
        Ok(user)
    }

    /// The account named `username`, if there is one.
    pub async fn find(&self, username: &Username) -> Result<Option<User>, ApiError> {
        Ok(self.users.credentials(username).await?.map(|c| c.user))
    }

    /// Every account, ordered by username.
    pub async fn list(&self) -> Result<Vec<User>, ApiError> {
        Ok(self.users.list().await?)
    }
}
