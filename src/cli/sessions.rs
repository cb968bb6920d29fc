//! `gatehouse sessions list USER` and `gatehouse sessions revoke USER [ID|--all]`.

use clap::Subcommand;

use crate::clock::rfc3339;
use crate::config::Config;
use crate::peer::Peer;
use crate::session::Revoker;
use crate::state::AppState;

#[derive(Subcommand)]
pub enum SessionsCommand {
    /// List an account's sessions.
    List { username: String },
    /// Revoke one session of an account by its id, or all of them with --all.
    Revoke {
        username: String,
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

pub async fn run(config: Config, command: SessionsCommand) -> anyhow::Result<()> {
    let state = AppState::new(config, std::sync::Arc::new(crate::clock::SystemClock)).await?;
    match command {
        SessionsCommand::List { username } => {
            let user = super::user::find(&state, &username).await?;
            println!(
                "{:<24} {:<20} {:<20} {:<20} {:<8} {:<15} user agent",
                "id", "created", "last seen", "expires", "remember", "ip"
            );
            for s in state.sessions().list(user.id).await? {
                println!(
                    "{:<24} {:<20} {:<20} {:<20} {:<8} {:<15} {}",
                    s.id,
                    rfc3339(s.created_at),
                    rfc3339(s.last_seen_at),
                    rfc3339(s.expires_at),
                    if s.remember { "yes" } else { "no" },
                    s.ip.unwrap_or_default(),
                    s.user_agent.unwrap_or_default()
                );
            }
        }
        SessionsCommand::Revoke { username, id, all } => {
            let user = super::user::find(&state, &username).await?;
            let sessions = state.sessions();
            let operator = Peer::default();
            let revoked = match (id, all) {
                (_, true) => sessions
                    .revoke_all(&user, None, Revoker::Cli, &operator)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                (Some(id), false) => {
                    let done = sessions
                        .revoke(&user, &id, Revoker::Cli, &operator)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    anyhow::ensure!(done, "{} has no session {id}", user.username);
                    1
                }
                (None, false) => anyhow::bail!("name a session id, or pass --all"),
            };
            println!("revoked {revoked} session(s) of {}", user.username);
        }
    }
    Ok(())
}
