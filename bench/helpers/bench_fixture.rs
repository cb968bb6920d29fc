//! Benchmark fixture (used by `bench/run`, not part of the product): fills a Gatehouse database
//! through the store API directly (a bench-only shortcut: the services would hash per user), so the benchmark does not spend minutes on Argon2 logins just to
//! get many sessions.
//!
//! `cargo run --release --example bench_fixture -- --config FILE users N PASSWORD` creates the
//! users `bench-0` .. `bench-{N-1}` sharing one Argon2 hash of PASSWORD (made with the
//! configured parameters), and seeds the employee directory.
//! `... sessions N COOKIE_FILE` stores N sessions spread over those users, exactly as a login
//! would store them, and appends one `name=value` session cookie per line to COOKIE_FILE.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use gatehouse::Config;
use gatehouse::account::{DisplayName, Role, Username};
use gatehouse::crypto::{self, KeyRing};
use gatehouse::password::{Password, PasswordHasher};
use gatehouse::session::CookieNames;
use gatehouse::session::cookies;
use gatehouse::store::{NewUser, SessionRecord, Stores};
use time::OffsetDateTime;

#[derive(Parser)]
struct Cli {
    #[arg(long)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Users { count: usize, password: String },
    Sessions { count: usize, cookie_file: PathBuf },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(Some(&cli.config))?;
    let stores = Stores::open(&config.database, &config.session).await?;
    let now = OffsetDateTime::now_utc();
    match cli.command {
        Command::Users { count, password } => {
            let hasher = PasswordHasher::new(&config.password, Default::default())?;
            let hash = hasher
                .hash(&Password::candidate(&password))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for i in 0..count {
                stores
                    .users
                    .create(NewUser {
                        username: Username::parse(&format!("bench-{i}"))
                            .map_err(anyhow::Error::msg)?,
                        password_hash: hash.clone(),
                        role: Role::User,
                        name: DisplayName::parse(&format!("Bench User {i}"))
                            .map_err(anyhow::Error::msg)?,
                        email: None,
                        created_at: now,
                    })
                    .await?;
            }
            gatehouse::directory::seed_if_empty(&*stores.employees, now).await?;
            println!("{count} users");
        }
        Command::Sessions { count, cookie_file } => {
            let users = stores.users.list().await?;
            anyhow::ensure!(!users.is_empty(), "create the users first");
            let keys = KeyRing::new(config.secret_keys.iter().map(|k| k.expose()));
            let name = CookieNames::for_config(&config.cookies).session;
            let mut out = std::io::BufWriter::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&cookie_file)?,
            );
            for i in 0..count {
                let secret = crypto::random_bytes::<{ crypto::SECRET_BYTES }>();
                let session = SessionRecord {
                    id: crypto::encode(&crypto::random_bytes::<16>()),
                    secret_hash: crypto::hash(&secret),
                    user_id: users[i % users.len()].id,
                    created_at: now,
                    last_seen_at: now,
                    expires_at: now + config.session.absolute_lifetime,
                    remember: false,
                    user_agent: Some("gatehouse-bench".into()),
                    ip: Some("127.0.0.1".into()),
                };
                stores.sessions.create(&session).await?;
                let value = cookies::sign(keys.current(), name, &crypto::encode(&secret));
                writeln!(out, "{name}={value}")?;
            }
            out.flush()?;
            println!("{count} sessions");
        }
    }
    Ok(())
}
