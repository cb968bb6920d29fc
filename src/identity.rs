//! Who is calling, told to an upstream API: the `Gatehouse-*` identity headers and the
//! `Gatehouse-Assertion`, a short-lived compact JWS (EdDSA over Ed25519, RFC 8037) that an
//! upstream can verify offline with the keys at `GET /.well-known/jwks.json`.
//!
//! The signing keys are derived from the configured key ring (one Ed25519 key per secret key,
//! with its own derivation context), so rotating `security.secret_key` rotates them the same
//! way: the current key signs, older keys stay in the JWKS until they leave the ring.

use std::sync::Arc;

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

/// The signer and its published keys.
pub struct Identity {
    /// (kid, key); the first signs.
    keys: Vec<(String, SigningKey)>,
    issuer: String,
    lifetime: time::Duration,
    clock: Arc<dyn Clock>,
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
    sub: String,
    name: &'a str,
    role: &'a str,
    sid: &'a str,
    iat: i64,
    exp: i64,
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
            .collect();
        Self {
            keys,
            issuer,
            lifetime,
            clock,
        }
    }

    /// A compact JWS asserting that `user` holds session `session_id`, for `audience`.
    pub fn assertion(&self, user: &User, session_id: &str, audience: &str) -> String {
        let (kid, key) = &self.keys[0];
        let now = self.clock.now().unix_timestamp();
        let header = Header {
            alg: "EdDSA",
            typ: "JWT",
            kid,
        };
        let claims = Claims {
            iss: &self.issuer,
            aud: audience,
            sub: user.id.to_string(),
            name: user.username.as_str(),
            role: user.role.as_str(),
            sid: session_id,
            iat: now,
            exp: now + self.lifetime.whole_seconds(),
        };
        let signing_input = format!("{}.{}", part(&header), part(&claims));
        let signature = key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", crypto::encode(&signature.to_bytes()))
    }

    /// The identity headers for `user` on `session_id`, with the assertion for `audience`.
    pub fn headers(&self, user: &User, session_id: &str, audience: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let mut put = |name: HeaderName, value: String| {
            if let Ok(value) = HeaderValue::try_from(value) {
                headers.insert(name, value);
            }
        };
        put(USER_ID, user.id.to_string());
        put(USERNAME, user.username.as_str().to_owned());
        put(ROLE, user.role.as_str().to_owned());
        put(SESSION_ID, session_id.to_owned());
        put(ASSERTION, self.assertion(user, session_id, audience));
        headers
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

/// One base64url-encoded JSON part of a compact JWS.
fn part(value: &impl Serialize) -> String {
    crypto::encode(&serde_json::to_vec(value).unwrap_or_default())
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
        let token = id.assertion(&user(), "sid-1", "http://api.internal");
        let claims = verify(&id.jwks(), &token).expect("verifies");
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
        let token = ours.assertion(&user(), "s", "a");
        assert!(verify(&theirs.jwks(), &token).is_none());
        let (input, sig) = token.rsplit_once('.').unwrap();
        let forged_claims = crypto::encode(br#"{"sub":"1","role":"admin"}"#);
        let header = input.split('.').next().unwrap();
        assert!(verify(&ours.jwks(), &format!("{header}.{forged_claims}.{sig}")).is_none());
    }
}
