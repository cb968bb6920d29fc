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

use crate::account::records::{Role, User};
use crate::clock::Clock;
use crate::crypto;

pub const USER_ID: HeaderName = HeaderName::from_static("gatehouse-user-id");
pub const USERNAME: HeaderName = HeaderName::from_static("gatehouse-username");
pub const ROLE: HeaderName = HeaderName::from_static("gatehouse-role");
pub const SESSION_ID: HeaderName = HeaderName::from_static("gatehouse-session-id");
pub const ASSERTION: HeaderName = HeaderName::from_static("gatehouse-assertion");

/// Every identity header; incoming copies are always removed (a client must not forge them).
pub const HEADERS: [HeaderName; 5] = [USER_ID, USERNAME, ROLE, SESSION_ID, ASSERTION];

/// Callers remembered per generation of the memo; beyond it assertions are signed, not stored.
/// The memo holds at most two generations (about 1 KB per caller).
const MEMO_CAPACITY: usize = 2048;

/// The signer and its published keys.
pub struct Identity {
    /// (kid, key); the first signs.
    keys: Vec<(String, SigningKey)>,
    /// The encoded JWS header of the signing key (the same for every assertion).
    header_part: String,
    issuer: String,
    lifetime: time::Duration,
    clock: Arc<dyn Clock>,
    /// How long, in whole seconds, an assertion is handed out again: a quarter of its
    /// lifetime, at least one second.
    reuse_secs: i64,
    memo: Mutex<Memo>,
}

/// The identity header values of one caller, in the order of [`HEADERS`]; the assertion last.
/// A value that is not a valid header value (never, for parsed usernames and session ids)
/// is left out.
type Values = [Option<HeaderValue>; 5];

/// The header values handed out recently, by caller (session and audience). Signing costs
/// more than the rest of a proxied request, and a caller often sends many requests within
/// seconds, so the same values are handed out again while the assertion is younger than
/// `reuse_secs`: an upstream always gets at least three quarters of its lifetime. Renewals
/// are spread over time (each caller renews when its own assertion ages), not made by every
/// caller in the same second.
///
/// Two generations bound the memory: when a generation is `reuse_secs` old it becomes the
/// previous one and the one before it is dropped. Everything dropped is at least that old, so
/// nothing still usable is lost; a caller found in the previous generation moves to the current.
#[derive(Default)]
struct Memo {
    /// When the current generation began (Unix seconds).
    started: i64,
    current: HashMap<String, Remembered>,
    previous: HashMap<String, Remembered>,
}

struct Remembered {
    iat: i64,
    user_id: i64,
    role: Role,
    values: Values,
}

impl Remembered {
    /// Whether these values still say that `user` holds `session_id`, and are young enough to
    /// hand out at `now`.
    fn fits(&self, user: &User, session_id: &str, now: i64, reuse_secs: i64) -> bool {
        let bytes = |i: usize| self.values[i].as_ref().map(HeaderValue::as_bytes);
        (0..reuse_secs).contains(&(now - self.iat))
            && self.user_id == user.id
            && self.role == user.role
            && bytes(1) == Some(user.username.as_str().as_bytes())
            && bytes(3) == Some(session_id.as_bytes())
    }
}

/// The memo key of a caller: session id, a line break, audience. Two callers with one key and
/// the same session id (which [`Remembered::fits`] checks) therefore have the same audience.
fn caller_key(session_id: &str, audience: &str) -> String {
    let mut key = String::with_capacity(session_id.len() + 1 + audience.len());
    key.push_str(session_id);
    key.push('\n');
    key.push_str(audience);
    key
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
            reuse_secs: (lifetime.whole_seconds() / 4).max(1),
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

    /// The header values for this caller now: handed out recently (see [`Memo`]), or made
    /// and signed (a compact JWS asserting that `user` holds `session_id`, for `audience`).
    fn values(&self, user: &User, session_id: &str, audience: &str) -> Values {
        let now = self.clock.now().unix_timestamp();
        let key = caller_key(session_id, audience);
        if let Some(values) = self.remembered(now, &key, user, session_id) {
            return values;
        }
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
        let mut token = String::with_capacity(self.header_part.len() + json.len() * 4 / 3 + 92);
        token.push_str(&self.header_part);
        token.push('.');
        crypto::encode_into(&json, &mut token);
        // Signed outside the lock, so a miss does not hold up the other workers.
        let signature = self.keys[0].1.sign(token.as_bytes());
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
        if memo.current.len() < MEMO_CAPACITY || memo.current.contains_key(&key) {
            let remembered = Remembered {
                iat: now,
                user_id: user.id,
                role: user.role,
                values: values.clone(),
            };
            memo.current.insert(key, remembered);
        }
        values
    }

    /// The values handed out to the caller of `key` that still fit `user` at `now`, if any.
    /// Starts a new generation first when the current one is `reuse_secs` old (or the clock
    /// went back).
    fn remembered(&self, now: i64, key: &str, user: &User, session_id: &str) -> Option<Values> {
        let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        if now - memo.started >= self.reuse_secs || now < memo.started {
            memo.previous = std::mem::take(&mut memo.current);
            memo.started = now;
        }
        if let Some(found) = memo.current.get(key) {
            return found
                .fits(user, session_id, now, self.reuse_secs)
                .then(|| found.values.clone());
        }
        let found = memo.previous.remove(key)?;
        if !found.fits(user, session_id, now, self.reuse_secs) {
            return None;
        }
        let values = found.values.clone();
        if memo.current.len() < MEMO_CAPACITY {
            memo.current.insert(key.to_owned(), found);
        }
        Some(values)
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

    /// The tests' start: 2026-01-01 00:00 UTC, plus `secs`.
    fn clock_at(secs: i64) -> Arc<ManualClock> {
        let start = time::macros::datetime!(2026-01-01 0:00 UTC);
        Arc::new(ManualClock::new(start + time::Duration::seconds(secs)))
    }

    fn signer(clock: Arc<ManualClock>) -> Identity {
        Identity::new(
            [&b"memo memo memo memo memo memo memo"[..]],
            "i".into(),
            time::Duration::seconds(30),
            clock,
        )
    }

    fn iat(id: &Identity, token: &str) -> i64 {
        let claims = verify(&id.jwks(), token).expect("verifies");
        claims["iat"].as_i64().unwrap()
            - time::macros::datetime!(2026-01-01 0:00 UTC).unix_timestamp()
    }

    #[test]
    fn an_assertion_is_handed_out_again_for_a_quarter_of_its_lifetime_then_signed_anew() {
        let clock = clock_at(0);
        let id = signer(clock.clone());
        let first = assertion(&id, &user(), "s", "a");
        // A signer with nothing remembered gives the same bytes: the memo forges nothing.
        assert_eq!(assertion(&signer(clock.clone()), &user(), "s", "a"), first);
        // A lifetime of 30 s: the same assertion for 7 s, so at least 23 s are left upstream.
        clock.advance(time::Duration::seconds(6));
        assert_eq!(assertion(&id, &user(), "s", "a"), first);
        clock.advance(time::Duration::seconds(1));
        let renewed = assertion(&id, &user(), "s", "a");
        assert_ne!(renewed, first);
        assert_eq!(iat(&id, &renewed), 7);
        assert_eq!(assertion(&id, &user(), "s", "a"), renewed);
    }

    #[test]
    fn another_session_audience_role_or_name_gets_its_own_assertion_at_once() {
        let clock = clock_at(0);
        let id = signer(clock.clone());
        let first = assertion(&id, &user(), "s", "a");
        assert_ne!(assertion(&id, &user(), "s2", "a"), first);
        assert_ne!(assertion(&id, &user(), "s", "b"), first);
        // The key keeps ("s1", "a") and ("s", "1a") apart.
        let one = assertion(&id, &user(), "s1", "a");
        let claims = verify(&id.jwks(), &assertion(&id, &user(), "s", "1a")).unwrap();
        assert_eq!(
            (claims["sid"].as_str(), claims["aud"].as_str()),
            (Some("s"), Some("1a"))
        );
        assert_eq!(verify(&id.jwks(), &one).unwrap()["sid"], "s1");
        // Even callers that share a key (possible only with a line break in a session id) get
        // their own assertion: the session id is checked on every hit.
        assertion(&id, &user(), "x\ny", "z");
        let claims = verify(&id.jwks(), &assertion(&id, &user(), "x", "y\nz")).unwrap();
        assert_eq!(
            (claims["sid"].as_str(), claims["aud"].as_str()),
            (Some("x"), Some("y\nz"))
        );
        clock.advance(time::Duration::seconds(2));
        let mut demoted = user();
        demoted.role = Role::User;
        let claims = verify(&id.jwks(), &assertion(&id, &demoted, "s", "a")).unwrap();
        assert_eq!(claims["role"], "user");
        assert_eq!(id.headers(&demoted, "s", "a")[ROLE], "user");
        let mut renamed = user();
        renamed.username = Username::parse("grace").unwrap();
        let claims = verify(&id.jwks(), &assertion(&id, &renamed, "s", "a")).unwrap();
        assert_eq!(claims["name"], "grace");
        assert_eq!(id.headers(&renamed, "s", "a")[USERNAME], "grace");
    }

    #[test]
    fn a_caller_outlives_the_generation_it_was_remembered_in_but_not_its_reuse_window() {
        let clock = clock_at(0);
        let id = signer(clock.clone());
        assertion(&id, &user(), "early", "a");
        clock.advance(time::Duration::seconds(5));
        let first = assertion(&id, &user(), "s", "a");
        // At 8 s a new generation begins; "s" (3 s old) moves into it, "early" (8 s) does not.
        clock.advance(time::Duration::seconds(3));
        assert_eq!(assertion(&id, &user(), "s", "a"), first);
        assert_eq!(iat(&id, &assertion(&id, &user(), "early", "a")), 8);
        {
            let memo = id.memo.lock().unwrap();
            assert_eq!((memo.current.len(), memo.previous.len()), (2, 0));
        }
        clock.advance(time::Duration::seconds(3));
        assert_eq!(assertion(&id, &user(), "s", "a"), first);
        clock.advance(time::Duration::seconds(1));
        assert_eq!(iat(&id, &assertion(&id, &user(), "s", "a")), 12);
        // Whoever is not seen again is dropped with the generation after theirs.
        clock.advance(time::Duration::seconds(14));
        assertion(&id, &user(), "late", "a");
        assert_eq!(id.memo.lock().unwrap().previous.len(), 2);
        clock.advance(time::Duration::seconds(7));
        assertion(&id, &user(), "later", "a");
        let memo = id.memo.lock().unwrap();
        assert_eq!((memo.current.len(), memo.previous.len()), (1, 1));
        assert!(memo.previous.contains_key(&caller_key("late", "a")));
    }

    #[test]
    fn a_clock_that_went_back_never_hands_out_an_assertion_from_its_future() {
        let clock = clock_at(10);
        let id = signer(clock.clone());
        assertion(&id, &user(), "s", "a");
        clock.advance(time::Duration::seconds(-3));
        assert_eq!(iat(&id, &assertion(&id, &user(), "s", "a")), 7);
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
        assert_eq!(id.memo.lock().unwrap().current.len(), MEMO_CAPACITY);
    }
}
