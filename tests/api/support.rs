//! Test support: a real Gatehouse on port 0 with its own SQLite file and a manual clock, and a
//! small cookie-keeping "browser" that talks HTTP to it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use gatehouse::account::{self, Username};
use gatehouse::clock::ManualClock;
use gatehouse::password::Password;
use gatehouse::roles::Role;
use gatehouse::{App, AppState, Config};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tempfile::TempDir;

pub const APP_ORIGIN: &str = "http://localhost:8081";
pub const API_ORIGIN: &str = "http://localhost:8080";
pub const SECRET_KEY: &str = "test-secret-key-that-is-long-enough-0123456789";

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
        account::create(
            &self.state,
            Username::parse(name).unwrap(),
            &password,
            role,
            None,
            None,
        )
        .await
        .expect("user created");
        password.expose().to_owned()
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

    /// Rows in a table, read straight from the SQLite file.
    pub async fn count(&self, table: &str) -> i64 {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&self.db_url).await.unwrap();
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    }

    /// The kinds of the audit events recorded so far, oldest first.
    pub async fn audit_kinds(&self) -> Vec<String> {
        let events = self
            .state
            .stores
            .audit
            .list(None, None, 1000)
            .await
            .unwrap();
        events.into_iter().map(|e| e.kind).collect()
    }

    pub async fn column(&self, sql: &'static str) -> Vec<Vec<u8>> {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&self.db_url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub set_cookies: Vec<String>,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }
}

/// Keeps cookies and the CSRF token the way the JS client does.
#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    pub cookies: BTreeMap<String, String>,
    pub origin: Option<String>,
    pub csrf: Option<String>,
}

pub struct Req {
    pub method: Method,
    pub path: String,
    pub body: Option<String>,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl Req {
    pub fn new(method: Method, path: &str) -> Self {
        Self {
            method,
            path: path.into(),
            body: None,
            content_type: None,
            headers: Vec::new(),
        }
    }

    pub fn json(mut self, value: Value) -> Self {
        self.body = Some(value.to_string());
        self.content_type = Some("application/json".into());
        self
    }

    pub fn raw(mut self, content_type: &str, body: &str) -> Self {
        self.body = Some(body.into());
        self.content_type = Some(content_type.into());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

impl Browser {
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Sends a request with this browser's cookies, origin and token; keeps what comes back.
    pub async fn send(&mut self, req: Req) -> Reply {
        let mut builder = self
            .client
            .request(req.method, format!("{}{}", self.base, req.path));
        if !self.cookies.is_empty() {
            builder = builder.header("cookie", self.cookie_header());
        }
        if let Some(origin) = &self.origin {
            builder = builder.header("origin", origin);
        }
        if let Some(token) = &self.csrf {
            builder = builder.header("x-csrf-token", token);
        }
        if let Some(ct) = &req.content_type {
            builder = builder.header("content-type", ct);
        }
        for (name, value) in &req.headers {
            builder = builder.header(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        let response = builder.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        let set_cookies: Vec<String> = headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        self.keep(&set_cookies, &body);
        Reply {
            status,
            headers,
            body,
            set_cookies,
        }
    }

    /// Like [`Browser::send`], but `None` when the server is gone (connection refused or reset).
    pub async fn try_send(&mut self, req: Req) -> Option<u16> {
        let mut builder = self
            .client
            .request(req.method, format!("{}{}", self.base, req.path));
        if !self.cookies.is_empty() {
            builder = builder.header("cookie", self.cookie_header());
        }
        if let Some(origin) = &self.origin {
            builder = builder.header("origin", origin);
        }
        if let Some(token) = &self.csrf {
            builder = builder.header("x-csrf-token", token);
        }
        if let Some(ct) = &req.content_type {
            builder = builder.header("content-type", ct);
        }
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        let response = builder.send().await.ok()?;
        let status = response.status().as_u16();
        let cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let body: Value = serde_json::from_str(&response.text().await.ok()?).unwrap_or(Value::Null);
        self.keep(&cookies, &body);
        Some(status)
    }

    pub async fn try_get(&mut self, path: &str) -> Option<u16> {
        self.try_send(Req::new(Method::GET, path)).await
    }

    pub async fn try_post(&mut self, path: &str, body: Value) -> Option<u16> {
        self.try_send(Req::new(Method::POST, path).json(body)).await
    }

    /// Keeps the cookies and CSRF token of a reply, as the JS client does.
    fn keep(&mut self, set_cookies: &[String], body: &Value) {
        for cookie in set_cookies {
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if cookie.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
        if let Some(token) = body.get("_csrf").and_then(Value::as_str) {
            self.csrf = Some(token.to_owned());
        }
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.send(Req::new(Method::GET, path)).await
    }

    pub async fn post(&mut self, path: &str, body: Value) -> Reply {
        self.send(Req::new(Method::POST, path).json(body)).await
    }

    pub async fn delete(&mut self, path: &str) -> Reply {
        self.send(Req::new(Method::DELETE, path)).await
    }

    /// `GET /session` then `POST /session`, as the Backbone SessionModel does.
    pub async fn login(&mut self, username: &str, password: &str) -> Reply {
        self.get("/session").await;
        self.post(
            "/session",
            serde_json::json!({"username": username, "password": password}),
        )
        .await
    }
}

impl TestApp {
    /// Seeds the made-up company of the demo.
    pub async fn seed_directory(&self) {
        let added = gatehouse::directory::seed_if_empty(
            &*self.state.stores.employees,
            gatehouse::clock::Clock::now(&*self.clock),
        )
        .await
        .unwrap();
        assert!(added >= 12);
    }
}
