//! `gatehouse sessions list USER` and `gatehouse sessions revoke USER [ID|--all]`.

use clap::Subcommand;

use crate::app::AppState;
use crate::client::ClientInfo;
use crate::clock::rfc3339;
use crate::config::Config;
use crate::store::AuditEvent;

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
            for s in state.stores.sessions.list_for_user(user.id).await? {
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
            let revoked = match (id, all) {
                (_, true) => state.stores.sessions.delete_for_user(user.id).await?,
                (Some(id), false) => {
                    let own = state
                        .stores
                        .sessions
                        .list_for_user(user.id)
                        .await?
                        .iter()
                        .any(|s| s.id == id);
                    anyhow::ensure!(own, "{} has no session {id}", user.username);
                    u64::from(state.stores.sessions.delete(&id).await?)
                }
                (None, false) => anyhow::bail!("name a session id, or pass --all"),
            };
            let event = AuditEvent::new(&state, "sessions_revoked", &ClientInfo::default())
                .user(&user)
                .detail(format!("{revoked} by cli"));
            crate::audit::record(&state, event).await;
            println!("revoked {revoked} session(s) of {}", user.username);
        }
    }
    Ok(())
}
