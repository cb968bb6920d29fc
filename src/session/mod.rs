//! Sessions: who is making this request, and starting, rotating and ending sessions.
//!
//! A request carries at most two cookies. The session cookie holds a random secret (256 bits
//! from the OS CSPRNG, stored only as a hash) and names a stored session. The pre-session
//! cookie holds a random nonce, signed but not stored, so anonymous visitors get a CSRF token
//! (and login is CSRF-protected) without a database row per visitor. CSRF tokens are MACs over
//! the session's secret hash or the pre-session nonce, so they change whenever the session does.
//!
//! [`SessionManager::resolve`] turns the cookies into a [`SessionContext`] for every API request
//! (the pipeline's session gate calls it), and [`SessionManager::write_cookies`] is the only
//! writer of `Set-Cookie`: handlers hand it [`CookieChanges`] in the response's extensions, and it
//! adds re-signed copies of cookies that verified only under an older key of the ring.

pub mod cookies;
mod pending;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use cookie::Cookie;
use time::{Duration, OffsetDateTime};

use crate::account::records::{User, UserId};
use crate::audit::Audit;
use crate::clock::Clock;
use crate::config::{CookieConfig, SessionConfig};
use crate::crypto::{self, KeyRing};
use crate::error::ApiError;
use crate::peer::Peer;
use crate::store::{IdleCutoffs, SessionRecord, SessionStore, StoreResult, UserStore};

pub use cookies::CookieNames;
pub use pending::{PENDING_LOGIN_LIFETIME, PendingLogin};

/// A logged-in request: the session and its (freshly loaded) user.
#[derive(Debug)]
pub struct Authenticated {
    pub session: Arc<SessionRecord>,
    pub user: Arc<User>,
}

/// Who is making the request, put in the request's extensions by the session gate (`http::pipeline`).
#[derive(Clone, Debug)]
pub enum SessionContext {
    Authenticated(Arc<Authenticated>),
    /// `pre_nonce` is the verified nonce of a valid pre-session cookie, if any.
    Anonymous {
        pre_nonce: Option<String>,
    },
}

/// Cookies a handler asks [`SessionManager::write_cookies`] to set, carried in the response's extensions.
#[derive(Clone, Debug, Default)]
pub struct CookieChanges(Vec<Cookie<'static>>);

impl CookieChanges {
    fn set(&mut self, cookie: Cookie<'static>) {
        self.0.push(cookie);
    }

    /// `reply` with these cookies attached for the session layer to write.
    pub fn attach(self, reply: impl IntoResponse) -> Response {
        let mut response = reply.into_response();
        if !self.0.is_empty() {
            response.extensions_mut().insert(self);
        }
        response
    }
}

/// How long a device cookie (see `throttle`) is kept.
const DEVICE_COOKIE_LIFETIME: Duration = Duration::days(365);

pub struct SessionManager {
    sessions: Arc<dyn SessionStore>,
    users: Arc<dyn UserStore>,
    keys: KeyRing,
    config: SessionConfig,
    cookie_config: CookieConfig,
    names: CookieNames,
    clock: Arc<dyn Clock>,
    audit: Audit,
}

/// What a session ends with, for the audit trail.
pub enum Revoker<'a> {
    /// The account holder, from one of their sessions.
    Owner,
    /// An operator at the command line.
    Cli,
    /// Some other reason, written as is.
    Other(&'a str),
}

impl Revoker<'_> {
    fn detail(&self) -> &str {
        match self {
            Self::Owner => "by the owner",
            Self::Cli => "by cli",
            Self::Other(text) => text,
        }
    }
}

impl SessionManager {
    pub fn new(
        sessions: Arc<dyn SessionStore>,
        users: Arc<dyn UserStore>,
        keys: KeyRing,
        config: SessionConfig,
        cookie_config: CookieConfig,
        clock: Arc<dyn Clock>,
        audit: Audit,
    ) -> Self {
        Self {
            names: CookieNames::for_config(&cookie_config),
            sessions,
            users,
            keys,
            config,
            cookie_config,
            clock,
            audit,
        }
    }

    pub fn cookie_names(&self) -> &CookieNames {
        &self.names
    }

    /// Reads the request's cookies. A tampered, unknown, expired or duplicated cookie is simply
    /// anonymous; only an unreachable store is an error. Also returns fresh cookies for those
    /// that verified under an older key.
    pub async fn resolve(
        &self,
        headers: &HeaderMap,
    ) -> Result<(SessionContext, CookieChanges), ApiError> {
        let mut refreshed = CookieChanges::default();
        if let Some(signed) = cookies::read(headers, self.names.session)
            .and_then(|v| cookies::verify(&self.keys, self.names.session, v))
            && let Some(secret) = crypto::decode_array::<{ crypto::SECRET_BYTES }>(signed.payload)
            && let Some(auth) = self.load(&crypto::hash(&secret)).await?
        {
            if signed.stale {
                refreshed.set(self.session_cookie(signed.payload, &auth.session));
            }
            return Ok((SessionContext::Authenticated(Arc::new(auth)), refreshed));
        }
        let pre = cookies::read(headers, self.names.pre)
            .and_then(|v| cookies::verify(&self.keys, self.names.pre, v));
        if let Some(signed) = &pre
            && signed.stale
        {
            let value = cookies::sign(self.keys.current(), self.names.pre, signed.payload);
            refreshed.set(cookies::set(
                &self.cookie_config,
                self.names.pre,
                value,
                None,
            ));
        }
        let pre_nonce = pre.map(|v| v.payload.to_owned());
        Ok((SessionContext::Anonymous { pre_nonce }, refreshed))
    }

    async fn load(&self, secret_hash: &[u8; 32]) -> Result<Option<Authenticated>, ApiError> {
        let Some(session) = self.sessions.find_by_secret_hash(secret_hash).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        // Idle and absolute timeouts enforced server-side (OWASP ASVS 5.0 V7.3.1, V7.3.2).
        if now >= session.expires_at
            || now >= session.last_seen_at + self.idle_timeout(session.remember)
        {
            self.sessions.delete(&session.id).await?;
            return Ok(None);
        }
        let user = match self.users.get(session.user_id).await? {
            Some(user) if !user.disabled => user,
            _ => {
                self.sessions.delete(&session.id).await?;
                return Ok(None);
            }
        };
        // Sliding renewal, written at most once per touch interval.
        let mut session = session;
        if now - session.last_seen_at >= self.config.touch_interval {
            self.sessions.touch(&session, now).await?;
            Arc::make_mut(&mut session).last_seen_at = now;
        }
        Ok(Some(Authenticated { session, user }))
    }

    fn idle_timeout(&self, remember: bool) -> Duration {
        if remember {
            self.config.remember_idle_timeout
        } else {
            self.config.idle_timeout
        }
    }

    fn csrf_binding(context: &SessionContext) -> Option<(&'static str, &[u8])> {
        match context {
            SessionContext::Authenticated(auth) => {
                Some(("session", auth.session.secret_hash.as_slice()))
            }
            SessionContext::Anonymous { pre_nonce } => {
                pre_nonce.as_ref().map(|n| ("pre", n.as_bytes()))
            }
        }
    }

    /// The CSRF token to hand out in this context (made with the current key).
    pub fn csrf_token(&self, context: &SessionContext) -> Option<String> {
        Self::csrf_binding(context)
            .map(|(purpose, binding)| self.keys.current().csrf_token(purpose, binding))
    }

    /// Whether `token` is this context's CSRF token under any key of the ring, compared in
    /// constant time (OWASP CSRF cheat sheet, synchronizer token pattern).
    pub fn csrf_valid(&self, context: &SessionContext, token: &[u8]) -> bool {
        Self::csrf_binding(context)
            .is_some_and(|(purpose, binding)| self.keys.csrf_matches(purpose, binding, token))
    }

    /// The token for an anonymous reply, minting a pre-session cookie if there is none.
    pub fn anonymous_token(&self, pre_nonce: Option<&str>) -> (String, CookieChanges) {
        match pre_nonce {
            Some(nonce) => (
                self.keys.current().csrf_token("pre", nonce.as_bytes()),
                CookieChanges::default(),
            ),
            None => {
                let (token, changes, _) = self.mint_pre_session();
                (token, changes)
            }
        }
    }

    /// A new pre-session: its token, the cookie that carries it, and its nonce.
    fn mint_pre_session(&self) -> (String, CookieChanges, String) {
        let current = self.keys.current();
        let nonce = crypto::random_token();
        let value = cookies::sign(current, self.names.pre, &nonce);
        let mut changes = CookieChanges::default();
        changes.set(cookies::set(
            &self.cookie_config,
            self.names.pre,
            value,
            None,
        ));
        (current.csrf_token("pre", nonce.as_bytes()), changes, nonce)
    }

    /// The session cookie for a secret, persistent for "remember me" sessions.
    fn session_cookie(&self, encoded_secret: &str, session: &SessionRecord) -> Cookie<'static> {
        let value = cookies::sign(self.keys.current(), self.names.session, encoded_secret);
        // "Remember me" is a persistent cookie; otherwise it ends with the browser session.
        let max_age = session
            .remember
            .then(|| session.expires_at - self.clock.now());
        cookies::set(&self.cookie_config, self.names.session, value, max_age)
    }

    /// Logs `user` in: ends the session this browser held, stores a new one with a new secret
    /// and a new public id, and returns the cookies to set.
    pub async fn start(
        &self,
        user: User,
        remember: bool,
        previous: &SessionContext,
        peer: &Peer,
    ) -> Result<(Arc<Authenticated>, CookieChanges), ApiError> {
        // Session-fixation mitigation: a new session on every login (OWASP ASVS 5.0 V7.2.4).
        if let SessionContext::Authenticated(old) = previous {
            self.sessions.delete(&old.session.id).await?;
        }
        let now = self.clock.now();
        let secret = crypto::random_bytes::<{ crypto::SECRET_BYTES }>();
        let lifetime = if remember {
            self.config.remember_lifetime
        } else {
            self.config.absolute_lifetime
        };
        let session = SessionRecord {
            id: crypto::encode(&crypto::random_bytes::<16>()),
            secret_hash: crypto::hash(&secret),
            user_id: user.id,
            created_at: now,
            last_seen_at: now,
            expires_at: now + lifetime,
            remember,
            user_agent: peer.user_agent.clone(),
            ip: peer.ip_text(),
        };
        self.sessions.create(&session).await?;
        let mut changes = CookieChanges::default();
        changes.set(self.session_cookie(&crypto::encode(&secret), &session));
        changes.set(cookies::clear(&self.cookie_config, self.names.pre));
        changes.set(self.device_cookie(&user.username.key()));
        let (session, user) = (Arc::new(session), Arc::new(user));
        Ok((Arc::new(Authenticated { session, user }), changes))
    }

    /// Logs out: deletes the stored session (audited) and returns a fresh anonymous token with
    /// the cookies that clear the session and bind the new token.
    pub async fn end(
        &self,
        context: &SessionContext,
        peer: &Peer,
    ) -> Result<(String, CookieChanges), ApiError> {
        if let SessionContext::Authenticated(auth) = context {
            self.sessions.delete(&auth.session.id).await?;
            let event = self.audit.event("logout", peer).user(&auth.user);
            self.audit.record(event).await;
        }
        Ok(self.cleared())
    }

    /// A fresh anonymous token with the cookies that clear the session and bind the token, for
    /// a browser whose session is already gone (account deleted).
    pub fn cleared(&self) -> (String, CookieChanges) {
        let (token, pre_cookie) = self.anonymous_token(None);
        let mut changes = CookieChanges::default();
        changes.set(cookies::clear(&self.cookie_config, self.names.session));
        changes.0.extend(pre_cookie.0);
        (token, changes)
    }

    /// When the session ends at the latest (its absolute expiry).
    pub fn expires_at(&self, session: &SessionRecord) -> OffsetDateTime {
        session.expires_at
    }

    /// A user's sessions, oldest first.
    pub async fn list(&self, user: UserId) -> StoreResult<Vec<SessionRecord>> {
        self.sessions.list_for_user(user).await
    }

    /// Revokes one session of `user` by its public id; `false` (and nothing changes) when the
    /// user has no such session, so another user's id answers exactly like an unknown one.
    pub async fn revoke(
        &self,
        user: &User,
        id: &str,
        by: Revoker<'_>,
        peer: &Peer,
    ) -> Result<bool, ApiError> {
        let own = self.list(user.id).await?.iter().any(|s| s.id == id);
        if !own || !self.sessions.delete(id).await? {
            return Ok(false);
        }
        let event = self
            .audit
            .event("session_revoked", peer)
            .user(user)
            .detail(format!("{id} {}", by.detail()));
        self.audit.record(event).await;
        Ok(true)
    }

    /// Revokes every session of `user`, or every one but `keep`; the number revoked.
    pub async fn revoke_all(
        &self,
        user: &User,
        keep: Option<&str>,
        by: Revoker<'_>,
        peer: &Peer,
    ) -> Result<u64, ApiError> {
        let revoked = match keep {
            Some(keep) => self.sessions.delete_others(user.id, keep).await?,
            None => self.sessions.delete_for_user(user.id).await?,
        };
        let scope = if keep.is_some() { "others" } else { "all" };
        let event = self
            .audit
            .event("sessions_revoked", peer)
            .user(user)
            .detail(format!("{scope}: {revoked} {}", by.detail()));
        self.audit.record(event).await;
        Ok(revoked)
    }

    /// A device cookie marking this browser as one that has logged in to `account`.
    fn device_cookie(&self, account: &str) -> Cookie<'static> {
        let payload = format!(
            "{}.{}",
            crypto::encode(account.as_bytes()),
            crypto::random_token()
        );
        let value = cookies::sign(self.keys.current(), self.names.device, &payload);
        cookies::set(
            &self.cookie_config,
            self.names.device,
            value,
            Some(DEVICE_COOKIE_LIFETIME),
        )
    }

    /// The id of this browser's device cookie, if it is valid for `account` (case-folded).
    pub fn device_for(&self, headers: &HeaderMap, account: &str) -> Option<String> {
        let signed = cookies::verify(
            &self.keys,
            self.names.device,
            cookies::read(headers, self.names.device)?,
        )?;
        let (who, id) = signed.payload.split_once('.')?;
        let account = account.trim().to_ascii_lowercase();
        (crypto::decode(who)? == account.as_bytes()).then(|| id.to_owned())
    }

    /// Deletes expired and idle sessions; the number deleted.
    pub async fn sweep(&self) -> Result<u64, ApiError> {
        let now = self.clock.now();
        let cutoffs = IdleCutoffs {
            ordinary: now - self.config.idle_timeout,
            remembered: now - self.config.remember_idle_timeout,
        };
        Ok(self.sessions.delete_expired(now, cutoffs).await?)
    }
}

impl SessionManager {
    /// Writes the cookies the handler asked for and the re-signed ones (a handler's own cookie
    /// of the same name wins): the one place `Set-Cookie` is written.
    pub fn write_cookies(&self, mut response: Response, refreshed: CookieChanges) -> Response {
        let CookieChanges(mut cookies) = response
            .extensions_mut()
            .remove::<CookieChanges>()
            .unwrap_or_default();
        for cookie in refreshed.0 {
            if !cookies.iter().any(|c| c.name() == cookie.name()) {
                cookies.push(cookie);
            }
        }
        for cookie in cookies {
            match HeaderValue::try_from(cookie.to_string()) {
                Ok(value) => {
                    response.headers_mut().append(header::SET_COOKIE, value);
                }
                Err(e) => return ApiError::internal(e).into_response(),
            }
        }
        response
    }
}
