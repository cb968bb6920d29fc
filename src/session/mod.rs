//! Sessions: who is making this request, and starting, rotating and ending sessions.
//!
//! A request carries at most two cookies. The session cookie holds a random secret (256 bits
//! from the OS CSPRNG, stored only as a hash) and names a stored session. The pre-session
//! cookie holds a random nonce, signed but not stored, so anonymous visitors get a CSRF token
//! (and login is CSRF-protected) without a database row per visitor. CSRF tokens are MACs over
//! the session's secret hash or the pre-session nonce, so they change whenever the session does.
//! [`layer`] resolves the cookies into a [`SessionContext`] for every API request, and re-signs
//! cookies that verified only under an older key of the ring.

pub mod cookies;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use time::{Duration, OffsetDateTime};

use crate::account::User;
use crate::app::AppState;
use crate::client::ClientInfo;
use crate::clock::Clock;
use crate::config::{CookieConfig, SessionConfig};
use crate::crypto::{self, KeyRing};
use crate::error::ApiError;
use crate::store::{IdleCutoffs, SessionRecord, Stores};

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

/// How long a device cookie (see `throttle`) is kept.
const DEVICE_COOKIE_LIFETIME: Duration = Duration::days(365);

pub struct SessionManager {
    stores: Stores,
    keys: KeyRing,
    config: SessionConfig,
    cookie_config: CookieConfig,
    names: CookieNames,
    clock: Arc<dyn Clock>,
}

impl SessionManager {
    pub fn new(
        stores: Stores,
        keys: KeyRing,
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
    /// anonymous; only an unreachable store is an error. Also returns fresh `Set-Cookie` values
    /// for cookies that verified under an older key.
    pub async fn resolve(
        &self,
        headers: &HeaderMap,
    ) -> Result<(SessionContext, Vec<HeaderValue>), ApiError> {
        let mut refreshed = Vec::new();
        if let Some(signed) = cookies::read(headers, self.names.session)
            .and_then(|v| cookies::verify(&self.keys, self.names.session, v))
            && let Some(secret) = crypto::decode(signed.payload)
            && let Some(auth) = self.load(&crypto::hash(&secret)).await?
        {
            if signed.stale {
                refreshed.push(self.session_cookie(signed.payload, &auth.session));
            }
            return Ok((SessionContext::Authenticated(Arc::new(auth)), refreshed));
        }
        let pre = cookies::read(headers, self.names.pre)
            .and_then(|v| cookies::verify(&self.keys, self.names.pre, v));
        if let Some(signed) = &pre
            && signed.stale
        {
            let value = cookies::sign(self.keys.current(), self.names.pre, signed.payload);
            refreshed.push(cookies::set(
                &self.cookie_config,
                self.names.pre,
                &value,
                None,
            ));
        }
        let pre_nonce = pre.map(|v| v.payload.to_owned());
        Ok((SessionContext::Anonymous { pre_nonce }, refreshed))
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
        if now >= session.expires_at
            || now >= session.last_seen_at + self.idle_timeout(session.remember)
        {
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

    fn idle_timeout(&self, remember: bool) -> Duration {
        if remember {
            self.config.remember_idle_timeout
        } else {
            self.config.idle_timeout
        }
    }

    fn csrf_binding(context: &SessionContext) -> Option<(&'static str, Vec<u8>)> {
        match context {
            SessionContext::Authenticated(auth) => {
                Some(("session", auth.session.secret_hash.to_vec()))
            }
            SessionContext::Anonymous { pre_nonce } => {
                pre_nonce.as_ref().map(|n| ("pre", n.as_bytes().to_vec()))
            }
        }
    }

    /// The CSRF token to hand out in this context (made with the current key).
    pub fn csrf_token(&self, context: &SessionContext) -> Option<String> {
        Self::csrf_binding(context)
            .map(|(purpose, binding)| self.keys.current().csrf_token(purpose, &binding))
    }

    /// Whether `token` is this context's CSRF token under any key of the ring, compared in
    /// constant time (OWASP CSRF cheat sheet, synchronizer token pattern).
    pub fn csrf_valid(&self, context: &SessionContext, token: &[u8]) -> bool {
        Self::csrf_binding(context)
            .is_some_and(|(purpose, binding)| self.keys.csrf_matches(purpose, &binding, token))
    }

    /// The token for an anonymous reply, minting a pre-session cookie if there is none.
    pub fn anonymous_token(&self, pre_nonce: Option<&str>) -> (String, Option<HeaderValue>) {
        let current = self.keys.current();
        match pre_nonce {
            Some(nonce) => (current.csrf_token("pre", nonce.as_bytes()), None),
            None => {
                let nonce = crypto::random_token();
                let value = cookies::sign(current, self.names.pre, &nonce);
                let cookie = cookies::set(&self.cookie_config, self.names.pre, &value, None);
                (current.csrf_token("pre", nonce.as_bytes()), Some(cookie))
            }
        }
    }

    /// The session cookie for a secret, persistent for "remember me" sessions.
    fn session_cookie(&self, encoded_secret: &str, session: &SessionRecord) -> HeaderValue {
        let value = cookies::sign(self.keys.current(), self.names.session, encoded_secret);
        // "Remember me" is a persistent cookie; otherwise it ends with the browser session.
        let max_age = session
            .remember
            .then(|| session.expires_at - self.clock.now());
        cookies::set(&self.cookie_config, self.names.session, &value, max_age)
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
            ip: client.ip_text(),
        };
        self.stores.sessions.create(&session).await?;
        let set_cookies = vec![
            self.session_cookie(&crypto::encode(&secret), &session),
            cookies::clear(&self.cookie_config, self.names.pre),
            self.device_cookie(&user.username.to_ascii_lowercase()),
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

    /// A device cookie marking this browser as one that has logged in to `account`.
    fn device_cookie(&self, account: &str) -> HeaderValue {
        let payload = format!(
            "{}.{}",
            crypto::encode(account.as_bytes()),
            crypto::random_token()
        );
        let value = cookies::sign(self.keys.current(), self.names.device, &payload);
        cookies::set(
            &self.cookie_config,
            self.names.device,
            &value,
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
        (crypto::decode(who)? == account.as_bytes()).then(|| id.to_owned())
    }

    /// Deletes expired and idle sessions; the number deleted.
    pub async fn sweep(&self) -> Result<u64, ApiError> {
        let now = self.clock.now();
        let cutoffs = IdleCutoffs {
            ordinary: now - self.config.idle_timeout,
            remembered: now - self.config.remember_idle_timeout,
        };
        Ok(self.stores.sessions.delete_expired(now, cutoffs).await?)
    }
}

/// Middleware: resolves the session for every API request.
pub async fn layer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let (context, refreshed) = match state.sessions.resolve(request.headers()).await {
        Ok(resolved) => resolved,
        Err(e) => return e.into_response(),
    };
    request.extensions_mut().insert(context);
    let mut response = next.run(request).await;
    // Re-signed cookies, unless the handler set that cookie itself.
    for cookie in refreshed {
        let name = cookie
            .as_bytes()
            .split(|b| *b == b'=')
            .next()
            .unwrap_or_default()
            .to_vec();
        let handled = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|c| {
                c.as_bytes().starts_with(&name) && c.as_bytes().get(name.len()) == Some(&b'=')
            });
        if !handled {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    response
}
