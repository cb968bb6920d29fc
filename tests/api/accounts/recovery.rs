//! Password reset and e-mail verification against a real SMTP server (aiosmtpd): the links in
//! the delivered mails, single use, expiry, supersession, no enumeration, throttling, a server
//! that is down, `account.require_verified_email`, and the Redis session store.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::authenticator::Authenticator;
use crate::support::smtp::SmtpServer;
use crate::support::{APP_ORIGIN, Browser, TestApp, services};

const NEW_PASSWORD: &str = "a freshly chosen passphrase 7";

fn mail_settings(smtp: &str) -> Vec<(String, String)> {
    [
        ("GATEHOUSE__MAIL__SMTP_URL", smtp.to_owned()),
        (
            "GATEHOUSE__MAIL__FROM",
            "Gatehouse <no-reply@example.com>".into(),
        ),
        ("GATEHOUSE__MAIL__LINK_BASE", format!("{APP_ORIGIN}/")),
        ("GATEHOUSE__MAIL__RETRY_DELAY_MS", "200".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

async fn spawn(smtp: &SmtpServer, extra: &[(&str, &str)]) -> TestApp {
    let mut settings = mail_settings(&smtp.url());
    settings.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let pairs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    TestApp::spawn_with(&pairs).await
}

/// Signs `name` up with `NAME@example.com` and opens the verification link; the browser is
/// logged in and the password is returned.
async fn verified_account(app: &TestApp, smtp: &SmtpServer, name: &str) -> (Browser, String) {
    let password = format!("{name} has a long passphrase 3");
    let mut browser = app.browser();
    browser.get("/session").await;
    let before = smtp.mails().len();
    let reply = browser
        .post(
            "/users",
            json!({"username": name, "password": password, "email": format!("{name}@example.com")}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["user"]["email_verified"], false);
    let mails = smtp.wait_for(before + 1).await;
    let token = mails[before]
        .token("verify-email")
        .expect("a verification link");
    let verified = browser
        .post("/users/me/email/verify", json!({ "token": token }))
        .await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.body["user"]["email_verified"], true);
    (browser, password)
}

/// Asks for a reset from a fresh browser and returns the token of the mail it brings.
async fn reset_token(app: &TestApp, smtp: &SmtpServer, body: Value) -> String {
    let before = smtp.mails().len();
    let mut browser = app.browser();
    browser.get("/session").await;
    let reply = browser.post("/password-reset", body).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let mails = smtp.wait_for(before + 1).await;
    mails[before].token("reset").expect("a reset link")
}

#[tokio::test]
async fn a_mailed_reset_link_sets_the_password_ends_every_session_and_logs_this_browser_in() {
    let smtp = SmtpServer::start();
    let app = spawn(&smtp, &[]).await;
    let (mut first, old_password) = verified_account(&app, &smtp, "alice").await;
    let mut second = app.browser();
    assert_eq!(second.login("alice", &old_password).await.status, 200);

    let before = smtp.mails().len();
    let mut forgetful = app.browser();
    forgetful.get("/session").await;
    let reply = forgetful
        .post("/password-reset", json!({"email": "ALICE@example.com"}))
        .await;
    assert_eq!(reply.status, 202);
    let mail = smtp.wait_for(before + 1).await[before].clone();
    assert_eq!(mail.header("to").as_deref(), Some("alice@example.com"));
    assert!(
        mail.header("subject")
            .unwrap()
            .contains("Reset your password")
    );
    assert!(
        mail.raw.contains(&format!("{APP_ORIGIN}/#reset/")),
        "{}",
        mail.raw
    );
    let token = mail.token("reset").unwrap();
    assert!(token.len() >= 43, "256 bits, base64url");

    let confirmed = forgetful
        .post(
            "/password-reset/confirm",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_eq!(confirmed.body["auth"], true);
    assert_eq!(confirmed.body["username"], "alice");
    for browser in [&mut first, &mut second] {
        assert_eq!(browser.get("/session").await.body["auth"], false);
    }
    assert_eq!(forgetful.get("/session").await.body["auth"], true);
    assert_eq!(
        app.browser().login("alice", &old_password).await.status,
        401
    );
    assert_eq!(app.browser().login("alice", NEW_PASSWORD).await.status, 200);
    assert!(
        app.audit_kinds()
            .await
            .contains(&"password_reset".to_owned())
    );

    // Used once.
    let mut replay = app.browser();
    replay.get("/session").await;
    let again = replay
        .post(
            "/password-reset/confirm",
            json!({"token": token, "new_password": "yet another passphrase 9"}),
        )
        .await;
    assert_eq!((again.status, again.code()), (400, "token_invalid"));
}

#[tokio::test]
async fn a_reset_does_not_skip_the_second_factor() {
    let smtp = SmtpServer::start();
    let app = spawn(&smtp, &[]).await;
    let (mut alice, password) = verified_account(&app, &smtp, "alice").await;
    let started = alice
        .post("/users/me/totp", json!({ "password": password }))
        .await;
    let totp = Authenticator::from_secret(started.body["secret"].as_str().unwrap());
    let on = alice
        .post(
            "/users/me/totp/confirm",
            json!({ "code": totp.code(&app, 0) }),
        )
        .await;
    assert_eq!(on.status, 200, "{}", on.body);
    app.clock.advance(time::Duration::seconds(30));

    let token = reset_token(&app, &smtp, json!({"username": "alice"})).await;
    let mut browser = app.browser();
    browser.get("/session").await;
    let reset = browser
        .post(
            "/password-reset/confirm",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    assert_eq!(reset.body["auth"], false);
    assert_eq!(reset.body["mfa_required"][0], "totp");
    assert_eq!(
        app.count("sessions").await,
        0,
        "no session without the factor"
    );
    let done = browser
        .post("/session/mfa", json!({ "totp": totp.code(&app, 0) }))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["auth"], true);
}

#[tokio::test]
async fn reset_requests_answer_alike_for_known_unknown_and_unverified_accounts() {
    let smtp = SmtpServer::start();
    let app = spawn(&smtp, &[]).await;
    verified_account(&app, &smtp, "alice").await;
    let mut unverified = app.browser();
    unverified.get("/session").await;
    unverified
        .post(
            "/users",
            json!({"username": "bob", "password": "bob has a long passphrase", "email": "bob@example.com"}),
        )
        .await;
    let mails_before = smtp.wait_for(2).await.len();

    let mut answers = Vec::new();
    for body in [
        json!({"username": "alice"}),
        json!({"username": "nobody-here"}),
        json!({"username": "bob"}),
        json!({"email": "nobody@example.com"}),
        json!({"email": "bob@example.com"}),
        json!({"username": "not a valid name!"}),
    ] {
        let mut browser = app.browser();
        browser.get("/session").await;
        let reply = browser.post("/password-reset", body).await;
        answers.push((
            reply.status,
            reply.body.to_string(),
            reply.set_cookies.len(),
        ));
    }
    assert!(
        answers.iter().all(|a| a == &answers[0]),
        "one answer for all: {answers:?}"
    );
    assert_eq!(answers[0].0, 202);
    // Only alice's verified address gets a mail.
    let mails = smtp.wait_for(mails_before + 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.mails().len(), mails_before + 1, "{mails:?}");
    assert_eq!(
        smtp.mails().last().unwrap().header("to").as_deref(),
        Some("alice@example.com")
    );

    let mut browser = app.browser();
    browser.get("/session").await;
    let empty = browser.post("/password-reset", json!({})).await;
    assert_eq!((empty.status, empty.code()), (422, "validation_failed"));
}

#[tokio::test]
async fn a_reset_token_dies_on_expiry_on_a_newer_request_and_on_a_password_change() {
    let smtp = SmtpServer::start();
    let app = spawn(&smtp, &[]).await;
    let (mut alice, password) = verified_account(&app, &smtp, "alice").await;
    let confirm = |token: String| {
        let mut browser = app.browser();
        async move {
            browser.get("/session").await;
            browser
                .post(
                    "/password-reset/confirm",
                    json!({"token": token, "new_password": NEW_PASSWORD}),
                )
                .await
        }
    };

    let older = reset_token(&app, &smtp, json!({"username": "alice"})).await;
    let newer = reset_token(&app, &smtp, json!({"username": "alice"})).await;
    assert_eq!(confirm(older).await.code(), "token_invalid", "superseded");

    let changed = alice
        .send(
            crate::support::Req::new(axum::http::Method::PUT, "/users/me/password")
                .json(json!({"current_password": password, "new_password": "changed by alice 11"})),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(
        confirm(newer).await.code(),
        "token_invalid",
        "after a password change"
    );

    // A bad new password is refused before the token is spent. (By address this time: the
    // per-account limit counts what was typed.)
    let token = reset_token(&app, &smtp, json!({"email": "alice@example.com"})).await;
    let mut browser = app.browser();
    browser.get("/session").await;
    for (bad, code) in [("short", "too_short"), ("password123", "too_common")] {
        let reply = browser
            .post(
                "/password-reset/confirm",
                json!({"token": token, "new_password": bad}),
            )
            .await;
        assert_eq!(reply.status, 422, "{bad}: {}", reply.body);
        assert_eq!(
            reply.body["error"]["fields"]["new_password"][0], code,
            "{bad}"
        );
    }
    assert_eq!(confirm(token).await.status, 200);
    let wrong = confirm("x".repeat(43)).await;
    assert_eq!((wrong.status, wrong.code()), (400, "token_invalid"));

    let late = reset_token(&app, &smtp, json!({"email": "alice@example.com"})).await;
    app.clock.advance(time::Duration::minutes(31));
    assert_eq!(confirm(late).await.code(), "token_invalid", "expired");
}

#[tokio::test]
async fn reset_requests_are_throttled_per_client_address_and_per_account() {
    let smtp = SmtpServer::start();
    let app = spawn(&smtp, &[]).await;
    verified_account(&app, &smtp, "alice").await;
    let base = smtp.mails().len();
    let mut browser = app.browser();
    browser.get("/session").await;
    for _ in 0..5 {
        let reply = browser
            .post("/password-reset", json!({"username": "alice"}))
            .await;
        assert_eq!(reply.status, 202);
    }
    smtp.wait_for(base + 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        smtp.mails().len(),
        base + 3,
        "three mails per account and window"
    );

    for _ in 5..20 {
        browser
            .post("/password-reset", json!({"username": "someone"}))
            .await;
    }
    let refused = browser
        .post("/password-reset", json!({"username": "alice"}))
        .await;
    assert_eq!((refused.status, refused.code()), (429, "rate_limited"));
    assert!(refused.header("retry-after").is_some());

    app.clock.advance(time::Duration::minutes(16));
    let later = browser
        .post("/password-reset", json!({"username": "alice"}))
        .await;
    assert_eq!(later.status, 202, "a new window");
}

#[tokio::test]
async fn an_address_is_verified_by_its_link_and_a_changed_address_needs_a_new_one() {
    let smtp = SmtpServer::start();
    let app = spawn(&smtp, &[]).await;
    let (mut alice, _) = verified_account(&app, &smtp, "alice").await;
    assert_eq!(
        alice.get("/users/me").await.body["user"]["email_verified"],
        true
    );

    let before = smtp.mails().len();
    let changed = alice
        .send(
            crate::support::Req::new(axum::http::Method::PATCH, "/users/me")
                .json(json!({"email": "alice@elsewhere.example"})),
        )
        .await;
    assert_eq!(changed.body["user"]["email_verified"], false);
    let mail = smtp.wait_for(before + 1).await[before].clone();
    assert_eq!(
        mail.header("to").as_deref(),
        Some("alice@elsewhere.example")
    );
    let first = mail.token("verify-email").unwrap();

    // A resend supersedes the first link; the new one works without a session.
    let resent = alice.post("/users/me/email/verification", json!({})).await;
    assert_eq!(resent.status, 202);
    let second = smtp.wait_for(before + 2).await[before + 1]
        .token("verify-email")
        .unwrap();
    let mut stranger = app.browser();
    stranger.get("/session").await;
    let stale = stranger
        .post("/users/me/email/verify", json!({ "token": first }))
        .await;
    assert_eq!(stale.code(), "token_invalid");
    let ok = stranger
        .post("/users/me/email/verify", json!({ "token": second }))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        alice.get("/session").await.body["user"]["email_verified"],
        true
    );

    // A link for an address the account no longer has proves nothing.
    alice.post("/users/me/email/verification", json!({})).await;
    let before = smtp.mails().len();
    alice
        .send(
            crate::support::Req::new(axum::http::Method::PATCH, "/users/me")
                .json(json!({"email": "third@example.com"})),
        )
        .await;
    let third = smtp.wait_for(before + 1).await[before].clone();
    assert_eq!(third.header("to").as_deref(), Some("third@example.com"));
    alice
        .send(
            crate::support::Req::new(axum::http::Method::PATCH, "/users/me")
                .json(json!({"email": "fourth@example.com"})),
        )
        .await;
    let outdated = stranger
        .post(
            "/users/me/email/verify",
            json!({ "token": third.token("verify-email").unwrap() }),
        )
        .await;
    assert_eq!(outdated.code(), "token_invalid");
}

#[tokio::test]
async fn with_verified_email_required_login_waits_for_the_link() {
    let smtp = SmtpServer::start();
    let app = spawn(
        &smtp,
        &[("GATEHOUSE__ACCOUNT__REQUIRE_VERIFIED_EMAIL", "true")],
    )
    .await;
    let mut browser = app.browser();
    browser.get("/session").await;
    let password = "carol has a long passphrase";
    let signed_up = browser
        .post(
            "/users",
            json!({"username": "carol", "password": password, "email": "carol@example.com"}),
        )
        .await;
    assert_eq!(signed_up.status, 201, "{}", signed_up.body);
    assert_eq!(signed_up.body["auth"], false);
    assert_eq!(app.count("sessions").await, 0);

    let refused = browser.login("carol", password).await;
    assert_eq!((refused.status, refused.code()), (403, "email_unverified"));
    assert_eq!(app.count("sessions").await, 0);
    // The refused login mailed a fresh link; the first one is dead.
    let mails = smtp.wait_for(2).await;
    let first = mails[0].token("verify-email").unwrap();
    let fresh = mails[1].token("verify-email").unwrap();
    assert_eq!(
        browser
            .post("/users/me/email/verify", json!({ "token": first }))
            .await
            .code(),
        "token_invalid"
    );
    assert_eq!(
        browser
            .post("/users/me/email/verify", json!({ "token": fresh }))
            .await
            .status,
        200
    );
    assert_eq!(browser.login("carol", password).await.status, 200);
    assert_eq!(
        app.browser()
            .login("carol", "wrong password here")
            .await
            .code(),
        "invalid_credentials"
    );
}

#[tokio::test]
async fn without_mail_the_calls_answer_not_configured_and_the_session_says_so() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    let session = browser.get("/session").await;
    assert_eq!(session.body["features"]["mail"], false);
    let doc = browser.get("/openapi.json").await.body;
    let description = doc["info"]["description"].as_str().unwrap();
    assert!(
        description.contains("Mail is off on this server"),
        "{description}"
    );
    for (path, body) in [
        ("/password-reset", json!({"username": "alice"})),
        (
            "/password-reset/confirm",
            json!({"token": "t", "new_password": NEW_PASSWORD}),
        ),
        ("/users/me/email/verify", json!({"token": "t"})),
    ] {
        let reply = browser.post(path, body).await;
        assert_eq!(
            (reply.status, reply.code()),
            (404, "mail_not_configured"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_mail_server_that_is_down_gets_the_mail_when_it_comes_back() {
    let port = services::free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let mut settings = mail_settings(&url);
    settings.push(("GATEHOUSE__MAIL__RETRIES".into(), "6".into()));
    let pairs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let app = TestApp::spawn_with(&pairs).await;
    // An account with a verified address, set up without mail (the server is down).
    app.add_user("dave", gatehouse::account::Role::User).await;
    app.execute(
        "UPDATE users SET email = 'dave@example.com', email_verified = 1 WHERE username = 'dave'",
    )
    .await;

    let mut browser = app.browser();
    browser.get("/session").await;
    let reply = browser
        .post("/password-reset", json!({"username": "dave"}))
        .await;
    assert_eq!(reply.status, 202, "the request does not wait for the mail");
    // Let a few attempts fail before the server comes up.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let smtp = SmtpServer::start_on(port);
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0].header("to").as_deref(), Some("dave@example.com"));
    let metrics = crate::support::raw_http(
        app.addr,
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        metrics.contains(r#"gatehouse_mails_total{kind="password_reset",outcome="retried"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"gatehouse_mails_total{kind="password_reset",outcome="sent"} 1"#),
        "{metrics}"
    );
}

/// An app whose mail goes to `smtp`, retrying `retries` times, with dave's verified address.
async fn app_for_dave(smtp: &SmtpServer, retries: &str) -> TestApp {
    let app = spawn(smtp, &[("GATEHOUSE__MAIL__RETRIES", retries)]).await;
    app.add_user("dave", gatehouse::account::Role::User).await;
    app.execute(
        "UPDATE users SET email = 'dave@example.com', email_verified = 1 WHERE username = 'dave'",
    )
    .await;
    app
}

async fn metrics(app: &TestApp) -> String {
    crate::support::raw_http(
        app.addr,
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await
}

#[tokio::test]
async fn a_server_that_refuses_at_first_gets_the_mail_on_a_retry_and_one_that_always_refuses_is_counted()
 {
    let smtp = SmtpServer::start_refusing(2);
    let app = app_for_dave(&smtp, "5").await;
    let mut browser = app.browser();
    browser.get("/session").await;
    let reply = browser
        .post("/password-reset", json!({"username": "dave"}))
        .await;
    assert_eq!(reply.status, 202);
    let mails = smtp.wait_for(1).await;
    assert!(mails[0].token("reset").is_some());
    let text = metrics(&app).await;
    assert!(
        text.contains(r#"gatehouse_mails_total{kind="password_reset",outcome="retried"} 2"#),
        "{text}"
    );

    let stubborn = SmtpServer::start_refusing(1000);
    let app = app_for_dave(&stubborn, "2").await;
    let mut browser = app.browser();
    browser.get("/session").await;
    let reply = browser
        .post("/password-reset", json!({"username": "dave"}))
        .await;
    assert_eq!(reply.status, 202, "the requester learns nothing of it");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let failed = r#"gatehouse_mails_total{kind="password_reset",outcome="failed"} 1"#;
    while !metrics(&app).await.contains(failed) {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            metrics(&app).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = metrics(&app).await;
    assert!(
        text.contains(r#"gatehouse_mails_total{kind="password_reset",outcome="retried"} 2"#),
        "two retries, then given up: {text}"
    );
    assert!(stubborn.mails().is_empty());
}

#[tokio::test]
async fn a_graceful_shutdown_waits_for_the_mails_still_queued() {
    // The server refuses twice, so the mail is still on its way when the stop comes.
    let smtp = SmtpServer::start_refusing(2);
    let dir = tempfile::tempdir().unwrap();
    let node = crate::stores::nodes::Node::start(&[
        (
            "DATABASE__URL",
            format!("sqlite://{}", dir.path().join("g.db").display()),
        ),
        ("MAIL__SMTP_URL", smtp.url()),
        ("MAIL__FROM", "no-reply@example.com".into()),
        ("MAIL__LINK_BASE", format!("{APP_ORIGIN}/")),
        ("MAIL__RETRY_DELAY_MS", "400".into()),
    ]);
    let mut browser = node.browser();
    browser.get("/session").await;
    let signed_up = browser
        .post(
            "/users",
            json!({"username": "vera", "password": "vera has a long passphrase", "email": "vera@example.com"}),
        )
        .await;
    assert_eq!(signed_up.status, 201, "{}", signed_up.body);
    node.signal("TERM");
    let mut node = node;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while node.exited().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the node did not stop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "delivered before the process ended");
    assert_eq!(mails[0].header("to").as_deref(), Some("vera@example.com"));
}

#[tokio::test]
async fn a_reset_ends_the_sessions_kept_in_redis() {
    let smtp = SmtpServer::start();
    let (redis, prefix) = services::redis();
    let app = spawn(
        &smtp,
        &[
            ("GATEHOUSE__DATABASE__SESSION_STORE", &redis),
            ("GATEHOUSE__DATABASE__REDIS_KEY_PREFIX", &prefix),
        ],
    )
    .await;
    let (mut first, password) = verified_account(&app, &smtp, "erin").await;
    let mut second = app.browser();
    assert_eq!(second.login("erin", &password).await.status, 200);
    let token = reset_token(&app, &smtp, json!({"email": "erin@example.com"})).await;
    let mut browser = app.browser();
    browser.get("/session").await;
    let reply = browser
        .post(
            "/password-reset/confirm",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    for old in [&mut first, &mut second] {
        assert_eq!(old.get("/session").await.body["auth"], false);
    }
}

#[tokio::test]
async fn gatehouse_mail_test_sends_through_the_configured_server_and_prints_its_answer() {
    let smtp = SmtpServer::start();
    let output = tokio::task::spawn_blocking({
        let url = smtp.url();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
                .args(["mail", "test", "ops@example.com"])
                .env(
                    "GATEHOUSE__SECURITY__SECRET_KEY",
                    crate::support::SECRET_KEY,
                )
                .env("GATEHOUSE__MAIL__SMTP_URL", url)
                .env("GATEHOUSE__MAIL__FROM", "no-reply@example.com")
                .env("GATEHOUSE__MAIL__LINK_BASE", "http://localhost:8080/")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.starts_with("sent to ops@example.com: 250"),
        "{stdout}"
    );
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0].header("to").as_deref(), Some("ops@example.com"));
}
