//! Several stateless nodes: two `gatehouse serve` processes on their own ports share one
//! PostgreSQL and one Redis, and a browser may reach either of them on any request.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::support::{API_ORIGIN, APP_ORIGIN, Browser, Reply, Req, SECRET_KEY};

/// A `gatehouse serve` process configured by `GATEHOUSE__*` variables; killed when dropped.
pub struct Node {
    pub addr: String,
    child: Child,
}

impl Node {
    /// Starts the real binary with `settings` (names without the `GATEHOUSE__` prefix).
    pub fn start(settings: &[(&str, String)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        command
            .arg("serve")
            .env("GATEHOUSE__SERVER__LISTEN", "127.0.0.1:0")
            .env("GATEHOUSE__SERVER__PUBLIC_ORIGIN", API_ORIGIN)
            .env("GATEHOUSE__SECURITY__SECRET_KEY", SECRET_KEY)
            .env("GATEHOUSE__COOKIES__SECURE", "false")
            .env(
                "GATEHOUSE__CORS__ALLOWED_ORIGINS",
                format!("[\"{APP_ORIGIN}\"]"),
            )
            .env("GATEHOUSE__LOG__FORMAT", "json")
            .env_remove("RUST_LOG")
            .env_remove("GATEHOUSE_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in settings {
            command.env(format!("GATEHOUSE__{name}"), value);
        }
        let mut child = command.spawn().expect("the gatehouse binary starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            assert!(
                Instant::now() < deadline,
                "gatehouse did not report its address"
            );
            let line = lines.next().expect("gatehouse exited early").unwrap();
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                eprintln!("gatehouse: {line}");
                continue;
            };
            if entry["fields"]["message"] == "gatehouse listening" {
                break entry["fields"]["address"].as_str().unwrap().to_owned();
            }
        };
        // Keep draining the log so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { addr, child }
    }

    /// A browser on the allowlisted app origin, talking to this node.
    pub fn browser(&self) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            base: format!("http://{}", self.addr),
            cookies: Default::default(),
            origin: Some(APP_ORIGIN.into()),
            csrf: None,
        }
    }

    /// The same browser (cookies and token), now talking to this node.
    pub fn take(&self, browser: &Browser) -> Browser {
        Browser {
            base: format!("http://{}", self.addr),
            ..browser.clone()
        }
    }

    /// Sends the process a signal (`kill -SIGNAL PID`).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Kills the process at once (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `None` while the process runs.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Two nodes on one fresh PostgreSQL database and one Redis key space.
async fn two_nodes(extra: &[(&str, String)]) -> (Node, Node) {
    let url = crate::support::services::postgres_database().await;
    let (redis, prefix) = crate::support::services::redis();
    let mut settings = vec![
        ("DATABASE__URL", url),
        ("DATABASE__SESSION_STORE", redis),
        ("DATABASE__REDIS_KEY_PREFIX", prefix),
    ];
    settings.extend(extra.iter().cloned());
    // The first node applies the migrations; then both start the same way.
    let a = Node::start(&settings);
    let b = Node::start(&settings);
    (a, b)
}

const PASSWORD: &str = "correct horse battery staple";

/// Signs `name` up through `node`, which logs the browser in.
pub async fn sign_up(node: &Node, name: &str) -> Browser {
    let mut browser = node.browser();
    browser.get("/session").await;
    let reply = browser
        .post("/users", json!({"username": name, "password": PASSWORD}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    browser
}

/// Logs `name` in through `node` from a new browser (another device).
async fn log_in(node: &Node, name: &str) -> Browser {
    let mut browser = node.browser();
    let reply = browser.login(name, PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    browser
}

#[tokio::test]
async fn login_through_node_a_works_on_node_b() {
    let (a, b) = two_nodes(&[]).await;
    let on_a = sign_up(&a, "alice").await;
    let id = on_a.clone().get("/session").await.body["id"].clone();
    let mut on_b = b.take(&on_a);
    let reply = on_b.get("/session").await;
    assert_eq!(
        (reply.body["auth"].clone(), reply.body["id"].clone()),
        (json!(true), id)
    );
    let me = on_b.get("/users/me").await;
    assert_eq!(
        (me.status, me.body["user"]["username"].clone()),
        (200, json!("alice"))
    );
    let sessions = on_b.get("/sessions").await;
    assert_eq!(sessions.body["items"].as_array().unwrap().len(), 1);
}

/// Settings for nodes that keep no session cache: a change anywhere applies everywhere at once.
fn uncached() -> [(&'static str, String); 1] {
    [("SESSION__CACHE_TTL_MS", "0".into())]
}

/// The default `session.cache_ttl_ms`: how late another node may see a revocation.
const CACHE_BOUND: Duration = Duration::from_millis(1000);

/// Asks `browser`'s node for `/users/me` until it answers 401, for at most the cache bound plus
/// a margin for a slow machine; returns the 401.
async fn refused_within_the_cache_bound(browser: &mut Browser) -> Reply {
    let deadline = Instant::now() + CACHE_BOUND + Duration::from_secs(2);
    loop {
        let reply = browser.get("/users/me").await;
        if reply.status != 200 || Instant::now() > deadline {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Alice on a laptop and a phone, both through node A; the phone's session id.
async fn alice_on_two_devices(a: &Node) -> (Browser, Browser, String) {
    let laptop = sign_up(a, "alice").await;
    let mut phone = log_in(a, "alice").await;
    let phone_id = phone.get("/session").await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(phone.get("/users/me").await.status, 200);
    (laptop, phone, phone_id)
}

#[tokio::test]
async fn a_session_revoked_through_node_b_is_refused_by_node_a_on_the_next_request() {
    let (a, b) = two_nodes(&uncached()).await;
    let (mut laptop, mut phone, phone_id) = alice_on_two_devices(&a).await;

    let revoked = b
        .take(&laptop)
        .delete(&format!("/sessions/{phone_id}"))
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.body);

    let refused = phone.get("/users/me").await;
    assert_eq!((refused.status, refused.code()), (401, "unauthenticated"));
    assert_eq!(laptop.get("/users/me").await.status, 200);
}

#[tokio::test]
async fn with_the_default_cache_node_a_refuses_a_session_revoked_on_b_within_the_bound() {
    let (a, b) = two_nodes(&[]).await;
    let (mut laptop, mut phone, phone_id) = alice_on_two_devices(&a).await;
    let mut phone_on_b = b.take(&phone);
    assert_eq!(phone_on_b.get("/users/me").await.status, 200);

    let revoked = b
        .take(&laptop)
        .delete(&format!("/sessions/{phone_id}"))
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.body);

    // The revoking node refuses at once; the other within the configured bound.
    let on_b = phone_on_b.get("/users/me").await;
    assert_eq!((on_b.status, on_b.code()), (401, "unauthenticated"));
    let on_a = refused_within_the_cache_bound(&mut phone).await;
    assert_eq!((on_a.status, on_a.code()), (401, "unauthenticated"));
    assert_eq!(laptop.get("/users/me").await.status, 200);
}

#[tokio::test]
async fn a_password_change_on_node_a_ends_the_sessions_node_b_sees() {
    let (a, b) = two_nodes(&uncached()).await;
    let mut laptop = sign_up(&a, "alice").await;
    let phone = log_in(&b, "alice").await;
    let mut phone_on_b = b.take(&phone);
    assert_eq!(phone_on_b.get("/users/me").await.status, 200);

    change_password(&mut laptop).await;

    let refused = phone_on_b.get("/users/me").await;
    assert_eq!((refused.status, refused.code()), (401, "unauthenticated"));
    // The session that changed the password goes on, on either node.
    assert_eq!(b.take(&laptop).get("/users/me").await.status, 200);
}

#[tokio::test]
async fn with_the_default_cache_a_password_change_on_a_ends_b_s_sessions_within_the_bound() {
    let (a, b) = two_nodes(&[]).await;
    let mut laptop = sign_up(&a, "alice").await;
    let mut phone_on_b = log_in(&b, "alice").await;
    assert_eq!(phone_on_b.get("/users/me").await.status, 200);

    change_password(&mut laptop).await;

    let refused = refused_within_the_cache_bound(&mut phone_on_b).await;
    assert_eq!((refused.status, refused.code()), (401, "unauthenticated"));
    assert_eq!(b.take(&laptop).get("/users/me").await.status, 200);
}

async fn change_password(browser: &mut Browser) {
    let changed = browser
        .send(Req::new(Method::PUT, "/users/me/password").json(json!({
            "current_password": PASSWORD,
            "new_password": "a different long passphrase",
        })))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
}

#[tokio::test]
async fn failed_logins_are_counted_across_both_nodes() {
    let limit = 4;
    let (a, b) = two_nodes(&[(
        "THROTTLE__MAX_FAILURES_PER_ACCOUNT_AND_IP",
        limit.to_string(),
    )])
    .await;
    sign_up(&a, "alice").await;
    for attempt in 0..limit {
        let node = if attempt % 2 == 0 { &a } else { &b };
        let reply = node.browser().login("alice", "wrong password!").await;
        assert_eq!(
            (reply.status, reply.code()),
            (401, "invalid_credentials"),
            "attempt {attempt}"
        );
    }
    for node in [&a, &b] {
        let reply = node.browser().login("alice", PASSWORD).await;
        assert_eq!((reply.status, reply.code()), (429, "rate_limited"));
        assert!(reply.header("retry-after").is_some());
    }
}

#[tokio::test]
async fn csrf_tokens_issued_by_node_a_are_accepted_by_node_b() {
    let (a, b) = two_nodes(&[]).await;
    sign_up(&a, "alice").await;
    // The anonymous (login) token and pre-session cookie come from A; the login goes to B.
    let mut visitor = a.browser();
    visitor.get("/session").await;
    let mut on_b = b.take(&visitor);
    let login = on_b
        .post(
            "/session",
            json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    // The logged-in token B issued, used on A for an unsafe request.
    let mut on_a = a.take(&on_b);
    let changed = on_a
        .send(Req::new(Method::PATCH, "/users/me").json(json!({"name": "Alice"})))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    // A token of another session is refused on either node.
    let mut other = b.take(&visitor);
    other.csrf = Some("not-a-token".into());
    let refused = other
        .post(
            "/session",
            json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(refused.code(), "csrf_token_invalid");
}

#[tokio::test]
async fn a_two_step_login_begun_on_one_node_ends_on_the_other_and_its_code_works_once() {
    let (a, b) = two_nodes(&[]).await;
    let mut owner = sign_up(&a, "tess").await;
    let started = owner
        .post("/users/me/totp", json!({ "password": PASSWORD }))
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let app = crate::support::authenticator::Authenticator::from_secret(
        started.body["secret"].as_str().unwrap(),
    );
    let mut owner_on_b = b.take(&owner);
    let on = owner_on_b
        .post("/users/me/totp/confirm", json!({ "code": app.code_now(0) }))
        .await;
    assert_eq!(
        on.status, 200,
        "enrolment begun on A, confirmed on B: {}",
        on.body
    );

    // The password on A, the code on B: the pending step is a signed cookie, not node state.
    let mut browser = a.browser();
    let owed = browser.login("tess", PASSWORD).await;
    assert_eq!(owed.body["mfa_required"][0], "totp", "{}", owed.body);
    let mut on_b = b.take(&browser);
    let code = app.code_now(1);
    let done = on_b.post("/session/mfa", json!({ "totp": code })).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(a.take(&on_b).get("/session").await.body["auth"], true);

    // The same code on A, after another password step: refused (the step is spent in the database).
    let mut again = a.browser();
    again.login("tess", PASSWORD).await;
    let replay = again.post("/session/mfa", json!({ "totp": code })).await;
    assert_eq!((replay.status, replay.code()), (401, "invalid_credentials"));
}

#[tokio::test]
async fn a_passkey_ceremony_begun_on_one_node_ends_on_the_other_once() {
    let (a, b) = two_nodes(&[]).await;
    let mut owner = sign_up(&a, "pia").await;
    let mut key = crate::support::passkey::SoftPasskey::new();
    let options = owner.post("/users/me/passkeys/options", json!({})).await;
    assert_eq!(options.status, 200, "{}", options.body);
    let credential = key.create(&options.body, APP_ORIGIN);
    let done = b
        .take(&owner)
        .post("/users/me/passkeys", json!({ "credential": credential }))
        .await;
    assert_eq!(
        done.status, 201,
        "options on A, registered on B: {}",
        done.body
    );

    // Options for the usernameless login on B (kept in Redis), the answer on A.
    let mut browser = b.browser();
    browser.get("/session").await;
    let options = browser.post("/session/passkey/options", json!({})).await;
    let answer = key.get(&options.body, APP_ORIGIN);
    let mut on_a = a.take(&browser);
    let done = on_a
        .post("/session/passkey", json!({ "credential": answer }))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["username"], "pia");
    // The same answer on B: the challenge was taken on A.
    let mut replay = b.take(&browser);
    let refused = replay
        .post("/session/passkey", json!({ "credential": answer }))
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (400, "passkey_challenge_missing")
    );
}
