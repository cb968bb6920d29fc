//! Second factors: TOTP enrolment, the two-step login, replay and skew, recovery codes, the
//! pending step bound to its browser and its expiry, throttling, turning it off, and the CLI.
//! Codes are computed here from the secret the server handed out, on the test's manual clock.

use axum::http::Method;
use gatehouse::account::Role;
use serde_json::{Value, json};

use crate::support::authenticator::Authenticator;
use crate::support::{Browser, Req, SECRET_KEY, TestApp};

/// A logged-in browser of `name` with TOTP on: the secret and the recovery codes.
struct Enrolled {
    browser: Browser,
    password: String,
    totp: Authenticator,
    recovery_codes: Vec<String>,
}

/// The code of the step `offset` steps from the app's clock.
fn code(app: &TestApp, totp: &Authenticator, offset: i64) -> String {
    totp.code(app, offset)
}

async fn enrol(app: &TestApp, name: &str) -> Enrolled {
    let password = app.add_user(name, Role::User).await;
    let mut browser = app.browser();
    assert_eq!(browser.login(name, &password).await.status, 200);
    let started = browser
        .post("/users/me/totp", json!({ "password": password }))
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let uri = started.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!(":{name}?")), "{uri}");
    assert!(started.body["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let totp = Authenticator::from_secret(started.body["secret"].as_str().unwrap());
    let confirmed = browser
        .post(
            "/users/me/totp/confirm",
            json!({ "code": code(app, &totp, 0) }),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let recovery_codes: Vec<String> = confirmed.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    // The enrolment code's step is spent: logins start on the next one.
    app.clock.advance(time::Duration::seconds(30));
    Enrolled {
        browser,
        password,
        totp,
        recovery_codes,
    }
}

/// A fresh browser that gave the right password: the reply (which owes a factor).
async fn password_step(app: &TestApp, name: &str, password: &str) -> (Browser, Value) {
    let mut browser = app.browser();
    let reply = browser.login(name, password).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    (browser, reply.body)
}

#[tokio::test]
async fn with_totp_on_a_right_password_owes_a_code_and_the_code_completes_the_login() {
    let app = TestApp::spawn().await;
    let ada = enrol(&app, "ada").await;
    let state = ada.browser.clone().get("/users/me/totp").await;
    assert_eq!(
        state.body,
        json!({"totp": true, "passkeys": 0, "recovery_codes_left": 10})
    );
    let sessions_before = app.count("sessions").await;

    let mut browser = app.browser();
    let step = browser.login("ada", &ada.password).await;
    let pending = step
        .set_cookies
        .iter()
        .find(|c| c.starts_with("gatehouse_mfa="))
        .expect("a pending-login cookie");
    for attribute in ["; Path=/", "; HttpOnly", "; SameSite=Lax", "; Max-Age=300"] {
        assert!(pending.contains(attribute), "{pending} lacks {attribute}");
    }
    let owed = step.body;
    assert_eq!(owed["auth"], false);
    assert_eq!(owed["mfa_required"], json!(["totp", "recovery_code"]));
    assert!(
        owed.get("id").is_none() && owed.get("user").is_none(),
        "{owed}"
    );
    assert_eq!(
        app.count("sessions").await,
        sessions_before,
        "no session yet"
    );
    assert_eq!(browser.get("/users/me").await.status, 401);

    let code = code(&app, &ada.totp, 0);
    let done = browser.post("/session/mfa", json!({ "totp": code })).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["auth"], true);
    assert_eq!(done.body["username"], "ada");
    assert_ne!(done.body["_csrf"], owed["_csrf"], "a new token");
    assert!(
        done.set_cookies
            .iter()
            .any(|c| c.starts_with("gatehouse_mfa=;")
                || (c.starts_with("gatehouse_mfa=") && c.contains("Max-Age=0"))),
        "the pending-login cookie is cleared: {:?}",
        done.set_cookies
    );
    assert_eq!(browser.get("/users/me").await.status, 200);

    // The same code again, from another browser: a replay.
    let (mut other, _) = password_step(&app, "ada", &ada.password).await;
    let replay = other.post("/session/mfa", json!({ "totp": code })).await;
    assert_eq!((replay.status, replay.code()), (401, "invalid_credentials"));
    let kinds = app.audit_kinds().await;
    assert!(kinds.contains(&"totp_enabled".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"mfa_failed".to_owned()), "{kinds:?}");
}

#[tokio::test]
async fn codes_one_step_either_side_are_accepted_and_two_steps_away_are_not() {
    let app = TestApp::spawn().await;
    let ada = enrol(&app, "ada").await;
    // One step on, so that the step before now is not the enrolment's (spent) one.
    app.clock.advance(time::Duration::seconds(30));
    // Two steps away: never. -1 then (newer) now and +1 work; after them, now is a replay.
    for (offset, accepted) in [
        (-2, false),
        (2, false),
        (-1, true),
        (0, true),
        (1, true),
        (0, false),
    ] {
        let (mut browser, _) = password_step(&app, "ada", &ada.password).await;
        let reply = browser
            .post(
                "/session/mfa",
                json!({ "totp": code(&app, &ada.totp, offset) }),
            )
            .await;
        assert_eq!(
            reply.status == 200,
            accepted,
            "offset {offset}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn the_pending_step_belongs_to_its_browser_and_expires() {
    let app = TestApp::spawn().await;
    let ada = enrol(&app, "ada").await;
    let (owner, _) = password_step(&app, "ada", &ada.password).await;

    // Another browser, even holding a copy of the pending-login cookie, owes nothing.
    let mut thief = app.browser();
    thief.get("/session").await;
    let stolen = owner.cookies.get("gatehouse_mfa").unwrap().clone();
    thief.cookies.insert("gatehouse_mfa".into(), stolen);
    let reply = thief
        .post("/session/mfa", json!({ "totp": code(&app, &ada.totp, 0) }))
        .await;
    assert_eq!((reply.status, reply.code()), (401, "mfa_not_pending"));
    let mut stranger = app.browser();
    stranger.get("/session").await;
    let reply = stranger
        .post("/session/mfa", json!({ "totp": code(&app, &ada.totp, 0) }))
        .await;
    assert_eq!(reply.code(), "mfa_not_pending");

    // Five minutes to finish.
    let (mut late, _) = password_step(&app, "ada", &ada.password).await;
    app.clock.advance(time::Duration::minutes(6));
    let reply = late
        .post("/session/mfa", json!({ "totp": code(&app, &ada.totp, 0) }))
        .await;
    assert_eq!(reply.code(), "mfa_not_pending");

    let mut owner = owner;
    let none = owner.post("/session/mfa", json!({})).await;
    assert_eq!((none.status, none.code()), (422, "validation_failed"));
}

#[tokio::test]
async fn a_recovery_code_works_once_in_place_of_a_code_and_new_ones_replace_the_old() {
    let app = TestApp::spawn().await;
    let mut ada = enrol(&app, "ada").await;
    let first = ada.recovery_codes[0].clone();
    assert_eq!(first.len(), 29);
    let (mut browser, _) = password_step(&app, "ada", &ada.password).await;
    let typed = format!(" {} ", first.to_uppercase());
    let reply = browser
        .post("/session/mfa", json!({ "recovery_code": typed }))
        .await;
    assert_eq!(
        reply.status, 200,
        "case and spaces do not matter: {}",
        reply.body
    );
    let (mut again, _) = password_step(&app, "ada", &ada.password).await;
    let reply = again
        .post("/session/mfa", json!({ "recovery_code": first }))
        .await;
    assert_eq!(reply.code(), "invalid_credentials", "used once");
    assert_eq!(
        browser.get("/users/me/totp").await.body["recovery_codes_left"],
        9
    );

    let wrong = ada
        .browser
        .post(
            "/users/me/recovery-codes",
            json!({"password": "not the password"}),
        )
        .await;
    assert_eq!(wrong.code(), "invalid_credentials");
    let renewed = ada
        .browser
        .post(
            "/users/me/recovery-codes",
            json!({ "password": ada.password }),
        )
        .await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let (mut old, _) = password_step(&app, "ada", &ada.password).await;
    let reply = old
        .post(
            "/session/mfa",
            json!({ "recovery_code": ada.recovery_codes[1] }),
        )
        .await;
    assert_eq!(reply.code(), "invalid_credentials", "the old set is dead");
    let newest = renewed.body["recovery_codes"][0].as_str().unwrap();
    let reply = old
        .post("/session/mfa", json!({ "recovery_code": newest }))
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn wrong_codes_are_throttled_like_passwords() {
    let app = TestApp::spawn().await;
    let ada = enrol(&app, "ada").await;
    let (mut browser, _) = password_step(&app, "ada", &ada.password).await;
    for _ in 0..10 {
        let reply = browser
            .post("/session/mfa", json!({"totp": "000000"}))
            .await;
        assert_eq!(reply.code(), "invalid_credentials");
    }
    let refused = browser
        .post("/session/mfa", json!({ "totp": code(&app, &ada.totp, 0) }))
        .await;
    assert_eq!((refused.status, refused.code()), (429, "rate_limited"));
    assert!(refused.header("retry-after").is_some());
}

#[tokio::test]
async fn turning_totp_off_needs_a_current_factor_and_the_cli_can_remove_a_lost_one() {
    let app = TestApp::spawn().await;
    let mut ada = enrol(&app, "ada").await;
    let again = ada
        .browser
        .post("/users/me/totp", json!({ "password": ada.password }))
        .await;
    assert_eq!((again.status, again.code()), (409, "totp_already_enabled"));
    let wrong = ada
        .browser
        .send(Req::new(Method::DELETE, "/users/me/totp").json(json!({"totp": "123456"})))
        .await;
    assert_eq!(wrong.code(), "invalid_credentials");
    let off = ada
        .browser
        .send(
            Req::new(Method::DELETE, "/users/me/totp")
                .json(json!({ "totp": code(&app, &ada.totp, 0) })),
        )
        .await;
    assert_eq!(off.status, 204, "{}", off.body);
    let (_, reply) = password_step(&app, "ada", &ada.password).await;
    assert_eq!(reply["auth"], true, "one step again");

    // On again, then removed by an operator.
    let bob = enrol(&app, "bob").await;
    let output = tokio::task::spawn_blocking({
        let db = app.db_url.clone();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
                .args(["user", "mfa", "reset", "bob"])
                .env("GATEHOUSE__DATABASE__URL", db)
                .env("GATEHOUSE__SECURITY__SECRET_KEY", SECRET_KEY)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "second factor of bob removed"
    );
    let (_, reply) = password_step(&app, "bob", &bob.password).await;
    assert_eq!(reply["auth"], true);
    let disabled = app
        .column("SELECT detail FROM audit_events WHERE kind = 'factors_reset'")
        .await;
    assert!(disabled.iter().any(|d| d == b"by cli"), "{disabled:?}");
}

#[tokio::test]
async fn the_totp_secret_is_stored_sealed() {
    let app = TestApp::spawn().await;
    let password = app.add_user("ada", Role::User).await;
    let mut browser = app.browser();
    browser.login("ada", &password).await;
    let started = browser
        .post("/users/me/totp", json!({ "password": password }))
        .await;
    let secret = totp_rs::Secret::try_from_base32(started.body["secret"].as_str().unwrap())
        .unwrap()
        .as_ref()
        .to_vec();
    let stored = app.column("SELECT sealed_secret FROM totp_factors").await;
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0]
            .windows(secret.len())
            .any(|w| w == secret.as_slice()),
        "the raw secret is not in the database"
    );
    // A wrong password starts nothing.
    let wrong = browser
        .post("/users/me/totp", json!({"password": "not it at all"}))
        .await;
    assert_eq!(wrong.code(), "invalid_credentials");
}

#[tokio::test]
async fn a_fresh_login_sets_up_totp_without_the_password_again_and_an_older_one_must_give_it() {
    let app = TestApp::spawn().await;
    let password = app.add_user("ada", Role::User).await;
    let mut browser = app.browser();
    assert_eq!(browser.login("ada", &password).await.status, 200);
    let fresh = browser.post("/users/me/totp", json!({})).await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);

    app.clock.advance(time::Duration::minutes(6));
    let asked = browser.post("/users/me/totp", json!({})).await;
    assert_eq!((asked.status, asked.code()), (422, "validation_failed"));
    assert_eq!(asked.body["error"]["fields"]["password"][0], "required");
    let wrong = browser
        .post("/users/me/totp", json!({"password": "not the password"}))
        .await;
    assert_eq!(
        wrong.code(),
        "invalid_credentials",
        "a password given is checked"
    );
    let given = browser
        .post("/users/me/totp", json!({ "password": password }))
        .await;
    assert_eq!(given.status, 200);

    let strict = TestApp::spawn_with(&[("GATEHOUSE__SESSION__FRESH_AUTH_SECS", "0")]).await;
    let password = strict.add_user("bob", Role::User).await;
    let mut browser = strict.browser();
    browser.login("bob", &password).await;
    let asked = browser.post("/users/me/totp", json!({})).await;
    assert_eq!(asked.code(), "validation_failed", "0 always asks");
}
