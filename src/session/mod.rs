//! Sessions: who is making this request, and starting and ending sessions.
//!
//! A request carries at most two cookies. The session cookie holds a random secret (256 bits
//! from the OS CSPRNG, stored only as a hash) and names a stored session. The pre-session
//! cookie holds a random nonce, signed but not stored, so anonymous visitors get a CSRF token
//! (and login is CSRF-protected) without a database row per visitor. CSRF tokens are MACs over
//! the session's secret hash or the pre-session nonce, so they change whenever the session does.
//! [`layer`] resolves the cookies into a [`SessionContext`] for every API request.

pub mod cookies;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use time::{Duration, OffsetDateTime};

use crate::account::User;
use crate::app::AppState;
use crate::clock::Clock;
use crate::config::{CookieConfig, SessionConfig};
use crate::crypto::{self, Keys};
use crate::error::ApiError;
use crate::store::{SessionRecord, Stores};

pub use cookies::CookieNames;

/// A logged-in request: the session and its (freshly loaded) user.
#[derive(Debug)]
pub struct Authenticated {
    pub session: SessionRecord,
    pub user: User,
}

/// Who is making the request, put in the request's extensions by [`layer`].
#[derive(Clone, Debug)]
pub enum SessionContext {
    Authenticated(Arc<Authenticated>),
    /// `pre_nonce` is the verified nonce of a valid pre-session cookie, if any.
    Anonymous {
        pre_nonce: Option<String>,
    },
}

/// Where a request came from, kept on the sessions it starts.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

pub struct SessionManager {
    stores: Stores,
    keys: Keys,
    config: SessionConfig,
    cookie_config: CookieConfig,
    names: CookieNames,
    clock: Arc<dyn Clock>,
}

impl SessionManager {
    pub fn new(
        stores: Stores,
        keys: Keys,
        config: SessionConfig,
        cookie_config: CookieConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            names: CookieNames::for_config(&cookie_config),
            stores,
            keys,
            config,
            cookie_config,
            clock,
        }
    }

    pub fn cookie_names(&self) -> &CookieNames {
        &self.names
    }

    /// Reads the request's cookies. A tampered, unknown, expired or duplicated cookie is simply
    /// anonymous; only an unreachable store is an error.
    pub async fn resolve(&self, headers: &HeaderMap) -> Result<SessionContext, ApiError> {
        if let Some(secret) = cookies::read(headers, self.names.session)
            .and_then(|v| cookies::verify(&self.keys, self.names.session, v))
            .and_then(crypto::decode)
            && let Some(auth) = self.load(&crypto::hash(&secret)).await?
        {
            return Ok(SessionContext::Authenticated(Arc::new(auth)));
        }
        let pre_nonce = cookies::read(headers, self.names.pre)
            .and_then(|v| cookies::verify(&self.keys, self.names.pre, v))
            .map(str::to_owned);
        Ok(SessionContext::Anonymous { pre_nonce })
    }

    async fn load(&self, secret_hash: &[u8; 32]) -> Result<Option<Authenticated>, ApiError> {
        let Some(session) = self
            .stores
            .sessions
            .find_by_secret_hash(secret_hash)
            .await?
        else {
            return Ok(None);
        };
        let now = self.clock.now();
        // Idle and absolute timeouts enforced server-side (OWASP ASVS 5.0 V7.3.1, V7.3.2).
        if now >= session.expires_at || now >= session.last_seen_at + self.idle_timeout(&session) {
            self.stores.sessions.delete(&session.id).await?;
            return Ok(None);
        }
        let user = match self.stores.users.get(session.user_id).await? {
            Some(user) if !user.disabled => user,
            _ => {
                self.stores.sessions.delete(&session.id).await?;
                return Ok(None);
            }
        };
        // Sliding renewal, written at most once per touch interval.
        let mut session = session;
        if now - session.last_seen_at >= self.config.touch_interval {
            self.stores.sessions.touch(&session.id, now).await?;
            session.last_seen_at = now;
        }
        Ok(Some(Authenticated { session, user }))
    }

    fn idle_timeout(&self, session: &SessionRecord) -> Duration {
        if session.remember {
            self.config.remember_idle_timeout
        } else {
            self.config.idle_timeout
        }
    }

    /// The CSRF token that unsafe requests in this context must carry.
    pub fn csrf_token(&self, context: &SessionContext) -> Option<String> {
        match context {
            SessionContext::Authenticated(auth) => {
                Some(self.keys.csrf_token("session", &auth.session.secret_hash))
            }
            SessionContext::Anonymous { pre_nonce } => pre_nonce
                .as_deref()
                .map(|nonce| self.keys.csrf_token("pre", nonce.as_bytes())),
        }
    }

    /// The token for an anonymous reply, minting a pre-session cookie if there is none.
    pub fn anonymous_token(&self, pre_nonce: Option<&str>) -> (String, Option<HeaderValue>) {
        match pre_nonce {
            Some(nonce) => (self.keys.csrf_token("pre", nonce.as_bytes()), None),
            None => {
                let nonce = crypto::random_token();
                let value = cookies::sign(&self.keys, self.names.pre, &nonce);
                let cookie = cookies::set(&self.cookie_config, self.names.pre, &value, None);
                (self.keys.csrf_token("pre", nonce.as_bytes()), Some(cookie))
            }
        }
    }

    /// Logs `user` in: ends the session this browser held, stores a new one with a new secret
    /// and a new public id, and returns the cookies to set.
    pub async fn start(
        &self,
        user: User,
        remember: bool,
        previous: &SessionContext,
        client: &ClientInfo,
    ) -> Result<(Arc<Authenticated>, Vec<HeaderValue>), ApiError> {
        // Session-fixation mitigation: a new session on every login (OWASP ASVS 5.0 V7.2.4).
        if let SessionContext::Authenticated(old) = previous {
            self.stores.sessions.delete(&old.session.id).await?;
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
            user_agent: client.user_agent.clone(),
            ip: client.ip.clone(),
        };
        self.stores.sessions.create(&session).await?;
        let value = cookies::sign(&self.keys, self.names.session, &crypto::encode(&secret));
        // "Remember me" is a persistent cookie; otherwise it ends with the browser session.
        let max_age = remember.then_some(lifetime);
        let set_cookies = vec![
            cookies::set(&self.cookie_config, self.names.session, &value, max_age),
            cookies::clear(&self.cookie_config, self.names.pre),
        ];
        Ok((Arc::new(Authenticated { session, user }), set_cookies))
    }

    /// Logs out: deletes the stored session and returns a fresh anonymous token with the cookies
    /// that clear the session and bind the new token.
    pub async fn end(
        &self,
        context: &SessionContext,
    ) -> Result<(String, Vec<HeaderValue>), ApiError> {
        if let SessionContext::Authenticated(auth) = context {
            self.stores.sessions.delete(&auth.session.id).await?;
        }
        let (token, pre_cookie) = self.anonymous_token(None);
        let mut set_cookies = vec![cookies::clear(&self.cookie_config, self.names.session)];
        set_cookies.extend(pre_cookie);
        Ok((token, set_cookies))
    }

    /// When the session ends at the latest (its absolute expiry).
    pub fn expires_at(&self, session: &SessionRecord) -> OffsetDateTime {
        session.expires_at
    }
}

/// Middleware: resolves the session for every API request.
pub async fn layer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    match state.sessions.resolve(request.headers()).await {
        Ok(context) => {
            request.extensions_mut().insert(context);
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}
