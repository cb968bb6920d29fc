//! The account records and the parsed types they are made of.
//!
//! Input is parsed once at the edge into these types (`Username::parse`, `Email::parse`, ...), so
//! code past the handlers never sees an unchecked value. Each parse error is a stable code that
//! the API returns in `fields` and the JS client can branch on. This module is a leaf: the
//! stores name these types, so it imports nothing above the leaves.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub type UserId = i64;

/// A username: 3 to 64 characters from `A-Z a-z 0-9 . _ - @ +` (so e-mail addresses work).
/// Uniqueness is case-insensitive: `Alice` and `alice` are one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
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

    /// A username read back from a store, which only ever holds parsed ones.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key uniqueness is enforced on.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name: at most 100 characters, no control characters, never empty (an empty
/// input means "no name").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    /// `Ok(None)` for an empty (or all-blank) input.
    pub fn parse(input: &str) -> Result<Option<Self>, &'static str> {
        let input = input.trim();
        if input.chars().count() > 100 {
            return Err("too_long");
        }
        if input.chars().any(char::is_control) {
            return Err("invalid_characters");
        }
        Ok((!input.is_empty()).then(|| Self(input.to_owned())))
    }

    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address: one `@` with text on both sides and a dot in the domain, at most 254
/// characters. Deliverability is not Gatehouse's business.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// `Ok(None)` for an empty (or all-blank) input.
    pub fn parse(input: &str) -> Result<Option<Self>, &'static str> {
        let input = input.trim();
        if input.is_empty() {
            return Ok(None);
        }
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
            Ok(Some(Self(input.to_owned())))
        } else {
            Err("invalid_email")
        }
    }

    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an account may do. `admin` passes every `user` check (seed 002's `authorize(role)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }

    pub fn parse(input: &str) -> Result<Self, &'static str> {
        match input {
            "user" => Ok(Self::User),
            "admin" => Ok(Self::Admin),
            _ => Err("invalid_role"),
        }
    }

    /// Whether a holder of `self` passes a check for `required` (admin passes every check).
    pub fn satisfies(self, required: Role) -> bool {
        self == required || self == Role::Admin
    }
}

/// A user as the rest of Gatehouse sees it (never with the password hash).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    #[schema(value_type = String)]
    pub username: Username,
    pub role: Role,
    pub disabled: bool,
    #[schema(value_type = Option<String>)]
    pub name: Option<DisplayName>,
    #[schema(value_type = Option<String>)]
    pub email: Option<Email>,
    /// Whether the holder proved `email` is theirs by opening the mailed link; changing the
    /// address clears it.
    pub email_verified: bool,
    #[serde(serialize_with = "crate::clock::serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
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
        assert!(Email::parse("a@example.com").unwrap().is_some());
        assert_eq!(Email::parse("a@localhost"), Err("invalid_email"));
        assert_eq!(Email::parse("a b@example.com"), Err("invalid_email"));
        assert_eq!(Email::parse("  "), Ok(None));
    }

    #[test]
    fn display_names_are_trimmed_and_empty_means_none() {
        assert_eq!(
            DisplayName::parse(" Ada ")
                .unwrap()
                .map(|n| n.as_str().to_owned()),
            Some("Ada".to_owned())
        );
        assert_eq!(DisplayName::parse(""), Ok(None));
        assert_eq!(DisplayName::parse("a\u{7}b"), Err("invalid_characters"));
    }
}
