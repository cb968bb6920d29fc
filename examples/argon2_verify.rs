//! Benchmark helper (used by `bench/run`): times one Argon2id verification with the configured
//! parameters, the work that bounds login throughput, and prints it with the core count as JSON.
//!
//! `cargo run --release --example argon2_verify -- [CONFIG_FILE] [ROUNDS]`

use std::time::Instant;

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use gatehouse::Config;
use gatehouse::password::{Password, PasswordHasher};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let config = Config::load(args.next().as_deref().map(std::path::Path::new))?;
    let rounds: usize = args.next().map_or(Ok(20), |r| r.parse())?;
    let password = Password::candidate("correct horse battery staple");
    let hash = PasswordHasher::new(&config.password)?
        .hash(&password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let parsed = PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        Argon2::default()
            .verify_password(password.expose().as_bytes(), &parsed)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let median = times[times.len() / 2];
    println!(
        "{{\"verify_ms_median\": {median:.3}, \"verify_ms_min\": {:.3}, \"rounds\": {rounds}, \"cores\": {cores}, \"ceiling_per_s\": {:.1}}}",
        times[0],
        cores as f64 * 1000.0 / median
    );
    Ok(())
}
