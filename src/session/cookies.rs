//! Reading and writing Gatehouse's two cookies: the session cookie and the pre-session cookie.
//!
//! Names are compared exactly, never percent-decoded, so a look-alike such as
//! `%5F_Host-gatehouse_session` is just another cookie. When the same name appears with different
//! values (cookie tossing from a sibling domain, RFC 6265bis §8.6), the cookie counts as absent:
//! an attacker must not be able to choose which session a request runs under.
//! Values are signed with a MAC over name and value, so a value minted for one cookie does not
//! verify as another.

use axum::http::{HeaderMap, HeaderValue, header};
use time::Duration;

use crate::config::CookieConfig;
use crate::crypto::{self, Keys};

#[derive(Clone, Debug)]
pub struct CookieNames {
    pub session: &'static str,
    pub pre: &'static str,
}

impl CookieNames {
    /// `__Host-` names when cookies are Secure: the browser then guarantees Secure, Path=/ and
    /// no Domain, so a sibling subdomain cannot set them (RFC 6265bis §4.1.3.2).
    pub fn for_config(config: &CookieConfig) -> Self {
        if config.secure {
            Self {
                session: "__Host-gatehouse_session",
                pre: "__Host-gatehouse_pre",
            }
        } else {
            Self {
                session: "gatehouse_session",
                pre: "gatehouse_pre",
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

/// The payload of a signed value, if the signature is right for this cookie name.
pub fn verify<'a>(keys: &Keys, name: &str, value: &'a str) -> Option<&'a str> {
    let (payload, mac) = value.rsplit_once('.')?;
    let mac = crypto::decode(mac)?;
    crypto::ct_eq(&mac, &keys.cookie_mac(name, payload)).then_some(payload)
}

/// A `Set-Cookie` value. `max_age: None` makes a browser-session cookie.
pub fn set(
    config: &CookieConfig,
    name: &str,
    value: &str,
    max_age: Option<Duration>,
) -> HeaderValue {
    // Cookie attributes: HttpOnly, explicit SameSite, Secure where possible (OWASP Session
    // Management cheat sheet, "Cookies"; ASVS 5.0 V3.3.1-V3.3.4).
    let mut text = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite={}",
        config.same_site.as_str()
    );
    if config.secure {
        text.push_str("; Secure");
    }
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={}", age.whole_seconds().max(0)));
    }
    HeaderValue::from_str(&text).expect("cookie names and base64url values are valid header text")
}

/// A `Set-Cookie` value that deletes cookie `name`.
pub fn clear(config: &CookieConfig, name: &str) -> HeaderValue {
    set(config, name, "", Some(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_signed_value_does_not_verify_under_another_name() {
        let keys = Keys::derive(b"0123456789abcdef0123456789abcdef");
        let value = sign(&keys, "gatehouse_pre", "nonce");
        assert_eq!(verify(&keys, "gatehouse_pre", &value), Some("nonce"));
        assert_eq!(verify(&keys, "gatehouse_session", &value), None);
        assert_eq!(verify(&keys, "gatehouse_pre", "nonce.AAAA"), None);
    }
}
