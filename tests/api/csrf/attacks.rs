//! CSRF attacks on every unsafe route of the OpenAPI document: missing, foreign and stale
//! tokens, hostile origins with a valid token, simple content types and method overrides, each
//! refused with nothing changed, while the same request done right succeeds. Safe methods
//! change nothing anywhere.

use std::collections::BTreeSet;

use gatehouse::account::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::authenticator::Authenticator;
use crate::support::passkey::SoftPasskey;
use crate::support::snapshot;
use crate::support::{APP_ORIGIN, Browser, Req, TestApp};

/// `(METHOD, /path)` of every operation the API documents.
async fn documented_operations(app: &TestApp) -> BTreeSet<(Method, String)> {
    let doc = app.browser().get("/openapi.json").await.body;
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            out.insert((method, path.clone()));
        }
    }
    out
}

/// One admin browser `victim` with every token it has held, another session of the same
/// account, and another account's session.
struct Scene {
    app: TestApp,
    victim: Browser,
    password: String,
    /// Tokens the victim held before: pre-login, the first session's, and after logout.
    stale: Vec<String>,
    second: Browser,
    bob: Browser,
    bob_id: i64,
    employee_id: i64,
}

async fn scene() -> Scene {
    // Mail on (printed, not sent), so the reset and verification routes do their work.
    let link_base = format!("{}/", crate::support::APP_ORIGIN);
    let app = TestApp::spawn_with(&[
        ("GATEHOUSE__MAIL__TRANSPORT", "console"),
        ("GATEHOUSE__MAIL__FROM", "no-reply@example.com"),
        ("GATEHOUSE__MAIL__LINK_BASE", &link_base),
    ])
    .await;
    app.seed_directory().await;
    let password = app.add_user("root", Role::Admin).await;
    // A verified address, set before anything reads (and caches) the account.
    app.execute(
        "UPDATE users SET email = 'root@example.com', email_verified = 1 WHERE username = 'root'",
    )
    .await;
    let mut victim = app.browser();
    let mut stale = Vec::new();
    stale.push(
        victim.get("/session").await.body["_csrf"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    assert_eq!(victim.login("root", &password).await.status, 200);
    stale.push(victim.csrf.clone().unwrap());
    assert_eq!(victim.delete("/session").await.status, 200);
    stale.push(victim.csrf.clone().unwrap());
    assert_eq!(victim.login("root", &password).await.status, 200);
    let mut second = app.browser();
    assert_eq!(second.login("root", &password).await.status, 200);
    let bob = app.logged_in("bob", Role::User).await;
    let users = victim.get("/users").await.body;
    let bob_id = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "bob")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let employee_id = victim.get("/employees").await.body[0]["id"]
        .as_i64()
        .unwrap();
    Scene {
        app,
        victim,
        password,
        stale,
        second,
        bob,
        bob_id,
        employee_id,
    }
}

/// The request that would really perform `method path` for the victim.
/// `None` for an operation this test does not know.
async fn genuine(
    scene: &mut Scene,
    method: &Method,
    path: &str,
) -> Option<(String, Option<Value>)> {
    let own_id = scene.victim.get("/session").await.body["id"].clone();
    let second_id = scene.second.get("/session").await.body["id"].clone();
    let employee = json!({"firstName": "Zed", "lastName": "Quinn"});
    let (concrete, body) = match (method.as_str(), path) {
        ("POST", "/session") => (
            path.to_owned(),
            Some(json!({"username": "root", "password": scene.password})),
        ),
        ("DELETE", "/session") => (path.to_owned(), None),
        ("DELETE", "/session/{id}") => (format!("/session/{}", own_id.as_str().unwrap()), None),
        ("POST", "/users") => (
            path.to_owned(),
            Some(json!({"username": "mallory", "password": "correct horse battery staple"})),
        ),
        ("PATCH", "/users/me") => (path.to_owned(), Some(json!({"name": "Mallory"}))),
        ("DELETE", "/users/me") => (path.to_owned(), Some(json!({"password": scene.password}))),
        ("PUT", "/users/me/password") => (
            path.to_owned(),
            Some(
                json!({"current_password": scene.password, "new_password": "a brand new passphrase 42"}),
            ),
        ),
        ("PATCH", "/users/{id}") => (
            format!("/users/{}", scene.bob_id),
            Some(json!({"role": "admin"})),
        ),
        ("POST", "/password-reset") => (path.to_owned(), Some(json!({"username": "root"}))),
        ("POST", "/password-reset/confirm") => (
            path.to_owned(),
            Some(
                json!({"token": token_text("password_reset"), "new_password": "a brand new passphrase 42"}),
            ),
        ),
        ("POST", "/users/me/email/verify") => (
            path.to_owned(),
            Some(json!({ "token": token_text("email_verification") })),
        ),
        ("POST", "/users/me/email/verification") => (path.to_owned(), None),
        ("POST", "/users/me/totp") => {
            (path.to_owned(), Some(json!({ "password": scene.password })))
        }
        ("POST", "/users/me/totp/confirm") => (path.to_owned(), Some(json!({"code": "000000"}))),
        ("DELETE", "/users/me/totp") => (path.to_owned(), Some(json!({"totp": "000000"}))),
        ("POST", "/users/me/recovery-codes") => {
            (path.to_owned(), Some(json!({ "password": scene.password })))
        }
        ("POST", "/session/mfa") => (path.to_owned(), Some(json!({"totp": "000000"}))),
        ("POST", "/users/me/passkeys/options") => (path.to_owned(), Some(json!({}))),
        ("POST", "/users/me/passkeys") => (path.to_owned(), Some(json!({"credential": {}}))),
        ("PATCH", "/users/me/passkeys/{id}") => {
            (PROBE_PASSKEY.to_owned(), Some(json!({"name": "Renamed"})))
        }
        ("DELETE", "/users/me/passkeys/{id}") => (PROBE_PASSKEY.to_owned(), Some(json!({}))),
        ("POST", "/session/passkey/options") | ("POST", "/session/mfa/options") => {
            (path.to_owned(), None)
        }
        ("POST", "/session/passkey") => (path.to_owned(), Some(json!({"credential": {}}))),
        ("DELETE", "/sessions") => ("/sessions?scope=others".to_owned(), None),
        ("DELETE", "/sessions/{id}") => {
            (format!("/sessions/{}", second_id.as_str().unwrap()), None)
        }
        ("POST", "/employees") => (path.to_owned(), Some(employee)),
        ("PUT", "/employees/{id}") => (format!("/employees/{}", scene.employee_id), Some(employee)),
        ("DELETE", "/employees/{id}") => (format!("/employees/{}", scene.employee_id), None),
        _ => return None,
    };
    Some((concrete, body))
}

/// What the genuine request of `method path` needs in place first: a live mailed token, or an
/// address that is not verified yet.
/// Returns the body to send instead of `genuine`'s when it depends on what was set up (a TOTP
/// code of the secret just enrolled).
async fn prepare(scene: &mut Scene, method: &Method, path: &str) -> Option<Value> {
    match (method.as_str(), path) {
        ("POST", "/users/me/totp/confirm") => {
            let totp = begin_totp(scene).await;
            return Some(json!({ "code": totp_code(scene, &totp) }));
        }
        ("DELETE", "/users/me/totp") | ("POST", "/users/me/recovery-codes") => {
            let totp = enrol_totp(scene).await;
            if path == "/users/me/totp" {
                return Some(json!({ "totp": totp_code(scene, &totp) }));
            }
        }
        ("POST", "/session/mfa") => {
            // The victim, with TOTP on, logs in again and owes the code.
            let totp = enrol_totp(scene).await;
            assert_eq!(scene.victim.delete("/session").await.status, 200);
            let owed = scene.victim.login("root", &scene.password).await;
            assert_eq!(owed.body["mfa_required"][0], "totp", "{}", owed.body);
            return Some(json!({ "totp": totp_code(scene, &totp) }));
        }
        ("POST", "/users/me/passkeys") => {
            let options = scene
                .victim
                .post("/users/me/passkeys/options", json!({}))
                .await;
            let credential = SoftPasskey::new().create(&options.body, APP_ORIGIN);
            return Some(json!({ "credential": credential }));
        }
        ("PATCH", "/users/me/passkeys/{id}") | ("DELETE", "/users/me/passkeys/{id}") => {
            register_passkey(scene).await;
            scene
                .app
                .execute("UPDATE passkeys SET id = 'csrf-probe'")
                .await;
        }
        ("POST", "/session/passkey") => {
            let mut key = register_passkey(scene).await;
            let options = scene
                .victim
                .post("/session/passkey/options", json!({}))
                .await;
            return Some(json!({ "credential": key.get(&options.body, APP_ORIGIN) }));
        }
        ("POST", "/session/mfa/options") => {
            // The victim, with a passkey, logs in again with the password and owes a factor.
            register_passkey(scene).await;
            assert_eq!(scene.victim.delete("/session").await.status, 200);
            let owed = scene.victim.login("root", &scene.password).await;
            assert_eq!(owed.body["mfa_required"][0], "webauthn", "{}", owed.body);
        }
        ("POST", "/password-reset/confirm") => mail_token(&scene.app, "password_reset").await,
        ("POST", "/users/me/email/verify") => mail_token(&scene.app, "email_verification").await,
        ("POST", "/users/me/email/verification") => {
            let reply = scene
                .victim
                .send(
                    Req::new(Method::PATCH, "/users/me").json(json!({"email": "new@example.com"})),
                )
                .await;
            assert_eq!(reply.status, 200, "{}", reply.body);
        }
        _ => {}
    }
    None
}

async fn begin_totp(scene: &mut Scene) -> Authenticator {
    let started = scene
        .victim
        .post("/users/me/totp", json!({ "password": scene.password }))
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    Authenticator::from_secret(started.body["secret"].as_str().unwrap())
}

/// TOTP on for the victim; the clock one step on, so the next code is fresh.
async fn enrol_totp(scene: &mut Scene) -> Authenticator {
    let totp = begin_totp(scene).await;
    let code = totp_code(scene, &totp);
    let on = scene
        .victim
        .post("/users/me/totp/confirm", json!({ "code": code }))
        .await;
    assert_eq!(on.status, 200, "{}", on.body);
    scene.app.clock.advance(time::Duration::seconds(30));
    totp
}

/// The path of the passkey `prepare` registers for the `{id}` routes.
const PROBE_PASSKEY: &str = "/users/me/passkeys/csrf-probe";

/// A passkey registered for the victim.
async fn register_passkey(scene: &mut Scene) -> SoftPasskey {
    let mut key = SoftPasskey::new();
    let options = scene
        .victim
        .post("/users/me/passkeys/options", json!({}))
        .await;
    let credential = key.create(&options.body, APP_ORIGIN);
    let done = scene
        .victim
        .post("/users/me/passkeys", json!({ "credential": credential }))
        .await;
    assert_eq!(done.status, 201, "{}", done.body);
    key
}

fn totp_code(scene: &Scene, totp: &Authenticator) -> String {
    totp.code(&scene.app, 0)
}

fn token_text(purpose: &str) -> String {
    format!("genuine-{purpose}-token")
}

/// Stores a live mailed token of `purpose` for root's address, as the mail flow stores one.
async fn mail_token(app: &TestApp, purpose: &str) {
    use sqlx::Connection;
    let token = token_text(purpose);
    let mut conn = sqlx::SqliteConnection::connect(&app.db_url).await.unwrap();
    sqlx::query(
        "INSERT INTO mail_tokens (token_hash, user_id, purpose, email, created_at, expires_at)
         SELECT $1, id, $2, 'root@example.com', 0, 4102444800 FROM users WHERE username = 'root'",
    )
    .bind(&gatehouse::crypto::hash(token.as_bytes())[..])
    .bind(purpose)
    .execute(&mut conn)
    .await
    .unwrap();
}

fn request(method: &Method, path: &str, body: &Option<Value>) -> Req {
    let req = Req::new(method.clone(), path);
    match body {
        Some(body) => req.json(body.clone()),
        None => req,
    }
}

#[tokio::test]
async fn every_unsafe_route_refuses_forged_requests_and_accepts_the_genuine_one() {
    let probe = TestApp::spawn().await;
    let operations = documented_operations(&probe).await;
    let unsafe_routes: Vec<(Method, String)> = operations
        .iter()
        .filter(|(m, p)| gatehouse::csrf::is_unsafe(m) && !p.starts_with("/race/"))
        .cloned()
        .collect();
    assert!(unsafe_routes.len() >= 13, "{unsafe_routes:?}");
    for (method, path) in unsafe_routes {
        let mut scene = scene().await;
        let (concrete, body) = genuine(&mut scene, &method, &path)
            .await
            .unwrap_or_else(|| {
                panic!("{method} {path} is a new unsafe route: add it to this test")
            });
        let what = format!("{method} {concrete}");
        let body = prepare(&mut scene, &method, &path).await.or(body);
        let before = snapshot(&scene.app).await;
        let valid = scene.victim.csrf.clone().unwrap();

        // Wrong, foreign and stale tokens.
        let mut tokens: Vec<(Option<String>, &str)> = vec![
            (None, "csrf_token_missing"),
            (Some(String::new()), "csrf_token_missing"),
            (scene.bob.csrf.clone(), "csrf_token_invalid"),
            (scene.second.csrf.clone(), "csrf_token_invalid"),
            (Some(format!("{valid}x")), "csrf_token_invalid"),
            (
                Some(valid[..valid.len() - 1].to_owned()),
                "csrf_token_invalid",
            ),
        ];
        tokens.extend(
            scene
                .stale
                .iter()
                .map(|t| (Some(t.clone()), "csrf_token_invalid")),
        );
        for (token, code) in tokens {
            scene.victim.csrf = token.clone();
            let reply = scene.victim.send(request(&method, &concrete, &body)).await;
            assert_eq!(
                (reply.status, reply.code()),
                (403, code),
                "{what} with {token:?}"
            );
        }
        scene.victim.csrf = Some(valid.clone());

        // A valid token from a hostile or opaque origin.
        for origin in [
            "null",
            "http://evil.example",
            "http://localhost:8081.evil.example",
        ] {
            scene.victim.origin = Some(origin.into());
            let reply = scene.victim.send(request(&method, &concrete, &body)).await;
            assert_eq!(
                (reply.status, reply.code()),
                (403, "origin_not_allowed"),
                "{what} from {origin}"
            );
        }
        scene.victim.origin = Some(crate::support::APP_ORIGIN.into());

        // Content types a form, `sendBeacon` or a no-cors fetch can send without a preflight.
        let text = body.clone().unwrap_or(json!({})).to_string();
        for content_type in [
            "text/plain",
            "text/plain; foo=application/json",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            let reply = scene
                .victim
                .send(Req::new(method.clone(), &concrete).raw(content_type, &text))
                .await;
            assert_eq!(
                (reply.status, reply.code()),
                (415, "unsupported_media_type"),
                "{what} as {content_type}"
            );
        }

        // A POST dressed up as this method, where the path has no POST of its own.
        if !operations.contains(&(Method::POST, path.clone())) {
            let separator = if concrete.contains('?') { '&' } else { '?' };
            for (target, header) in [
                (concrete.clone(), "x-http-method-override"),
                (concrete.clone(), "x-method-override"),
                (
                    format!("{concrete}{separator}_method={method}"),
                    "x-http-method",
                ),
            ] {
                let reply = scene
                    .victim
                    .send(
                        Req::new(Method::POST, &target)
                            .json(body.clone().unwrap_or(json!({})))
                            .header(header, method.as_str()),
                    )
                    .await;
                assert_eq!(
                    (reply.status, reply.code()),
                    (405, "method_not_allowed"),
                    "POST {target} with {header}: {method}"
                );
            }
        }

        assert_eq!(
            snapshot(&scene.app).await,
            before,
            "{what} changed something"
        );

        // The control: the same request, done right, works and changes something (a reset
        // request does its work after answering, so give it a moment).
        let reply = scene.victim.send(request(&method, &concrete, &body)).await;
        assert!(
            reply.status < 300,
            "{what}: {} {}",
            reply.status,
            reply.body
        );
        let mut waited = 0;
        while snapshot(&scene.app).await == before && waited < 100 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            waited += 1;
        }
        assert_ne!(snapshot(&scene.app).await, before, "{what} did nothing");
    }
}

#[tokio::test]
async fn safe_methods_change_nothing_on_any_route_even_with_override_headers() {
    let mut scene = scene().await;
    let before = snapshot(&scene.app).await;
    let operations = documented_operations(&scene.app).await;
    assert!(operations.len() >= 28);
    for (method, path) in operations {
        let concrete = if gatehouse::csrf::is_unsafe(&method) {
            match genuine(&mut scene, &method, &path).await {
                Some((concrete, _)) => concrete,
                None => continue, // the public race results, which hold no state
            }
        } else {
            path.replace("{id}", &scene.employee_id.to_string())
                .replace("{query}", "a")
                .replace("{timestamp}", "0")
        };
        let separator = if concrete.contains('?') { '&' } else { '?' };
        let target = format!("{concrete}{separator}_method=DELETE");
        for safe in [Method::GET, Method::HEAD, Method::OPTIONS] {
            let reply = scene
                .victim
                .send(
                    Req::new(safe.clone(), &target)
                        .header("x-http-method-override", "DELETE")
                        .header("x-method-override", method.as_str())
                        .header("x-http-method", "PUT"),
                )
                .await;
            assert!(reply.status < 500, "{safe} {target}: {}", reply.status);
        }
    }
    assert_eq!(snapshot(&scene.app).await, before);
}
