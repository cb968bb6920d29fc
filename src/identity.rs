//! Who is calling, told to an upstream API: the `Gatehouse-*` identity headers and the
//! `Gatehouse-Assertion`, a short-lived compact JWS (EdDSA over Ed25519, RFC 8037) that an
//! upstream can verify offline with the keys at `GET /.well-known/jwks.json`.
//!
//! The signing keys are derived from the configured key ring (one Ed25519 key per secret key,
//! with its own derivation context), so rotating `security.secret_key` rotates them the same
//! way: the current key signs, older keys stay in the JWKS until they leave the ring.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use ed25519_dalek::{Signer, SigningKey};
use serde::Serialize;

use crate::account::records::User;
use crate::clock::Clock;
use crate::crypto;

pub const USER_ID: HeaderName = HeaderName::from_static("gatehouse-user-id");
pub const USERNAME: HeaderName = HeaderName::from_static("gatehouse-username");
pub const ROLE: HeaderName = HeaderName::from_static("gatehouse-role");
pub const SESSION_ID: HeaderName = HeaderName::from_static("gatehouse-session-id");
pub const ASSERTION: HeaderName = HeaderName::from_static("gatehouse-assertion");

/// Every identity header; incoming copies are always removed (a client must not forge them).
pub const HEADERS: [HeaderName; 5] = [USER_ID, USERNAME, ROLE, SESSION_ID, ASSERTION];

/// Most callers remembered within one second; beyond it assertions are signed, not stored.
const MEMO_CAPACITY: usize = 1024;

/// The signer and its published keys.
pub struct Identity {
    /// (kid, key); the first signs.
    keys: Vec<(String, SigningKey)>,
    /// The encoded JWS header of the signing key (the same for every assertion).
    header_part: String,
    issuer: String,
    lifetime: time::Duration,
    clock: Arc<dyn Clock>,
    memo: Mutex<Memo>,
}

/// The identity header values of one caller, in the order of [`HEADERS`]; the assertion last.
/// A value that is not a valid header value (never, for parsed usernames and session ids)
/// is left out.
type Values = [Option<HeaderValue>; 5];

/// The header values made in the current second, by signing input. Ed25519 signatures are
/// deterministic (RFC 8032 §5.1.6) and `iat`/`exp` are whole seconds, so signing the same
/// input again would give the same bytes: a hit hands out those values instead. The signing
/// input holds every claim, so it names every value. The memo is emptied when the second
/// changes, so it never holds more than one second's callers.
#[derive(Default)]
struct Memo {
    second: i64,
    values: HashMap<String, Values>,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: Subject,
    name: &'a str,
    role: &'a str,
    sid: &'a str,
    iat: i64,
    exp: i64,
}

/// The user id as the string JWT's `sub` is (RFC 7519 §4.1.2), written without a `String`.
struct Subject(i64);

impl Serialize for Subject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl Identity {
    pub fn new<'a>(
        secret_keys: impl IntoIterator<Item = &'a [u8]>,
        issuer: String,
        lifetime: time::Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let keys = secret_keys
            .into_iter()
            .map(|secret| {
                let seed = crypto::derive_key(secret, b"gatehouse identity assertion ed25519 seed");
                let key = SigningKey::from_bytes(&seed);
                let kid = crypto::encode(&crypto::hash(key.verifying_key().as_bytes())[..12]);
                (kid, key)
            })
            .collect::<Vec<_>>();
        let header = Header {
            alg: "EdDSA",
            typ: "JWT",
            kid: keys.first().map_or("", |(kid, _)| kid.as_str()),
        };
        let header_part = crypto::encode(&serde_json::to_vec(&header).unwrap_or_default());
        Self {
            keys,
            header_part,
            issuer,
            lifetime,
            clock,
            memo: Mutex::default(),
        }
    }

    /// The identity headers for `user` on `session_id`, with the assertion for `audience`.
    pub fn headers(&self, user: &User, session_id: &str, audience: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        self.insert_headers(&mut headers, user, session_id, audience);
        headers
    }

    /// Sets the identity headers (as [`Identity::headers`]) in `headers`, replacing any there.
    pub fn insert_headers(
        &self,
        headers: &mut HeaderMap,
        user: &User,
        session_id: &str,
        audience: &str,
    ) {
        for (name, value) in HEADERS.iter().zip(self.values(user, session_id, audience)) {
            if let Some(value) = value {
                headers.insert(name.clone(), value);
            }
        }
    }

    /// The header values for this caller now: remembered from earlier in the same second, or
    /// made and signed (a compact JWS asserting that `user` holds `session_id`, for
    /// `audience`).
    fn values(&self, user: &User, session_id: &str, audience: &str) -> Values {
        let now = self.clock.now().unix_timestamp();
        let claims = Claims {
            iss: &self.issuer,
            aud: audience,
            sub: Subject(user.id),
            name: user.username.as_str(),
            role: user.role.as_str(),
            sid: session_id,
            iat: now,
            exp: now + self.lifetime.whole_seconds(),
        };
        let mut json = Vec::with_capacity(256);
        // Serialising these fields into memory cannot fail.
        let _ = serde_json::to_writer(&mut json, &claims);
        let mut signing_input =
            String::with_capacity(self.header_part.len() + 1 + json.len() * 4 / 3 + 4);
        signing_input.push_str(&self.header_part);
        signing_input.push('.');
        crypto::encode_into(&json, &mut signing_input);
        if let Some(values) = self.remembered(now, &signing_input) {
            return values;
        }
        // Signed outside the lock, so a miss does not hold up the other workers.
        let signature = self.keys[0].1.sign(signing_input.as_bytes());
        let mut token = String::with_capacity(signing_input.len() + 87);
        token.push_str(&signing_input);
        token.push('.');
        crypto::encode_into(&signature.to_bytes(), &mut token);
        let values: Values = [
            Some(HeaderValue::from(user.id)),
            HeaderValue::from_str(user.username.as_str()).ok(),
            Some(HeaderValue::from_static(user.role.as_str())),
            HeaderValue::from_str(session_id).ok(),
            // Base64url is visible ASCII, so the token is always a valid header value.
            HeaderValue::try_from(token).ok(),
        ];
        let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        if memo.second == now && memo.values.len() < MEMO_CAPACITY {
            memo.values.insert(signing_input, values.clone());
        }
        values
    }

    /// The values made for `signing_input` in second `now`, if any; a new second empties
    /// the memo.
    fn remembered(&self, now: i64, signing_input: &str) -> Option<Values> {
        let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        if memo.second != now {
            memo.second = now;
            memo.values.clear();
        }
        memo.values.get(signing_input).cloned()
    }

    /// The public keys as a JSON Web Key Set (RFC 7517, OKP keys of RFC 8037).
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .map(|(kid, key)| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": crypto::encode(key.verifying_key().as_bytes()),
                    "kid": kid,
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};

    use super::*;
    use crate::account::records::{Role, Username};
    use crate::clock::ManualClock;

    fn user() -> User {
        User {
            id: 7,
            username: Username::parse("ada").unwrap(),
            role: Role::Admin,
            disabled: false,
            name: None,
            email: None,
            email_verified: false,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn assertion(id: &Identity, user: &User, session_id: &str, audience: &str) -> String {
        let headers = id.headers(user, session_id, audience);
        headers[ASSERTION].to_str().unwrap().to_owned()
    }

    fn verify(jwks: &serde_json::Value, token: &str) -> Option<serde_json::Value> {
        let (input, signature) = token.rsplit_once('.')?;
        let signature = Signature::from_slice(&crypto::decode(signature)?).ok()?;
        let (header, claims) = input.split_once('.')?;
        let header: serde_json::Value = serde_json::from_slice(&crypto::decode(header)?).ok()?;
        let key = jwks["keys"]
            .as_array()?
            .iter()
            .find(|k| k["kid"] == header["kid"])?;
        let x: [u8; 32] = crypto::decode(key["x"].as_str()?)?.try_into().ok()?;
        VerifyingKey::from_bytes(&x)
            .ok()?
            .verify(input.as_bytes(), &signature)
            .ok()?;
        serde_json::from_slice(&crypto::decode(claims)?).ok()
    }

    #[test]
    fn an_assertion_verifies_with_the_published_keys_and_says_who() {
        let clock = Arc::new(ManualClock::new(
            time::macros::datetime!(2026-01-01 0:00 UTC),
        ));
        let ring: [&[u8]; 2] = [
            b"new key new key new key new key!",
            b"old key old key old key old key!",
        ];
        let id = Identity::new(
            ring,
            "https://gh.example".into(),
            time::Duration::seconds(30),
            clock,
        );
        let token = assertion(&id, &user(), "sid-1", "http://api.internal");
        let claims = verify(&id.jwks(), token.as_str()).expect("verifies");
        assert_eq!(claims["sub"], "7");
        assert_eq!(claims["name"], "ada");
        assert_eq!(claims["role"], "admin");
        assert_eq!(claims["sid"], "sid-1");
        assert_eq!(claims["aud"], "http://api.internal");
        assert_eq!(claims["iss"], "https://gh.example");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            30
        );
        assert_eq!(id.jwks()["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn an_assertion_does_not_verify_with_another_ring_or_when_altered() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(time::OffsetDateTime::UNIX_EPOCH));
        let ours = Identity::new(
            [&b"ours ours ours ours ours ours ours"[..]],
            "i".into(),
            time::Duration::seconds(30),
            clock.clone(),
        );
        let theirs = Identity::new(
            [&b"theirs theirs theirs theirs theirs"[..]],
            "i".into(),
            time::Duration::seconds(30),
            clock,
        );
        let token = assertion(&ours, &user(), "s", "a");
        let token = token.as_str();
        assert!(verify(&theirs.jwks(), token).is_none());
        let (input, sig) = token.rsplit_once('.').unwrap();
        let forged_claims = crypto::encode(br#"{"sub":"1","role":"admin"}"#);
        let header = input.split('.').next().unwrap();
        assert!(verify(&ours.jwks(), &format!("{header}.{forged_claims}.{sig}")).is_none());
    }

    #[test]
    fn a_remembered_assertion_is_the_one_signing_would_give_and_a_new_second_signs_anew() {
        let clock = Arc::new(ManualClock::new(
            time::macros::datetime!(2026-01-01 0:00 UTC),
        ));
        let secret = b"memo memo memo memo memo memo memo";
        let id = Identity::new(
            [&secret[..]],
            "i".into(),
            time::Duration::seconds(30),
            clock.clone(),
        );
        let first = assertion(&id, &user(), "s", "a");
        assert_eq!(assertion(&id, &user(), "s", "a"), first);
        assert_eq!(id.memo.lock().unwrap().values.len(), 1);
        // A signer with nothing remembered gives the same bytes: the memo changes no token.
        let fresh = Identity::new(
            [&secret[..]],
            "i".into(),
            time::Duration::seconds(30),
            clock.clone(),
        );
        assert_eq!(assertion(&fresh, &user(), "s", "a"), first);
        // Anything in the claims is part of the key.
        let mut demoted = user();
        demoted.role = Role::User;
        let other = assertion(&id, &demoted, "s", "a");
        assert_ne!(other, first);
        let claims = verify(&id.jwks(), &other).unwrap();
        assert_eq!(claims["role"], "user");
        assert_eq!(id.headers(&demoted, "s", "a")[ROLE], "user");
        assert_eq!(id.headers(&user(), "s", "a")[ROLE], "admin");
        assert_ne!(assertion(&id, &user(), "s2", "a"), first);
        // The next second empties the memo and signs a new `iat`.
        clock.advance(time::Duration::seconds(1));
        let later = assertion(&id, &user(), "s", "a");
        assert_ne!(later, first);
        assert_eq!(id.memo.lock().unwrap().values.len(), 1);
        let claims = verify(&id.jwks(), &later).unwrap();
        assert_eq!(
            claims["iat"].as_i64().unwrap(),
            time::macros::datetime!(2026-01-01 0:00:01 UTC).unix_timestamp()
        );
    }

    #[test]
    fn the_memo_stops_growing_at_its_capacity_and_still_signs() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(time::OffsetDateTime::UNIX_EPOCH));
        let id = Identity::new(
            [&b"cap cap cap cap cap cap cap cap cap"[..]],
            "i".into(),
            time::Duration::seconds(30),
            clock,
        );
        for n in 0..MEMO_CAPACITY + 10 {
            let token = assertion(&id, &user(), &format!("s{n}"), "a");
            let claims = verify(&id.jwks(), &token).unwrap();
            assert_eq!(claims["sid"], format!("s{n}"));
        }
        assert_eq!(id.memo.lock().unwrap().values.len(), MEMO_CAPACITY);
    }
}
