//! A password login waiting for its second factor: a signed cookie holding the account, the
//! "remember me" choice and an expiry, bound to this browser's pre-session. Nothing is stored,
//! so it works on every node; it dies with its pre-session, at its expiry (minutes), and when
//! the login completes. Wrong factors are throttled by the account services.

use axum::http::HeaderMap;
use time::Duration;

use std::sync::Arc;

use super::{Authenticated, CookieChanges, SessionContext, SessionManager, cookies};
use crate::account::records::{User, UserId};
use crate::crypto;
use crate::error::ApiError;
use crate::peer::Peer;

/// How long the second step may take (OWASP MFA cheat sheet: keep the window short).
pub const PENDING_LOGIN_LIFETIME: Duration = Duration::minutes(5);

/// The login the second factor completes.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingLogin {
    pub user_id: UserId,
    pub remember: bool,
}

impl SessionManager {
    /// Records that `user` gave the right password and now owes a second factor; the token
    /// and cookies of this browser's pre-session (minted if it had none).
    pub fn begin_pending_login(
        &self,
        user: &User,
        remember: bool,
        context: &SessionContext,
    ) -> (String, CookieChanges) {
        let nonce = match context {
            SessionContext::Anonymous { pre_nonce } => pre_nonce.clone(),
            SessionContext::Authenticated(_) => None,
        };
        let (token, mut changes, nonce) = match nonce {
            Some(nonce) => {
                let (token, changes) = self.anonymous_token(Some(&nonce));
                (token, changes, nonce)
            }
            None => self.mint_pre_session(),
        };
        let expires = (self.clock.now() + PENDING_LOGIN_LIFETIME).unix_timestamp();
        let payload = format!(
            "{}.{expires}.{}.{}",
            user.id,
            u8::from(remember),
            binding(&nonce)
        );
        let value = cookies::sign(self.keys.current(), self.names.pending, &payload);
        changes.set(cookies::set(
            &self.cookie_config,
            self.names.pending,
            value,
            Some(PENDING_LOGIN_LIFETIME),
        ));
        (token, changes)
    }

    /// Starts the session a pending login owed, and clears its cookie.
    pub async fn complete_pending_login(
        &self,
        user: User,
        pending: &PendingLogin,
        context: &SessionContext,
        peer: &Peer,
    ) -> Result<(Arc<Authenticated>, CookieChanges), ApiError> {
        let (auth, mut changes) = self.start(user, pending.remember, context, peer).await?;
        changes.set(cookies::clear(&self.cookie_config, self.names.pending));
        Ok((auth, changes))
    }

    /// The login this browser's pending-login cookie describes, if it is valid, unexpired and
    /// bound to the pre-session the request carries.
    pub fn pending_login(
        &self,
        headers: &HeaderMap,
        context: &SessionContext,
    ) -> Option<PendingLogin> {
        let SessionContext::Anonymous {
            pre_nonce: Some(nonce),
        } = context
        else {
            return None;
        };
        let signed = cookies::verify(
            &self.keys,
            self.names.pending,
            cookies::read(headers, self.names.pending)?,
        )?;
        let mut parts = signed.payload.split('.');
        let user_id = parts.next()?.parse().ok()?;
        let expires: i64 = parts.next()?.parse().ok()?;
        let remember = parts.next()? == "1";
        let bound = parts.next()?;
        let fresh = expires > self.clock.now().unix_timestamp();
        (fresh
            && crypto::ct_eq(bound.as_bytes(), binding(nonce).as_bytes())
            && parts.next().is_none())
        .then_some(PendingLogin { user_id, remember })
    }
}

/// What ties the cookie to one pre-session: a hash of its nonce (the nonce itself stays in
/// its own cookie).
fn binding(nonce: &str) -> String {
    crypto::encode(&crypto::hash(nonce.as_bytes())[..16])
}

impl SessionManager {
    /// The key a WebAuthn ceremony's state is kept under: bound to this browser's session (or
    /// pre-session) and to `purpose`, so only this browser can answer it, and only for that.
    pub fn ceremony_key(&self, context: &SessionContext, purpose: &str) -> Option<[u8; 32]> {
        let bound = match context {
            SessionContext::Authenticated(auth) => {
                format!("session:{}", crypto::encode(&auth.session.secret_hash))
            }
            SessionContext::Anonymous {
                pre_nonce: Some(nonce),
            } => format!("pre:{nonce}"),
            SessionContext::Anonymous { pre_nonce: None } => return None,
        };
        Some(crypto::hash(
            format!("webauthn:{purpose}:{bound}").as_bytes(),
        ))
    }
}
