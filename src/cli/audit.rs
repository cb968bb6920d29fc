//! `gatehouse audit [--user U] [--since T] [--limit N]`: the audit trail, oldest first.

use std::io::Write;

use crate::clock::rfc3339;
use crate::config::Config;
use crate::state::AppState;

#[derive(clap::Args)]
pub struct AuditArgs {
    /// Only events about this username.
    #[arg(long)]
    user: Option<String>,
    /// Only events at or after this time (RFC 3339 or Unix seconds).
    #[arg(long)]
    since: Option<String>,
    /// At most this many (the newest).
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

pub async fn run(config: Config, args: AuditArgs) -> anyhow::Result<()> {
    let since =
        match &args.since {
            Some(text) => Some(crate::directory::parse_timestamp(text).ok_or_else(|| {
                anyhow::anyhow!("--since {text:?} is not RFC 3339 or Unix seconds")
            })?),
            None => None,
        };
    let state = AppState::new(config, std::sync::Arc::new(crate::clock::SystemClock)).await?;
    let events = state
        .audit()
        .list(args.user.as_deref(), since, args.limit)
        .await?;
    let mut out = std::io::stdout().lock();
    for e in events {
        let written = writeln!(
            out,
            "{}  {:<18} {:<24} {:<15} {}",
            rfc3339(e.at),
            e.kind,
            e.username.unwrap_or_else(|| "-".into()),
            e.ip.unwrap_or_else(|| "-".into()),
            e.detail.unwrap_or_default()
        );
        match written {
            // The reader went away (`gatehouse audit | head`): stop quietly.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
            other => other?,
        }
    }
    Ok(())
}
