//! Passwords: the rules a new password must meet, and Argon2id hashing on a bounded pool.
//!
//! Rules follow NIST SP 800-63B and OWASP ASVS 5.0 V6.2: at least 8 characters, at least 1024
//! accepted, never truncated or case-folded, no composition rules, and common passwords refused
//! (the list shipped by the maintained `passwords` crate, ~100 000 entries). Hashing runs on
//! tokio's blocking pool behind a semaphore, so a login flood queues for the hashing permits
//! instead of stalling every other request.

use std::fmt;
use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use tokio::sync::Semaphore;

use crate::config::PasswordConfig;
use crate::error::ApiError;

/// A password as typed. `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 1024;

    /// A new password (sign-up, change): checked against the rules.
    pub fn parse_new(input: &str) -> Result<Self, &'static str> {
        let chars = input.chars().count();
        if chars == 0 {
            return Err("required");
        }
        if chars < Self::MIN_CHARS {
            return Err("too_short");
        }
        if chars > Self::MAX_CHARS {
            return Err("too_long");
        }
        // Refuse passwords from breach corpora (NIST SP 800-63B §3.1.1.2, ASVS 5.0 V6.2.4).
        if passwords::analyzer::is_common_password(input)
            || passwords::analyzer::is_common_password(input.to_lowercase())
        {
            return Err("too_common");
        }
        Ok(Self(input.to_owned()))
    }

    /// A password offered at login: no rules, compared as typed.
    pub fn candidate(input: &str) -> Self {
        Self(input.to_owned())
    }

    /// A random password for seeded and CLI-created accounts (128 bits).
    pub fn generate() -> Self {
        Self(crate::crypto::encode(&crate::crypto::random_bytes::<16>()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Argon2id hashing with a bounded number of hashes in flight.
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// Verified against for unknown users, so their logins cost the same time (ASVS 5.0 V6.3.x,
    /// OWASP Authentication cheat sheet: no timing oracle for account existence).
    dummy_hash: String,
}

impl PasswordHasher {
    pub fn new(config: &PasswordConfig) -> anyhow::Result<Self> {
        let params = Params::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.argon2_parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("bad Argon2 parameters: {e}"))?;
        let dummy_hash = dummy_hash(&params)?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(config.max_concurrent_hashes.max(1))),
            dummy_hash,
        })
    }

    /// A PHC string (`$argon2id$v=19$...`) with a fresh salt.
    pub async fn hash(&self, password: &Password) -> Result<String, ApiError> {
        let params = self.params.clone();
        let password = password.clone();
        self.on_pool(move || hash_blocking(&params, password.expose()))
            .await?
            .map_err(ApiError::internal)
    }

    /// Whether `password` matches `hash`; with no hash, a dummy verification that fails.
    pub async fn verify(&self, password: &Password, hash: Option<&str>) -> Result<bool, ApiError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.clone();
        let matched = self
            .on_pool(move || {
                Argon2::default()
                    .verify_password(password.expose().as_bytes(), hash.as_str())
                    .is_ok()
            })
            .await?;
        Ok(known && matched)
    }

    /// Whether a stored hash was made with other parameters than the configured ones, so it
    /// should be replaced at the next successful login (OWASP Password Storage cheat sheet,
    /// "Upgrading the work factor").
    pub fn needs_rehash(&self, hash: &str) -> bool {
        let expected = format!(
            "$argon2id$v=19$m={},t={},p={}$",
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost()
        );
        !hash.starts_with(&expected)
    }

    async fn on_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(move || {
            lower_priority();
            work()
        })
        .await
        .map_err(ApiError::internal)
    }
}

/// Hashing runs below the priority of request handling (nice 10 on Linux), so a login flood
/// takes the CPU that session checks leave instead of delaying them; with nothing else to do
/// it still gets every core. Only hashing runs on tokio's blocking pool. Where the OS refuses,
/// hashing just keeps the normal priority.
fn lower_priority() {
    use std::cell::Cell;
    use thread_priority::{ThreadPriority, ThreadPriorityValue, set_current_thread_priority};
    thread_local! {
        static LOWERED: Cell<bool> = const { Cell::new(false) };
    }
    if LOWERED.get() {
        return;
    }
    LOWERED.set(true);
    // 23 of 0..=99 maps to niceness 10 of -20..=19.
    if let Ok(value) = ThreadPriorityValue::try_from(23u8) {
        let _ = set_current_thread_priority(ThreadPriority::Crossplatform(value));
    }
}

/// A PHC string with the configured parameters and a random salt and output. Verifying any
/// password against it costs one full Argon2 run, like a real account, and never succeeds
/// (no password is known to give that output), without hashing anything at start-up.
fn dummy_hash(params: &Params) -> anyhow::Result<String> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    let phc = format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        STANDARD_NO_PAD.encode(crate::crypto::random_bytes::<16>()),
        STANDARD_NO_PAD.encode(crate::crypto::random_bytes::<32>()),
    );
    argon2::PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("bad dummy hash: {e}"))?;
    Ok(phc)
}

fn hash_blocking(params: &Params, password: &str) -> anyhow::Result<String> {
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    argon2
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert_eq!(Password::parse_new("password").unwrap_err(), "too_common");
        assert_eq!(Password::parse_new("PASSWORD").unwrap_err(), "too_common");
        assert_eq!(Password::parse_new("qwertyuiop").unwrap_err(), "too_common");
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(Password::parse_new("ééééééé").unwrap_err(), "too_short");
        assert!(Password::parse_new("éééééééé").is_ok());
        assert!(Password::parse_new(&"x7".repeat(512)).is_ok());
        assert_eq!(
            Password::parse_new(&"x".repeat(1025)).unwrap_err(),
            "too_long"
        );
    }

    #[tokio::test]
    async fn unknown_users_are_checked_against_a_dummy_with_the_configured_parameters() {
        let config = PasswordConfig {
            argon2_memory_kib: crate::config::OWASP_ARGON2_MEMORY_KIB,
            argon2_iterations: 3,
            argon2_parallelism: 1,
            max_concurrent_hashes: 1,
        };
        let hasher = PasswordHasher::new(&config).unwrap();
        assert!(!hasher.needs_rehash(&hasher.dummy_hash));
        let password = Password::candidate("anything at all");
        assert!(!hasher.verify(&password, None).await.unwrap());
        let real = hasher.hash(&password).await.unwrap();
        assert!(hasher.verify(&password, Some(&real)).await.unwrap());
    }

    #[test]
    fn debug_output_hides_the_password() {
        assert!(!format!("{:?}", Password::candidate("hunter2hunter2")).contains("hunter2"));
    }
}
