//! The session resource: check, login, logout, rotation, expiry, cookies.

use gatehouse::account::Role;
use reqwest::Method;
use serde_json::json;
use time::Duration;

use crate::support::{Req, TestApp};

#[tokio::test]
async fn anonymous_check_returns_a_token_and_no_id() {
    let app = TestApp::spawn().await;
    let reply = app.browser().get("/session").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["auth"], false);
    assert!(reply.body.get("id").is_none());
    assert!(reply.body["_csrf"].as_str().unwrap().len() >= 40);
    assert!(reply.set_cookies[0].starts_with("gatehouse_pre="));
}

#[tokio::test]
async fn a_flood_of_anonymous_checks_stores_nothing() {
    let app = TestApp::spawn().await;
    let mut tokens = std::collections::HashSet::new();
    for _ in 0..50 {
        let mut fresh = app.browser();
        tokens.insert(
            fresh.get("/session").await.body["_csrf"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(tokens.len(), 50, "every visitor gets its own token");
    let mut same = app.browser();
    let first = same.get("/session").await;
    let second = same.get("/session").await;
    assert_eq!(
        first.body["_csrf"], second.body["_csrf"],
        "a visitor keeps its token"
    );
    assert!(
        second.set_cookies.is_empty(),
        "no new cookie while the pre-session is valid"
    );
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn login_without_the_token_is_refused_and_creates_no_session() {
    let app = TestApp::spawn().await;
    let password = app.add_user("alice", Role::User).await;
    let mut browser = app.browser();
    let reply = browser
        .post(
            "/session",
            json!({"username": "alice", "password": password}),
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.code(), "csrf_token_missing");
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn login_returns_the_logged_in_shape_with_a_new_token_and_cookie() {
    let app = TestApp::spawn().await;
    let password = app.add_user("alice", Role::User).await;
    let mut browser = app.browser();
    let anonymous = browser.get("/session").await;
    let reply = browser
        .post(
            "/session",
            json!({"username": "alice", "password": password}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["auth"], true);
    assert_eq!(reply.body["username"], "alice");
    assert_eq!(reply.body["user"]["role"], "user");
    assert!(!reply.body["id"].as_str().unwrap().is_empty());
    assert_ne!(reply.body["_csrf"], anonymous.body["_csrf"]);
    assert!(
        reply
            .set_cookies
            .iter()
            .any(|c| c.starts_with("gatehouse_session=") && c.contains("HttpOnly"))
    );
    let check = browser.get("/session").await;
    assert_eq!(check.body["auth"], true);
    assert_eq!(check.body["id"], reply.body["id"]);
    assert_eq!(check.body["_csrf"], reply.body["_csrf"]);
    assert!(check.body["expires_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn login_rotates_the_session_and_ends_the_previous_one() {
    let app = TestApp::spawn().await;
    let password = app.add_user("alice", Role::User).await;
    let mut browser = app.browser();
    let first = browser.login("alice", &password).await;
    let old_cookies = browser.cookies.clone();
    let second = browser
        .post(
            "/session",
            json!({"username": "alice", "password": password}),
        )
        .await;
    assert_eq!(second.status, 200);
    assert_ne!(first.body["id"], second.body["id"]);
    assert_ne!(first.body["_csrf"], second.body["_csrf"]);
    assert_ne!(old_cookies, browser.cookies);
    assert_eq!(
        app.count("sessions").await,
        1,
        "the browser's previous session is gone"
    );
    let mut replay = app.browser();
    replay.cookies = old_cookies;
    assert_eq!(replay.get("/session").await.body["auth"], false);
}

#[tokio::test]
async fn a_pre_login_token_is_dead_after_login() {
    let app = TestApp::spawn().await;
    let password = app.add_user("alice", Role::User).await;
    let mut browser = app.browser();
    let anonymous = browser.get("/session").await;
    browser
        .post(
            "/session",
            json!({"username": "alice", "password": password}),
        )
        .await;
    browser.csrf = anonymous.body["_csrf"].as_str().map(str::to_owned);
    let reply = browser.delete("/session").await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.code(), "csrf_token_invalid");
    assert_eq!(app.count("sessions").await, 1);
}

#[tokio::test]
async fn logout_kills_the_session_server_side() {
    let app = TestApp::spawn().await;
    let mut browser = app.logged_in("alice", Role::User).await;
    let logged_in_cookies = browser.cookies.clone();
    let token_before = browser.csrf.clone();
    let reply = browser.delete("/session").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["auth"], false);
    assert_ne!(reply.body["_csrf"].as_str(), token_before.as_deref());
    assert!(
        reply
            .set_cookies
            .iter()
            .any(|c| c.starts_with("gatehouse_session=;") && c.contains("Max-Age=0"))
    );
    assert_eq!(app.count("sessions").await, 0);
    let mut replay = app.browser();
    replay.cookies = logged_in_cookies;
    assert_eq!(replay.get("/session").await.body["auth"], false);
    // The fresh token works for logging in again without a reload.
    let password = app.add_user("bob", Role::User).await;
    let again = browser
        .post("/session", json!({"username": "bob", "password": password}))
        .await;
    assert_eq!(again.status, 200);
}

#[tokio::test]
async fn backbone_logout_by_id_works_without_a_body_or_content_type() {
    let app = TestApp::spawn().await;
    let mut browser = app.logged_in("alice", Role::User).await;
    let id = browser.get("/session").await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = browser.delete(&format!("/session/{id}")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["auth"], false);
    assert!(
        reply
            .set_cookies
            .iter()
            .any(|c| c.starts_with("gatehouse_pre=") && !c.contains("Max-Age=0"))
    );
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn login_accepts_the_whole_backbone_model_and_ignores_unknown_fields() {
    let app = TestApp::spawn().await;
    let password = app.add_user("alice", Role::User).await;
    let mut browser = app.browser();
    let token = browser.get("/session").await.body["_csrf"].clone();
    let body = json!({"auth": false, "_csrf": token, "username": "alice", "password": password, "extra": [1]});
    let reply = browser.post("/session", body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn unknown_user_wrong_password_and_disabled_account_get_one_answer() {
    let app = TestApp::spawn().await;
    let password = app.add_user("alice", Role::User).await;
    let disabled_password = app.add_user("carol", Role::User).await;
    app.disable("carol").await;
    let mut answers = Vec::new();
    for (user, pass) in [
        ("nobody", password.as_str()),
        ("alice", "wrong-password-1"),
        ("carol", disabled_password.as_str()),
        ("a b", "x"),
    ] {
        let reply = app.browser().login(user, pass).await;
        answers.push((
            reply.status,
            reply.body.clone(),
            reply.header("www-authenticate").map(str::to_owned),
        ));
    }
    for answer in &answers {
        assert_eq!(answer, &answers[0]);
    }
    assert_eq!(answers[0].0, 401);
    assert_eq!(answers[0].1["error"]["code"], "invalid_credentials");
    assert_eq!(
        answers[0].2, None,
        "no WWW-Authenticate: the browser must not prompt"
    );
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn login_with_missing_fields_answers_field_errors() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    browser.get("/session").await;
    let reply = browser.post("/session", json!({"username": "alice"})).await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.code(), "validation_failed");
    assert_eq!(
        reply.body["error"]["fields"]["password"],
        json!(["required"])
    );
}

#[tokio::test]
async fn a_tampered_or_unknown_session_cookie_is_simply_anonymous() {
    let app = TestApp::spawn().await;
    let browser = app.logged_in("alice", Role::User).await;
    let real = browser.cookies["gatehouse_session"].clone();
    let (payload, mac) = real.rsplit_once('.').unwrap();
    let flipped = if payload.starts_with('A') { "B" } else { "A" };
    for value in [
        format!("{flipped}{}.{mac}", &payload[1..]),
        format!("{payload}.AAAA"),
        payload.to_owned(),
        "garbage".into(),
        "".into(),
        "%00%ff".into(),
        "a.b.c".into(),
    ] {
        let mut other = app.browser();
        other
            .cookies
            .insert("gatehouse_session".into(), value.clone());
        let reply = other.get("/session").await;
        assert_eq!(reply.status, 200, "{value}");
        assert_eq!(reply.body["auth"], false, "{value}");
        assert_eq!(other.get("/users/me").await.status, 401);
    }
}

#[tokio::test]
async fn session_secrets_are_stored_only_as_hashes_and_ids_are_not_secrets() {
    let app = TestApp::spawn().await;
    let browser = app.logged_in("alice", Role::User).await;
    let cookie = browser.cookies["gatehouse_session"].clone();
    let secret = gatehouse::crypto::decode(cookie.split('.').next().unwrap()).unwrap();
    assert_eq!(secret.len(), 32, "256-bit secret");
    let stored = app.column("SELECT secret_hash FROM sessions").await;
    assert_eq!(stored, vec![gatehouse::crypto::hash(&secret).to_vec()]);
    let ids = app.column("SELECT CAST(id AS BLOB) FROM sessions").await;
    assert!(!cookie.contains(std::str::from_utf8(&ids[0]).unwrap()));
}

#[tokio::test]
async fn idle_sessions_expire_server_side() {
    let app = TestApp::spawn_with(&[("GATEHOUSE__SESSION__IDLE_TIMEOUT_SECS", "600")]).await;
    let mut browser = app.logged_in("alice", Role::User).await;
    app.clock.advance(Duration::seconds(500));
    assert_eq!(
        browser.get("/session").await.body["auth"],
        true,
        "activity renews"
    );
    app.clock.advance(Duration::seconds(500));
    assert_eq!(
        browser.get("/session").await.body["auth"],
        true,
        "still within idle time of the last request"
    );
    app.clock.advance(Duration::seconds(601));
    assert_eq!(browser.get("/session").await.body["auth"], false);
    assert_eq!(
        app.count("sessions").await,
        0,
        "the expired session is deleted"
    );
}

#[tokio::test]
async fn sessions_end_at_their_absolute_lifetime_even_when_active() {
    let app = TestApp::spawn_with(&[
        ("GATEHOUSE__SESSION__IDLE_TIMEOUT_SECS", "600"),
        ("GATEHOUSE__SESSION__ABSOLUTE_LIFETIME_SECS", "1800"),
    ])
    .await;
    let mut browser = app.logged_in("alice", Role::User).await;
    for _ in 0..5 {
        app.clock.advance(Duration::seconds(300));
        assert_eq!(browser.get("/session").await.body["auth"], true);
    }
    app.clock.advance(Duration::seconds(301));
    assert_eq!(browser.get("/session").await.body["auth"], false);
}

#[tokio::test]
async fn remember_me_sets_a_persistent_cookie_and_plain_login_does_not() {
    let app = TestApp::spawn().await;
    let password = app.add_user("alice", Role::User).await;
    let mut plain = app.browser();
    plain.get("/session").await;
    let reply = plain
        .post(
            "/session",
            json!({"username": "alice", "password": password}),
        )
        .await;
    let cookie = reply
        .set_cookies
        .iter()
        .find(|c| c.starts_with("gatehouse_session="))
        .unwrap();
    assert!(!cookie.contains("Max-Age"), "{cookie}");
    let mut remembered = app.browser();
    remembered.get("/session").await;
    let reply = remembered
        .post(
            "/session",
            json!({"username": "alice", "password": password, "remember": true}),
        )
        .await;
    let cookie = reply
        .set_cookies
        .iter()
        .find(|c| c.starts_with("gatehouse_session="))
        .unwrap();
    assert!(
        cookie.contains(&format!("Max-Age={}", 30 * 86400)),
        "{cookie}"
    );
    // A remembered session outlives the ordinary idle timeout.
    app.clock.advance(Duration::hours(2));
    assert_eq!(remembered.get("/session").await.body["auth"], true);
    assert_eq!(plain.get("/session").await.body["auth"], false);
}

#[tokio::test]
async fn secure_deployments_use_host_prefixed_secure_cookies() {
    // Behind a proxy that terminates TLS: the public origin says https.
    let app = TestApp::spawn_with(&crate::support::BEHIND_TLS).await;
    let mut browser = app.browser();
    browser.origin = Some("https://app.example.com".into());
    let reply = browser.get("/session").await;
    let cookie = &reply.set_cookies[0];
    assert!(cookie.starts_with("__Host-gatehouse_pre="), "{cookie}");
    assert!(cookie.contains("; Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"));
    let password = app.add_user("alice", Role::User).await;
    let reply = browser
        .post(
            "/session",
            json!({"username": "alice", "password": password}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .set_cookies
            .iter()
            .any(|c| c.starts_with("__Host-gatehouse_session=") && c.contains("; Secure"))
    );
    // Without the prefix the cookie is not ours.
    let mut lookalike = app.browser();
    let value = browser.cookies["__Host-gatehouse_session"].clone();
    lookalike
        .cookies
        .insert("gatehouse_session".into(), value.clone());
    lookalike
        .cookies
        .insert("__host-gatehouse_session".into(), value.clone());
    lookalike
        .cookies
        .insert("__Host-gatehouse_session%00".into(), value);
    assert_eq!(lookalike.get("/session").await.body["auth"], false);
}

#[tokio::test]
async fn duplicate_session_cookies_do_not_switch_sessions() {
    let app = TestApp::spawn().await;
    let alice = app.logged_in("alice", Role::User).await;
    let bob = app.logged_in("bob", Role::User).await;
    let header = format!(
        "gatehouse_session={}; gatehouse_session={}",
        alice.cookies["gatehouse_session"], bob.cookies["gatehouse_session"]
    );
    let mut mixed = app.browser();
    let reply = mixed
        .send(Req::new(Method::GET, "/session").header("cookie", &header))
        .await;
    assert_eq!(reply.body["auth"], false);
}

#[tokio::test]
async fn a_signed_pre_session_value_is_not_accepted_as_a_session_cookie() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    browser.get("/session").await;
    let pre = browser.cookies["gatehouse_pre"].clone();
    let mut forged = app.browser();
    forged.cookies.insert("gatehouse_session".into(), pre);
    assert_eq!(forged.get("/session").await.body["auth"], false);
}

#[tokio::test]
async fn a_session_revoked_on_one_node_is_refused_on_another_within_the_cache_bound() {
    let ttl = [("GATEHOUSE__SESSION__CACHE_TTL_MS", "300")];
    let node_a = TestApp::spawn_with(&ttl).await;
    let node_b = node_a.restart_with(&ttl).await;
    let mut on_a = node_a.logged_in("carol", Role::User).await;
    let mut on_b = node_a.browser_at(node_b.addr);
    on_b.cookies = on_a.cookies.clone();
    assert_eq!(
        on_b.get("/session").await.body["auth"],
        true,
        "node B knows the session"
    );
    let mut replay_on_a = node_a.browser();
    replay_on_a.cookies = on_a.cookies.clone();

    let logout = on_a.send(Req::new(Method::DELETE, "/session")).await;
    assert_eq!(logout.status, 200);
    assert_eq!(
        replay_on_a.get("/session").await.body["auth"],
        false,
        "the node that revoked refuses the very next request"
    );
    assert_eq!(
        on_b.get("/session").await.body["auth"],
        true,
        "within its cache bound, node B may still answer from its cache"
    );
    node_b.clock.advance(time::Duration::milliseconds(400));
    assert_eq!(
        on_b.get("/session").await.body["auth"],
        false,
        "another node refuses it once its cache bound has passed"
    );
}

#[tokio::test]
async fn with_partitioned_cookies_every_cookie_carries_partitioned_secure_and_the_host_prefix() {
    let app = TestApp::spawn_with(&[
        ("GATEHOUSE__COOKIES__SECURE", "true"),
        ("GATEHOUSE__COOKIES__PARTITIONED", "true"),
    ])
    .await;
    app.add_user("alice", Role::User).await;
    let mut browser = app.browser();
    let anonymous = browser.get("/session").await;
    let login = browser.login("alice", "wrong password here").await;
    assert_eq!(login.status, 401);
    let mut cookies = anonymous.set_cookies.clone();
    cookies.extend(login.set_cookies.clone());
    assert!(!cookies.is_empty());
    for cookie in &cookies {
        assert!(cookie.starts_with("__Host-gatehouse_"), "{cookie}");
        for attribute in ["Partitioned", "Secure", "HttpOnly", "Path=/"] {
            assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
        }
    }
}
