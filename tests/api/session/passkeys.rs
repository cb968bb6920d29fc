//! Passkeys: registration after a fresh login, the usernameless login, the passkey as the
//! second factor after a password, challenges that work once and only in their browser, wrong
//! origins and missing user verification refused, rename and delete with the fresh-login rule,
//! and passkeys turned off. The authenticator is `support::passkey` (ES256, attestation none).

use axum::http::Method;
use gatehouse::account::Role;
use serde_json::{Value, json};

use crate::support::passkey::SoftPasskey;
use crate::support::{APP_ORIGIN, Browser, Req, TestApp};

/// A logged-in browser of `name` that registered `key`: the password and the reply.
async fn registered(app: &TestApp, name: &str, key: &mut SoftPasskey) -> (Browser, String, Value) {
    let password = app.add_user(name, Role::User).await;
    let mut browser = app.browser();
    assert_eq!(browser.login(name, &password).await.status, 200);
    let reply = register(&mut browser, key, "Laptop").await;
    assert_eq!(reply.0, 201, "{}", reply.1);
    (browser, password, reply.1)
}

async fn register(browser: &mut Browser, key: &mut SoftPasskey, name: &str) -> (u16, Value) {
    let options = browser.post("/users/me/passkeys/options", json!({})).await;
    assert_eq!(options.status, 200, "{}", options.body);
    let credential = key.create(&options.body, APP_ORIGIN);
    let done = browser
        .post(
            "/users/me/passkeys",
            json!({ "name": name, "credential": credential }),
        )
        .await;
    (done.status, done.body)
}

/// A new browser logging in with `key` alone, its answer made on `origin`.
async fn passkey_login(
    app: &TestApp,
    key: &mut SoftPasskey,
    origin: &str,
) -> (Browser, u16, Value) {
    let mut browser = app.browser();
    browser.get("/session").await;
    let options = browser.post("/session/passkey/options", json!({})).await;
    assert_eq!(options.status, 200, "{}", options.body);
    let credential = key.get(&options.body, origin);
    let done = browser
        .post("/session/passkey", json!({ "credential": credential }))
        .await;
    (browser, done.status, done.body)
}

#[tokio::test]
async fn a_passkey_registered_after_a_fresh_login_logs_in_alone_without_a_username() {
    let app = TestApp::spawn().await;
    let mut key = SoftPasskey::new();
    let (mut ada, _, registered) = registered(&app, "ada", &mut key).await;
    assert_eq!(registered["passkey"]["name"], "Laptop");
    assert_eq!(registered["passkey"]["last_used_at"], Value::Null);
    let codes = registered["recovery_codes"]
        .as_array()
        .expect("first factor: codes");
    assert_eq!(codes.len(), 10);
    let list = ada.get("/users/me/passkeys").await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        list.body
    );
    let state = ada.get("/users/me/totp").await;
    assert_eq!(
        state.body,
        json!({"totp": false, "passkeys": 1, "recovery_codes_left": 10})
    );
    let features = ada.get("/session").await;
    assert_eq!(features.body["features"]["passkeys"], true);

    let sessions = app.count("sessions").await;
    let (mut browser, status, body) = passkey_login(&app, &mut key, APP_ORIGIN).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["auth"].clone(), body["username"].clone()),
        (json!(true), json!("ada"))
    );
    assert_eq!(app.count("sessions").await, sessions + 1);
    assert_eq!(browser.get("/users/me").await.status, 200);
    // The counter moved on and was stored: the next login (a higher counter) works too.
    let (_, again, body) = passkey_login(&app, &mut key, APP_ORIGIN).await;
    assert_eq!(again, 200, "{body}");
    let list = ada.get("/users/me/passkeys").await;
    assert!(
        list.body["items"][0]["last_used_at"].is_string(),
        "{}",
        list.body
    );
    let stored = app.column("SELECT credential FROM passkeys").await;
    let stored: Value = serde_json::from_slice(&stored[0]).unwrap();
    assert!(stored.to_string().contains("\"counter\":3"), "{stored}");
    assert!(
        app.audit_kinds()
            .await
            .contains(&"passkey_added".to_owned())
    );
}

#[tokio::test]
async fn a_challenge_is_answered_once_only_in_its_browser_and_within_five_minutes() {
    let app = TestApp::spawn().await;
    let mut key = SoftPasskey::new();
    registered(&app, "ada", &mut key).await;

    let mut browser = app.browser();
    browser.get("/session").await;
    let options = browser.post("/session/passkey/options", json!({})).await;
    let answer = key.get(&options.body, APP_ORIGIN);
    // Another browser (another pre-session) cannot answer this browser's challenge.
    let mut other = app.browser();
    other.get("/session").await;
    let stolen = other
        .post("/session/passkey", json!({ "credential": answer }))
        .await;
    assert_eq!(
        (stolen.status, stolen.code()),
        (400, "passkey_challenge_missing")
    );
    let done = browser
        .post("/session/passkey", json!({ "credential": answer }))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    // Logged in now, the same answer again has no challenge to match.
    let mut replayer = app.browser();
    replayer.get("/session").await;
    replayer.post("/session/passkey/options", json!({})).await;
    let replay = replayer
        .post("/session/passkey", json!({ "credential": answer }))
        .await;
    assert_eq!(
        (replay.status, replay.code()),
        (401, "invalid_credentials"),
        "another challenge"
    );
    let replay = replayer
        .post("/session/passkey", json!({ "credential": answer }))
        .await;
    assert_eq!(
        (replay.status, replay.code()),
        (400, "passkey_challenge_missing"),
        "spent"
    );

    let mut slow = app.browser();
    slow.get("/session").await;
    let options = slow.post("/session/passkey/options", json!({})).await;
    app.clock.advance(time::Duration::minutes(6));
    let late = slow
        .post(
            "/session/passkey",
            json!({ "credential": key.get(&options.body, APP_ORIGIN) }),
        )
        .await;
    assert_eq!(
        (late.status, late.code()),
        (400, "passkey_challenge_missing")
    );
}

#[tokio::test]
async fn answers_from_another_origin_without_user_verification_or_for_a_disabled_account_are_refused()
 {
    let app = TestApp::spawn().await;
    let mut key = SoftPasskey::new();
    registered(&app, "ada", &mut key).await;
    let (_, status, body) = passkey_login(&app, &mut key, "http://evil.localhost:8081").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    key.verifies_user = false;
    let (_, status, _) = passkey_login(&app, &mut key, APP_ORIGIN).await;
    assert_eq!(status, 401, "no user verification");
    key.verifies_user = true;
    // A key the server never saw.
    let (_, status, _) = passkey_login(&app, &mut SoftPasskey::new(), APP_ORIGIN).await;
    assert_eq!(status, 401);
    // A signature counter that went back: a cloned authenticator (WebAuthn L3 §6.1.1).
    let (_, status, _) = passkey_login(&app, &mut key, APP_ORIGIN).await;
    assert_eq!(status, 200);
    key.counter = 0;
    let (_, status, _) = passkey_login(&app, &mut key, APP_ORIGIN).await;
    assert_eq!(status, 401, "counter regression");
    key.counter = 100;
    app.disable("ada").await;
    let (_, status, _) = passkey_login(&app, &mut key, APP_ORIGIN).await;
    assert_eq!(status, 401, "disabled");
    let failures = app
        .column("SELECT detail FROM audit_events WHERE kind = 'login_failed'")
        .await;
    assert_eq!(failures.len(), 5, "{failures:?}");
    assert!(
        failures.iter().all(|d| d.starts_with(b"passkey: ")),
        "{failures:?}"
    );

    // A registration made on another origin is refused too, and a malformed one says so.
    let password = app.add_user("bob", Role::User).await;
    let mut bob = app.browser();
    bob.login("bob", &password).await;
    let options = bob.post("/users/me/passkeys/options", json!({})).await;
    let credential = SoftPasskey::new().create(&options.body, "http://evil.localhost:8081");
    let refused = bob
        .post("/users/me/passkeys", json!({ "credential": credential }))
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(
        refused.body["error"]["fields"]["credential"],
        json!(["rejected"])
    );
    let malformed = bob
        .post("/users/me/passkeys", json!({ "credential": {"id": 1} }))
        .await;
    assert_eq!(
        malformed.body["error"]["fields"]["credential"],
        json!(["invalid"])
    );
    assert_eq!(app.count("passkeys").await, 1);
}

#[tokio::test]
async fn with_a_passkey_a_password_login_owes_a_second_factor_that_the_passkey_gives() {
    let app = TestApp::spawn().await;
    let mut key = SoftPasskey::new();
    let (_, password, registered) = registered(&app, "ada", &mut key).await;

    let mut browser = app.browser();
    let step = browser.login("ada", &password).await;
    assert_eq!(step.body["auth"], false);
    assert_eq!(
        step.body["mfa_required"],
        json!(["webauthn", "recovery_code"])
    );
    let options = browser.post("/session/mfa/options", json!({})).await;
    assert_eq!(options.status, 200, "{}", options.body);
    let allowed = &options.body["publicKey"]["allowCredentials"];
    assert_eq!(allowed.as_array().unwrap().len(), 1, "{allowed}");
    // The answer must come from a passkey of this account.
    let wrong = browser
        .post(
            "/session/mfa",
            json!({ "webauthn": SoftPasskey::new().get(&options.body, APP_ORIGIN) }),
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let options = browser.post("/session/mfa/options", json!({})).await;
    let done = browser
        .post(
            "/session/mfa",
            json!({ "webauthn": key.get(&options.body, APP_ORIGIN) }),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["auth"], true);

    // A recovery code stands in for the passkey; the passkey step needs a pending login.
    let mut other = app.browser();
    other.login("ada", &password).await;
    let code = registered["recovery_codes"][0].as_str().unwrap();
    let done = other
        .post("/session/mfa", json!({ "recovery_code": code }))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let mut stranger = app.browser();
    stranger.get("/session").await;
    let refused = stranger.post("/session/mfa/options", json!({})).await;
    assert_eq!((refused.status, refused.code()), (401, "mfa_not_pending"));
    // Without the options step, a passkey answer has no challenge.
    let mut hasty = app.browser();
    hasty.login("ada", &password).await;
    let early = hasty
        .post(
            "/session/mfa",
            json!({ "webauthn": key.get(&options.body, APP_ORIGIN) }),
        )
        .await;
    assert_eq!(
        (early.status, early.code()),
        (400, "passkey_challenge_missing")
    );
}

#[tokio::test]
async fn deleting_a_passkey_needs_a_fresh_login_and_the_last_one_takes_the_recovery_codes() {
    let app = TestApp::spawn().await;
    let mut key = SoftPasskey::new();
    let (mut ada, password, registered) = registered(&app, "ada", &mut key).await;
    let id = registered["passkey"]["id"].as_str().unwrap().to_owned();

    let renamed = ada
        .send(
            Req::new(Method::PATCH, &format!("/users/me/passkeys/{id}"))
                .json(json!({"name": " Phone "})),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.body["passkey"]["name"], "Phone");
    let empty = ada
        .send(
            Req::new(Method::PATCH, &format!("/users/me/passkeys/{id}")).json(json!({"name": ""})),
        )
        .await;
    assert_eq!(empty.body["error"]["fields"]["name"], json!(["required"]));

    // Another account's passkey is not found, whatever it is asked to do.
    let mut bob = app.logged_in("bob", Role::User).await;
    let foreign = bob
        .send(Req::new(Method::DELETE, &format!("/users/me/passkeys/{id}")).json(json!({})))
        .await;
    assert_eq!(foreign.status, 404);
    let foreign = bob
        .send(
            Req::new(Method::PATCH, &format!("/users/me/passkeys/{id}")).json(json!({"name": "x"})),
        )
        .await;
    assert_eq!(foreign.status, 404);

    app.clock.advance(time::Duration::minutes(6));
    let stale = ada
        .send(Req::new(Method::DELETE, &format!("/users/me/passkeys/{id}")).json(json!({})))
        .await;
    assert_eq!(stale.status, 422, "{}", stale.body);
    assert_eq!(
        stale.body["error"]["fields"]["password"],
        json!(["required"])
    );
    let removed = ada
        .send(
            Req::new(Method::DELETE, &format!("/users/me/passkeys/{id}"))
                .json(json!({ "password": password })),
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    assert_eq!(app.count("recovery_codes").await, 0);
    assert!(
        app.audit_kinds()
            .await
            .contains(&"passkey_removed".to_owned())
    );
    let mut browser = app.browser();
    assert_eq!(browser.login("ada", &password).await.body["auth"], true);
    let (_, status, _) = passkey_login(&app, &mut key, APP_ORIGIN).await;
    assert_eq!(status, 401, "a deleted passkey logs nobody in");
}

#[tokio::test]
async fn a_passkey_cannot_be_registered_twice_nor_on_a_second_account() {
    let app = TestApp::spawn().await;
    let mut key = SoftPasskey::new();
    let (mut ada, _, _) = registered(&app, "ada", &mut key).await;
    // The options exclude the passkey the account has already.
    let options = ada.post("/users/me/passkeys/options", json!({})).await;
    let excluded = &options.body["publicKey"]["excludeCredentials"];
    assert_eq!(excluded.as_array().unwrap().len(), 1, "{excluded}");
    assert_eq!(
        options.body["publicKey"]["authenticatorSelection"]["residentKey"],
        "required"
    );
    let mut bob = app.logged_in("bob", Role::User).await;
    let handle = key.user_handle.clone();
    let (status, body) = register(&mut bob, &mut key, "Stolen").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("passkey_already_registered"))
    );
    assert_ne!(
        key.user_handle, handle,
        "each account has its own user handle"
    );
    assert_eq!(app.count("passkeys").await, 1);
}

#[tokio::test]
async fn passkeys_turned_off_say_so() {
    let app = TestApp::spawn_with(&[("GATEHOUSE__PASSKEYS__ENABLED", "false")]).await;
    let mut browser = app.logged_in("ada", Role::User).await;
    assert_eq!(
        browser.get("/session").await.body["features"]["passkeys"],
        false
    );
    let refused = browser.post("/users/me/passkeys/options", json!({})).await;
    assert_eq!(
        (refused.status, refused.code()),
        (404, "passkeys_not_configured")
    );
    let mut anonymous = app.browser();
    anonymous.get("/session").await;
    let refused = anonymous.post("/session/passkey/options", json!({})).await;
    assert_eq!(
        (refused.status, refused.code()),
        (404, "passkeys_not_configured")
    );
}

#[tokio::test]
async fn failed_passkey_logins_are_throttled_like_passwords() {
    let app = TestApp::spawn().await;
    let mut key = SoftPasskey::new();
    registered(&app, "ada", &mut key).await;
    for _ in 0..10 {
        let (_, status, _) = passkey_login(&app, &mut key, "http://evil.localhost:8081").await;
        assert_eq!(status, 401);
    }
    let (_, status, body) = passkey_login(&app, &mut key, APP_ORIGIN).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    // Another passkey from the same address is not held back by this one's failures.
    let mut other = SoftPasskey::new();
    registered(&app, "bob", &mut other).await;
    let (_, status, body) = passkey_login(&app, &mut other, APP_ORIGIN).await;
    assert_eq!(status, 200, "{body}");
}
