//! `gatehouse user add|passwd|role|disable|list`: account administration against the
//! configured database, for operators with shell access.

use std::io::BufRead;

use clap::Subcommand;

use crate::account::{self, Username};
use crate::app::AppState;
use crate::client::ClientInfo;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::password::Password;
use crate::roles::Role;
use crate::store::UserUpdate;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an account; prints a generated password unless --password-stdin is given.
    Add {
        username: String,
        /// user or admin
        #[arg(long, default_value = "user")]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
    },
    /// Set a new password; prints a generated one unless --password-stdin is given.
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set the role (user or admin).
    Role { username: String, role: String },
    /// Disable an account (ends its sessions), or enable it again with --enable.
    Disable {
        username: String,
        #[arg(long)]
        enable: bool,
    },
    /// List accounts.
    List,
}

pub async fn run(config: Config, command: UserCommand) -> anyhow::Result<()> {
    let state = AppState::new(config, std::sync::Arc::new(SystemClock)).await?;
    match command {
        UserCommand::Add {
            username,
            role,
            password_stdin,
            name,
            email,
        } => {
            let username = parse_username(&username)?;
            let role = Role::parse(&role)
                .map_err(|_| anyhow::anyhow!("role must be `user` or `admin`"))?;
            let (password, generated) = new_password(password_stdin)?;
            let user = account::create(&state, username, &password, role, name, email)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "created {} (id {}, {})",
                user.username,
                user.id,
                user.role.as_str()
            );
            if generated {
                println!("password: {}", password.expose());
            }
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let user = find(&state, &username).await?;
            let (password, generated) = new_password(password_stdin)?;
            let hash = state
                .passwords
                .hash(&password)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            state.stores.users.set_password_hash(user.id, &hash).await?;
            println!("password of {} changed", user.username);
            if generated {
                println!("password: {}", password.expose());
            }
        }
        UserCommand::Role { username, role } => {
            let user = find(&state, &username).await?;
            let role = Role::parse(&role)
                .map_err(|_| anyhow::anyhow!("role must be `user` or `admin`"))?;
            let update = UserUpdate {
                role: Some(role),
                ..UserUpdate::default()
            };
            account::change(&state, user.id, update, &ClientInfo::default(), "cli")
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{} is now {}", user.username, role.as_str());
        }
        UserCommand::Disable { username, enable } => {
            let user = find(&state, &username).await?;
            let update = UserUpdate {
                disabled: Some(!enable),
                ..UserUpdate::default()
            };
            account::change(&state, user.id, update, &ClientInfo::default(), "cli")
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "{} is now {}",
                user.username,
                if enable { "enabled" } else { "disabled" }
            );
        }
        UserCommand::List => {
            println!(
                "{:>6}  {:<32} {:<6} {:<8} created",
                "id", "username", "role", "status"
            );
            for u in state.stores.users.list().await? {
                let status = if u.disabled { "disabled" } else { "active" };
                println!(
                    "{:>6}  {:<32} {:<6} {:<8} {}",
                    u.id,
                    u.username,
                    u.role.as_str(),
                    status,
                    crate::clock::rfc3339(u.created_at)
                );
            }
        }
    }
    Ok(())
}

fn parse_username(input: &str) -> anyhow::Result<Username> {
    Username::parse(input).map_err(|code| anyhow::anyhow!("invalid username {input:?}: {code}"))
}

pub(super) async fn find(state: &AppState, username: &str) -> anyhow::Result<crate::account::User> {
    let username = parse_username(username)?;
    state
        .stores
        .users
        .credentials(&username)
        .await?
        .map(|c| c.user)
        .ok_or_else(|| anyhow::anyhow!("no account named {}", username.as_str()))
}

/// The password to set: from stdin (checked against the rules) or generated.
fn new_password(from_stdin: bool) -> anyhow::Result<(Password, bool)> {
    if !from_stdin {
        return Ok((Password::generate(), true));
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim_end_matches(['\r', '\n']);
    let password =
        Password::parse_new(line).map_err(|code| anyhow::anyhow!("password refused: {code}"))?;
    Ok((password, false))
}
