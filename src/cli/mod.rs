//! The command line: `serve`, `demo`, `user ...`, `sessions ...`, `audit`, `migrate`,
//! `check-config`, `doctor`, `openapi`, `mail test`.

mod audit;
mod demo;
mod doctor;
mod sessions;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::App;
use crate::config::{Config, ConfigError, LogConfig, LogFormat};

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Session authentication for single-page apps on another origin"
)]
pub struct Cli {
    /// Config file (TOML); GATEHOUSE__SECTION__KEY variables override it.
    #[arg(long, short, global = true, env = "GATEHOUSE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Run a demo with no configuration: API on http://localhost:8080 for an app on
    /// http://localhost:8081, a fresh key, and two seeded accounts with printed passwords.
    Demo(demo::DemoArgs),
    /// Manage accounts.
    #[command(subcommand)]
    User(user::UserCommand),
    /// List or revoke an account's sessions.
    #[command(subcommand)]
    Sessions(sessions::SessionsCommand),
    /// Print the audit trail.
    Audit(audit::AuditArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Validate the configuration and exit.
    CheckConfig,
    /// Explain, per app origin, whether browsers will keep and send the session cookie, and
    /// the fix when not. Exits 1 when one cannot work.
    Doctor(doctor::DoctorArgs),
    /// Print the OpenAPI 3.1 document of the API (as served at /openapi.json).
    Openapi,
    /// Check the [mail] settings.
    #[command(subcommand)]
    Mail(MailCommand),
}

#[derive(Subcommand)]
enum MailCommand {
    /// Send a test mail to ADDRESS now (no queue, no retries) and print what the server said.
    Test { address: String },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.downcast_ref::<DoctorFound>().is_some() {
                ExitCode::FAILURE
            } else if let Some(config_error) = e.downcast_ref::<ConfigError>() {
                eprint!("{config_error}");
                ExitCode::from(2)
            } else {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let load = || Config::load(cli.config.as_deref());
    match cli.command {
        Command::Serve => {
            let config = load()?;
            init_logging(&config.log);
            App::build(config).await?.run().await
        }
        Command::Demo(args) => demo::run(args).await,
        Command::User(command) => user::run(load()?, command).await,
        Command::Sessions(command) => sessions::run(load()?, command).await,
        Command::Audit(args) => audit::run(load()?, args).await,
        Command::Migrate => {
            let config = load()?;
            crate::store::Stores::open(&config.database, &config.session).await?;
            println!("database {} is up to date", config.database.redacted_url());
            Ok(())
        }
        Command::Openapi => {
            let prefix = Config::load(cli.config.as_deref())
                .map(|c| c.server.api_prefix)
                .unwrap_or_default();
            println!("{}", crate::routes::openapi_json(&prefix));
            Ok(())
        }
        Command::Doctor(args) => {
            if doctor::run(&load()?, &args)? {
                Ok(())
            } else {
                Err(anyhow::Error::new(DoctorFound))
            }
        }
        Command::Mail(MailCommand::Test { address }) => {
            let config = load()?;
            let mail = config.mail.as_ref().ok_or_else(|| {
                anyhow::anyhow!("no [mail] section in the configuration: mail is off")
            })?;
            let mailer = crate::mail::Mailer::start(mail, Default::default())?;
            let answer = mailer.send_test(&address).await?;
            println!("sent to {address}: {answer}");
            Ok(())
        }
        Command::CheckConfig => {
            let config = load()?;
            if let Some(files) = &config.server.tls {
                crate::tls::load(files)?;
            }
            println!("configuration is valid:\n{config:#?}");
            Ok(())
        }
    }
}

/// `gatehouse doctor` found an origin that cannot work (already explained on stdout).
#[derive(Debug, thiserror::Error)]
#[error("an app origin cannot work with this configuration")]
struct DoctorFound;

pub fn init_logging(config: &LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.filter));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match config.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
