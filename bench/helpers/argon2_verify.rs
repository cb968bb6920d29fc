//! Benchmark helper (used by `bench/run`): times Argon2id verification with the configured
//! parameters, the work that bounds login throughput, computed the way Gatehouse's hashing
//! workers compute it (into memory each thread keeps), and prints JSON: the median time of one
//! verification on one thread, the ceiling that gives (cores ÷ that time), and the verifications
//! per second that one thread per core actually reached together for `SECONDS` (on a machine
//! shared with other work, the cores are not all free, and this says how much was).
//!
//! `cargo run --release --example argon2_verify -- [CONFIG_FILE] [ROUNDS] [SECONDS]`

use std::time::{Duration, Instant};

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use gatehouse::Config;
use gatehouse::password::{Password, PasswordHasher};

const PASSWORD: &str = "correct horse battery staple";

/// One verification as Gatehouse's hashing workers do it: Argon2id into memory the thread
/// already owns. A fresh area per call would add the kernel's page faults and the zeroing of
/// 19 MiB to every figure, and the ceiling would sit below what the server itself reaches.
fn verify(hash: &PasswordHash, memory: &mut [Block]) -> anyhow::Result<()> {
    let params = Params::try_from(hash).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (Some(salt), Some(expected)) = (hash.salt.as_ref(), hash.hash.as_ref()) else {
        anyhow::bail!("the hash has no salt or no output");
    };
    let mut out = vec![0u8; expected.as_bytes().len()];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into_with_memory(PASSWORD.as_bytes(), salt, &mut out, memory)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(out == expected.as_bytes(), "the password did not verify");
    Ok(())
}

/// The memory one thread verifies in.
fn area(hash: &PasswordHash) -> anyhow::Result<Vec<Block>> {
    let params = Params::try_from(hash).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(vec![Block::default(); params.block_count()])
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let config = Config::load(args.next().as_deref().map(std::path::Path::new))?;
    let rounds: usize = args.next().map_or(Ok(20), |r| r.parse())?;
    let seconds: f64 = args.next().map_or(Ok(2.0), |s| s.parse())?;
    let hash = PasswordHasher::new(&config.password, Default::default())?
        .hash(&Password::candidate(PASSWORD))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("{e}"))?;

    let mut memory = area(&hash)?;
    verify(&hash, &mut memory)?;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        verify(&hash, &mut memory)?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..cores)
        .map(|_| {
            let hash = hash.clone();
            std::thread::spawn(move || -> anyhow::Result<u32> {
                let mut memory = area(&hash)?;
                let mut done = 0;
                while Instant::now() < until {
                    verify(&hash, &mut memory)?;
                    done += 1;
                }
                Ok(done)
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker
            .join()
            .map_err(|_| anyhow::anyhow!("a worker panicked"))??;
    }
    let parallel = f64::from(total) / started.elapsed().as_secs_f64();

    println!(
        "{{\"verify_ms_median\": {median:.3}, \"verify_ms_min\": {:.3}, \"rounds\": {rounds}, \"cores\": {cores}, \"ceiling_per_s\": {:.1}, \"parallel_per_s\": {parallel:.1}}}",
        times[0],
        cores as f64 * 1000.0 / median
    );
    Ok(())
}
