//! Session lifecycle and account changes: devices, revocation, sweeping, password change,
//! profile, account deletion, re-hashing, key rotation and the audit trail.

use gatehouse::account::Role;
use reqwest::Method;
use serde_json::json;
use time::Duration;

use crate::support::{Req, SECRET_KEY, TestApp};

async fn two_browsers(app: &TestApp) -> (crate::support::Browser, crate::support::Browser, String) {
    let password = app.add_user("alice", Role::User).await;
    let mut laptop = app.browser();
    assert_eq!(laptop.login("alice", &password).await.status, 200);
    let mut phone = app.browser();
    assert_eq!(phone.login("alice", &password).await.status, 200);
    (laptop, phone, password)
}

#[tokio::test]
async fn users_list_their_sessions_marking_the_current_one() {
    let app = TestApp::spawn().await;
    let (mut laptop, _phone, _) = two_browsers(&app).await;
    app.logged_in("bob", Role::User).await;
    let reply = laptop.get("/sessions").await;
    let items = reply.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "only alice's sessions");
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    for key in [
        "id",
        "created_at",
        "last_seen_at",
        "expires_at",
        "remember",
        "user_agent",
        "ip",
    ] {
        assert!(items[0].get(key).is_some(), "{key}");
    }
    assert_eq!(items[0]["ip"], "127.0.0.1");
    assert_eq!(app.browser().get("/sessions").await.status, 401);
}

#[tokio::test]
async fn one_browser_can_revoke_the_other_whose_next_request_is_anonymous() {
    let app = TestApp::spawn().await;
    let (mut laptop, mut phone, _) = two_browsers(&app).await;
    let items = laptop.get("/sessions").await.body["items"].clone();
    let other = items
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        laptop.delete(&format!("/sessions/{other}")).await.status,
        204
    );
    assert_eq!(phone.get("/session").await.body["auth"], false);
    assert_eq!(laptop.get("/session").await.body["auth"], true);
    assert_eq!(
        laptop.delete(&format!("/sessions/{other}")).await.status,
        404
    );
}

#[tokio::test]
async fn another_users_session_id_is_not_found_and_survives() {
    let app = TestApp::spawn().await;
    let mut alice = app.logged_in("alice", Role::User).await;
    let mut bob = app.logged_in("bob", Role::User).await;
    let bobs = bob.get("/session").await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = alice.delete(&format!("/sessions/{bobs}")).await;
    assert_eq!((reply.status, reply.code()), (404, "not_found"));
    assert_eq!(bob.get("/session").await.body["auth"], true);
}

#[tokio::test]
async fn revoking_the_others_keeps_the_current_session() {
    let app = TestApp::spawn().await;
    let (mut laptop, mut phone, password) = two_browsers(&app).await;
    let mut tablet = app.browser();
    tablet.login("alice", &password).await;
    let reply = laptop.delete("/sessions?scope=others").await;
    assert_eq!(reply.body, json!({"revoked": 2}));
    assert_eq!(phone.get("/session").await.body["auth"], false);
    assert_eq!(tablet.get("/session").await.body["auth"], false);
    assert_eq!(laptop.get("/session").await.body["auth"], true);
    let reply = laptop.delete("/sessions").await;
    assert_eq!((reply.status, reply.code()), (422, "validation_failed"));
}

#[tokio::test]
async fn the_sweeper_deletes_expired_and_idle_sessions() {
    let app = TestApp::spawn_with(&[("GATEHOUSE__SESSION__IDLE_TIMEOUT_SECS", "600")]).await;
    let password = app.add_user("alice", Role::User).await;
    app.browser().login("alice", &password).await;
    let mut remembered = app.browser();
    remembered.get("/session").await;
    remembered
        .post(
            "/session",
            json!({"username": "alice", "password": password, "remember": true}),
        )
        .await;
    assert_eq!(app.count("sessions").await, 2);
    assert_eq!(app.state.sessions().sweep().await.unwrap(), 0);
    app.clock.advance(Duration::seconds(601));
    assert_eq!(
        app.state.sessions().sweep().await.unwrap(),
        1,
        "the idle ordinary session"
    );
    assert_eq!(app.count("sessions").await, 1);
    app.clock.advance(Duration::days(31));
    assert_eq!(
        app.state.sessions().sweep().await.unwrap(),
        1,
        "the remembered one, past its lifetime"
    );
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn a_password_change_rotates_this_session_and_ends_every_other_one() {
    let app = TestApp::spawn().await;
    let (mut laptop, mut phone, password) = two_browsers(&app).await;
    let before = laptop.get("/session").await.body;
    let wrong = laptop
        .send(Req::new(Method::PUT, "/users/me/password").json(
            json!({"current_password": "nope-nope", "new_password": "a brand new passphrase"}),
        ))
        .await;
    assert_eq!((wrong.status, wrong.code()), (401, "invalid_credentials"));
    let weak = laptop
        .send(
            Req::new(Method::PUT, "/users/me/password")
                .json(json!({"current_password": password, "new_password": "password"})),
        )
        .await;
    assert_eq!(
        weak.body["error"]["fields"]["new_password"],
        json!(["too_common"])
    );
    let old_token = laptop.csrf.clone();
    let reply =
        laptop
            .send(Req::new(Method::PUT, "/users/me/password").json(
                json!({"current_password": password, "new_password": "a brand new passphrase"}),
            ))
            .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_ne!(reply.body["id"], before["id"]);
    assert_ne!(reply.body["_csrf"], before["_csrf"]);
    assert_eq!(laptop.get("/session").await.body["auth"], true);
    assert_eq!(phone.get("/session").await.body["auth"], false);
    assert_eq!(app.count("sessions").await, 1);
    laptop.csrf = old_token;
    assert_eq!(laptop.delete("/session").await.code(), "csrf_token_invalid");
    assert_eq!(app.browser().login("alice", &password).await.status, 401);
    assert_eq!(
        app.browser()
            .login("alice", "a brand new passphrase")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn users_change_their_name_and_email() {
    let app = TestApp::spawn().await;
    let mut alice = app.logged_in("alice", Role::User).await;
    let reply = alice
        .send(
            Req::new(Method::PATCH, "/users/me")
                .json(json!({"name": "Alice", "email": "a@example.com"})),
        )
        .await;
    assert_eq!(
        (
            reply.body["user"]["name"].as_str(),
            reply.body["user"]["email"].as_str()
        ),
        (Some("Alice"), Some("a@example.com"))
    );
    let reply = alice
        .send(Req::new(Method::PATCH, "/users/me").json(json!({"email": null})))
        .await;
    assert_eq!(
        (
            reply.body["user"]["name"].as_str(),
            reply.body["user"]["email"].as_str()
        ),
        (Some("Alice"), None)
    );
    let reply = alice
        .send(Req::new(Method::PATCH, "/users/me").json(json!({"email": "nope", "role": "admin"})))
        .await;
    assert_eq!(
        reply.body["error"]["fields"]["email"],
        json!(["invalid_email"])
    );
    assert_eq!(alice.get("/users/me").await.body["user"]["role"], "user");
}

#[tokio::test]
async fn deleting_the_account_needs_the_password_and_ends_everything() {
    let app = TestApp::spawn().await;
    let (mut laptop, mut phone, password) = two_browsers(&app).await;
    let reply = laptop
        .send(Req::new(Method::DELETE, "/users/me").json(json!({"password": "wrong-password"})))
        .await;
    assert_eq!(reply.status, 401);
    let reply = laptop
        .send(Req::new(Method::DELETE, "/users/me").json(json!({})))
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(app.count("users").await, 1);
    let reply = laptop
        .send(Req::new(Method::DELETE, "/users/me").json(json!({"password": password})))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["auth"], false);
    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.count("sessions").await, 0);
    assert_eq!(phone.get("/session").await.body["auth"], false);
    assert_eq!(app.browser().login("alice", &password).await.status, 401);
}

#[tokio::test]
async fn hashes_made_with_older_parameters_are_replaced_at_the_next_login() {
    let app = TestApp::spawn().await;
    let password = app.add_user("alice", Role::User).await;
    let hash = || async {
        String::from_utf8(
            app.column("SELECT CAST(password_hash AS BLOB) FROM users")
                .await[0]
                .clone(),
        )
        .unwrap()
    };
    assert!(hash().await.contains("m=19456,t=2,p=1"));
    let stronger = app
        .restart_with(&[
            ("GATEHOUSE__PASSWORD__ARGON2_MEMORY_KIB", "20480"),
            ("GATEHOUSE__PASSWORD__ARGON2_ITERATIONS", "3"),
        ])
        .await;
    assert_eq!(
        stronger.browser().login("alice", &password).await.status,
        200
    );
    assert!(hash().await.contains("m=20480,t=3,p=1"), "{}", hash().await);
    assert_eq!(
        stronger.browser().login("alice", &password).await.status,
        200
    );
}

#[tokio::test]
async fn a_rotated_key_keeps_sessions_and_tokens_alive_and_a_removed_key_ends_them() {
    let app = TestApp::spawn().await;
    let mut alice = app.logged_in("alice", Role::User).await;
    let mut visitor = app.browser();
    visitor.get("/session").await;
    let new_key = "a-fresh-secret-key-for-the-rotation-test-0123456789";
    let rotated = app
        .restart_with(&[
            ("GATEHOUSE__SECURITY__SECRET_KEY", new_key),
            (
                "GATEHOUSE__SECURITY__PREVIOUS_SECRET_KEYS",
                &format!("[\"{SECRET_KEY}\"]"),
            ),
        ])
        .await;
    alice.base = rotated.browser().base;
    visitor.base = alice.base.clone();
    let old_cookie = alice.cookies["gatehouse_session"].clone();
    let reply = alice.get("/users/me").await;
    assert_eq!(reply.status, 200, "an old-key session still works");
    assert!(
        reply
            .set_cookies
            .iter()
            .any(|c| c.starts_with("gatehouse_session=")),
        "and is re-signed with the new key"
    );
    assert_ne!(alice.cookies["gatehouse_session"], old_cookie);
    let reply = visitor
        .post(
            "/users",
            json!({"username": "carol", "password": "correct horse battery staple"}),
        )
        .await;
    assert_eq!(
        reply.status, 201,
        "a pre-rotation CSRF token still works: {}",
        reply.body
    );

    let removed = app
        .restart_with(&[("GATEHOUSE__SECURITY__SECRET_KEY", new_key)])
        .await;
    let mut stale = rotated.browser_at(removed.addr);
    stale.cookies.insert("gatehouse_session".into(), old_cookie);
    assert_eq!(
        stale.get("/session").await.body["auth"],
        false,
        "a session signed only by a removed key ends"
    );
    alice.base = stale.base.clone();
    assert_eq!(
        alice.get("/session").await.body["auth"],
        true,
        "a re-signed one lives on"
    );
}

#[tokio::test]
async fn every_security_event_is_audited_without_secrets() {
    let app = TestApp::spawn().await;
    let mut admin = app.logged_in("root", Role::Admin).await;
    let password = app.add_user("alice", Role::User).await;
    app.browser().login("alice", "wrong-password").await;
    app.browser().login("nobody", "wrong-password").await;
    let mut alice = app.browser();
    alice.login("alice", &password).await;
    let id = alice.get("/users/me").await.body["user"]["id"]
        .as_i64()
        .unwrap();
    admin
        .send(Req::new(Method::PATCH, &format!("/users/{id}")).json(json!({"role": "admin"})))
        .await;
    let mut forged = app.browser();
    forged
        .post(
            "/users",
            json!({"username": "mallory", "password": "correct horse battery staple"}),
        )
        .await;
    let mut carol = app.browser();
    carol.get("/session").await;
    carol
        .post(
            "/users",
            json!({"username": "carol", "password": "correct horse battery staple"}),
        )
        .await;
    carol.delete("/session").await;
    admin
        .send(Req::new(Method::PATCH, &format!("/users/{id}")).json(json!({"disabled": true})))
        .await;
    let kinds = app.audit_kinds().await;
    for kind in [
        "login_failed",
        "role_changed",
        "request_refused",
        "signup",
        "logout",
        "user_disabled",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing from {kinds:?}"
        );
    }
    let events = app.state.audit().list(None, None, 100).await.unwrap();
    let failures: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "login_failed")
        .map(|e| e.detail.clone().unwrap())
        .collect();
    assert_eq!(failures, ["wrong_password", "unknown_user"]);
    let text = format!("{events:?}");
    assert!(
        !text.contains(&password)
            && !text.contains("wrong-password")
            && !text.contains("correct horse")
    );
}
