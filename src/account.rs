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

/// Applies an admin change (role, disabled). Disabling ends every session of the user
/// server-side (OWASP ASVS 5.0 V7.4.2); a role change takes effect on the user's next request
/// because roles are read from the user record on every request.
pub async fn change(
    state: &crate::app::AppState,
    id: UserId,
    update: crate::store::UserUpdate,
) -> Result<Option<User>, crate::error::ApiError> {
    let Some(user) = state.stores.users.update(id, update).await? else {
        return Ok(None);
    };
    if user.disabled {
        state.stores.sessions.delete_for_user(user.id).await?;
    }
    Ok(Some(user))
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
