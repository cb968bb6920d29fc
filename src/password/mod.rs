//! Passwords: the rules a new password must meet, and Argon2id hashing on a bounded pool.
//!
//! Rules follow NIST SP 800-63B and OWASP ASVS 5.0 V6.2: at least 8 characters, at least 1024
//! accepted, never truncated or case-folded, no composition rules, and common passwords refused
//! (the list shipped by the maintained `passwords` crate, ~100 000 entries). Hashing runs on a
//! fixed set of worker threads (`password.max_concurrent_hashes`), each reusing one Argon2
//! memory area for every hash while logins keep coming, so a login flood queues for the workers
//! instead of stalling other requests, and hashing memory stays at workers × m_cost however
//! many logins arrive (a fresh 19 MiB allocation per hash on tokio's blocking pool let the
//! allocator keep hundreds of MB).

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{Semaphore, oneshot};

use crate::config::PasswordConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;

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

/// A unit of hashing work, run on a worker with that worker's memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The queue the workers take jobs from. Waiting on the condition variable releases the lock,
/// so every idle worker keeps its own idle clock and releases its own memory.
#[derive(Default)]
struct Queue {
    jobs: Mutex<Jobs>,
    ready: Condvar,
}

#[derive(Default)]
struct Jobs {
    waiting: VecDeque<Job>,
    closed: bool,
}

/// Argon2id hashing on a fixed set of workers with reused memory.
pub struct PasswordHasher {
    params: Params,
    /// One permit per worker: at most that many hashes queued or running.
    permits: Arc<Semaphore>,
    queue: Arc<Queue>,
    /// Verified against for unknown users, so their logins cost the same time (ASVS 5.0 V6.3.x,
    /// OWASP Authentication cheat sheet: no timing oracle for account existence).
    dummy_hash: String,
}

impl PasswordHasher {
    pub fn new(config: &PasswordConfig, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let params = Params::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.argon2_parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("bad Argon2 parameters: {e}"))?;
        let dummy_hash = dummy_hash(&params)?;
        let workers = config.max_concurrent_hashes.max(1);
        let queue = Arc::new(Queue::default());
        for n in 0..workers {
            let worker = Worker {
                queue: queue.clone(),
                blocks: params.block_count(),
                idle_release: config.hash_memory_idle_release,
                metrics: metrics.clone(),
            };
            std::thread::Builder::new()
                .name(format!("gatehouse-hash-{n}"))
                .spawn(move || worker.run())
                .map_err(|e| anyhow::anyhow!("cannot start a hashing thread: {e}"))?;
        }
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(workers)),
            queue,
            dummy_hash,
        })
    }

    /// A PHC string (`$argon2id$v=19$...`) with a fresh salt.
    pub async fn hash(&self, password: &Password) -> Result<String, ApiError> {
        let params = self.params.clone();
        let password = password.clone();
        self.on_worker(move |memory| hash_with(&params, password.expose(), memory))
            .await?
            .map_err(ApiError::internal)
    }

    /// Whether `password` matches `hash`; with no hash, a dummy verification that fails.
    pub async fn verify(&self, password: &Password, hash: Option<&str>) -> Result<bool, ApiError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.clone();
        let matched = self
            .on_worker(move |memory| verify_with(password.expose(), &hash, memory))
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

    async fn on_worker<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = done.send(work(memory));
        });
        self.queue.lock().waiting.push_back(job);
        self.queue.ready.notify_one();
        result
            .await
            .map_err(|_| ApiError::internal(anyhow::anyhow!("a hashing job was dropped")))
    }
}

impl Drop for PasswordHasher {
    fn drop(&mut self) {
        self.queue.lock().closed = true;
        self.queue.ready.notify_all();
    }
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Jobs> {
        // A job never runs under the lock, so a poisoned lock still holds a sound queue.
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A hashing thread: one memory area of `blocks` Argon2 blocks, allocated at its first job,
/// reused for every job while they keep coming (a login flood), released after `idle_release`
/// without one (`password.hash_memory_idle_release_ms`).
struct Worker {
    queue: Arc<Queue>,
    blocks: usize,
    idle_release: Duration,
    metrics: Arc<Metrics>,
}

impl Worker {
    fn run(self) {
        lower_priority();
        let mut memory: Vec<Block> = Vec::new();
        while let Some(job) = self.next_job(&mut memory) {
            if memory.len() < self.blocks {
                memory = area(self.blocks);
                self.metrics.hash_memory_allocated(self.bytes());
            }
            // A panicking job must not take the worker (and its memory) with it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut memory)));
        }
    }

    /// The next job, waiting for one; `memory` is released after `idle_release` of waiting.
    /// `None` once the hasher is gone.
    fn next_job(&self, memory: &mut Vec<Block>) -> Option<Job> {
        let mut jobs = self.queue.lock();
        loop {
            if let Some(job) = jobs.waiting.pop_front() {
                return Some(job);
            }
            if jobs.closed {
                return None;
            }
            let (guard, waited) = self
                .queue
                .ready
                .wait_timeout(jobs, self.idle_release)
                .unwrap_or_else(|e| e.into_inner());
            jobs = guard;
            if waited.timed_out() && !memory.is_empty() {
                *memory = Vec::new();
                self.metrics.hash_memory_released(self.bytes());
            }
        }
    }

    fn bytes(&self) -> u64 {
        (self.blocks * std::mem::size_of::<Block>()) as u64
    }
}

/// glibc serves an allocation above its mmap threshold with its own mapping and unmaps it on
/// free, but after such a free it raises the threshold to that size (mallopt(3), "dynamic mmap
/// threshold", up to 32 MiB on 64-bit): the next 19 MiB area then comes from a heap and stays
/// resident after it is freed (measured: 41 MB kept 10 s after the second login flood). Areas
/// reserved above that ceiling are always mapped and always returned; only the pages Argon2
/// writes become resident, and other allocators treat the reservation the same way.
const ALWAYS_MAPPED_BLOCKS: usize = 32 * 1024 + 1;

/// A zeroed Argon2 memory area of `blocks` blocks.
fn area(blocks: usize) -> Vec<Block> {
    let mut memory = Vec::with_capacity(blocks.max(ALWAYS_MAPPED_BLOCKS));
    memory.resize(blocks, Block::default());
    memory
}

/// Argon2id with the configured parameters into `memory`, as a PHC string.
fn hash_with(params: &Params, password: &str, memory: &mut Vec<Block>) -> anyhow::Result<String> {
    let salt = crate::crypto::random_bytes::<16>();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory.as_mut_slice())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)
            .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("bad salt: {e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("bad output: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` gives the output stored in the PHC string `hash` (any Argon2 variant,
/// version and parameters it names), computed in `memory` when it is large enough.
fn verify_with(password: &str, hash: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm.as_str()),
        Params::try_from(&parsed),
        parsed.salt.as_ref(),
        parsed.hash.as_ref(),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut out = vec![0u8; expected.as_bytes().len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    // A hash made with more memory than configured (parameters lowered since) gets its own.
    let computed = if params.block_count() <= memory.len() {
        argon2.hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut out,
            memory.as_mut_slice(),
        )
    } else {
        argon2.hash_password_into(password.as_bytes(), salt, &mut out)
    };
    computed.is_ok() && crate::crypto::ct_eq(&out, expected.as_bytes())
}

/// Hashing runs below the priority of request handling (nice 10 on Linux), so a login flood
/// takes the CPU that session checks leave instead of delaying them; with nothing else to do
/// it still gets every core. Only the hashing workers run at it. Where the OS refuses, hashing
/// just keeps the normal priority.
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
    PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("bad dummy hash: {e}"))?;
    Ok(phc)
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
            hash_memory_idle_release: Duration::from_secs(2),
        };
        let hasher = PasswordHasher::new(&config, Arc::default()).unwrap();
        assert!(!hasher.needs_rehash(&hasher.dummy_hash));
        let password = Password::candidate("anything at all");
        assert!(!hasher.verify(&password, None).await.unwrap());
        let real = hasher.hash(&password).await.unwrap();
        assert!(hasher.verify(&password, Some(&real)).await.unwrap());
    }

    #[tokio::test]
    async fn stored_hashes_of_other_parameters_verify_and_worker_hashes_verify_with_the_crate() {
        use argon2::PasswordHasher as _;
        let config = PasswordConfig {
            argon2_memory_kib: crate::config::OWASP_ARGON2_MEMORY_KIB,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            max_concurrent_hashes: 2,
            hash_memory_idle_release: Duration::from_secs(2),
        };
        let hasher = PasswordHasher::new(&config, Arc::default()).unwrap();
        let password = Password::candidate("correct horse battery staple");
        // A stored hash from before the workers: made by the crate's own hasher, other params.
        let older = Params::new(8 * 1024, 3, 1, None).unwrap();
        let stored = Argon2::new(Algorithm::Argon2id, Version::V0x13, older)
            .hash_password(password.expose().as_bytes())
            .unwrap()
            .to_string();
        assert!(hasher.verify(&password, Some(&stored)).await.unwrap());
        assert!(hasher.needs_rehash(&stored));
        let wrong = Password::candidate("correct horse battery stapler");
        assert!(!hasher.verify(&wrong, Some(&stored)).await.unwrap());
        // Ours verify with the crate's own verifier, and many hashes run on two workers.
        let ours = futures_join(&hasher, &password).await;
        for phc in &ours {
            use argon2::PasswordVerifier as _;
            assert!(
                Argon2::default()
                    .verify_password(password.expose().as_bytes(), phc.as_str())
                    .is_ok()
            );
            assert!(!hasher.needs_rehash(phc));
        }
        assert!(
            !hasher
                .verify(&password, Some("$argon2id$garbage"))
                .await
                .unwrap()
        );
    }

    async fn futures_join(hasher: &PasswordHasher, password: &Password) -> Vec<String> {
        let mut out = Vec::new();
        let (a, b, c) = tokio::join!(
            hasher.hash(password),
            hasher.hash(password),
            hasher.hash(password)
        );
        out.extend([a.unwrap(), b.unwrap(), c.unwrap()]);
        assert!(out[0] != out[1], "every hash has its own salt");
        out
    }

    #[test]
    fn debug_output_hides_the_password() {
        assert!(!format!("{:?}", Password::candidate("hunter2hunter2")).contains("hunter2"));
    }
}
