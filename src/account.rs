//! Accounts: the parsed types a user record is made of, and the user record itself.
//!
//! Input is parsed once at the edge into these types (`Username::parse`), so code past the
//! handlers never sees an unchecked username. Each parse error is a stable code that the API
//! returns in `fields` and the JS client can branch on.

use serde::Serialize;
use time::OffsetDateTime;

use crate::roles::Role;

/// A username: 3 to 64 characters from `A-Z a-z 0-9 . _ - @ +` (so e-mail addresses work).
/// Uniqueness is case-insensitive: `Alice` and `alice` are one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 64;

    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let input = input.trim();
        if input.is_empty() {
            return Err("required");
        }
        if input.chars().count() < Self::MIN_CHARS {
            return Err("too_short");
        }
        if input.chars().count() > Self::MAX_CHARS {
            return Err("too_long");
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._-@+".contains(c);
        if !input.chars().all(allowed) {
            return Err("invalid_characters");
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key uniqueness is enforced on.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A display name: optional, at most 100 characters, no control characters.
pub fn parse_name(input: &str) -> Result<String, &'static str> {
    let input = input.trim();
    if input.chars().count() > 100 {
        return Err("too_long");
    }
    if input.chars().any(char::is_control) {
        return Err("invalid_characters");
    }
    Ok(input.to_owned())
}

/// An e-mail address: optional; one `@` with text on both sides and a dot in the domain,
/// at most 254 characters. Deliverability is not Gatehouse's business.
pub fn parse_email(input: &str) -> Result<String, &'static str> {
    let input = input.trim();
    if input.len() > 254 {
        return Err("too_long");
    }
    let valid = match input.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !input.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if valid {
        Ok(input.to_owned())
    } else {
        Err("invalid_email")
    }
}

pub type UserId = i64;

/// A user as the rest of Gatehouse sees it (never with the password hash).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub name: Option<String>,
    pub email: Option<String>,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

pub fn serialize_rfc3339<S: serde::Serializer>(
    t: &OffsetDateTime,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::clock::rfc3339(*t))
}

/// Creates an account: hashes the password on the bounded pool, then stores the user.
/// Sign-up, the CLI and the demo seed all come through here.
pub async fn create(
    state: &crate::app::AppState,
    username: Username,
    password: &crate::password::Password,
    role: Role,
    name: Option<String>,
    email: Option<String>,
) -> Result<User, crate::error::ApiError> {
    let password_hash = state.passwords.hash(password).await?;
    let user = crate::store::NewUser {
        username,
        password_hash,
        role,
        name,
        email,
        created_at: state.clock.now(),
    };
    match state.stores.users.create(user).await {
        Ok(user) => Ok(user),
        Err(crate::store::StoreError::UsernameTaken) => Err(crate::error::ApiError::UsernameTaken),
        Err(e) => Err(e.into()),
    }
}

/// Applies an admin change (role, disabled) made by `actor`, and audits it. Disabling ends
/// every session of the user server-side (OWASP ASVS 5.0 V7.4.2); a role change takes effect on
/// the user's next request because roles are read from the user record on every request.
pub async fn change(
    state: &crate::app::AppState,
    id: UserId,
    update: crate::store::UserUpdate,
    client: &crate::client::ClientInfo,
    actor: &str,
) -> Result<Option<User>, crate::error::ApiError> {
    use crate::store::AuditEvent;
    let Some(before) = state.stores.users.get(id).await? else {
        return Ok(None);
    };
    let Some(user) = state.stores.users.update(id, update).await? else {
        return Ok(None);
    };
    if user.disabled {
        state.stores.sessions.delete_for_user(user.id).await?;
    }
    let mut events = Vec::new();
    if before.role != user.role {
        events.push((
            "role_changed",
            format!(
                "{} -> {} by {actor}",
                before.role.as_str(),
                user.role.as_str()
            ),
        ));
    }
    if before.disabled != user.disabled {
        let kind = if user.disabled {
            "user_disabled"
        } else {
            "user_enabled"
        };
        events.push((kind, format!("by {actor}")));
    }
    for (kind, detail) in events {
        crate::audit::record(
            state,
            AuditEvent::new(state, kind, client)
                .user(&user)
                .detail(detail),
        )
        .await;
    }
    Ok(Some(user))
}

/// Checks a username and password, as login, password change and account deletion do.
///
/// Throttled first (over a limit: 429 and the password is not checked); then one answer, and
/// the same work, for an unknown user, a wrong password and a disabled account (OWASP
/// Authentication cheat sheet, "Authentication and error messages"). A hash made with older
/// parameters is replaced on success.
pub async fn authenticate(
    state: &crate::app::AppState,
    username: &str,
    password: &crate::password::Password,
    client: &crate::client::ClientInfo,
    headers: &axum::http::HeaderMap,
) -> Result<User, crate::error::ApiError> {
    use crate::audit;
    use crate::error::ApiError;
    use crate::store::AuditEvent;

    let account = username.trim().to_ascii_lowercase();
    let device = state.sessions.device_for(headers, &account);
    let attempt = state
        .throttle
        .attempt(&account, client.ip, device.as_deref());
    if let Err(refusal) = state.throttle.check(&attempt).await {
        state.metrics.login(false);
        let event = AuditEvent::new(state, "login_failed", client)
            .username(username)
            .detail("throttled");
        audit::record(state, event).await;
        return Err(refusal);
    }
    let credentials = match Username::parse(username) {
        Ok(username) => state.stores.users.credentials(&username).await?,
        Err(_) => None,
    };
    let hash = credentials.as_ref().map(|c| c.password_hash.as_str());
    let matched = state.passwords.verify(password, hash).await?;
    let reason = match &credentials {
        None => "unknown_user",
        Some(_) if !matched => "wrong_password",
        Some(c) if c.user.disabled => "disabled",
        Some(_) => "",
    };
    let Some(credentials) = credentials.filter(|_| reason.is_empty()) else {
        state.throttle.failed(&attempt).await?;
        state.metrics.login(false);
        let event = AuditEvent::new(state, "login_failed", client)
            .username(username)
            .detail(reason);
        audit::record(state, event).await;
        return Err(ApiError::InvalidCredentials);
    };
    state.throttle.succeeded(&attempt).await?;
    state.metrics.login(true);
    if state.passwords.needs_rehash(&credentials.password_hash) {
        let rehashed = state.passwords.hash(password).await?;
        state
            .stores
            .users
            .set_password_hash(credentials.user.id, &rehashed)
            .await?;
    }
    Ok(credentials.user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_keyed_case_insensitively() {
        let u = Username::parse("  Alice.Smith@example.com ").unwrap();
        assert_eq!(u.as_str(), "Alice.Smith@example.com");
        assert_eq!(u.key(), "alice.smith@example.com");
    }

    #[test]
    fn usernames_with_spaces_or_unicode_are_refused() {
        assert_eq!(Username::parse("a b c"), Err("invalid_characters"));
        assert_eq!(Username::parse("ålice"), Err("invalid_characters"));
        assert_eq!(Username::parse("ab"), Err("too_short"));
        assert_eq!(Username::parse(""), Err("required"));
        assert_eq!(Username::parse(&"a".repeat(65)), Err("too_long"));
    }

    #[test]
    fn emails_need_a_domain_with_a_dot() {
        assert!(parse_email("a@example.com").is_ok());
        assert_eq!(parse_email("a@localhost"), Err("invalid_email"));
        assert_eq!(parse_email("a b@example.com"), Err("invalid_email"));
    }
}
