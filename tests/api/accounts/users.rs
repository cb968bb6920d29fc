//! Accounts: sign-up, validation, roles, 401 vs 403, admin changes.

use gatehouse::account::Role;
use reqwest::Method;
use serde_json::json;

use crate::support::{Req, TestApp};

#[tokio::test]
async fn sign_up_logs_in_and_answers_201_with_the_session_shape() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    browser.get("/session").await;
    let reply = browser
        .post("/users", json!({"username": "Alice", "password": "correct horse battery staple", "name": "Alice A.", "email": "alice@example.com"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["auth"], true);
    assert_eq!(reply.body["user"]["username"], "Alice");
    assert_eq!(reply.body["user"]["email"], "alice@example.com");
    assert_eq!(
        browser.get("/users/me").await.body["user"]["name"],
        "Alice A."
    );
    let hash = app
        .column("SELECT CAST(password_hash AS BLOB) FROM users")
        .await;
    assert!(
        String::from_utf8(hash[0].clone())
            .unwrap()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );
}

#[tokio::test]
async fn sign_up_validation_answers_field_errors_and_creates_nobody() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    browser.get("/session").await;
    let cases = [
        (
            json!({}),
            vec![("username", "required"), ("password", "required")],
        ),
        (
            json!({"username": "ab", "password": "short"}),
            vec![("username", "too_short"), ("password", "too_short")],
        ),
        (
            json!({"username": "a b c", "password": "password123"}),
            vec![
                ("username", "invalid_characters"),
                ("password", "too_common"),
            ],
        ),
        (
            json!({"username": "alice", "password": "a fine long passphrase", "email": "nope"}),
            vec![("email", "invalid_email")],
        ),
        (
            json!({"username": "alice", "password": "x".repeat(1025)}),
            vec![("password", "too_long")],
        ),
    ];
    for (body, expected) in cases {
        let reply = browser.post("/users", body.clone()).await;
        assert_eq!(
            (reply.status, reply.code()),
            (422, "validation_failed"),
            "{body}"
        );
        for (field, code) in expected {
            assert_eq!(
                reply.body["error"]["fields"][field],
                json!([code]),
                "{body}: {}",
                reply.body
            );
        }
    }
    let reply = browser
        .post("/users", json!({"username": "alice", "password": 12345678}))
        .await;
    assert_eq!((reply.status, reply.code()), (422, "validation_failed"));
    let reply = browser
        .post(
            "/users",
            json!({"username": "alice1", "password": "Alice1"}),
        )
        .await;
    assert_eq!(reply.status, 422);
    let reply = browser
        .post(
            "/users",
            json!({"username": "alicealice", "password": "AliceAlice"}),
        )
        .await;
    assert_eq!(
        reply.body["error"]["fields"]["password"],
        json!(["same_as_username"])
    );
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn a_role_sent_at_sign_up_is_ignored() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    browser.get("/session").await;
    let reply = browser
        .post("/users", json!({"username": "mallory", "password": "correct horse battery staple", "role": "admin", "disabled": false}))
        .await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.body["user"]["role"], "user");
    assert_eq!(browser.get("/users").await.status, 403);
}

#[tokio::test]
async fn usernames_are_unique_whatever_their_case() {
    let app = TestApp::spawn().await;
    app.add_user("alice", Role::User).await;
    let mut browser = app.browser();
    browser.get("/session").await;
    let reply = browser
        .post(
            "/users",
            json!({"username": "ALICE", "password": "correct horse battery staple"}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (409, "username_taken"));
    assert_eq!(app.count("users").await, 1);
}

#[tokio::test]
async fn anonymous_callers_get_401_and_callers_without_the_role_get_403() {
    let app = TestApp::spawn().await;
    let mut anonymous = app.browser();
    let reply = anonymous.get("/users").await;
    assert_eq!((reply.status, reply.code()), (401, "unauthenticated"));
    assert!(reply.header("www-authenticate").is_none());
    assert_eq!(anonymous.get("/users/me").await.status, 401);
    let mut user = app.logged_in("alice", Role::User).await;
    let reply = user.get("/users").await;
    assert_eq!((reply.status, reply.code()), (403, "forbidden"));
    assert_eq!(
        user.get("/users/me").await.status,
        200,
        "a user passes a user check"
    );
    let mut admin = app.logged_in("root", Role::Admin).await;
    let reply = admin.get("/users").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        admin.get("/users/me").await.status,
        200,
        "admin passes every user check"
    );
}

#[tokio::test]
async fn a_role_change_takes_effect_on_the_users_next_request() {
    let app = TestApp::spawn().await;
    let mut alice = app.logged_in("alice", Role::User).await;
    let alice_id = alice.get("/users/me").await.body["user"]["id"]
        .as_i64()
        .unwrap();
    let mut admin = app.logged_in("root", Role::Admin).await;
    assert_eq!(alice.get("/users").await.status, 403);
    let reply = admin
        .send(Req::new(Method::PATCH, &format!("/users/{alice_id}")).json(json!({"role": "admin"})))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["user"]["role"], "admin");
    assert_eq!(alice.get("/users").await.status, 200);
    admin
        .send(Req::new(Method::PATCH, &format!("/users/{alice_id}")).json(json!({"role": "user"})))
        .await;
    assert_eq!(alice.get("/users").await.status, 403);
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions() {
    let app = TestApp::spawn().await;
    let mut alice = app.logged_in("alice", Role::User).await;
    let alice_id = alice.get("/users/me").await.body["user"]["id"]
        .as_i64()
        .unwrap();
    let mut admin = app.logged_in("root", Role::Admin).await;
    let reply = admin
        .send(
            Req::new(Method::PATCH, &format!("/users/{alice_id}")).json(json!({"disabled": true})),
        )
        .await;
    assert_eq!(reply.body["user"]["disabled"], true);
    assert_eq!(alice.get("/users/me").await.status, 401);
    assert_eq!(
        app.count("sessions").await,
        1,
        "only the admin's session is left"
    );
}

#[tokio::test]
async fn admin_changes_are_validated_and_unknown_users_are_404() {
    let app = TestApp::spawn().await;
    let mut admin = app.logged_in("root", Role::Admin).await;
    let reply = admin
        .send(Req::new(Method::PATCH, "/users/1").json(json!({"role": "superuser"})))
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(
        reply.body["error"]["fields"]["role"],
        json!(["invalid_role"])
    );
    for path in ["/users/999", "/users/abc", "/users/1.5"] {
        let reply = admin
            .send(Req::new(Method::PATCH, path).json(json!({"role": "user"})))
            .await;
        assert_eq!((reply.status, reply.code()), (404, "not_found"), "{path}");
    }
    let mut user = app.logged_in("alice", Role::User).await;
    let reply = user
        .send(Req::new(Method::PATCH, "/users/1").json(json!({"role": "admin"})))
        .await;
    assert_eq!(reply.status, 403);
}

#[tokio::test]
async fn long_and_unicode_passwords_work_and_are_never_truncated_or_case_folded() {
    let app = TestApp::spawn().await;
    let password = format!("Ünïcødé 🔑 {}", "long-tail-".repeat(40));
    let mut browser = app.browser();
    browser.get("/session").await;
    let reply = browser
        .post("/users", json!({"username": "alice", "password": password}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(app.browser().login("alice", &password).await.status, 200);
    let truncated: String = password.chars().take(72).collect();
    assert_eq!(app.browser().login("alice", &truncated).await.status, 401);
    assert_eq!(
        app.browser()
            .login("alice", &password.to_uppercase())
            .await
            .status,
        401
    );
    assert_eq!(
        app.browser().login("ALICE", &password).await.status,
        200,
        "usernames are case-insensitive"
    );
}
