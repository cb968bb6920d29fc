//! `gatehouse user add|passwd|role|disable|list|mfa reset`: account administration against the
//! configured database, for operators with shell access. Every command calls the same account
//! services as the HTTP API, so it ends sessions and writes the audit trail exactly as the API
//! does.

use std::io::BufRead;

use clap::Subcommand;

use crate::account::{Actor, AdminChange, DisplayName, Email, NewAccount, Role, User, Username};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::password::Password;
use crate::peer::Peer;
use crate::state::AppState;

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
    /// Set a new password (a reset): ends every session of the account (running nodes refuse
    /// them within session.cache_ttl_ms) and is recorded in the audit trail. Prints a generated
    /// password unless --password-stdin is given.
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set the role (user or admin); takes effect on the account's next request, audited.
    Role { username: String, role: String },
    /// Disable an account (ends its sessions at once), or enable it again with --enable; audited.
    Disable {
        username: String,
        #[arg(long)]
        enable: bool,
    },
    /// List accounts.
    List,
    /// Second factors of an account.
    #[command(subcommand)]
    Mfa(MfaCommand),
}

#[derive(Subcommand)]
pub enum MfaCommand {
    /// Remove the account's TOTP factor and recovery codes (a lost phone): it logs in with the
    /// password alone until it enrols again; audited.
    Reset { username: String },
}

fn failed(e: crate::error::ApiError) -> anyhow::Error {
    match e {
        crate::error::ApiError::Validation { fields, .. } => {
            let problems: Vec<String> = fields
                .iter()
                .map(|(field, codes)| format!("{field}: {}", codes.join(", ")))
                .collect();
            anyhow::anyhow!("refused: {}", problems.join("; "))
        }
        other => anyhow::anyhow!("{other}"),
    }
}

fn parse_role(role: &str) -> anyhow::Result<Role> {
    Role::parse(role).map_err(|_| anyhow::anyhow!("role must be `user` or `admin`"))
}

pub async fn run(config: Config, command: UserCommand) -> anyhow::Result<()> {
    let state = AppState::new(config, std::sync::Arc::new(SystemClock)).await?;
    let accounts = state.accounts();
    let operator = Peer::default();
    match command {
        UserCommand::Add {
            username,
            role,
            password_stdin,
            name,
            email,
        } => {
            let username = parse_username(&username)?;
            let role = parse_role(&role)?;
            let name = match name {
                Some(n) => DisplayName::parse(&n)
                    .map_err(|code| anyhow::anyhow!("invalid --name: {code}"))?,
                None => None,
            };
            let email = match email {
                Some(e) => {
                    Email::parse(&e).map_err(|code| anyhow::anyhow!("invalid --email: {code}"))?
                }
                None => None,
            };
            let (password, generated) = new_password(password_stdin)?;
            let account = NewAccount {
                username,
                password: password.clone(),
                role,
                name,
                email,
            };
            let user = accounts
                .create(account, Actor::Cli, &operator)
                .await
                .map_err(failed)?;
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
            let ended = accounts
                .set_password(&user, &password, Actor::Cli, &operator)
                .await
                .map_err(failed)?;
            println!(
                "password of {} changed; {ended} session(s) ended",
                user.username
            );
            if generated {
                println!("password: {}", password.expose());
            }
        }
        UserCommand::Role { username, role } => {
            let user = find(&state, &username).await?;
            let role = parse_role(&role)?;
            let change = AdminChange {
                role: Some(role),
                ..AdminChange::default()
            };
            accounts
                .change(user.id, change, Actor::Cli, &operator)
                .await
                .map_err(failed)?;
            println!("{} is now {}", user.username, role.as_str());
        }
        UserCommand::Disable { username, enable } => {
            let user = find(&state, &username).await?;
            let change = AdminChange {
                disabled: Some(!enable),
                ..AdminChange::default()
            };
            accounts
                .change(user.id, change, Actor::Cli, &operator)
                .await
                .map_err(failed)?;
            println!(
                "{} is now {}",
                user.username,
                if enable { "enabled" } else { "disabled" }
            );
        }
        UserCommand::Mfa(MfaCommand::Reset { username }) => {
            let user = find(&state, &username).await?;
            let had = accounts
                .reset_factors(&user, Actor::Cli, &operator)
                .await
                .map_err(failed)?;
            if had {
                println!("second factor of {} removed", user.username);
            } else {
                println!("{} had no second factor", user.username);
            }
        }
        UserCommand::List => {
            println!(
                "{:>6}  {:<32} {:<6} {:<8} created",
                "id", "username", "role", "status"
            );
            for u in accounts.list().await.map_err(failed)? {
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

pub(super) async fn find(state: &AppState, username: &str) -> anyhow::Result<User> {
    let username = parse_username(username)?;
    state
        .accounts()
        .find(&username)
        .await
        .map_err(failed)?
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
