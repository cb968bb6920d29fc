//! `gatehouse demo`: a running Gatehouse with no configuration at all, for trying it out.
//!
//! Two origins on `localhost`: the API (default port 8080) and the demo single-page app
//! (default port 8081), served from the repository's `demo/`, `client/` and `node_modules/`
//! folders. The app origin is allowlisted, cookies are the plain-http development setting, the
//! key is random on every start, and two accounts (`admin`, `user`) get new passwords that are
//! printed once. With `--gateway`, app, session and a sample API share one origin (`gateway`).

mod gateway;

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::account::{Actor, AdminChange, NewAccount, Role, Username};
use crate::app::App;
use crate::config::Config;
use crate::crypto;
use crate::password::Password;
use crate::peer::Peer;
use crate::state::AppState;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where the demo database lives.
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// Port of the API origin.
    #[arg(long, default_value_t = 8080)]
    api_port: u16,
    /// Port of the demo app origin.
    #[arg(long, default_value_t = 8081)]
    app_port: u16,
    /// Host name of the API origin (both origins listen on 127.0.0.1; map other names there,
    /// e.g. in /etc/hosts).
    #[arg(long, default_value = "localhost")]
    api_host: String,
    /// Host name of the demo app origin. Another site than the API's makes the session cookie
    /// a third-party one: the demo then sets `SameSite=None; Secure; Partitioned`.
    #[arg(long, default_value = "localhost")]
    app_host: String,
    /// Serve both origins over https with this PEM certificate chain (naming both hosts).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Folder holding demo/, client/ and node_modules/ (the repository root).
    #[arg(long, default_value = ".")]
    app_dir: PathBuf,
    /// One origin (the API's) for the app, the session resource and a sample API behind the
    /// gateway at /api/; no app origin of its own.
    #[arg(long)]
    gateway: bool,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let tls = args.tls_cert.is_some();
    let scheme = if tls { "https" } else { "http" };
    let api_origin = format!("{scheme}://{}:{}", args.api_host, args.api_port);
    let app_origin = format!("{scheme}://{}:{}", args.app_host, args.app_port);
    let database = args.data_dir.join("demo.db");
    anyhow::ensure!(
        args.app_dir.join("demo/index.html").is_file(),
        "no demo app under {}: run from the repository root or pass --app-dir",
        args.app_dir.display()
    );
    anyhow::ensure!(
        args.app_dir.join("node_modules/backbone").is_dir(),
        "the demo app's libraries are missing: run `npm ci` in {}",
        args.app_dir.display()
    );
    let tls_section = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => format!(
            "[server.tls]\ncert_file = {:?}\nkey_file = {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        ),
        _ => String::new(),
    };
    let common = format!(
        r#"
[server]
listen = "127.0.0.1:{}"
public_origin = "{api_origin}"
{tls_section}
[database]
url = "sqlite://{}"

[cookies]
{}

[mail]
transport = "console"
from = "Gatehouse demo <no-reply@gatehouse.invalid>"
link_base = "{}/"
"#,
        args.api_port,
        database.display(),
        demo_cookies(&app_origin, &api_origin, tls, args.gateway)?,
        if args.gateway {
            &api_origin
        } else {
            &app_origin
        },
    );
    let toml = if args.gateway {
        std::fs::create_dir_all(&args.data_dir)?;
        let site = gateway::site(&args.app_dir, &args.data_dir, &api_origin)?;
        let upstream = gateway::sample_upstream().await?;
        format!(
            r#"{common}
[gateway]
spa_dir = "{}"
spa_csp = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'"
routes = [{{ prefix = "/api/", upstream = "http://{upstream}", access = "user" }}]
"#,
            site.display()
        )
    } else {
        format!("{common}\n[cors]\nallowed_origins = [\"{app_origin}\"]\n")
    };
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    env.push((
        "GATEHOUSE__SECURITY__SECRET_KEY".into(),
        crypto::random_token(),
    ));
    let config = Config::from_sources(&toml, env)?;
    super::init_logging(&config.log);
    let app = App::build(config).await?;
    let accounts = seed_accounts(app.state()).await?;
    app.state()
        .directory()
        .seed_if_empty()
        .await
        .map_err(|e| anyhow::anyhow!("seeding the directory: {e}"))?;

    println!("Gatehouse demo");
    if args.gateway {
        println!(
            "  open:     {api_origin}/   (app, session and the sample API at /api/ on one origin)"
        );
    } else {
        let site = app_router(&args.app_dir, &api_origin);
        let site_tls = app.tls();
        let site_listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.app_port)))
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot listen on port {} for the demo app: {e}",
                        args.app_port
                    )
                })?;
        match site_tls {
            None => tokio::spawn(async move { axum::serve(site_listener, site).await }),
            Some(tls) => {
                let listener = crate::tls::TlsListener::new(site_listener, tls)?;
                tokio::spawn(async move { axum::serve(listener, site).await })
            }
        };
        println!("  open:     {app_origin}/   (the app; it calls the API cross-origin)");
        println!("  API:      {api_origin}");
    }
    println!("  database: {}", database.display());
    println!("  accounts (passwords are new on every start):");
    for (name, role, password) in accounts {
        println!("    {name:<6} {:<6} password: {password}", role.as_str());
    }
    app.run().await
}

/// The cookie settings the demo's two origins need (`gatehouse doctor` explains them):
/// `Lax` on one site, `SameSite=None; Secure; Partitioned` across sites (which needs https).
fn demo_cookies(app: &str, api: &str, tls: bool, gateway: bool) -> anyhow::Result<String> {
    use crate::config::topology::{Relation, relation};
    use crate::origin::Origin;
    let parse = |o: &str| Origin::parse(o).map_err(|e| anyhow::anyhow!("demo origin {o}: {e}"));
    let cross = !gateway && relation(&parse(app)?, &parse(api)?) == Relation::CrossSite;
    anyhow::ensure!(
        !cross || tls,
        "the app ({app}) and the API ({api}) are on different sites: cross-site cookies need https, so pass --tls-cert and --tls-key"
    );
    Ok(if cross {
        "secure = true\nsame_site = \"none\"\npartitioned = true".to_owned()
    } else {
        format!("secure = {tls}\nsame_site = \"lax\"")
    })
}

/// Seeds `admin` and `user`, resetting their passwords if they exist.
async fn seed_accounts(state: &AppState) -> anyhow::Result<Vec<(&'static str, Role, String)>> {
    let mut accounts = Vec::new();
    for (name, role) in [("admin", Role::Admin), ("user", Role::User)] {
        let username = Username::parse(name).map_err(anyhow::Error::msg)?;
        let password = Password::generate();
        let fail = |e: crate::error::ApiError| anyhow::anyhow!("seeding {name}: {e}");
        let accounts_service = state.accounts();
        let demo = Peer::default();
        match accounts_service.find(&username).await.map_err(fail)? {
            Some(existing) => {
                accounts_service
                    .set_password(&existing, &password, Actor::Demo, &demo)
                    .await
                    .map_err(fail)?;
                let change = AdminChange {
                    role: Some(role),
                    disabled: Some(false),
                };
                accounts_service
                    .change(existing.id, change, Actor::Demo, &demo)
                    .await
                    .map_err(fail)?;
            }
            None => {
                let account = NewAccount {
                    username,
                    password: password.clone(),
                    role,
                    name: None,
                    email: None,
                };
                accounts_service
                    .create(account, Actor::Demo, &demo)
                    .await
                    .map_err(fail)?;
            }
        }
        accounts.push((name, role, password.expose().to_owned()));
    }
    Ok(accounts)
}

/// The demo app's origin: static files only, with a CSP that lets it call the API origin.
fn app_router(dir: &std::path::Path, api_origin: &str) -> Router {
    let csp = format!(
        "default-src 'self'; connect-src 'self' {api_origin}; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    );
    let demo_config = serde_json::json!({ "apiOrigin": api_origin });
    Router::new()
        .route(
            "/demo-config.json",
            axum::routing::get(move || async move { axum::Json(demo_config) }),
        )
        .route_service("/", ServeFile::new(dir.join("demo/index.html")))
        .nest_service("/client", ServeDir::new(dir.join("client")))
        .nest_service("/node_modules", ServeDir::new(dir.join("node_modules")))
        .fallback_service(ServeDir::new(dir.join("demo")))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&csp).expect("ascii"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
}
