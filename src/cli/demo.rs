//! `gatehouse demo`: a running Gatehouse with no configuration at all, for trying it out.
//!
//! API on http://localhost:8080, the demo app's origin http://localhost:8081 allowlisted,
//! plain-http cookies (the explicit development setting), a fresh random key on every start,
//! and two accounts (`admin`, `user`) whose passwords are reset and printed once at start.

use std::path::Path;

use crate::account::{self, Username};
use crate::app::App;
use crate::config::Config;
use crate::crypto;
use crate::password::Password;
use crate::roles::Role;
use crate::store::UserUpdate;

pub const API_ORIGIN: &str = "http://localhost:8080";
pub const APP_ORIGIN: &str = "http://localhost:8081";

pub async fn run(data_dir: &Path) -> anyhow::Result<()> {
    let database = data_dir.join("demo.db");
    let toml = format!(
        r#"
[server]
listen = "127.0.0.1:8080"
public_origin = "{API_ORIGIN}"

[database]
url = "sqlite://{}"

[cookies]
secure = false
same_site = "lax"

[cors]
allowed_origins = ["{APP_ORIGIN}"]
"#,
        database.display()
    );
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    env.push((
        "GATEHOUSE__SECURITY__SECRET_KEY".into(),
        crypto::random_token(),
    ));
    let config = Config::from_sources(&toml, env)?;
    super::init_logging(&config.log);
    let app = App::build(config).await?;
    let state = app.state().clone();

    let mut lines = Vec::new();
    for (name, role) in [("admin", Role::Admin), ("user", Role::User)] {
        let username = Username::parse(name).map_err(anyhow::Error::msg)?;
        let password = Password::generate();
        match state.stores.users.credentials(&username).await? {
            Some(existing) => {
                let hash = state
                    .passwords
                    .hash(&password)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                state
                    .stores
                    .users
                    .set_password_hash(existing.user.id, &hash)
                    .await?;
                let update = UserUpdate {
                    role: Some(role),
                    disabled: Some(false),
                };
                account::change(&state, existing.user.id, update)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            None => {
                account::create(&state, username, &password, role, None, None)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
        }
        lines.push(format!(
            "  {name:<6} {:<6} password: {}",
            role.as_str(),
            password.expose()
        ));
    }
    println!("Gatehouse demo");
    println!("  API:      {API_ORIGIN}  (allowlisted app origin: {APP_ORIGIN})");
    println!("  database: {}", database.display());
    println!("  accounts (passwords are new on every start):");
    for line in lines {
        println!("{line}");
    }
    app.run().await
}
