//! Cookie attacks: look-alike names, signed values moved from one cookie to another, and
//! duplicate cookies meant to switch the session a request runs under.

use gatehouse::account::Role;
use reqwest::Method;

use crate::support::{Browser, Req, TestApp};

async fn auth_with_cookie_header(browser: &mut Browser, header: &str) -> serde_json::Value {
    browser.cookies.clear();
    let reply = browser
        .send(Req::new(Method::GET, "/session").header("cookie", header))
        .await;
    assert_eq!(reply.status, 200, "{header}");
    reply.body
}

#[tokio::test]
async fn a_session_value_under_a_look_alike_name_is_anonymous() {
    let app = TestApp::spawn().await;
    let alice = app.logged_in("alice", Role::User).await;
    let value = alice.cookies["gatehouse_session"].clone();
    let mut attacker = app.browser();
    for name in [
        "%67atehouse_session",
        "gatehouse%5Fsession",
        "gatehouse_session%00",
        "%20gatehouse_session",
        "gatehouse_sessio%6E",
        "Gatehouse_session",
        "GATEHOUSE_SESSION",
        "gatehouse-session",
        "gatehouse_session2",
        "xgatehouse_session",
        "gatehouse_sessio",
        "\"gatehouse_session\"",
        "$gatehouse_session",
        "__Host-gatehouse_session",
        "__Secure-gatehouse_session",
    ] {
        let body = auth_with_cookie_header(&mut attacker, &format!("{name}={value}")).await;
        assert_eq!(body["auth"], false, "{name}");
    }
    // The control: under its own name the value is a session.
    let body = auth_with_cookie_header(&mut attacker, &format!("gatehouse_session={value}")).await;
    assert_eq!(body["auth"], true);
}

#[tokio::test]
async fn a_signed_value_is_only_accepted_under_the_cookie_it_was_made_for() {
    let app = TestApp::spawn().await;
    let password = app.add_user("alice", Role::User).await;
    let mut alice = app.browser();
    alice.get("/session").await;
    let pre = alice.cookies["gatehouse_pre"].clone();
    assert_eq!(alice.login("alice", &password).await.status, 200);
    let session = alice.cookies["gatehouse_session"].clone();
    let device = alice.cookies["gatehouse_device"].clone();
    let mut attacker = app.browser();

    // Pre-session and device values as the session cookie: anonymous.
    for value in [&pre, &device] {
        let body =
            auth_with_cookie_header(&mut attacker, &format!("gatehouse_session={value}")).await;
        assert_eq!(body["auth"], false);
    }
    // The session value as the pre-session cookie: not a pre-session, so the server mints a
    // new one and the token it gives is not the one bound to that value.
    attacker.cookies.clear();
    let reply = attacker
        .send(
            Req::new(Method::GET, "/session").header("cookie", &format!("gatehouse_pre={session}")),
        )
        .await;
    assert_eq!(reply.body["auth"], false);
    assert!(
        reply
            .set_cookies
            .iter()
            .any(|c| c.starts_with("gatehouse_pre=")),
        "a fresh pre-session replaces the forged one: {:?}",
        reply.set_cookies
    );
    let forged = reply.body["_csrf"].as_str().unwrap().to_owned();
    let mut sign_up = app.browser();
    sign_up.csrf = Some(forged);
    sign_up
        .cookies
        .insert("gatehouse_pre".into(), session.clone());
    let reply = sign_up
        .post(
            "/users",
            serde_json::json!({"username": "mallory", "password": "correct horse battery staple"}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (403, "csrf_token_invalid"));
    assert_eq!(app.count("users").await, 1);
}

#[tokio::test]
async fn duplicate_session_cookies_in_separate_headers_do_not_switch_sessions() {
    let app = TestApp::spawn().await;
    let alice = app.logged_in("alice", Role::User).await;
    let bob = app.logged_in("bob", Role::User).await;
    let (a, b) = (
        alice.cookies["gatehouse_session"].clone(),
        bob.cookies["gatehouse_session"].clone(),
    );
    let mut attacker = app.browser();
    for (first, second) in [(&a, &b), (&b, &a)] {
        attacker.cookies.clear();
        let reply = attacker
            .send(
                Req::new(Method::GET, "/session")
                    .header("cookie", &format!("gatehouse_session={first}"))
                    .header("cookie", &format!("gatehouse_session={second}")),
            )
            .await;
        assert_eq!(reply.body["auth"], false);
    }
    // A tossed cookie with a garbage value next to the real one: the request is anonymous,
    // never the attacker's choice, and the real session survives.
    let body = auth_with_cookie_header(
        &mut attacker,
        &format!("gatehouse_session=forged.AAAA; gatehouse_session={a}"),
    )
    .await;
    assert_eq!(body["auth"], false);
    // The same value twice is still that one session.
    let body = auth_with_cookie_header(
        &mut attacker,
        &format!("gatehouse_session={a}; gatehouse_session={a}"),
    )
    .await;
    assert_eq!(body["username"], "alice");
}

#[tokio::test]
async fn every_cookie_is_http_only_with_an_explicit_same_site_and_the_whole_path() {
    let app = TestApp::spawn().await;
    let password = app.add_user("alice", Role::User).await;
    let mut browser = app.browser();
    let mut set_cookies = browser.get("/session").await.set_cookies;
    set_cookies.extend(browser.login("alice", &password).await.set_cookies);
    set_cookies.extend(browser.delete("/session").await.set_cookies);
    let names: std::collections::BTreeSet<&str> = set_cookies
        .iter()
        .filter_map(|c| c.split('=').next())
        .collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["gatehouse_device", "gatehouse_pre", "gatehouse_session"]
    );
    for cookie in &set_cookies {
        for attribute in ["; Path=/", "; HttpOnly", "; SameSite=Lax"] {
            assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
        }
        assert!(!cookie.contains("Domain="), "{cookie}");
    }
}
