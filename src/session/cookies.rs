//! Reading and building Gatehouse's cookies: the session, pre-session, device and pending-login
//! cookies.
//!
//! Names are compared exactly, never percent-decoded, so a look-alike such as
//! `%5F_Host-gatehouse_session` is just another cookie. When the same name appears with different
//! values (cookie tossing from a sibling domain, RFC 6265bis §8.6), the cookie counts as absent:
//! an attacker must not be able to choose which session a request runs under.
//! Values are signed with a MAC over name and value, so a value minted for one cookie does not
//! verify as another.

use axum::http::{HeaderMap, header};
use cookie::Cookie;
use time::Duration;

use crate::config::{CookieConfig, SameSite};
use crate::crypto::{self, KeyRing, Keys};

#[derive(Clone, Debug)]
pub struct CookieNames {
    pub session: &'static str,
    pub pre: &'static str,
    /// Marks a browser that has logged in to an account before (see `throttle`).
    pub device: &'static str,
    /// A password login waiting for its second factor (see `pending`).
    pub pending: &'static str,
}

impl CookieNames {
    /// `__Host-` names when cookies are Secure: the browser then guarantees Secure, Path=/ and
    /// no Domain, so a sibling subdomain cannot set them (RFC 6265bis §4.1.3.2).
    pub fn for_config(config: &CookieConfig) -> Self {
        if config.secure {
            Self {
                session: "__Host-gatehouse_session",
                pre: "__Host-gatehouse_pre",
                device: "__Host-gatehouse_device",
                pending: "__Host-gatehouse_mfa",
            }
        } else {
            Self {
                session: "gatehouse_session",
                pre: "gatehouse_pre",
                device: "gatehouse_device",
                pending: "gatehouse_mfa",
            }
        }
    }
}

/// The value of cookie `name`, if it is present exactly once (or only with one value).
pub fn read<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found: Option<&str> = None;
    for header in headers.get_all(header::COOKIE) {
        let Ok(text) = header.to_str() else { continue };
        for pair in text.split(';') {
            let Some((n, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if n.trim() != name {
                continue;
            }
            let v = v.trim();
            match found {
                Some(prev) if prev != v => return None,
                _ => found = Some(v),
            }
        }
    }
    found
}

/// `payload.mac`
pub fn sign(keys: &Keys, name: &str, payload: &str) -> String {
    format!(
        "{payload}.{}",
        crypto::encode(&keys.cookie_mac(name, payload))
    )
}

/// A verified cookie value.
pub struct Verified<'a> {
    pub payload: &'a str,
    /// Signed with an older key of the ring: worth re-signing.
    pub stale: bool,
}

/// The payload of a signed value, if the signature is right for this cookie name under any key
/// of the ring.
pub fn verify<'a>(ring: &KeyRing, name: &str, value: &'a str) -> Option<Verified<'a>> {
    let (payload, mac) = value.rsplit_once('.')?;
    let mac = crypto::decode_array::<32>(mac)?;
    let current = ring.verify_cookie_mac(name, payload, &mac)?;
    Some(Verified {
        payload,
        stale: !current,
    })
}

/// A cookie to set. `max_age: None` makes a browser-session cookie.
pub fn set(
    config: &CookieConfig,
    name: &'static str,
    value: String,
    max_age: Option<Duration>,
) -> Cookie<'static> {
    // Cookie attributes: HttpOnly, explicit SameSite, Secure where possible (OWASP Session
    // Management cheat sheet, "Cookies"; ASVS 5.0 V3.3.1-V3.3.4).
    let same_site = match config.same_site {
        SameSite::Strict => cookie::SameSite::Strict,
        SameSite::Lax => cookie::SameSite::Lax,
        SameSite::None => cookie::SameSite::None,
    };
    let mut builder = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(same_site)
        .secure(config.secure)
        // CHIPS: kept in a jar per top-level site, so a cross-site app keeps its login where
        // third-party cookies are blocked (draft-cutler-httpbis-partitioned-cookies).
        .partitioned(config.partitioned);
    if let Some(age) = max_age {
        builder = builder.max_age(age.max(Duration::ZERO));
    }
    builder.build()
}

/// A cookie that deletes cookie `name`.
pub fn clear(config: &CookieConfig, name: &'static str) -> Cookie<'static> {
    set(config, name, String::new(), Some(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::http::HeaderValue;

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    #[test]
    fn names_are_matched_exactly_without_percent_decoding() {
        let h = headers("%67atehouse_session=x; gatehouse_session2=y; Gatehouse_session=z");
        assert_eq!(read(&h, "gatehouse_session"), None);
        assert_eq!(
            read(&headers("a=1; gatehouse_session=v"), "gatehouse_session"),
            Some("v")
        );
    }

    #[test]
    fn conflicting_duplicates_count_as_absent() {
        assert_eq!(read(&headers("s=1; s=2"), "s"), None);
        assert_eq!(read(&headers("s=1; s=1"), "s"), Some("1"));
    }

    const OLD: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NEW: &[u8] = b"fedcba9876543210fedcba9876543210";

    #[test]
    fn a_signed_value_does_not_verify_under_another_name() {
        let ring = KeyRing::new([OLD]);
        let value = sign(ring.current(), "gatehouse_pre", "nonce");
        assert_eq!(
            verify(&ring, "gatehouse_pre", &value).map(|v| v.payload),
            Some("nonce")
        );
        assert!(verify(&ring, "gatehouse_session", &value).is_none());
        assert!(verify(&ring, "gatehouse_pre", "nonce.AAAA").is_none());
    }

    #[test]
    fn older_keys_still_verify_and_are_marked_stale() {
        let value = sign(&Keys::derive(OLD), "c", "v");
        let rotated = KeyRing::new([NEW, OLD]);
        assert!(verify(&rotated, "c", &value).is_some_and(|v| v.stale));
        assert!(verify(&KeyRing::new([NEW]), "c", &value).is_none());
        let fresh = sign(rotated.current(), "c", "v");
        assert!(verify(&rotated, "c", &fresh).is_some_and(|v| !v.stale));
    }
}
