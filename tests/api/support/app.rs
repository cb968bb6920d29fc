//! A real Gatehouse on port 0 with its own SQLite file and a manual clock, started exactly as
//! production starts it, and what tests read back from its database.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use gatehouse::account::{Actor, NewAccount, Role, Username};
use gatehouse::clock::ManualClock;
use gatehouse::password::Password;
use gatehouse::peer::Peer;
use gatehouse::{App, AppState, Config};
use sqlx::Connection;
use tempfile::TempDir;

use super::browser::Browser;
use super::{API_ORIGIN, APP_ORIGIN, SECRET_KEY};

pub struct TestApp {
    pub addr: SocketAddr,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    pub db_url: String,
    dir: Arc<TempDir>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts the app with extra `GATEHOUSE__*` settings.
    pub async fn spawn_with(settings: &[(&str, &str)]) -> Self {
        Self::spawn_in(Arc::new(tempfile::tempdir().expect("temp dir")), settings).await
    }

    /// A second app on this app's database (a restart), with other settings.
    pub async fn restart_with(&self, settings: &[(&str, &str)]) -> Self {
        Self::spawn_in(self.dir.clone(), settings).await
    }

    async fn spawn_in(dir: Arc<TempDir>, settings: &[(&str, &str)]) -> Self {
        let db_url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
        let mut env: Vec<(String, String)> = vec![
            ("GATEHOUSE__SERVER__LISTEN".into(), "127.0.0.1:0".into()),
            ("GATEHOUSE__SERVER__PUBLIC_ORIGIN".into(), API_ORIGIN.into()),
            ("GATEHOUSE__DATABASE__URL".into(), db_url.clone()),
            ("GATEHOUSE__SECURITY__SECRET_KEY".into(), SECRET_KEY.into()),
            ("GATEHOUSE__COOKIES__SECURE".into(), "false".into()),
            (
                "GATEHOUSE__CORS__ALLOWED_ORIGINS".into(),
                format!("[\"{APP_ORIGIN}\"]"),
            ),
        ];
        env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::from_sources("", env).unwrap_or_else(|e| panic!("{e}"));
        let clock = Arc::new(ManualClock::new(
            time::macros::datetime!(2026-01-01 12:00 UTC),
        ));
        let app = App::build_with_clock(config, clock.clone())
            .await
            .expect("app builds");
        let addr = app.local_addr();
        let state = app.state().clone();
        tokio::spawn(app.run_until(std::future::pending()));
        Self {
            addr,
            clock,
            state,
            db_url,
            dir,
        }
    }

    /// Creates an account directly (as the CLI does) and returns its password.
    pub async fn add_user(&self, name: &str, role: Role) -> String {
        let password = Password::generate();
        let account = NewAccount {
            username: Username::parse(name).unwrap(),
            password: password.clone(),
            role,
            name: None,
            email: None,
        };
        self.state
            .accounts()
            .create(account, Actor::Cli, &Peer::default())
            .await
            .expect("user created");
        password.expose().to_owned()
    }

    /// Disables an account through the account services (as the CLI does).
    pub async fn disable(&self, name: &str) {
        self.admin_change(name, Some(true), None).await;
    }

    /// Gives an account another role through the account services (as the CLI does).
    pub async fn set_role(&self, name: &str, role: gatehouse::account::Role) {
        self.admin_change(name, None, Some(role)).await;
    }

    async fn admin_change(
        &self,
        name: &str,
        disabled: Option<bool>,
        role: Option<gatehouse::account::Role>,
    ) {
        let accounts = self.state.accounts();
        let user = accounts
            .find(&Username::parse(name).unwrap())
            .await
            .unwrap()
            .expect("the account exists");
        let change = gatehouse::account::AdminChange { disabled, role };
        accounts
            .change(user.id, change, Actor::Cli, &Peer::default())
            .await
            .unwrap();
    }

    /// A browser on the allowlisted app origin.
    pub fn browser(&self) -> Browser {
        self.browser_at(self.addr)
    }

    /// The same kind of browser, pointed at another app (another node, or a restart).
    pub fn browser_at(&self, addr: SocketAddr) -> Browser {
        Browser {
            client: reqwest::Client::new(),
            base: format!("http://{addr}"),
            cookies: BTreeMap::new(),
            origin: Some(APP_ORIGIN.into()),
            csrf: None,
        }
    }

    /// A browser that is already logged in as a new account with `role`.
    pub async fn logged_in(&self, name: &str, role: Role) -> Browser {
        let password = self.add_user(name, role).await;
        let mut browser = self.browser();
        let reply = browser.login(name, &password).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        browser
    }

    /// Runs one SQL statement on the SQLite file (test set-up the API cannot do).
    pub async fn execute(&self, sql: &'static str) {
        let mut conn = sqlx::SqliteConnection::connect(&self.db_url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }

    /// Rows in a table, read straight from the SQLite file.
    pub async fn count(&self, table: &str) -> i64 {
        let mut conn = sqlx::SqliteConnection::connect(&self.db_url).await.unwrap();
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    }

    /// The kinds of the audit events recorded so far, oldest first.
    pub async fn audit_kinds(&self) -> Vec<String> {
        let events = self.state.audit().list(None, None, 1000).await.unwrap();
        events.into_iter().map(|e| e.kind).collect()
    }

    pub async fn column(&self, sql: &'static str) -> Vec<Vec<u8>> {
        let mut conn = sqlx::SqliteConnection::connect(&self.db_url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
    }
}

impl TestApp {
    /// Seeds the made-up company of the demo.
    pub async fn seed_directory(&self) {
        let added = self.state.directory().seed_if_empty().await.unwrap();
        assert!(added >= 12);
    }
}

/// Every row of the tables that hold state a forged request could change (accounts, sessions,
/// the directory, mailed tokens, second factors), as text. Audit events and throttle counters are left out: refusals are
/// meant to be recorded there.
pub async fn snapshot(app: &TestApp) -> String {
    let mut conn = sqlx::SqliteConnection::connect(&app.db_url).await.unwrap();
    let mut out = String::new();
    for table in [
        "users",
        "sessions",
        "employees",
        "mail_tokens",
        "totp_factors",
        "recovery_codes",
        "passkey_handles",
        "passkeys",
        "webauthn_ceremonies",
    ] {
        let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{table}')"
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let row = columns
            .iter()
            .map(|c| format!("quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join("||'|'||");
        let rows: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT group_concat(r, char(10)) FROM (SELECT {row} AS r FROM {table} ORDER BY rowid)"
        )))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        out.push_str(&format!("{table}:\n{}\n", rows.unwrap_or_default()));
    }
    out
}
