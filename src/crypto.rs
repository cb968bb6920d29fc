//! Randomness, hashing and message authentication, in one place.
//!
//! Every secret value Gatehouse hands out (session secrets, pre-session nonces, generated
//! passwords) comes from [`random_bytes`], which reads the operating system's CSPRNG. Keys for
//! cookie signatures and CSRF tokens are derived from a configured secret key with a different
//! context string each, so a value made for one purpose never verifies for another. The
//! configured keys form a [`KeyRing`]: the first signs, the others still verify, so a key can be
//! rotated without logging everybody out.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use blake2::digest::Output;
use blake2::digest::block_api::{Block, Buffer, UpdateCore, VariableOutputCore};
use blake2::{Blake2b256, Blake2bVarCore, Digest};
use subtle::ConstantTimeEq;

/// Bytes of a session secret: 256 bits, above the 128-bit floor (OWASP ASVS 5.0 V7.2.3).
pub const SECRET_BYTES: usize = 32;

/// `N` bytes from the operating system's CSPRNG.
///
/// An unreadable OS random source is not something Gatehouse can work around safely, so it
/// stops the process instead of handing out guessable secrets.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).expect("the operating system's random source failed");
    out
}

/// A fresh random token, URL-safe base64 without padding.
pub fn random_token() -> String {
    encode(&random_bytes::<SECRET_BYTES>())
}

pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// [`encode`], appended to `out`.
pub fn encode_into(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

pub fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// [`decode`] of exactly `N` bytes, onto the stack: a cookie's MAC and secret are read on every
/// request.
pub fn decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    (text.len() == (N * 4).div_ceil(3)
        && URL_SAFE_NO_PAD.decode_slice(text, &mut out).ok() == Some(N))
    .then_some(out)
}

/// One-way hash used to store session secrets (a database leak does not leak live sessions).
pub fn hash(data: &[u8]) -> [u8; 32] {
    Blake2b256::digest(data).into()
}

/// Constant-time equality for secrets (OWASP CSRF cheat sheet: compare tokens in constant time).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A 256-bit key derived from a configured secret key for one `context` (each purpose its own,
/// so a key made for one never serves another).
pub fn derive_key(secret_key: &[u8], context: &[u8]) -> [u8; 32] {
    MacKey::new(&hash(secret_key)).mac(&[context])
}

/// Keys derived from the configured secret key, one per purpose.
#[derive(Clone)]
pub struct Keys {
    cookie: MacKey,
    csrf: MacKey,
    /// Seals second-factor secrets at rest.
    seal: [u8; 32],
}

impl Keys {
    pub fn derive(secret_key: &[u8]) -> Self {
        Self {
            cookie: MacKey::new(&derive_key(secret_key, b"gatehouse cookie signing key")),
            csrf: MacKey::new(&derive_key(secret_key, b"gatehouse csrf token key")),
            seal: derive_key(secret_key, b"gatehouse factor sealing key"),
        }
    }

    /// MAC binding a cookie's name to its value, so a signed value cannot be replayed under
    /// another cookie name (RFC 6265bis gives names no integrity of their own).
    pub fn cookie_mac(&self, name: &str, value: &str) -> [u8; 32] {
        self.cookie.mac(&[name.as_bytes(), value.as_bytes()])
    }

    /// A CSRF token bound to one (pre-)session (OWASP CSRF cheat sheet: synchronizer token
    /// pattern, here stateless: an HMAC over the session binding).
    pub fn csrf_token(&self, purpose: &str, binding: &[u8]) -> String {
        encode(&self.csrf.mac(&[purpose.as_bytes(), binding]))
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys([redacted])")
    }
}

/// The configured keys: the first signs, every one verifies (key rotation).
#[derive(Clone, Debug)]
pub struct KeyRing {
    keys: Vec<Keys>,
}

impl KeyRing {
    /// `secrets[0]` is the current key; the rest are older keys still accepted.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let keys: Vec<Keys> = secrets.into_iter().map(Keys::derive).collect();
        assert!(!keys.is_empty(), "a key ring needs at least one key");
        Self { keys }
    }

    pub fn current(&self) -> &Keys {
        &self.keys[0]
    }

    /// `Some(true)` if `mac` was made with the current key, `Some(false)` with an older one.
    pub fn verify_cookie_mac(&self, name: &str, value: &str, mac: &[u8]) -> Option<bool> {
        self.keys
            .iter()
            .position(|k| ct_eq(mac, &k.cookie_mac(name, value)))
            .map(|i| i == 0)
    }

    /// Whether `token` is the CSRF token for `binding` under any key of the ring.
    pub fn csrf_matches(&self, purpose: &str, binding: &[u8], token: &[u8]) -> bool {
        // Every key is tried, so the time taken does not depend on which one matched.
        self.keys.iter().fold(false, |found, k| {
            found | ct_eq(token, k.csrf_token(purpose, binding).as_bytes())
        })
    }
}

const NONCE_BYTES: usize = 12;

/// Encrypts `secret` for storage with the current key, bound to `context` (the account), as
/// nonce || ciphertext || tag (ChaCha20-Poly1305, RFC 8439; OWASP ASVS 5.0 V11.3: secrets at
/// rest encrypted with an approved AEAD).
impl KeyRing {
    pub fn seal(&self, secret: &[u8], context: &[u8]) -> Vec<u8> {
        let nonce = random_bytes::<NONCE_BYTES>();
        let mut sealed = secret.to_vec();
        aead_key(&self.current().seal)
            .seal_in_place_append_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(context),
                &mut sealed,
            )
            .expect("sealing a short secret cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    /// The secret `sealed` holds, if any key of the ring sealed it for `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        let (nonce, body) = sealed.split_at_checked(NONCE_BYTES)?;
        self.keys.iter().find_map(|keys| {
            let mut buffer = body.to_vec();
            let nonce = ring::aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
            let plain = aead_key(&keys.seal)
                .open_in_place(nonce, ring::aead::Aad::from(context), &mut buffer)
                .ok()?;
            Some(plain.to_vec())
        })
    }
}

fn aead_key(key: &[u8; 32]) -> ring::aead::LessSafeKey {
    let unbound = ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, key)
        .expect("a 32-byte ChaCha20-Poly1305 key");
    ring::aead::LessSafeKey::new(unbound)
}

/// A key for keyed BLAKE2b-256 (RFC 7693 §3.3) with its key block already compressed. The
/// keyed mode hashes the key, padded to one 128-byte block, ahead of the message; a MAC made
/// from this state is the one `blake2::Blake2bMac` would make (unit test), at one compression
/// less per call, as long as the message is not empty (every message here has a length prefix).
#[derive(Clone)]
struct MacKey(Blake2bVarCore);

impl MacKey {
    fn new(key: &[u8; 32]) -> Self {
        let mut core = Blake2bVarCore::new_with_params(&[], &[], key.len(), 32);
        let mut block = Block::<Blake2bVarCore>::default();
        block[..key.len()].copy_from_slice(key);
        core.update_blocks(std::slice::from_ref(&block));
        Self(core)
    }

    /// The MAC of length-prefixed parts (so `("ab","c")` and `("a","bc")` differ).
    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        debug_assert!(
            !parts.is_empty(),
            "an empty message would end with the key block"
        );
        let mut core = self.0.clone();
        let mut buffer = Buffer::<Blake2bVarCore>::default();
        for part in parts {
            let length = (part.len() as u64).to_be_bytes();
            buffer.digest_blocks(&length, |blocks| core.update_blocks(blocks));
            buffer.digest_blocks(part, |blocks| core.update_blocks(blocks));
        }
        let mut out = Output::<Blake2bVarCore>::default();
        core.finalize_variable_core(&mut buffer, &mut out);
        let mut mac = [0u8; 32];
        mac.copy_from_slice(&out[..32]);
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_any_key_of_the_ring_for_its_context_only() {
        let old = KeyRing::new([b"an older secret key of enough length".as_slice()]);
        let sealed = old.seal(b"JBSWY3DPEHPK3PXP", b"user 7");
        assert_ne!(&sealed[12..28], b"JBSWY3DPEHPK3PXP", "not in the clear");
        let rotated = KeyRing::new([
            b"the new secret key of enough length".as_slice(),
            b"an older secret key of enough length".as_slice(),
        ]);
        assert_eq!(
            rotated.open(&sealed, b"user 7").unwrap(),
            b"JBSWY3DPEHPK3PXP"
        );
        assert_eq!(
            rotated.open(&sealed, b"user 8"),
            None,
            "bound to its account"
        );
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert_eq!(rotated.open(&tampered, b"user 7"), None);
        let other = KeyRing::new([b"an unrelated secret key of length".as_slice()]);
        assert_eq!(other.open(&sealed, b"user 7"), None);
        assert_eq!(old.open(&sealed[..5], b"user 7"), None);
    }

    #[test]
    fn cookie_mac_binds_the_cookie_name() {
        let keys = Keys::derive(b"0123456789abcdef0123456789abcdef");
        assert_ne!(keys.cookie_mac("a", "value"), keys.cookie_mac("b", "value"));
        assert_ne!(keys.cookie_mac("ab", "c"), keys.cookie_mac("a", "bc"));
    }

    #[test]
    fn different_secret_keys_give_different_tokens() {
        let a = Keys::derive(b"0123456789abcdef0123456789abcdef");
        let b = Keys::derive(b"0123456789abcdef0123456789abcdeX");
        assert_ne!(a.csrf_token("pre", b"n"), b.csrf_token("pre", b"n"));
    }

    #[test]
    fn a_mac_from_the_prepared_key_is_keyed_blake2b_over_the_length_prefixed_parts() {
        use blake2::Blake2bMac;
        use blake2::digest::consts::U32;
        use blake2::digest::{KeyInit, Mac};
        let key = hash(b"a key for the test");
        let prepared = MacKey::new(&key);
        for sizes in [
            &[0][..],
            &[1],
            &[112],
            &[119],
            &[120],
            &[128],
            &[0, 0],
            &[5, 300],
            &[248, 7],
        ] {
            let parts: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![0xa5; n]).collect();
            let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            let mut reference = <Blake2bMac<U32> as KeyInit>::new_from_slice(&key).unwrap();
            for part in &parts {
                reference.update(&(part.len() as u64).to_be_bytes());
                reference.update(part);
            }
            let expected: [u8; 32] = reference.finalize().into_bytes().into();
            assert_eq!(prepared.mac(&parts), expected, "parts of {sizes:?} bytes");
        }
        // The values Python's hashlib.blake2b(key=...) gives, so cookies signed before stay valid.
        let keys = Keys::derive(b"0123456789abcdef0123456789abcdef");
        let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(keys.cookie_mac("gh_session", "abc")),
            "bb2b07845301592ca695c0a2a9aa62c7614891e3e58706a0ede43c26b6b68cd6"
        );
        assert_eq!(
            hex(keys.cookie_mac("name", &"x".repeat(300))),
            "384ef89dba8606a9e6f6fffb55f0f2a9f2656d977ab80a0e4696b13d0ef7d09a"
        );
        assert_eq!(
            keys.csrf_token("pre", b"n"),
            "80p_XRF3JobrNBDctYO6nPbNV3ZmhAQBc1L1nENrSNo"
        );
    }

    #[test]
    fn random_tokens_do_not_repeat() {
        assert_ne!(random_token(), random_token());
        assert_eq!(decode(&random_token()).map(|b| b.len()), Some(SECRET_BYTES));
    }

    #[test]
    fn an_array_decodes_only_from_exactly_its_length_of_text() {
        let token = random_token();
        assert_eq!(
            decode_array::<SECRET_BYTES>(&token).map(Vec::from),
            decode(&token)
        );
        assert_eq!(decode_array::<3>("AQID"), Some([1, 2, 3]));
        for wrong in [
            &token[1..],
            &format!("{token}A"),
            &format!("{}!", &token[1..]),
        ] {
            assert_eq!(decode_array::<SECRET_BYTES>(wrong), None, "{wrong}");
        }
        // The last character's spare bits must be zero, as `decode` demands.
        assert_eq!(decode_array::<1>("AQ"), Some([1]));
        assert_eq!(decode_array::<1>("AR"), None);
        assert_eq!(decode("AR"), None);
    }
}
