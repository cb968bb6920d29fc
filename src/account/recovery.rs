//! Mailed single-use tokens: password reset and e-mail verification (ASVS 5.0 V6.4; OWASP
//! Forgot Password cheat sheet).
//!
//! A token is 256 random bits, mailed in a link and stored only as its hash, for one purpose,
//! with an expiry; a user has at most the newest one per purpose. It dies on use, on expiry, on
//! a newer request, and (for resets) on any password change. Reset mails go only to a
//! verified address, and a reset request answers the same whether or not the account exists:
//! everything that depends on the account runs after the answer, off the request.

use std::sync::Arc;

use super::records::{Email, User, Username};
use super::{Accounts, check_not_username};
use crate::audit::Audit;
use crate::clock::Clock;
use crate::config::MailConfig;
use crate::crypto;
use crate::error::ApiError;
use crate::mail::{MailKind, Mailer};
use crate::password::Password;
use crate::peer::Peer;
use crate::store::{MailToken, MailTokenStore, Stores, TokenPurpose, UserStore};
use crate::throttle::address_key;

/// Reset requests per client address and window (`throttle.window_secs`): beyond it, 429.
const RESETS_PER_ADDRESS: u32 = 20;
/// Reset mails per requested account and window: beyond it, the same 202 and no mail, so a
/// stranger cannot flood someone's inbox.
const RESETS_PER_ACCOUNT: u32 = 3;
/// Verification mails per account and window.
const VERIFICATIONS_PER_ACCOUNT: u32 = 5;

/// Everything the mail flows need, shared with the task that finishes a reset request.
pub struct MailFlows {
    pub(super) mailer: Arc<Mailer>,
    pub(super) config: MailConfig,
    pub(super) require_verified_email: bool,
    users: Arc<dyn UserStore>,
    tokens: Arc<dyn MailTokenStore>,
    audit: Audit,
    clock: Arc<dyn Clock>,
}

impl MailFlows {
    pub fn new(
        mailer: Arc<Mailer>,
        config: MailConfig,
        require_verified_email: bool,
        stores: &Stores,
        audit: Audit,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            mailer,
            config,
            require_verified_email,
            users: stores.users.clone(),
            tokens: stores.mail_tokens.clone(),
            audit,
            clock,
        }
    }

    /// A new token of `purpose` for `user` at `email` (replacing any older one), mailed.
    async fn issue(
        &self,
        user: &User,
        email: &Email,
        purpose: TokenPurpose,
        peer: &Peer,
    ) -> Result<(), ApiError> {
        let (kind, valid_for, event) = match purpose {
            TokenPurpose::PasswordReset => (
                MailKind::PasswordReset,
                self.config.reset_token_ttl,
                "password_reset_requested",
            ),
            TokenPurpose::EmailVerification => (
                MailKind::EmailVerification,
                self.config.verification_token_ttl,
                "email_verification_sent",
            ),
        };
        let token = crypto::random_token();
        let now = self.clock.now();
        let record = MailToken {
            hash: crypto::hash(token.as_bytes()),
            user_id: user.id,
            purpose,
            email: email.clone(),
            created_at: now,
            expires_at: now + valid_for,
        };
        self.tokens.replace(&record).await?;
        self.mailer
            .queue(kind, user.id, &user.username, email, &token, valid_for);
        self.audit
            .record(self.audit.event(event, peer).user(user))
            .await;
        Ok(())
    }

    /// The live token `text` stands for, or `token_invalid` (unknown, used, superseded or
    /// expired; one answer for all).
    async fn live(&self, text: &str, purpose: TokenPurpose) -> Result<MailToken, ApiError> {
        let hash = crypto::hash(text.trim().as_bytes());
        let token = self
            .tokens
            .find(&hash, purpose)
            .await?
            .ok_or(ApiError::TokenInvalid)?;
        if token.expires_at <= self.clock.now() {
            self.tokens.take(&hash, purpose).await?;
            return Err(ApiError::TokenInvalid);
        }
        Ok(token)
    }
}

/// Who asked for a reset: the username or the e-mail address as typed.
pub enum ResetRequest {
    Username(String),
    Email(String),
}

impl Accounts {
    fn mail(&self) -> Result<&Arc<MailFlows>, ApiError> {
        self.mail.as_ref().ok_or(ApiError::MailNotConfigured)
    }

    /// Whether password reset and e-mail verification are on (`[mail]` is configured).
    pub fn mail_enabled(&self) -> bool {
        self.mail.is_some()
    }

    /// `POST /password-reset`: the same `Ok` for every input (no account enumeration), 429 only
    /// for a client address over its limit. The account lookup, the token and the mail happen
    /// after the caller has its answer.
    pub async fn request_password_reset(
        &self,
        request: ResetRequest,
        peer: &Peer,
    ) -> Result<(), ApiError> {
        let flows = self.mail()?.clone();
        self.throttle
            .spend(
                &format!("reset-address:{}", address_key(peer.ip)),
                RESETS_PER_ADDRESS,
            )
            .await?;
        let asked = match &request {
            ResetRequest::Username(name) | ResetRequest::Email(name) => {
                name.trim().to_ascii_lowercase()
            }
        };
        let flooded = self
            .throttle
            .spend(&format!("reset-account:{asked}"), RESETS_PER_ACCOUNT)
            .await
            .is_err();
        let peer = peer.clone();
        tokio::spawn(async move {
            if let Err(e) = finish_reset_request(&flows, request, flooded, &peer).await {
                tracing::warn!(error = %e, "a password-reset request could not be completed");
            }
        });
        Ok(())
    }

    /// `POST /password-reset/confirm`: checks the new password, uses the token, sets the
    /// password and ends every session of the account (ASVS 5.0 V6.4.3, V7.4.3). The caller
    /// starts a new session when `mail.reset_logs_in` says so.
    pub async fn confirm_password_reset(
        &self,
        token: Option<&str>,
        new_password: Option<&str>,
        peer: &Peer,
    ) -> Result<(User, bool), ApiError> {
        let flows = self.mail()?;
        let token = token
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| ApiError::field("token", "required"))?;
        let new = Password::parse_new(new_password.unwrap_or_default())
            .map_err(|c| ApiError::field("new_password", c))?;
        let record = flows.live(token, TokenPurpose::PasswordReset).await?;
        let user = self
            .users
            .get(record.user_id)
            .await?
            // Mailed to an address that is no longer the account's verified one: dead.
            .filter(|u| !u.disabled && u.email_verified && u.email.as_ref() == Some(&record.email))
            .ok_or(ApiError::TokenInvalid)?;
        check_not_username(&new, &user.username, "new_password")?;
        if flows
            .tokens
            .take(&record.hash, TokenPurpose::PasswordReset)
            .await?
            .is_none()
        {
            // Another request used it a moment ago.
            return Err(ApiError::TokenInvalid);
        }
        let hash = self.passwords.hash(&new).await?;
        self.users.set_password_hash(user.id, &hash).await?;
        let ended = self.sessions.delete_for_user(user.id).await?;
        let event = self
            .audit
            .event("password_reset", peer)
            .user(&user)
            .detail(format!("by mailed link; {ended} session(s) ended"));
        self.audit.record(event).await;
        Ok((Arc::unwrap_or_clone(user), flows.config.reset_logs_in))
    }

    /// Mails `user` a link that proves their address is theirs; nothing to do when it is
    /// verified already. 422 without an address, 429 over the per-account limit.
    pub async fn send_verification(&self, user: &User, peer: &Peer) -> Result<(), ApiError> {
        let flows = self.mail()?;
        let email = user
            .email
            .as_ref()
            .ok_or_else(|| ApiError::field("email", "required"))?;
        if user.email_verified {
            return Ok(());
        }
        self.throttle
            .spend(
                &format!("verification:{}", user.id),
                VERIFICATIONS_PER_ACCOUNT,
            )
            .await?;
        flows
            .issue(user, email, TokenPurpose::EmailVerification, peer)
            .await
    }

    /// Sends the verification mail for a new or changed address when mail is on; a failure
    /// (throttled, store down) is logged, never fails the sign-up or change itself.
    pub(super) async fn verify_new_address(&self, user: &User, peer: &Peer) {
        if self.mail.is_none() || user.email.is_none() || user.email_verified {
            return;
        }
        if let Err(e) = self.send_verification(user, peer).await {
            tracing::warn!(user = user.id, error = %e, "verification mail not sent");
        }
    }

    /// `POST /users/me/email/verify`: the token proves the address; works without a session
    /// (with `account.require_verified_email` the holder cannot log in before).
    pub async fn verify_email(&self, token: Option<&str>, peer: &Peer) -> Result<User, ApiError> {
        let flows = self.mail()?;
        let token = token
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| ApiError::field("token", "required"))?;
        let record = flows.live(token, TokenPurpose::EmailVerification).await?;
        flows
            .tokens
            .take(&record.hash, TokenPurpose::EmailVerification)
            .await?
            .ok_or(ApiError::TokenInvalid)?;
        // The address changed since the mail went out: the link proves nothing now.
        if !self
            .users
            .mark_email_verified(record.user_id, &record.email)
            .await?
        {
            return Err(ApiError::TokenInvalid);
        }
        let user = self
            .users
            .get(record.user_id)
            .await?
            .ok_or(ApiError::TokenInvalid)?;
        self.audit
            .record(self.audit.event("email_verified", peer).user(&user))
            .await;
        Ok(Arc::unwrap_or_clone(user))
    }

    /// At shutdown: waits (at most `within`) for queued mails; the number left undelivered.
    pub async fn drain_mail(&self, within: std::time::Duration) -> usize {
        match &self.mail {
            Some(flows) => flows.mailer.drain(within).await,
            None => 0,
        }
    }

    /// Deletes mailed tokens and passkey challenges past their expiry (the sweeper); the
    /// number deleted.
    pub async fn sweep_tokens(&self) -> Result<u64, ApiError> {
        let now = self.clock.now();
        let tokens = self.tokens.delete_expired(now).await?;
        Ok(tokens + self.ceremonies.delete_expired_ceremonies(now).await?)
    }

    /// Whether `account.require_verified_email` keeps `user` from logging in.
    pub fn blocks_login(&self, user: &User) -> bool {
        matches!(&self.mail, Some(flows) if flows.require_verified_email && !user.email_verified)
    }

    /// With `account.require_verified_email`, a correct login to an unverified account is
    /// refused with `email_unverified` and a new link is mailed.
    pub(super) async fn require_verified(&self, user: &User, peer: &Peer) -> Result<(), ApiError> {
        if !self.blocks_login(user) {
            return Ok(());
        }
        self.verify_new_address(user, peer).await;
        Err(ApiError::EmailUnverified)
    }
}

/// The part of a reset request that depends on the account: find it by a verified address,
/// and mail it a token unless the request is over its per-account limit.
async fn finish_reset_request(
    flows: &MailFlows,
    request: ResetRequest,
    flooded: bool,
    peer: &Peer,
) -> Result<(), ApiError> {
    let (accounts, asked): (Vec<User>, String) = match &request {
        ResetRequest::Username(name) => {
            let found = match Username::parse(name) {
                Ok(username) => flows.users.credentials(&username).await?.map(|c| c.user),
                Err(_) => None,
            };
            (found.into_iter().collect(), name.clone())
        }
        ResetRequest::Email(address) => match Email::parse(address) {
            Ok(Some(email)) => (
                flows.users.with_verified_email(&email).await?,
                address.clone(),
            ),
            _ => (Vec::new(), address.clone()),
        },
    };
    // An unverified address is never used for a reset (ASVS 5.0 V6.4.2).
    let reachable: Vec<User> = accounts
        .into_iter()
        .filter(|u| !u.disabled && u.email_verified && u.email.is_some())
        .collect();
    if reachable.is_empty() || flooded {
        let why = if flooded {
            "over the per-account limit; no mail"
        } else {
            "no enabled account with a verified address; no mail"
        };
        let event = flows
            .audit
            .event("password_reset_requested", peer)
            .username(&asked)
            .detail(why);
        flows.audit.record(event).await;
        return Ok(());
    }
    for user in reachable {
        if let Some(email) = user.email.clone() {
            flows
                .issue(&user, &email, TokenPurpose::PasswordReset, peer)
                .await?;
        }
    }
    Ok(())
}
